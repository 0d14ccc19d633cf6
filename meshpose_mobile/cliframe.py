"""The one CLI frame: how every command the project installs is declared, and how it ends.

A command is a click command built by `command` (or a subcommand of a `group`). The frame, and
nothing in the command, owns:

- signals: SIGINT and SIGTERM raise KeyboardInterrupt (`meshpose_mobile.signals`, installed
  before the arguments are parsed); SIGPIPE stays ignored, as Python sets it, so a pipe whose
  reader left is an EPIPE write error, answered below, not a silent death;
- standard output: `guard_stdout` turns its OS errors (``> /dev/full``, ``| head -0``) into one
  `StdoutError` line, after which fd 1 is pointed at /dev/null so the interpreter's own flush at
  exit cannot fail again ("Exception ignored ..."), the help text included;
- the one-line exits: a `MeshPoseError` prints ``error: <message>`` on stderr and exits with its
  `exit_code` (2, 3 for a parity failure, 130/143 for a training run saved on a signal); an
  OSError that is the user's disk or folder (`paths.is_user_os_error`) and escaped every
  narrower handler prints one line and exits 2; Ctrl-C exits 130 and SIGTERM 143 with
  ``error: interrupted (Ctrl-C); <what the command left behind>``;
- help: ``-h`` and ``--help`` on every command.

Anything else (a bug) keeps its traceback: bugs are not user mistakes.

Declaring a command::

    @dataclass(frozen=True)
    class FooOptions:          # one field per click parameter, same names
        out: str
        steps: int

    @command(options=FooOptions, interrupted="nothing was written")
    @click.option("--out", required=True, help="Folder to write.")
    @click.option("--steps", type=int, default=10, show_default=True)
    def foo_main(opts: FooOptions) -> None:
        \"\"\"One-line summary shown by --help.\"\"\"
        run_foo(opts)          # the typed object travels down, not 12 keyword arguments

Without ``options=`` the function receives click's keyword arguments, as with plain click.
``interrupted`` says what an interrupted run left behind: a string, or a function of the raw
option values (`click.Context.params`) returning one (e.g. a path the user passed). Groups:
``@group()`` then ``@main.command("name", ...)`` with the same keywords. The body raises
`MeshPoseError` for user mistakes and never catches KeyboardInterrupt only to print; it may
catch it to clean up (save state, remove staging) and re-raise or raise a MeshPoseError whose
`exit_code` is the signal's.

Converting an argparse or hand-written command (every command of both packages is converted;
this is the recipe for one that comes from elsewhere):

1. replace ``@click.command(context_settings=...)`` by
   ``@command(interrupted="<its current message>")``;
2. delete ``guard_stdout()``, ``install_handlers()`` and the ``try/except MeshPoseError: fail(err)
   / except KeyboardInterrupt: interrupted(err, ...)`` around the body (environment settings
   such as TF_CPP_MIN_LOG_LEVEL become the body's first lines);
3. where ``main(**options)`` hands the same arguments to ``_run`` and ``_export``, declare a
   frozen ``ExportOptions`` dataclass with the click parameter names as fields, pass
   ``options=ExportOptions`` and hand ``opts`` down (``dataclasses.replace`` for checked values);
4. keep ``raise_if_interrupted()`` after slow imports (a library may swallow a Ctrl-C);
5. argparse's ``nargs="*"`` option becomes ``cls=Values, multiple=True`` (same ``--flag 1 2``);
6. a new console script goes into pyproject.toml and into ``COMMANDS`` of the `meshpose` group
   (export/cli/meshpose_cli.py, so `meshpose --help` lists it); `tests/test_cliframe.py` checks both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import io
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn, TypeVar

import click

from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.paths import describe_os_error, is_user_os_error
from meshpose_mobile.signals import install_handlers, interrupt_exit_code, interrupt_name

CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
NOTHING_WRITTEN = "nothing was written"

Note = str | Callable[[Mapping[str, Any]], str]
F = TypeVar("F", bound=Callable[..., Any])


class StdoutError(MeshPoseError):
    """Standard output cannot be written: redirected to a full disk, or a pipe whose reader left."""


class UserOSError(MeshPoseError):
    """An OS error of the user's disk or folder that no narrower handler named (last resort)."""


def _stdout_error(err: OSError) -> StdoutError:
    if err.errno == errno.EPIPE:
        why, fix = "broken pipe: its reader closed it", "read the whole output or redirect it to a file"
    else:
        why, fix = describe_os_error(err), "free some space or redirect it elsewhere (> FILE on a disk with room)"
    return StdoutError(f"cannot write to standard output ({why}), so the command stopped there; {fix}")


class _GuardedStdout(io.TextIOWrapper):
    """sys.stdout whose OS errors become one `StdoutError` line instead of an OSError traceback."""

    def write(self, s: str) -> int:
        if isinstance(s, str) and not s:
            return 0  # click probes streams with write(""); /dev/full fails even that
        try:
            return super().write(s)
        except OSError as err:
            raise _stdout_error(err) from None

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as err:
            raise _stdout_error(err) from None


def guard_stdout() -> None:
    """Only the interpreter's own stdout is replaced (not a test runner's capture, and not twice);
    the new wrapper shares its buffer, encoding and line buffering."""
    out = sys.stdout
    if type(out) is not io.TextIOWrapper or out.closed:
        return
    try:
        out.flush()
    except OSError:
        return
    sys.stdout = _GuardedStdout(
        out.buffer, encoding=out.encoding, errors=out.errors, line_buffering=out.line_buffering, write_through=True
    )


def _silence_stdout() -> None:
    """fd 1 -> /dev/null: the text still buffered would fail again at every later flush, the
    interpreter's own at exit included ("Exception ignored ..." and exit 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


def _user_os_error(err: OSError) -> UserOSError:
    where = f"{err.filename}: " if err.filename else ""
    return UserOSError(
        f"{where}{describe_os_error(err)}; check the path, its folder's permissions and the free space, "
        "or pass another path"
    )


def fail(err: MeshPoseError) -> NoReturn:
    """The one-line error exit: ``error: <message>`` on stderr, exit `err.exit_code`."""
    if isinstance(err, StdoutError):
        _silence_stdout()
    click.echo(f"error: {err}", err=True)
    sys.exit(err.exit_code)


def interrupted(err: KeyboardInterrupt, what: str) -> NoReturn:
    """The interrupt exit (130 Ctrl-C, 143 SIGTERM); `what`: what the command left behind."""
    click.echo(f"error: {interrupt_name(err)}; {what}", err=True)
    sys.exit(interrupt_exit_code(err))


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """User mistakes -> one line and their exit code; every other exception passes unchanged."""
    try:
        yield
    except MeshPoseError as err:
        fail(err)
    except OSError as err:
        if not is_user_os_error(err):
            raise
        fail(_user_os_error(err))


def prepare() -> None:
    """Before any argument is parsed (so --help output is guarded too)."""
    guard_stdout()
    install_handlers()
    with contextlib.suppress(ValueError, AttributeError):  # not the main thread / no SIGPIPE here
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # Python's own default, kept explicit


class FramedCommand(click.Command):
    """A click command run inside the frame (see the module docstring)."""

    def __init__(self, *args: Any, interrupted: Note = NOTHING_WRITTEN, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", dict(CONTEXT))
        super().__init__(*args, **kwargs)
        self.interrupt_note = interrupted

    def main(self, *args: Any, **kwargs: Any) -> Any:
        prepare()
        with user_errors():
            return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with user_errors():
                return super().invoke(ctx)
        except KeyboardInterrupt as err:
            note = self.interrupt_note
            interrupted(err, note if isinstance(note, str) else note(ctx.params))


class FramedGroup(click.Group):
    """A click group whose subcommands are `FramedCommand`s (its ``command`` is the frame's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", dict(CONTEXT))
        super().__init__(*args, **kwargs)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        prepare()
        with user_errors():
            return super().main(*args, **kwargs)

    def command(self, name: Any = None, **attrs: Any) -> Any:  # type: ignore[override]
        """``@group.command("name", options=..., interrupted=...)``, or bare ``@group.command``."""

        def decorator(f: Callable[..., Any]) -> FramedCommand:
            cmd = command(name, **attrs)(f)
            self.add_command(cmd)
            return cmd

        if callable(name):  # used without parentheses: `name` is the function
            f, name = name, None
            return decorator(f)
        return decorator


class Values(click.Option):
    """An option taking every value up to the next flag, as argparse's ``nargs="*"`` did
    (``--threads 1 2``); declare it with ``multiple=True`` (``--threads 1 --threads 2`` works too).
    Click has no such option; this hooks its parser's per-option ``process`` (click is pinned)."""

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            opt = parser._long_opt.get(name) or parser._short_opt.get(name)
            if opt is not None:
                opt.process = functools.partial(self._greedy, opt.process)

    @staticmethod
    def _greedy(process: Callable[[Any, Any], None], value: Any, state: Any) -> None:
        values = [value]
        while state.rargs and not state.rargs[0].startswith("-"):
            values.append(state.rargs.pop(0))
        for v in values:
            process(v, state)


def _with_options(f: Callable[..., Any], options: type) -> Callable[..., Any]:
    """`f(opts)` called as click calls callbacks (keyword arguments by parameter name)."""
    fields = {fl.name for fl in dataclasses.fields(options)}
    params = {p.name for p in getattr(f, "__click_params__", [])}
    if fields != params:  # a programming error, caught at import time
        raise TypeError(
            f"{f.__qualname__}: {options.__name__} fields {sorted(fields)} != click parameters {sorted(params)}"
        )

    @functools.wraps(f)
    def callback(**kwargs: Any) -> Any:
        return f(options(**kwargs))

    return callback


def command(
    name: str | None = None, *, options: type | None = None, interrupted: Note = NOTHING_WRITTEN, **attrs: Any
) -> Callable[[Callable[..., Any]], FramedCommand]:
    """Declare a command (on top of its ``@click.option`` lines). `options`: a frozen dataclass the
    parsed values are handed in (one field per parameter); `interrupted`: what an interrupted run
    left behind, a string or a function of `click.Context.params`. Other keywords go to click."""

    def decorator(f: Callable[..., Any]) -> FramedCommand:
        callback = _with_options(f, options) if options is not None else f
        return click.command(name, cls=FramedCommand, interrupted=interrupted, **attrs)(callback)

    return decorator


def group(name: str | None = None, **attrs: Any) -> Callable[[Callable[..., Any]], FramedGroup]:
    """Declare a command group; its subcommands are declared with ``@<group>.command(...)``.
    ``cls``: a `FramedGroup` subclass (e.g. one that finds its subcommands elsewhere)."""
    cls = attrs.pop("cls", FramedGroup)
    if not issubclass(cls, FramedGroup):  # a programming error, caught at import time
        raise TypeError(f"group cls {cls.__name__} is not a FramedGroup")
    return click.group(name, cls=cls, **attrs)
