"""Small model-side commands (`meshpose-params` prints the parameter table of every variant), and
how every command of both packages ends on a user error or an interrupt: one line, its exit code."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator

import click

from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.signals import interrupt_exit_code, interrupt_name


class StdoutError(MeshPoseError):
    """Standard output cannot be written: redirected to a full disk, or a pipe whose reader left."""


def _stdout_error(err: OSError) -> StdoutError:
    if err.errno == errno.EPIPE:
        why, fix = "broken pipe: its reader closed it", "read the whole output or redirect it to a file"
    else:
        from meshpose_mobile.paths import describe_os_error

        why, fix = describe_os_error(err), "free some space or redirect it elsewhere (> FILE on a disk with room)"
    return StdoutError(f"cannot write to standard output ({why}), so the command stopped there; {fix}")


class _GuardedStdout(io.TextIOWrapper):
    """sys.stdout whose OS errors become one `StdoutError` line (every command's `except
    MeshPoseError` reports it) instead of an OSError traceback."""

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
    """Called first by every command. Only the interpreter's own stdout is replaced (not a test
    runner's capture); the new wrapper shares its buffer, encoding and line buffering."""
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


@contextlib.contextmanager
def filtered_stderr(is_noise: Callable[[str], bool]) -> Iterator[None]:
    """Native libraries (TensorFlow, LiteRT) log from C++ straight to file descriptor 2: capture
    fd 2 and sys.stderr during the block, then pass on every line that `is_noise` does not know."""
    sys.stderr.flush()
    saved = os.dup(2)
    captured = io.StringIO()
    with tempfile.TemporaryFile() as native:
        try:
            os.dup2(native.fileno(), 2)
            with contextlib.redirect_stderr(captured):
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            native.seek(0)
            text = native.read().decode(errors="replace") + captured.getvalue()
            kept = [ln for ln in text.splitlines() if ln.strip() and not is_noise(ln)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def fail(err: MeshPoseError) -> None:
    if isinstance(err, StdoutError):
        _silence_stdout()
    click.echo(f"error: {err}", err=True)
    sys.exit(err.exit_code)


def interrupted(err: KeyboardInterrupt, what: str) -> None:
    """`what`: what the interrupted command left behind (or did not), for the one line."""
    click.echo(f"error: {interrupt_name(err)}; {what}", err=True)
    sys.exit(interrupt_exit_code(err))


def parameter_rows() -> list[dict[str, object]]:
    from meshpose_mobile.registry import create_model, list_variants
    from meshpose_mobile.topology import Topology, default_topology

    default = default_topology()
    setups = [(v.name, default) for v in list_variants()]
    # The released model's own size: HRNet-W32 with its 518-vertex topology.
    setups.insert(1, ("meshpose_hrnet32", Topology.minimal(518, "released-518")))
    rows = []
    for name, topo in setups:
        model = create_model(name, topo)
        backbone = sum(p.numel() for p in model.backbone.parameters())
        total = model.num_parameters()
        rows.append(
            {
                "variant": name,
                "backbone": model.config.backbone,
                "topology": topo.name,
                "vertices": topo.num_vertices,
                "input": f"{model.config.input_height}x{model.config.input_width}",
                "backbone_params": backbone,
                "head_params": total - backbone,
                "total_params": total,
            }
        )
    return rows


def format_table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| variant | backbone | topology (K) | input | backbone params | heads params | total |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['backbone']} | {r['topology']} ({r['vertices']}) | {r['input']} | "
            f"{r['backbone_params']:,} | {r['head_params']:,} | {r['total_params']:,} |"
        )
    return "\n".join(lines)


@click.command()
def params_main() -> None:
    """Print the learnable-parameter counts of every variant (markdown table)."""
    guard_stdout()
    try:
        click.echo(format_table(parameter_rows()))
    except MeshPoseError as err:
        fail(err)
