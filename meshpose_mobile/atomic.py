"""Atomic file writes: a temp file in the target's folder, then a rename, so a crash or Ctrl-C
never leaves a half-written checkpoint, topology, report or image behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(path: str | Path) -> Iterator[IO[bytes]]:
    """Binary handle on a temp file that replaces `path` when the block ends without error.

    mkstemp creates files 0600; the result gets the mode of the file it replaces, else rw-r--r--.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
