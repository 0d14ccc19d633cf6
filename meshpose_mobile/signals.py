"""SIGTERM handled like Ctrl-C: the same clean-up paths run (state saved, staging removed) and
the command exits 143 instead of dying mid-write. `Terminated` is a KeyboardInterrupt, so every
`except KeyboardInterrupt` that cleans up after Ctrl-C also cleans up after a `kill`."""

from __future__ import annotations

import signal
from types import FrameType


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""

    signum = signal.SIGTERM


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def install_sigterm() -> None:
    """Raise `Terminated` on SIGTERM (main thread only; a no-op elsewhere)."""
    try:
        signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread
        pass


def interrupt_exit_code(err: BaseException) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM: the shell's 128 + signal number."""
    return 128 + int(getattr(err, "signum", signal.SIGINT))


def interrupt_name(err: BaseException) -> str:
    return "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted (Ctrl-C)"
