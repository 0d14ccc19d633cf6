"""Atomic file writes: a temp file in the target's folder, then a rename, so a crash or Ctrl-C
never leaves a half-written checkpoint, topology, report or image behind. A full or read-only
disk becomes one `OutputError` line naming the file (the temp file is removed first)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from meshpose_mobile.paths import is_user_os_error, write_error


@contextmanager
def atomic_open(path: str | Path) -> Iterator[IO[bytes]]:
    """Binary handle on a temp file that replaces `path` when the block ends without error.

    mkstemp creates files 0600; the result gets the mode of the file it replaces, else rw-r--r--.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=".tmp")
    except OSError as err:
        if is_user_os_error(err):
            raise write_error(path, err) from None
        raise
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        cause = _os_cause(err)
        if cause is not None:
            raise write_error(path, cause) from None
        raise


def temp_prefix(path: Path) -> str:
    """Name prefix of `atomic_open`'s temp files for `path` (for sweeping leftovers of a SIGKILL)."""
    return f".{path.name}."


def _os_cause(err: BaseException) -> OSError | None:
    """The disk-side OSError behind `err`: raised directly, or wrapped by torch.save's writer."""
    seen = 0
    while err is not None and seen < 5:
        if is_user_os_error(err):
            return err  # type: ignore[return-value]
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
        seen += 1
    return None


def write_files_atomic(files: Mapping[Path, bytes]) -> list[Path]:
    """Several files that belong together (a photo's JSON and its overlay): every one is written
    to its temp file before any is renamed into place, so a disk that fills on the second file
    leaves none of them, not a JSON without its overlay. A rename that fails half-way (rare: the
    bytes are on disk by then) removes the ones already placed."""
    temps: list[tuple[str, Path]] = []
    placed: list[Path] = []
    current = next(iter(files), Path("."))
    try:
        for path, data in files.items():
            current = Path(path)
            current.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=current.parent, prefix=temp_prefix(current), suffix=".tmp")
            temps.append((tmp, current))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        for tmp, path in temps:
            current = path
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
            os.replace(tmp, path)
            placed.append(path)
    except BaseException as err:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        for path in placed:
            path.unlink(missing_ok=True)
        cause = _os_cause(err)
        if cause is not None:
            raise write_error(current, cause) from None
        raise
    return placed


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_open(path) as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode())


def torch_save_atomic(obj: Any, path: str | Path) -> Path:
    import torch

    with atomic_open(path) as fh:
        torch.save(obj, fh)
    return Path(path)
