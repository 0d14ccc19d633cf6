"""Forward latency of every variant on this CPU (PyTorch eager, batch 1, fp32).

Prints a markdown table: training-form model vs deployment graph, median and p90 over timed runs
after warm-up, and the deployment graph's speed-up as a ratio measured in the same run.
Usage: python benchmarks/cpu_latency.py [--runs 20] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from meshpose_mobile.registry import list_variants
from meshpose_mobile.seeded import seeded_model


def time_fn(fn, x: torch.Tensor, warmup: int, runs: int) -> list[float]:
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn(x)
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--variants", nargs="*", default=[v.name for v in list_variants()])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.variants:
        model = seeded_model(name)
        graph = model.deploy()
        x = graph.example_input()
        train_ms = time_fn(model, x, args.warmup, args.runs)
        deploy_ms = time_fn(graph, x, args.warmup, args.runs)
        rows.append(
            {
                "variant": name,
                "params": model.num_parameters(),
                "input": f"{model.config.input_height}x{model.config.input_width}",
                "model_median_ms": statistics.median(train_ms),
                "model_p90_ms": p90(train_ms),
                "deploy_median_ms": statistics.median(deploy_ms),
                "deploy_p90_ms": p90(deploy_ms),
            }
        )
    print(
        f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} threads, batch 1, {args.runs} runs after {args.warmup} warm-up"
    )
    print("| variant | input | params | model median / p90 (ms) | deploy graph median / p90 (ms) | speed-up |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['input']} | {r['params'] / 1e6:.2f} M | "
            f"{r['model_median_ms']:.1f} / {r['model_p90_ms']:.1f} | "
            f"{r['deploy_median_ms']:.1f} / {r['deploy_p90_ms']:.1f} | "
            f"{r['model_median_ms'] / r['deploy_median_ms']:.2f}x |"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": args.threads, "torch": torch.__version__, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
