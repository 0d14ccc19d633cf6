"""What this machine can give a run: CPU cores and memory, for checks made before the work starts
(thread and worker counts, sizes that must fit in memory)."""

from __future__ import annotations

import os

import psutil


def usable_cores() -> int:
    """CPU cores this process may run on: its affinity mask (a container or `taskset` can give
    fewer than os.cpu_count() reports), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """Bytes the kernel can give this process now (MemAvailable), or None where unknown."""
    try:
        return int(psutil.virtual_memory().available)
    except (OSError, RuntimeError, NotImplementedError):  # unreadable here (a sandbox): fixed caps apply
        return None
