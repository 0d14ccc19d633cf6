"""golden/bench.json: benchmark statistics and the results JSON (export/bench/)."""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from meshpose_export.golden.common import (
    _doc,
    _r,
)


def _v1_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("scope", "stages_ms")}


def bench_cases() -> dict[str, Any]:
    from meshpose_export.bench.schema import Machine, Row, results_dict, validate, write_json_atomic
    from meshpose_export.bench.timing import p90
    from meshpose_mobile.errors import MeshPoseError

    sample_sets = {
        "odd": [12.5, 10.0, 11.0, 30.0, 10.5],
        "even": [8.0, 9.0, 7.5, 8.5],
        "single": [42.0],
        "ten_with_outlier": [5.0, 5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 5.7, 5.8, 50.0],
        "twenty": [float(v) for v in range(20, 0, -1)],
    }
    stats_cases = []
    for name, samples in sample_sets.items():
        median = statistics.median(samples)
        stats_cases.append(
            {
                "name": name,
                "samples_ms": samples,
                "expected": _r(
                    {
                        "median_ms": median,
                        "p90_ms": p90(samples),
                        "min_ms": min(samples),
                        "fps": 1000.0 / median,
                        "runs": len(samples),
                    }
                ),
            }
        )
    machine = Machine(
        name="android-pixel-8-golden",
        cpu="Google Tensor G3",
        cores=9,
        os="Android 14",
        runtimes={"litert": "1.0.1"},
        note="golden vector: fixed values, not a measurement",
    )
    s = stats_cases[0]["expected"]
    p = stats_cases[1]["expected"]
    rows = [
        Row(
            model="meshpose_xs",
            runtime="litert-android",
            precision="fp16",
            threads=4,
            compute="gpu",
            artifact="meshpose_xs_fp16.tflite",
            input_shape=(1, 256, 192, 3),
            vertices=615,
            latency_median_ms=s["median_ms"],
            latency_p90_ms=s["p90_ms"],
            latency_min_ms=s["min_ms"],
            fps=s["fps"],
            runs=s["runs"],
            warmup=2,
            peak_rss_mb=180.5,
            artifact_bytes=7340032,
            load_seconds=0.85,
            note="model only",
        ),
        Row(
            model="meshpose_xs",
            runtime="litert-android",
            precision="fp16",
            threads=None,
            status="failed",
            compute="npu",
            artifact="meshpose_xs_fp16.tflite",
            note="NNAPI delegate failed: fell back to CPU (recorded, not measured)",
        ),
        Row(
            model="meshpose_xs",
            runtime="litert-android",
            precision="fp16",
            threads=None,
            compute="gpu",
            artifact="meshpose_xs_fp16.tflite",
            input_shape=(1, 256, 192, 3),
            vertices=615,
            latency_median_ms=p["median_ms"],
            latency_p90_ms=p["p90_ms"],
            latency_min_ms=p["min_ms"],
            fps=p["fps"],
            runs=p["runs"],
            warmup=2,
            peak_rss_mb=201.25,
            scope="pipeline",
            stages_ms={"detect": 0.0, "preprocess": 1.25, "inference": 6.5, "postprocess": 0.375, "render": None},
            note="whole pipeline",
        ),
    ]
    doc = results_dict(machine, rows, peak={})
    validate(doc)
    # The exact bytes the desktop writes for this document: a writer that matches them byte for byte
    # (MeshPoseKit's) makes phone and desktop files diff cleanly.
    with tempfile.TemporaryDirectory(prefix="meshpose-golden-bench-") as tmp:
        write_json_atomic(Path(tmp) / "results.json", doc)
        text = (Path(tmp) / "results.json").read_text()
    assert json.loads(text) == _r(doc)
    validate(_r({**doc, "schema_version": 1, "rows": [_v1_row(r) for r in doc["rows"][:2]]}))
    invalid = []
    bad_docs = {
        "wrong_schema": {**doc, "schema": "other"},
        "newer_version": {**doc, "schema_version": 99},
        "no_machine_name": {**doc, "machine": {**doc["machine"], "name": ""}},
        "unknown_status": {**doc, "rows": [{**doc["rows"][0], "status": "great"}]},
        "measured_without_latency": {**doc, "rows": [{**doc["rows"][0], "latency_median_ms": None}]},
        "unknown_row_field": {**doc, "rows": [{**doc["rows"][0], "speed": 1.0}]},
        "unknown_scope": {**doc, "rows": [{**doc["rows"][0], "scope": "frame"}]},
        "unknown_stage": {**doc, "rows": [{**doc["rows"][2], "stages_ms": {"paint": 1.0}}]},
        "negative_stage": {**doc, "rows": [{**doc["rows"][2], "stages_ms": {"render": -1.0}}]},
        "null_status": {**doc, "rows": [{**doc["rows"][0], "status": None}]},
        "null_scope": {**doc, "rows": [{**doc["rows"][0], "scope": None}]},
        "row_without_model": {**doc, "rows": [{k: v for k, v in doc["rows"][0].items() if k != "model"}]},
        "row_not_an_object": {**doc, "rows": [3]},
    }
    for name, bad in bad_docs.items():
        try:
            validate(bad)
        except MeshPoseError:
            invalid.append({"name": name, "document": bad, "error": "invalid_results"})
        else:  # pragma: no cover - a generator bug
            raise AssertionError(f"bench case {name} was expected to be rejected")
    return _doc(
        "bench",
        "Benchmark statistics (export/bench/timing.py) and the meshpose-bench results JSON "
        "(export/bench/schema.py) that every platform writes.",
        {
            "median": "statistics.median: the mean of the two middle samples for an even count",
            "p90": "nearest rank: sorted[min(n - 1, ceil(0.9 n) - 1)], an observed sample",
            "fps": "1000 / median_ms",
            "document": "results JSON: compare parsed objects (key order and whitespace are free); "
            "null means not measured; expected_text is the file schema.py writes (json.dumps indent=2 and a newline)",
            "schema_version": "writers write 2; readers take 1 and 2 (v1 rows have no scope / stages_ms: model rows)",
            "scope": "model: the model call alone; pipeline: a whole frame, stages_ms = median ms per stage of "
            "detect, preprocess, inference, postprocess, render (null: not part of the run)",
        },
        stats_cases,
        document_case={
            "machine": _r(doc["machine"]),
            "rows": _r(doc["rows"]),
            "expected": _r(doc),
            "expected_text": text,
        },
        # A version 1 file (before scope and stages_ms) still reads; its rows are model rows.
        valid_v1=_r({**doc, "schema_version": 1, "rows": [_v1_row(r) for r in doc["rows"][:2]]}),
        invalid=invalid,
    )
