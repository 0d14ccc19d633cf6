"""One timing in a fresh process: `python -m meshpose_export.bench.worker '<json args>'`.

Prints one JSON line: latency statistics, load time, peak RSS of the process and the peak above
the memory it had before the model was loaded (runtime libraries already imported).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np

from meshpose_export.bench.timing import peak_rss_mb, reset_peak, rss_mb, time_callable


def _make(kind: str, path: str, threads: int, shape: list[int], extra: str = "{}") -> Callable[[], object]:
    rng = np.random.default_rng(0)
    if kind == "torch":
        import torch

        from meshpose_mobile.registry import create_model

        torch.set_num_threads(threads)
        # A pickled fx graph does not load back, so the graph is rebuilt from its variant and the
        # saved state dict (the peak memory then includes building the training-form module).
        spec = json.loads(extra)
        graph = create_model(spec["variant"]).deploy(**spec["deploy_kwargs"]).eval()
        graph.load_state_dict(torch.load(path, weights_only=True))
        x = torch.from_numpy((rng.random(shape) * 255.0).astype(np.float32))

        def run_torch() -> object:
            with torch.no_grad():
                return graph(x)

        return run_torch
    if kind == "onnx":
        from meshpose_export.targets.onnx_target import onnx_runner

        runner = onnx_runner(path, threads)
        image = (rng.random(shape) * 255.0).astype(np.float32)
        return lambda: runner(image)
    if kind in ("tflite", "peer"):
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_path=path, num_threads=threads)
        interp.allocate_tensors()
        (inp,) = interp.get_input_details()
        # Ours take 0..255 pixels, BlazePose 0..1; the input is fed once, as an app would reuse
        # its buffer, so the loop times the interpreter alone for both.
        scale = 1.0 if kind == "peer" else 255.0
        interp.set_tensor(inp["index"], (rng.random(inp["shape"]) * scale).astype(np.float32))
        return interp.invoke
    raise ValueError(f"unknown worker kind {kind!r}")


def measure(args: dict[str, Any]) -> dict[str, Any]:
    reset_peak()
    before = rss_mb()
    t0 = time.perf_counter()
    fn = _make(args["kind"], args["path"], int(args["threads"]), list(args.get("shape") or []), args.get("extra", "{}"))
    fn()  # first call: lazy initialisation (XNNPACK packing, ORT arenas) counts as loading
    load_seconds = time.perf_counter() - t0
    timing = time_callable(fn, int(args["warmup"]), int(args["runs"]))
    peak = peak_rss_mb()
    return {**asdict(timing), "load_seconds": load_seconds, "peak_rss_mb": peak, "peak_model_mb": peak - before}


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Runtime libraries are imported before the baseline so that `peak_model_mb` is the model's.
    import onnxruntime  # noqa: F401
    import torch  # noqa: F401
    from ai_edge_litert.interpreter import Interpreter  # noqa: F401

    result = measure(json.loads(sys.argv[1]))
    print("MESHPOSE_BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
