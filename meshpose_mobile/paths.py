"""Paths the user types, checked once at the command-line boundary.

Every CLI turns its path options into absolute paths here, before any work starts: later steps
(converter processes that change their working directory, DataLoader workers) then never depend
on where the command was started. Output folders are checked up front (a file in the way, a
read-only or full disk), so a bad `--out` fails in a second with one line instead of after the
work, and OS errors met while writing become one line naming the file and the fix.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from meshpose_mobile.errors import MeshPoseError


class OutputError(MeshPoseError):
    """An output folder or file cannot be written (a file in the way, read-only, disk full)."""


# OS errors that are the user's disk or folder, not a bug: reported as one line.
_USER_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "the file is too large for this file system",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a file is in the way",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EISDIR: "a folder is in the way",
}


def user_path(value: str | os.PathLike[str] | None, flag: str) -> Path | None:
    """A path option as an absolute path (``~`` expanded, symlinks kept); '' is an error."""
    if value is None:
        return None
    text = os.fspath(value)
    if not text.strip():
        raise OutputError(f"{flag} is empty; pass a path")
    return Path(os.path.abspath(os.path.expanduser(text)))


def describe_os_error(err: OSError) -> str:
    return _USER_ERRNOS.get(err.errno or -1, err.strerror or type(err).__name__)


def is_user_os_error(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in _USER_ERRNOS


def write_error(path: Path | str, err: OSError, flag: str = "--out") -> OutputError:
    why = describe_os_error(err)
    fix = "free some space or pass" if err.errno in (errno.ENOSPC, errno.EDQUOT) else "pass"
    return OutputError(f"cannot write {path} ({why}); {fix} another {flag}")


def prepare_out_dir(path: Path, flag: str = "--out") -> Path:
    """Create `path` if needed and prove it writable now.

    Creates only the folder itself and its missing parents; the probe file is removed again.
    """
    if path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {path} is a file, not a folder; pass a folder path (it is created if missing)")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{flag} {path} cannot be written: {parent} is a file, not a folder; pass another {flag}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-") as probe:
            probe.write(b"0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        raise OutputError(
            f"{flag} {path} cannot be written ({describe_os_error(err)}); pass a writable folder"
        ) from None
    return path


def sweep_stale(folder: Path, prefix: str, *, suffix: str = "") -> list[Path]:
    """Remove leftovers of earlier interrupted runs (temp files, staging folders) named
    ``prefix...suffix`` directly inside `folder`. Returns what was removed."""
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if entry.name.startswith(prefix) and entry.name.endswith(suffix):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def require_free(path: Path, need_bytes: int, flag: str = "--out") -> None:
    """Refuse before the work starts when `path`'s disk cannot hold what the run will write."""
    free = shutil.disk_usage(path).free
    if free < need_bytes:
        raise OutputError(
            f"{flag} {path} has {free / 1e6:.2f} MB free but this run writes about {need_bytes / 1e6:.2f} MB; "
            f"free some space or pass another {flag}"
        )


@contextmanager
def out_dir_or_nothing(path: Path, flag: str = "--out") -> Iterator[Path]:
    """`prepare_out_dir`, and when the block fails, remove again the folders it created as long as
    they are still empty: a refused command leaves no trace."""
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        yield prepare_out_dir(path, flag)
    except BaseException:
        for folder in created:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break
        raise


# --------------------------------------------------------------------------- third-party models
#
# Google's models from the mediapipe 0.10.21 wheel (Apache-2.0) are never committed and never
# imported from mediapipe: `meshpose-models fetch` (any install) or `make setup` (a checkout)
# unzips them from the wheel that pip downloads from the package registry. Every command finds
# them with `find_model_file`, so a checkout and a pip install look in the same places.

MODELS_ENV = "MESHPOSE_MODELS"
FETCH_COMMAND = "meshpose-models fetch"
MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.21"


class ModelNotFoundError(MeshPoseError):
    """A third-party model file (person detector, BlazePose) is in none of the places looked at."""


@dataclass(frozen=True)
class ModelFile:
    name: str  # file name, the key of `find_model_file`
    role: str  # what it is, for messages
    used_by: str  # what needs it, for `meshpose-models list`
    wheel_member: str  # path inside the mediapipe wheel
    checkout_path: str  # where `make setup` unzips it, relative to the checkout root
    sha256: str  # of the file as shipped in mediapipe 0.10.21 (checked by `meshpose-models fetch`)
    size: int


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (weights files run to hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


MODEL_FILES: dict[str, ModelFile] = {
    m.name: m
    for m in (
        ModelFile(
            "pose_detection.tflite",
            "person detector",
            "meshpose-predict without --box",
            "mediapipe/modules/pose_detection/pose_detection.tflite",
            "models/pose_detection.tflite",
            "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
            2959046,
        ),
        ModelFile(
            "pose_landmark_full.tflite",
            "BlazePose GHUM full",
            "meshpose_blaze's encoder, meshpose-bench's peer",
            "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
            "benchmarks/peers/pose_landmark_full.tflite",
            "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
            6440512,
        ),
    )
}


def models_dir() -> Path:
    """Where `meshpose-models fetch` writes: $MESHPOSE_MODELS, else the user cache folder
    ($XDG_CACHE_HOME/meshpose_mobile/models, else ~/.cache/meshpose_mobile/models)."""
    if os.environ.get(MODELS_ENV, "").strip():
        return Path(os.path.abspath(os.path.expanduser(os.environ[MODELS_ENV])))
    return user_cache_models_dir()


def user_cache_models_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    # XDG: a relative $XDG_CACHE_HOME is invalid and is ignored.
    base = Path(cache) if cache and os.path.isabs(cache) else Path.home() / ".cache"
    return base / "meshpose_mobile" / "models"


def checkout_root() -> Path | None:
    """The source checkout this package runs from, or None when installed from a wheel (then
    the folder above the package is site-packages, which holds no models of ours)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "Makefile").is_file() else None


def model_search_paths(name: str) -> list[Path]:
    """Where `find_model_file(name)` looks, in order: $MESHPOSE_MODELS, the user cache, the checkout."""
    model = _model(name)
    folders = []
    if os.environ.get(MODELS_ENV, "").strip():
        folders.append(models_dir())
    folders.append(user_cache_models_dir())
    paths = [f / model.name for f in folders]
    root = checkout_root()
    if root is not None:
        paths.append(root / model.checkout_path)
    return list(dict.fromkeys(paths))


def find_model_file(name: str) -> Path:
    """The first existing copy of a known third-party model (a key of `MODEL_FILES`, e.g.
    "pose_detection.tflite"); `ModelNotFoundError` naming `meshpose-models fetch` when none exists."""
    paths = model_search_paths(name)
    for path in paths:
        if path.is_file():
            return path
    raise ModelNotFoundError(missing_model_message(name, paths))


def missing_model_message(name: str, looked_in: list[Path] | None = None) -> str:
    model = _model(name)
    where = ", ".join(str(p) for p in (looked_in or model_search_paths(name)))
    fix = f"run `{FETCH_COMMAND}` (it unzips it from the {MEDIAPIPE_REQUIREMENT} wheel into {models_dir()})"
    if checkout_root() is not None:
        fix += " or `make setup` in the checkout"
    return f"{model.role} {model.name} not found (looked in {where}); {fix}"


def _model(name: str) -> ModelFile:
    try:
        return MODEL_FILES[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODEL_FILES)}") from None
