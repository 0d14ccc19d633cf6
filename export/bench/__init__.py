"""Bench: speed, size and cost of every exported artifact, side by side with a peer (`meshpose-bench`).
May import: the core modules, targets/, runtime/, convert/, meshpose_mobile.

The logic lives here so that it is importable (`meshpose_export.bench`); `benchmarks/` in the
repository holds the user-facing scripts, the measured results per machine and their README.
"""

from __future__ import annotations
