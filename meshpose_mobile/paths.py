"""Paths the user types, checked once at the command-line boundary.

Every CLI turns its path options into absolute paths here, before any work starts: later steps
(converter processes that change their working directory, DataLoader workers) then never depend
on where the command was started. Output folders are checked up front (a file in the way, a
read-only or full disk), so a bad `--out` fails in a second with one line instead of after the
work, and OS errors met while writing become one line naming the file and the fix.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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
