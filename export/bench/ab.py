"""Before / after on a shared machine: two artifacts loaded in one process and timed alternately.

Timing A then B minutes apart lets a neighbour's load land on one of them only; alternating
single runs (A B A B ...) exposes both to the same load, so their ratio is the change's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from meshpose_export.bench.timing import p90


@dataclass(frozen=True)
class AB:
    kind: str
    threads: int
    runs: int
    before_median_ms: float
    after_median_ms: float
    before_p90_ms: float
    after_p90_ms: float
    ratio_of_medians: float
    median_of_ratios: float  # per round after / before: robust to load that drifts between rounds


def interleaved(
    kind: str,
    before: Path,
    after: Path,
    threads: int,
    runs: int,
    warmup: int,
    extra_before: str = "{}",
    extra_after: str = "{}",
) -> AB:
    """`extra_*`: the worker's per-artifact options, e.g. '{"scale": 1.0}' for BlazePose's 0..1 input."""
    from meshpose_export.bench.worker import _make

    fa = _make(kind, str(before), threads, extra_before)
    fb = _make(kind, str(after), threads, extra_after)
    for _ in range(warmup):
        fa()
        fb()
    ta, tb = [], []
    for i in range(runs):
        # Alternate which goes first so that neither always follows the other's cache state.
        order = ((fa, ta), (fb, tb)) if i % 2 == 0 else ((fb, tb), (fa, ta))
        for fn, out in order:
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1e3)
    ma, mb = statistics.median(ta), statistics.median(tb)
    ratios = [b / a for a, b in zip(ta, tb, strict=True)]
    return AB(kind, threads, runs, ma, mb, p90(ta), p90(tb), mb / ma, statistics.median(ratios))


def run_ab(
    kind: str,
    before: Path,
    after: Path,
    threads: int,
    runs: int,
    warmup: int,
    extra_before: str = "{}",
    extra_after: str = "{}",
) -> AB:
    """In a fresh process, like every other timing of meshpose-bench."""
    args = json.dumps({"kind": kind, "before": str(before), "after": str(after), "threads": threads,
                       "runs": runs, "warmup": warmup,
                       "extra_before": extra_before, "extra_after": extra_after})  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(
        [sys.executable, "-m", "meshpose_export.bench.ab", args], capture_output=True, text=True, env=env
    )
    for line in proc.stdout.splitlines():
        if line.startswith("MESHPOSE_AB_RESULT "):
            return AB(**json.loads(line.split(" ", 1)[1]))
    tail = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    raise RuntimeError(tail[-1][:200] if tail else f"a/b worker exited {proc.returncode}")


def main() -> None:
    from dataclasses import asdict

    a = json.loads(sys.argv[1])
    r = interleaved(
        a["kind"], Path(a["before"]), Path(a["after"]), a["threads"], a["runs"], a["warmup"],
        a.get("extra_before", "{}"), a.get("extra_after", "{}"),
    )  # fmt: skip
    print("MESHPOSE_AB_RESULT " + json.dumps(asdict(r)), flush=True)


if __name__ == "__main__":
    main()
