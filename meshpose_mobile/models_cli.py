"""`meshpose-models`: put Google's third-party models where every command finds them.

The person detector and BlazePose GHUM full (meshpose_blaze's encoder and meshpose-bench's peer)
come from the mediapipe 0.10.21 wheel (Apache-2.0, see NOTICE). They are never committed and
mediapipe is never imported (it needs numpy<2): `fetch` has pip download the wheel from the
package registry, checks each model against the SHA-256 of the released file and writes it
into `paths.models_dir()` ($MESHPOSE_MODELS, else the user cache). A pip install has no Makefile,
so this is the same step as `make setup` for a checkout; `paths.find_model_file` looks in both.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from meshpose_mobile.atomic import temp_prefix, write_bytes_atomic
from meshpose_mobile.cliframe import group
from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.paths import (
    FETCH_COMMAND,
    MEDIAPIPE_REQUIREMENT,
    MODEL_FILES,
    MODELS_ENV,
    ModelFile,
    ModelNotFoundError,
    file_sha256,
    find_model_file,
    models_dir,
    out_dir_or_nothing,
    sweep_stale,
    user_path,
)
from meshpose_mobile.signals import raise_if_interrupted

# One wheel for every machine: the models inside are the same files in every platform's wheel,
# and this one is what `make setup` downloads too.
PIP_DOWNLOAD = [
    "download",
    "--no-deps",
    MEDIAPIPE_REQUIREMENT,
    "--only-binary=:all:",
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
]
WHEEL_GLOB = "mediapipe-0.10.21-*.whl"


class FetchError(MeshPoseError):
    """The mediapipe wheel could not be downloaded or read, or a model in it is not the expected file."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_current(path: Path, model: ModelFile) -> bool:
    """`path` holds exactly the released file (a damaged or different copy is fetched again)."""
    try:
        return path.is_file() and path.stat().st_size == model.size and file_sha256(path) == model.sha256
    except OSError:
        return False


def download_wheel(folder: Path) -> Path:
    """pip downloads the mediapipe wheel into `folder` (the package registry pip is configured for)."""
    cmd = [sys.executable, "-m", "pip", *PIP_DOWNLOAD, "--dest", str(folder), "--quiet", "--disable-pip-version-check"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as err:
        raise FetchError(
            f"cannot run pip ({err.strerror}); download {MEDIAPIPE_REQUIREMENT} and pass --wheel"
        ) from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.lower().startswith("error")] or lines or ["no output"]
        raise FetchError(
            f"pip could not download {MEDIAPIPE_REQUIREMENT} ({errors[-1][:200]}); check the network or pip's "
            f"index settings, or download the wheel elsewhere (pip {' '.join(PIP_DOWNLOAD)}) and pass --wheel PATH"
        )
    wheels = sorted(folder.glob(WHEEL_GLOB))
    if not wheels:
        raise FetchError(f"pip reported success but left no {WHEEL_GLOB} in {folder}; pass --wheel PATH")
    return wheels[0]


def read_models(wheel: Path, models: list[ModelFile]) -> dict[str, bytes]:
    """Each model's bytes from the wheel, all checked before anything is written."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            data = {}
            for m in models:
                if m.wheel_member not in names:
                    raise FetchError(
                        f"{wheel} has no {m.wheel_member}; pass the {MEDIAPIPE_REQUIREMENT} wheel to --wheel"
                    )
                data[m.name] = zf.read(m.wheel_member)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as err:  # truncated or corrupt
        raise FetchError(f"{wheel} is not a readable wheel ({err}); pass the {MEDIAPIPE_REQUIREMENT} wheel") from None
    except OSError as err:
        raise FetchError(f"cannot read {wheel} ({err.strerror or err}); pass a readable wheel to --wheel") from None
    for m in models:
        if sha256(data[m.name]) != m.sha256:
            raise FetchError(
                f"{m.wheel_member} in {wheel} is not the file of {MEDIAPIPE_REQUIREMENT} (SHA-256 differs); "
                f"pass the {MEDIAPIPE_REQUIREMENT} wheel"
            )
    return data


def fetch(wheel: Path | None = None, force: bool = False, log: Callable[[str], None] = click.echo) -> dict[str, Path]:
    """Put every model of `MODEL_FILES` into `models_dir()`; returns where each one is now."""
    if wheel is not None and not wheel.is_file():
        raise FetchError(f"--wheel {wheel} is not a file; pass the path of a downloaded {WHEEL_GLOB}")
    # A refused fetch (bad wheel, pip failing) leaves no folder behind that it created.
    with out_dir_or_nothing(models_dir(), f"${MODELS_ENV}" if _env_set() else "the models folder") as target:
        return _fetch_into(target, wheel, force, log)


def _fetch_into(target: Path, wheel: Path | None, force: bool, log: Callable[[str], None]) -> dict[str, Path]:
    for m in MODEL_FILES.values():  # leftovers of a fetch killed mid-write
        sweep_stale(target, temp_prefix(target / m.name), suffix=".tmp")
    todo = [m for m in MODEL_FILES.values() if force or not is_current(target / m.name, m)]
    for m in MODEL_FILES.values():
        if m not in todo:
            log(f"{m.name}: already in {target}")
    if not todo:
        return {m.name: target / m.name for m in MODEL_FILES.values()}
    if wheel is not None:
        data = read_models(wheel, todo)
    else:
        with tempfile.TemporaryDirectory(prefix="meshpose-models-") as tmp:
            log(f"downloading {MEDIAPIPE_REQUIREMENT} with pip (about 36 MB; only the models are kept)")
            data = read_models(download_wheel(Path(tmp)), todo)
    raise_if_interrupted()
    for m in todo:
        write_bytes_atomic(target / m.name, data[m.name])
        log(f"{m.name}: wrote {target / m.name} ({m.role})")
    return {m.name: target / m.name for m in MODEL_FILES.values()}


def _env_set() -> bool:
    return bool(os.environ.get(MODELS_ENV, "").strip())


@group()
def models_main() -> None:
    """Third-party models from the mediapipe 0.10.21 wheel (Apache-2.0, see NOTICE): fetch them, list where they are."""


def _fetch_interrupted(params: Mapping[str, Any]) -> str:
    return f"models already written to {models_dir()} are complete; run it again for the rest"


@models_main.command("fetch", interrupted=_fetch_interrupted)
@click.option(
    "--wheel",
    type=click.Path(),
    default=None,
    help=f"An already downloaded {WHEEL_GLOB} (offline); default: pip downloads it.",
)
@click.option("--force", is_flag=True, help="Write the models again even when a correct copy is there.")
def fetch_cmd(wheel: str | None, force: bool) -> None:
    """Download mediapipe==0.10.21 with pip and unzip the person detector and BlazePose GHUM full
    into $MESHPOSE_MODELS, else $XDG_CACHE_HOME/meshpose_mobile/models (~/.cache/meshpose_mobile/models)."""
    where = fetch(user_path(wheel, "--wheel"), force)
    click.echo(f"models ready in {next(iter(where.values())).parent}")


@models_main.command("list")
def list_cmd() -> None:
    """Where each model is found (the first of $MESHPOSE_MODELS, the user cache, the checkout);
    exit 2 when one is missing."""
    missing = 0
    for m in MODEL_FILES.values():
        try:
            found = str(find_model_file(m.name))
        except ModelNotFoundError:
            found, missing = "missing", missing + 1
        click.echo(f"{m.name}  {m.role}, for {m.used_by}: {found}")
    click.echo(f"fetch folder: {models_dir()}")
    if missing:
        raise ModelNotFoundError(f"{missing} model(s) missing; run `{FETCH_COMMAND}`")
