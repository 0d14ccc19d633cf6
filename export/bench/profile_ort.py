"""Where the time goes: ONNX Runtime's own profiler over an exported .onnx, per node and per op type.

Each node's time is its median over the profiled runs (one run disturbed by another process on a
shared machine then moves no row), and shares are of the sum of those medians. Node names are
ONNX Runtime's after its graph optimisations (fused Conv+activation, NCHWc reorders).
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from meshpose_mobile.cliframe import command
from meshpose_mobile.errors import ConfigError


@dataclass(frozen=True)
class NodeTime:
    name: str
    op: str
    output_shape: tuple[int, ...]
    median_us: float
    share: float


@dataclass(frozen=True)
class Profile:
    model: str
    threads: int
    runs: int
    total_ms: float  # sum of per-node medians: the kernels' time, without session overhead
    nodes: tuple[NodeTime, ...]  # slowest first
    by_op: tuple[tuple[str, float, float], ...]  # (op, ms, share), slowest first

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "threads": self.threads,
            "runs": self.runs,
            "total_kernel_ms": self.total_ms,
            "by_op": [{"op": o, "ms": ms, "share": s} for o, ms, s in self.by_op],
            "nodes": [
                {
                    "name": n.name,
                    "op": n.op,
                    "output_shape": list(n.output_shape),
                    "median_us": n.median_us,
                    "share": n.share,
                }
                for n in self.nodes
            ],
        }

    def table(self, top: int = 12) -> str:
        lines = [
            f"ONNX Runtime profile of {self.model} ({self.threads} thread(s), median of {self.runs} runs per node; "
            f"kernels {self.total_ms:.2f} ms)",
            "",
            "| op type | ms | share |",
            "|---|---:|---:|",
        ]
        lines += [f"| {o} | {ms:.2f} | {s:.1%} |" for o, ms, s in self.by_op[:8]]
        lines += ["", "| node | op | output | ms | share |", "|---|---|---|---:|---:|"]
        for n in self.nodes[:top]:
            shape = "x".join(str(d) for d in n.output_shape)
            lines.append(f"| {n.name} | {n.op} | {shape} | {n.median_us / 1e3:.3f} | {n.share:.1%} |")
        return "\n".join(lines)


def profile_onnx(path: Path | str, threads: int = 1, runs: int = 20, warmup: int = 3) -> Profile:
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; export it first (meshpose-export --target onnx)")
    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = threads
        warm = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feeds = {
            i.name: (np.random.default_rng(0).random(i.shape) * 255.0).astype(np.float32) for i in warm.get_inputs()
        }
        for _ in range(warmup):
            warm.run(None, feeds)
        del warm
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        for _ in range(warmup + runs):
            session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    per_node: dict[str, list[float]] = defaultdict(list)
    meta: dict[str, tuple[str, tuple[int, ...]]] = {}
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        name = e["name"].removesuffix("_kernel_time")
        per_node[name].append(float(e["dur"]))
        shapes = e.get("args", {}).get("output_type_shape") or [{}]
        dims = next(iter(shapes[0].values()), []) if shapes else []
        meta[name] = (e["args"].get("op_name", "?"), tuple(int(d) for d in dims))
    # The profiler also records the warm-up calls made on this session; drop them.
    medians = {n: statistics.median(v[-runs:]) for n, v in per_node.items()}
    total = sum(medians.values())
    nodes = sorted(
        (NodeTime(n, meta[n][0], meta[n][1], us, us / total) for n, us in medians.items()),
        key=lambda n: -n.median_us,
    )
    ops: dict[str, float] = defaultdict(float)
    for n in nodes:
        ops[n.op] += n.median_us
    by_op = tuple(sorted(((o, us / 1e3, us / total) for o, us in ops.items()), key=lambda t: -t[1]))
    return Profile(path.name, threads, runs, total / 1e3, tuple(nodes), by_op)


@command(help=__doc__.splitlines()[0])
@click.argument("onnx", type=click.Path(path_type=Path))
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--runs", type=int, default=20, show_default=True)
@click.option("--top", type=int, default=12, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="write <out>.json and <out>.md")
def main(onnx: Path, threads: int, runs: int, top: int, out: Path | None) -> None:
    from meshpose_export.bench.schema import write_json_atomic, write_text_atomic

    prof = profile_onnx(onnx, threads, runs)
    click.echo(prof.table(top))
    if out:
        write_json_atomic(out.with_suffix(".json"), prof.to_dict())
        write_text_atomic(out.with_suffix(".md"), prof.table(top) + "\n")


if __name__ == "__main__":
    main()
