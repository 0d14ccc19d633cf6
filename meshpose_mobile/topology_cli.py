"""`meshpose-topology`: build topologies from files the user holds (`from-smpl`: SMPL + DensePose)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import click

from meshpose_mobile.cliframe import group
from meshpose_mobile.paths import user_path
from meshpose_mobile.signals import raise_if_interrupted


@group()
def main() -> None:
    """Build low-poly body topologies (meshpose_mobile/topology.py's .npz format)."""


def _nothing_written(params: Mapping[str, Any]) -> str:
    return f"nothing was written to {params['out_path']}"


@main.command("from-smpl", interrupted=_nothing_written)
@click.option("--smpl", "smpl_path", required=True, type=click.Path(), help="SMPL model: SMPL_NEUTRAL.pkl (or .npz).")
@click.option("--densepose", "densepose_path", required=True, type=click.Path(), help="DensePose's UV_Processed.mat.")
@click.option("--vertices", type=int, default=600, show_default=True, help="Low-poly vertex count.")
@click.option("--out", "out_path", required=True, type=click.Path(), help="Topology file to write (.npz).")
@click.option("--name", default=None, help="Topology name (default smpl-densepose-<vertices>).")
def from_smpl(smpl_path: str, densepose_path: str, vertices: int, out_path: str, name: str | None) -> None:
    """A topology with DensePose's own 24 charts, decimated from the user's SMPL model, for training on
    DensePose-COCO (docs/training.md). Neither input file is shipped or downloaded."""
    smpl = user_path(smpl_path, "--smpl")
    densepose = user_path(densepose_path, "--densepose")
    out = user_path(out_path, "--out")
    assert smpl is not None and densepose is not None and out is not None
    from meshpose_mobile.smpl_topology import topology_from_smpl

    raise_if_interrupted()
    start = time.perf_counter()
    topo, report = topology_from_smpl(smpl, densepose, vertices, out, name)
    for line in report.lines():
        click.echo(line)
    click.echo(
        f"wrote {out} ({topo.name}, {topo.num_vertices} vertices, hash {topo.hash[:12]}) in "
        f"{time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
