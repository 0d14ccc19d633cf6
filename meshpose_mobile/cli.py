"""Small model-side commands (`meshpose-params` prints the parameter table of every variant), and
how every command of both packages ends on a user error or an interrupt: one line, its exit code."""

from __future__ import annotations

import sys

import click

from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.signals import interrupt_exit_code, interrupt_name


def fail(err: MeshPoseError) -> None:
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
    try:
        click.echo(format_table(parameter_rows()))
    except MeshPoseError as err:
        raise click.ClickException(str(err)) from None
