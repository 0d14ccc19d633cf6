"""Timing one loaded model: warm-up, timed runs, median / p90, and the process's peak memory.

Each (artifact, threads) pair is timed in a fresh process (`python -m meshpose_export.bench.worker`)
so that one runtime's thread pool, allocator arenas and peak memory never leak into the next
measurement, and peak RSS means this model on this runtime.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p90_ms: float
    min_ms: float
    runs: int
    warmup: int

    @property
    def fps(self) -> float:
        return 1000.0 / self.median_ms


def time_callable(fn: Callable[[], object], warmup: int, runs: int) -> Timing:
    if runs < 1 or warmup < 0:
        raise ValueError("runs must be >= 1 and warmup >= 0")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return Timing(statistics.median(samples), p90(samples), min(samples), runs, warmup)


def p90(values: list[float]) -> float:
    # Nearest-rank: with few runs this is an observed latency, never an interpolated one.
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(np.ceil(0.9 * len(ordered))) - 1)]


def reset_peak() -> bool:
    """Restart the kernel's high-water mark (Linux >= 4.0), so that the peak read afterwards is
    this model's and not the transient peak of importing the runtimes."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Current resident set size, MiB (psutil: the same VmRSS on Linux, and macOS's too)."""
    return psutil.Process().memory_info().rss / (1024.0 * 1024.0)


def peak_rss_mb() -> float:
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
