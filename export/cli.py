"""`meshpose-export`: a checkpoint to ONNX, CoreML and TFLite artifacts, each with a parity report."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from meshpose_mobile.crop import DEFAULT_BOX_SCALE
from meshpose_mobile.errors import MeshPoseError

EXIT_PARITY_FAILED = 3


def _targets() -> list:
    """The registered targets, for the help text (the registry is the one list of names and precisions)."""
    from meshpose_export.targets.base import get_target, list_targets

    return [get_target(n) for n in list_targets()]


def _fail(err: MeshPoseError) -> None:
    click.echo(f"error: {err}", err=True)
    sys.exit(err.exit_code)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--ckpt",
    type=click.Path(path_type=Path),
    default=None,
    help="Checkpoint: ours (meshpose-train, save_checkpoint) or the authors' released file. "
    "Without it, the variant is exported with seeded (untrained) weights.",
)
@click.option(
    "--variant",
    default=None,
    help="Variant to export without --ckpt (default meshpose_xs), or to require of the checkpoint.",
)
@click.option(
    "--released-constants",
    "released_constants",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON with the released model's seam pairs and centre weights, for the authors' checkpoint "
    "(docs/released-model.md).",
)
@click.option("--topology", "topology_path", default=None, help="Topology .npz (default: the packaged anny-615 mesh).")
@click.option("--target", default="all", show_default=True, help=", ".join(t.name for t in _targets()) + " or all.")
@click.option(
    "--precision",
    "precisions",
    multiple=True,
    help="Repeatable. "
    + "; ".join(f"{t.name}: {', '.join(t.precisions)}" for t in _targets())
    + "; 'all' for every one. Default: each target's recommended set.",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("artifacts"), show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the weights when no --ckpt is given.")
@click.option(
    "--box-scale", default=DEFAULT_BOX_SCALE, show_default=True, help="Person-box scale factor of the crop contract."
)
@click.option("--license", "license_text", default="", help="Licence text embedded in the artifacts.")
@click.option("--random-inputs", default=4, show_default=True, help="Random images added to the parity inputs.")
def main(**options: Any) -> None:
    """Export MeshPose to phone formats and prove, in pixels, that each artifact matches PyTorch."""
    # coremltools imports TensorFlow; keep its start-up chatter out of the progress output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        _run(**options)
    except MeshPoseError as err:
        _fail(err)
    except KeyboardInterrupt:
        click.echo("error: interrupted; no partial artifact was left in the output folder", err=True)
        sys.exit(130)


def _run(
    *,
    ckpt: Path | None,
    variant: str | None,
    topology_path: str | None,
    target: str,
    precisions: tuple[str, ...],
    out_dir: Path,
    seed: int,
    box_scale: float,
    license_text: str,
    random_inputs: int,
    released_constants: Path | None = None,
) -> None:
    from meshpose_export.pipeline import plan_jobs, run_export, summary_table
    from meshpose_mobile.checkpoint import load_checkpoint
    from meshpose_mobile.crop import CropContract
    from meshpose_mobile.errors import ConfigError
    from meshpose_mobile.registry import DEFAULT_VARIANT, get_variant
    from meshpose_mobile.seeded import seeded_model
    from meshpose_mobile.topology import load_topology

    t_start = time.perf_counter()
    jobs = plan_jobs(target, precisions)  # validate flags before any slow work
    if variant is not None:
        get_variant(variant)
    topology = load_topology(topology_path) if topology_path else None
    if released_constants is not None and ckpt is None:
        raise ConfigError("--released-constants applies to the authors' checkpoint; pass it with --ckpt")
    step = 1
    if ckpt is not None:
        click.echo(f"[{step}] loading checkpoint {ckpt}")
        model = load_checkpoint(ckpt, variant=variant, topology=topology, released_constants=released_constants)
        note = f"checkpoint {ckpt.name}"
    else:
        name = variant or DEFAULT_VARIANT
        click.echo(
            f"[{step}] no --ckpt: exporting {name} with SEEDED, UNTRAINED weights (seed {seed}); "
            "the artifacts prove the conversion, not the accuracy"
        )
        model = seeded_model(name, seed=seed, topology=topology)
        note = f"seeded untrained weights (seed {seed})"
    cfg = model.config
    click.echo(
        f"    {cfg.variant}: {model.num_parameters():,} parameters, {cfg.num_vertices} vertices "
        f"({model.topology.name}), input {cfg.input_height}x{cfg.input_width}"
    )
    click.echo(f"[{step + 1}] exporting {len(jobs)} artifact(s) to {out_dir}")
    contract = CropContract.for_config(cfg, box_scale)
    results = run_export(
        model,
        jobs,
        out_dir,
        contract=contract,
        weights_note=note,
        license_text=license_text,
        n_random=random_inputs,
        log=lambda s: click.echo("    " + s.replace("\n", "\n    ")),
    )
    click.echo("")
    click.echo(summary_table(results))
    click.echo(
        f"\ntotal {time.perf_counter() - t_start:.1f} s; beside each artifact: <artifact>.json (sidecar) and "
        f"<artifact>.parity.json (report); summary: {out_dir}/summary.json"
    )
    failed = [r for r in results if not r.report.passed]
    if failed:
        names = ", ".join(r.path.name for r in failed)
        click.echo(f"error: parity failed for {names}; see their .parity.json", err=True)
        sys.exit(EXIT_PARITY_FAILED)


if __name__ == "__main__":
    main()
