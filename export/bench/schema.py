"""The one results schema every machine writes: this CLI, the iOS app and harness, the Android app
and script.

A file is `{"schema": "meshpose-bench", "schema_version": 2, "machine": {...}, "peak": {...},
"rows": [...]}`. A row is one (model, runtime, precision, compute, threads, scope) measurement.
Every number in a row is measured on the machine named in the file or null (not measured); nothing
is estimated. `status` says why a row has no latency ("parity-failed", "not-runnable", ...).

Version 2 added `scope` and `stages_ms`: a "model" row times the model call alone; a "pipeline"
row times a whole frame (image in, mesh in image pixels out) and `stages_ms` holds the median of
each stage (`STAGES`; null where a stage was not part of the run). Version 1 files still read:
their rows are model rows.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshpose_export import formats
from meshpose_mobile.atomic import write_text_atomic
from meshpose_mobile.errors import ConfigError

__all__ = ["Machine", "Row", "results_dict", "this_machine", "validate", "write_json_atomic", "write_text_atomic"]

SCHEMA = "meshpose-bench"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
STATUSES = ("measured", "parity-failed", "not-runnable", "failed")
SCOPES = ("model", "pipeline")
# The note of a row timed with --time-failed (its artifact failed parity): results.md marks it.
TIMED_DESPITE_FAILURE = "parity FAILED, timed on request"
# Pipeline stages, in frame order: finding the person (detector), the crop into the model's input,
# the model, decoding to image pixels (and smoothing), drawing the overlay.
STAGES = ("detect", "preprocess", "inference", "postprocess", "render")


# The file is golden/schema/bench-results.schema.json: `validate` checks a document against it and
# cattrs (meshpose_export.formats.converter) maps rows and machines to JSON objects and back.
@dataclass(frozen=True)
class Row:
    model: str  # variant name, or the peer's name (e.g. "blazepose_full")
    runtime: str  # "pytorch", "onnxruntime", "litert", "coreml", "litert-android"
    precision: str
    threads: int | None  # None where the runtime does not take a thread count (CoreML)
    status: str = "measured"
    compute: str = "cpu"  # "cpu", "xnnpack", "gpu", "all", "cpu_and_ne", "cpu_only"
    artifact: str = ""
    input_shape: tuple[int, ...] = ()
    vertices: int | None = None  # output vertices (None for the peer: 39 landmarks are not a mesh)
    latency_median_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_min_ms: float | None = None
    fps: float | None = None
    runs: int | None = None
    warmup: int | None = None
    peak_rss_mb: float | None = None  # the whole process, runtime and interpreter included
    peak_model_mb: float | None = None  # peak minus the process's memory before loading the model
    artifact_bytes: int | None = None
    params: int | None = None
    macs: int | None = None  # multiply-accumulates per inference, counted from the graph
    macs_per_s: float | None = None  # macs / median latency
    efficiency: float | None = None  # macs_per_s / the machine's matmul peak at these threads
    export_seconds: float | None = None
    load_seconds: float | None = None
    parity_max_px: float | None = None
    parity_p99_px: float | None = None
    note: str = ""
    scope: str = "model"  # "model": the model call alone; "pipeline": a whole frame (see the module docstring)
    stages_ms: dict[str, float | None] | None = None  # pipeline rows: stage -> median ms (STAGES)


@dataclass(frozen=True)
class Machine:
    name: str  # folder name under benchmarks/results/
    cpu: str
    cores: int
    os: str
    runtimes: dict[str, str] = field(default_factory=dict)  # runtime -> version
    note: str = ""


def machine_name() -> str:
    """A folder-safe name: hostname is meaningless in CI, so name the CPU class and core count."""
    cpu = cpu_model().lower()
    for junk in ("(r)", "(tm)", "cpu", "processor", "@"):
        cpu = cpu.replace(junk, " ")
    slug = "-".join(p for p in "".join(c if c.isalnum() or c == "." else " " for c in cpu).split() if p)
    return f"linux-{slug or platform.machine()}-{os.cpu_count()}core"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def this_machine(runtimes: dict[str, str], name: str | None = None, note: str = "") -> Machine:
    return Machine(
        name=name or machine_name(),
        cpu=cpu_model(),
        cores=os.cpu_count() or 1,
        os=f"{platform.system()} {platform.release()} {platform.machine()}",
        runtimes=runtimes,
        note=note,
    )


def results_dict(machine: Machine, rows: list[Row], peak: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "machine": formats.converter.unstructure(machine),
        "peak": peak or {},
        "rows": formats.converter.unstructure(rows, list[Row]),
    }
    return doc


def validate(doc: Any) -> list[Row]:
    """Rows of a results file, or a one-line error saying what is wrong with it."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("schema_version") not in READABLE_VERSIONS:
        got = (doc.get("schema"), doc.get("schema_version")) if isinstance(doc, dict) else (None, None)
        raise ConfigError(
            f"not a {SCHEMA} results file of version {' or '.join(map(str, READABLE_VERSIONS))} "
            f"(schema={got[0]!r}, schema_version={got[1]!r})"
        )
    formats.check(doc, "bench-results", what=f"results file ({SCHEMA} v{doc['schema_version']})")
    # A row without threads reads as null, as MeshPoseKit and the Java core do.
    return formats.converter.structure([{"threads": None, **r} for r in doc.get("rows", [])], list[Row])


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(doc, indent=2) + "\n")
