"""Ctrl-C and SIGTERM, handled alike and never lost.

SIGTERM raises `Terminated`, a KeyboardInterrupt, so every `except KeyboardInterrupt` that cleans
up after Ctrl-C (state saved, staging removed) also cleans up after a `kill`, and the command
exits 143 instead of dying mid-write. Both handlers also record the signal: a library that
swallows the KeyboardInterrupt (a bare ``except:`` during an import, a converter that wraps any
exception in its own) cannot hide it, because `raise_if_interrupted` re-raises it at the next
check, and error reporting can tell an interrupt from a failure (`interrupted`).

Raising from the handler is unsafe in one place: a C++ extension's module init that runs Python
code (nanobind builds onnx's and onnxsim's enums through enum.py). An exception there becomes a
C++ exception thrown through a noexcept init and the process aborts ("terminate called after
throwing an instance of 'nanobind::python_error'", exit -6, a traceback on stderr): seen once in
CI when Ctrl-C landed during `import onnx`. `deferred()` records the signal without raising and
raises it when the block ends; `import_native` imports through it.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
from collections.abc import Iterator
from types import FrameType, ModuleType

_pending: int | None = None
_defer_depth = 0


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""

    signum = signal.SIGTERM


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending
    _pending = signum
    if _defer_depth:
        return  # raised when the deferred block ends
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


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Signals received inside are recorded, not raised, and raised when the block ends (not when
    it ends by an exception of its own, which then propagates unchanged)."""
    global _defer_depth
    _defer_depth += 1
    try:
        yield
    finally:
        _defer_depth -= 1
    if not _defer_depth:
        raise_if_interrupted()


def import_native(name: str) -> ModuleType:
    """Import a module whose native init may run Python code, with Ctrl-C deferred to its end."""
    with deferred():
        return importlib.import_module(name)
