"""Small model-side commands: `meshpose-params` prints the parameter table of every variant."""

from __future__ import annotations

import click

from meshpose_mobile.errors import MeshPoseError


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
