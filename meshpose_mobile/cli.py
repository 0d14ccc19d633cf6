"""`meshpose-params` (the parameter table of every variant) and `filtered_stderr` (native libraries'
log noise). How every command ends on a user error or an interrupt is `meshpose_mobile.cliframe`."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator

import click

from meshpose_mobile.cliframe import command

__all__ = ["filtered_stderr", "format_table", "params_main"]


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


@command()
def params_main() -> None:
    """Print the learnable-parameter counts of every variant (markdown table)."""
    click.echo(format_table(parameter_rows()))
