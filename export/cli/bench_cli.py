"""`meshpose-bench`: latency, FPS, memory, size, parameters, MACs and export time of every artifact
on this machine, next to MediaPipe's BlazePose full on the same interpreter (see benchmarks/README.md).
Declared with the CLI frame (`meshpose_mobile.cliframe`); the flags become one `BenchConfig`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from meshpose_mobile.cliframe import command
from meshpose_mobile.errors import ConfigError
from meshpose_mobile.paths import out_dir_or_nothing, user_path
from meshpose_mobile.signals import raise_if_interrupted


@command(interrupted="results already written stay, nothing half-written")
@click.option(
    "--variant",
    "variants",
    multiple=True,
    help="Repeatable or comma-separated, e.g. --variant meshpose_xs,meshpose_blaze (default: meshpose_xs and, "
    "where registered, meshpose_blaze).",
)
@click.option(
    "--runtime",
    "runtimes",
    multiple=True,
    help="Repeatable: pytorch or a target's runtime (default: pytorch and every target's runtime that runs here).",
)
@click.option(
    "--precision",
    "precisions",
    multiple=True,
    help="Repeatable, TARGET:PRECISION, e.g. tflite:int8_full (default: each target's recommended set).",
)
@click.option("--threads", "threads", multiple=True, type=int, help="Repeatable (default: 1 and 2).")
@click.option("--runs", default=30, show_default=True, help="Timed runs per measurement, after the warm-up.")
@click.option("--warmup", default=5, show_default=True)
@click.option("--out", "out_dir", type=click.Path(), default="benchmarks/results", show_default=True)
@click.option("--machine", default=None, help="Results folder name (default: from the CPU model and core count).")
@click.option(
    "--peer-dir",
    type=click.Path(),
    default=None,
    help="Folder holding pose_landmark_full.tflite (default: where `meshpose-models list` finds it).",
)
@click.option(
    "--compare-expectation",
    multiple=True,
    help="Also time the deployment graph with this heatmap expectation layout (e.g. matmul), same run.",
)
@click.option(
    "--ckpt",
    type=click.Path(path_type=Path),
    default=None,
    help="Checkpoint to measure (one --variant: the checkpoint's). Default: seeded weights.",
)
@click.option(
    "--time-failed",
    "time_failed",
    is_flag=True,
    help="Also time artifacts that fail parity (their rows say so); by default they are not timed.",
)
@click.option("--shipped", is_flag=True, help="Measure each variant's shipped trained weights (where it has them).")
def main(
    variants: tuple[str, ...],
    runtimes: tuple[str, ...],
    precisions: tuple[str, ...],
    threads: tuple[int, ...],
    runs: int,
    warmup: int,
    out_dir: str,
    machine: str | None,
    peer_dir: str | None,
    compare_expectation: tuple[str, ...],
    ckpt: Path | None,
    time_failed: bool,
    shipped: bool,
) -> None:
    """Measure every exported artifact on this machine; JSON, markdown table and PNG plot."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from meshpose_export.bench.run import BenchConfig, default_variants, run_bench
    from meshpose_mobile.machine import usable_cores

    raise_if_interrupted()
    defaults = BenchConfig()
    by_target: dict[str, list[str]] = {}
    for spec in precisions:
        name, sep, precision = spec.partition(":")
        if not sep or not precision:
            raise ConfigError(f"--precision {spec!r} must be TARGET:PRECISION, e.g. tflite:fp16")
        by_target.setdefault(name, []).append(precision)
    out = user_path(out_dir, "--out")
    cfg = BenchConfig(
        variants=tuple(v.strip() for spec in variants for v in spec.split(",") if v.strip()) or default_variants(),
        runtimes=runtimes,
        precisions={k: tuple(v) for k, v in by_target.items()},
        # The default pair, without counts this machine cannot run (a 1-core runner).
        threads=threads or tuple(t for t in defaults.threads if t <= usable_cores()) or (1,),
        runs=runs,
        warmup=warmup,
        out_dir=out,
        machine=machine,
        peer_dir=user_path(peer_dir, "--peer-dir"),
        compare_expectation=compare_expectation,
        time_failed=time_failed,
    )
    cfg.check()
    factory, note = _weights(ckpt, shipped, cfg.variants)
    with out_dir_or_nothing(out):
        run_bench(cfg, log=lambda m: click.echo(m, err=True), model_factory=factory, weights_note=note)


def _weights(ckpt: Path | None, shipped: bool, variants: tuple[str, ...]):
    """(variant -> model, description) for --ckpt, --shipped or the seeded default."""
    from meshpose_mobile.seeded import seeded_model

    if ckpt is not None and shipped:
        raise ConfigError("--ckpt and --shipped exclude each other; drop one")
    if ckpt is not None:
        from meshpose_mobile.checkpoint import load_checkpoint

        model = load_checkpoint(ckpt)
        if list(variants) != [model.config.variant]:
            raise ConfigError(
                f"checkpoint {ckpt} holds {model.config.variant}; pass --variant {model.config.variant} alone"
            )
        return (lambda _v: model), f"checkpoint {ckpt.name}"
    if shipped:
        from meshpose_mobile.weights import choose_weights

        def factory(variant: str):
            return choose_weights(variant).model

        return factory, "shipped trained weights where a variant has them, else seeded"
    return seeded_model, "seeded (untrained) weights"
