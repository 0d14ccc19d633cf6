"""`meshpose-bench`: latency, FPS, memory, size, parameters, MACs and export time of every artifact
on this machine, next to MediaPipe's BlazePose full on the same interpreter (see benchmarks/README.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from meshpose_mobile.errors import MeshPoseError


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--variant", "variants", multiple=True, help="Repeatable (default: meshpose_xs).")
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
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("benchmarks/results"), show_default=True
)
@click.option("--machine", default=None, help="Results folder name (default: from the CPU model and core count).")
@click.option("--peer-dir", type=click.Path(path_type=Path), default=Path("benchmarks/peers"), show_default=True)
@click.option(
    "--compare-expectation",
    multiple=True,
    help="Also time the deployment graph with this heatmap expectation layout (e.g. matmul), same run.",
)
def main(
    variants: tuple[str, ...],
    runtimes: tuple[str, ...],
    precisions: tuple[str, ...],
    threads: tuple[int, ...],
    runs: int,
    warmup: int,
    out_dir: Path,
    machine: str | None,
    peer_dir: Path,
    compare_expectation: tuple[str, ...],
) -> None:
    """Measure every exported artifact on this machine; JSON, markdown table and PNG plot."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from meshpose_export.bench.run import BenchConfig, run_bench

    defaults = BenchConfig()
    by_target: dict[str, list[str]] = {}
    for spec in precisions:
        name, sep, precision = spec.partition(":")
        if not sep or not precision:
            click.echo(f"error: --precision {spec!r} must be TARGET:PRECISION, e.g. tflite:fp16", err=True)
            sys.exit(2)
        by_target.setdefault(name, []).append(precision)
    cfg = BenchConfig(
        variants=variants or defaults.variants,
        runtimes=runtimes,
        precisions={k: tuple(v) for k, v in by_target.items()},
        threads=threads or defaults.threads,
        runs=runs,
        warmup=warmup,
        out_dir=out_dir,
        machine=machine,
        peer_dir=peer_dir,
        compare_expectation=compare_expectation,
    )
    try:
        run_bench(cfg, log=lambda m: click.echo(m, err=True))
    except MeshPoseError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted; results already written stay, nothing half-written", err=True)
        sys.exit(130)
