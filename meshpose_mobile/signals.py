"""Ctrl-C and SIGTERM, handled alike and never lost.

SIGTERM raises `Terminated`, a KeyboardInterrupt, so every `except KeyboardInterrupt` that cleans
up after Ctrl-C (state saved, staging removed) also cleans up after a `kill`, and the command
exits 143 instead of dying mid-write. Both handlers also record the signal: a library that
swallows the KeyboardInterrupt (a bare ``except:`` during an import, a converter that wraps any
exception in its own) cannot hide it, because `raise_if_interrupted` re-raises it at the next
check, and error reporting can tell an interrupt from a failure (`interrupted`).
"""

from __future__ import annotations

import signal
from types import FrameType

_pending: int | None = None


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""

    signum = signal.SIGTERM


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending
    _pending = signum
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


def install_handlers() -> None:
    """SIGINT and SIGTERM raise (and are recorded); a no-op outside the main thread."""
    global _pending
    _pending = None
    try:
        signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)
    except ValueError:  # not the main thread
        pass


def interrupted() -> int | None:
    """The signal received since `install_handlers`, if any."""
    return _pending


def raise_if_interrupted() -> None:
    """Re-raise a signal some library swallowed."""
    if _pending == signal.SIGTERM:
        raise Terminated()
    if _pending is not None:
        raise KeyboardInterrupt()


def interrupt_exit_code(err: BaseException) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM: the shell's 128 + signal number."""
    return 128 + int(getattr(err, "signum", signal.SIGINT))


def interrupt_name(err: BaseException) -> str:
    return "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted (Ctrl-C)"
