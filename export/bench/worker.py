"""One timing in a fresh process: `python -m meshpose_export.bench.worker '<json args>'`.

Prints one JSON line: latency statistics, load time, peak RSS of the process and the peak above
the memory it had before the model was loaded (runtime libraries already imported).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_export import reference
from meshpose_export.bench.timing import p90, peak_rss_mb, reset_peak, rss_mb, time_callable
from meshpose_export.reference import REFERENCE
from meshpose_export.targets.base import get_target, list_targets


def _make(kind: str, path: str, threads: int, extra: str = "{}") -> Callable[[], object]:
    """`kind`: a target's name, or the PyTorch reference (`reference.REFERENCE`); its `timed_call`
    (extra {"scale": ...} sets the input's value range)."""
    rng = np.random.default_rng(0)
    scale = float(json.loads(extra).get("scale", 255.0))
    timed_call = reference.timed_call if kind == REFERENCE else get_target(kind).timed_call
    return timed_call(Path(path), threads, rng, scale)


def measure_pipeline(args: dict[str, Any]) -> dict[str, Any]:
    """The whole prediction path per photo, as the apps run it per frame: crop (the artifact's own
    crop contract) -> the artifact -> vertices in image pixels. Stage medians in `stages_ms`; there
    is no detector (the photos' boxes are given) and no drawing here, so those stages are null."""
    from meshpose_mobile.samples import SAMPLE_PHOTOS

    reset_peak()
    before = rss_mb()
    t0 = time.perf_counter()
    artifact = get_target(args["kind"]).open(Path(args["path"]), int(args["threads"]))
    contract = artifact.sidecar.crop
    k = artifact.sidecar.num_vertices
    photos = [(p.load(), p.box) for p in SAMPLE_PHOTOS]

    def frame(image: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, float, float]:
        a = time.perf_counter()
        crop, affine = contract.crop(image, box)
        chw = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
        b = time.perf_counter()
        outs = artifact(chw)
        c = time.perf_counter()
        contract.to_image(np.asarray(outs["vertices"], dtype=np.float64).reshape(k, 3), affine)
        np.asarray(outs["visibility"], dtype=np.float64).reshape(k)
        d = time.perf_counter()
        return (b - a) * 1e3, (c - b) * 1e3, (d - c) * 1e3

    frame(*photos[0])
    load_seconds = time.perf_counter() - t0
    for i in range(int(args["warmup"])):
        frame(*photos[i % len(photos)])
    stages = [frame(*photos[i % len(photos)]) for i in range(int(args["runs"]))]
    totals = [sum(s) for s in stages]
    pre, inf, post = (statistics.median(s[i] for s in stages) for i in range(3))
    peak = peak_rss_mb()
    return {
        "runs": len(totals),
        "median_ms": statistics.median(totals),
        "p90_ms": p90(totals),
        "min_ms": min(totals),
        "warmup": int(args["warmup"]),
        "load_seconds": load_seconds,
        "peak_rss_mb": peak,
        "peak_model_mb": peak - before,
        "stages_ms": {"detect": None, "preprocess": pre, "inference": inf, "postprocess": post, "render": None},
    }


def measure(args: dict[str, Any]) -> dict[str, Any]:
    if args.get("mode") == "pipeline":
        return measure_pipeline(args)
    reset_peak()
    before = rss_mb()
    t0 = time.perf_counter()
    fn = _make(args["kind"], args["path"], int(args["threads"]), args.get("extra", "{}"))
    fn()  # first call: lazy initialisation (XNNPACK packing, ORT arenas) counts as loading
    load_seconds = time.perf_counter() - t0
    timing = time_callable(fn, int(args["warmup"]), int(args["runs"]))
    peak = peak_rss_mb()
    return {**asdict(timing), "load_seconds": load_seconds, "peak_rss_mb": peak, "peak_model_mb": peak - before}


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Runtime libraries are imported before the baseline so that `peak_model_mb` is the model's.
    import torch  # noqa: F401

    for name in list_targets():
        get_target(name).import_runtime()

    result = measure(json.loads(sys.argv[1]))
    print("MESHPOSE_BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
