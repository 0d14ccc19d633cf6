"""This CPU's attainable multiply-accumulates per second: the roof each model is measured against.

Square float32 matrix products at a few sizes through two GEMM libraries, torch.mm (MKL/oneDNN)
and ONNX Runtime's MatMul (MLAS), per thread count; the roof is the fastest run of the best
library and size. Both are needed: measured on the 2-core AMD EPYC CI machine, torch.mm reached
57 GMAC/s on one thread while ONNX Runtime's convolutions in meshpose_xs reached ~120, so a
torch-only roof gave efficiencies over 100%. A dense GEMM is the most favourable kernel a CPU
runs, so `model MACs / latency / peak` is the fraction of the machine a model actually uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import click

from meshpose_export.bench.timing import time_callable
from meshpose_mobile.cliframe import Values, command

SIZES = (256, 512, 1024)


@dataclass(frozen=True)
class Peak:
    threads: int
    macs_per_s: float
    best_size: int
    min_ms: float
    library: str = "torch"


def _ort_matmul(n: int, threads: int) -> Callable[[], object]:
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    b = numpy_helper.from_array(rng.random((n, n), dtype=np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "gemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
        [b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    a = rng.random((n, n), dtype=np.float32)
    return lambda: session.run(None, {"a": a})


def matmul_peak(threads: int, sizes: tuple[int, ...] = SIZES, runs: int = 20, warmup: int = 3) -> Peak:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        best: Peak | None = None
        g = torch.Generator().manual_seed(0)
        for n in sizes:
            a = torch.rand(n, n, generator=g)
            b = torch.rand(n, n, generator=g)
            out = torch.empty(n, n)
            candidates: dict[str, Callable[[], object]] = {
                "torch": lambda a=a, b=b, out=out: torch.mm(a, b, out=out),
                "onnxruntime": _ort_matmul(n, threads),
            }
            for library, fn in candidates.items():
                t = time_callable(fn, warmup, runs)
                # The fastest run is the roof: on a shared machine slower runs measure the neighbours.
                rate = n**3 / (t.min_ms / 1e3)
                if best is None or rate > best.macs_per_s:
                    best = Peak(threads, rate, n, t.min_ms, library)
        assert best is not None
        return best
    finally:
        torch.set_num_threads(previous)


@command(help=__doc__.splitlines()[0])
@click.option("--threads", cls=Values, type=int, multiple=True, default=(1, 2), show_default=True)
@click.option("--runs", type=int, default=20, show_default=True)
def main(threads: tuple[int, ...], runs: int) -> None:
    for t in threads:
        p = matmul_peak(t, runs=runs)
        click.echo(
            f"{t} thread(s): {p.macs_per_s / 1e9:.1f} GMAC/s "
            f"({p.library} fp32 GEMM {p.best_size}^3, {p.min_ms:.2f} ms fastest run)"
        )


if __name__ == "__main__":
    main()
