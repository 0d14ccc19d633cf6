"""LiteRT's `benchmark_model` output (run on a phone over adb) -> rows of the results schema.

benchmark_model logs, among other lines:
  `Inference timings in us: Init: 21453, First inference: 41287, Warmup (avg): 37562.1, Inference (avg): 36410.7`
  `count=50 first=36993 curr=36012 min=35687 max=38415 avg=36410.7 std=551 p5=35801 median=36342 p95=37614`
  `Memory footprint delta from the start of the tool (MB): init=24.5 overall=31.7`
  `Overall peak memory footprint (MB) via periodic monitoring: 48.3`
The `count=` line after "Running benchmark for at least ..." holds the timed runs (the first one
is the warm-up). Its percentile fields exist when the tool is built with them; p90 is reported
only if present (never estimated).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import click

from meshpose_export.bench.delegation import parse, report
from meshpose_export.bench.schema import Machine, Row, results_dict, validate, write_json_atomic
from meshpose_mobile.cliframe import command
from meshpose_mobile.errors import ConfigError

_STATS = re.compile(r"count=(\d+)(?P<rest>.*)")
_FIELD = re.compile(r"(\w+)=([-\d.]+)")


def parse_benchmark_model(text: str) -> dict[str, float]:
    """Timed-run statistics in ms, and memory in MB, from one benchmark_model log."""
    stats = [m for m in _STATS.finditer(text)]
    if not stats:
        raise ConfigError("no 'count=... avg=...' statistics in the benchmark_model output; did the run fail?")
    # The last statistics line belongs to the timed runs (the earlier one, to the warm-up).
    fields = {k: float(v) for k, v in _FIELD.findall(stats[-1].group(0))}
    out = {"runs": fields["count"], "avg_ms": fields["avg"] / 1e3, "min_ms": fields["min"] / 1e3}
    out["median_ms"] = (fields["median"] if "median" in fields else fields["avg"]) / 1e3
    for key in ("p90", "p95"):
        if key in fields:
            out[f"{key}_ms"] = fields[key] / 1e3
    warm = [m for m in _STATS.finditer(text)][:-1]
    if warm:
        out["warmup"] = float(dict(_FIELD.findall(warm[-1].group(0)))["count"])
    m = re.search(r"Overall peak memory footprint \(MB\)[^:]*:\s*([\d.]+)", text)
    if m:
        out["peak_mb"] = float(m.group(1))
    m = re.search(r"Memory footprint delta from the start of the tool \(MB\): init=([\d.]+) overall=([\d.]+)", text)
    if m:
        out["model_mb"] = float(m.group(2))
    m = re.search(r"Init: ([\d.]+)", text)
    if m:
        out["init_ms"] = float(m.group(1)) / 1e3
    return out


def android_row(text: str, *, model: str, precision: str, compute: str, threads: int | None, artifact: Path) -> Row:
    s = parse_benchmark_model(text)
    note = "benchmark_model over adb"
    lines = text.splitlines()
    if parse(lines):
        # The runtime said which delegate took how many nodes: label the row by what ran (a
        # partial GPU delegation is "gpu+cpu", not "gpu"). Without such lines the name stays as asked.
        delegation = report(compute, lines)
        compute = str(delegation["label"])
        note += f"; delegation {delegation['summary']}"
    row = Row(
        model=model,
        runtime="litert-android",
        precision=precision,
        threads=threads,
        compute=compute,
        artifact=artifact.name,
        latency_median_ms=s["median_ms"],
        latency_p90_ms=s.get("p90_ms"),
        latency_min_ms=s["min_ms"],
        fps=1000.0 / s["median_ms"],
        runs=int(s["runs"]),
        warmup=int(s["warmup"]) if "warmup" in s else None,
        peak_rss_mb=s.get("peak_mb"),
        peak_model_mb=s.get("model_mb"),
        artifact_bytes=artifact.stat().st_size if artifact.exists() else None,
        load_seconds=s["init_ms"] / 1e3 if "init_ms" in s else None,
        note=note + ("" if "median" in text else "; median field absent: avg reported"),
    )
    return row if "median" in text else replace(row, latency_median_ms=s["avg_ms"], fps=1000.0 / s["avg_ms"])


@command()
@click.argument("out", type=click.Path(path_type=Path))
@click.argument("machine")
@click.argument("specs", nargs=-1, required=True, metavar="LOG:MODEL:PRECISION:COMPUTE:THREADS:TFLITE...")
def main(out: Path, machine: str, specs: tuple[str, ...]) -> None:
    """benchmark_model logs (one spec per log) -> OUT.json rows of the meshpose-bench results schema."""
    rows = []
    try:
        for spec in specs:
            log, model, precision, compute, threads, tfl = spec.split(":")
            rows.append(
                android_row(
                    Path(log).read_text(errors="replace"),
                    model=model,
                    precision=precision,
                    compute=compute,
                    threads=int(threads) if threads else None,
                    artifact=Path(tfl),
                )
            )
    except (OSError, ValueError) as err:
        raise ConfigError(str(err)) from None
    m = Machine(name=machine, cpu=machine, cores=0, os="Android", runtimes={"litert benchmark_model": "see logs"})
    doc = results_dict(m, rows)
    # Checked against bench-results.schema.json before it is written, as meshpose-bench does.
    validate(json.loads(json.dumps(doc)))
    write_json_atomic(out, doc)
    click.echo(f"wrote {out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
