"""Targets: the converters and their checks, one module (or sub-package) each behind the
interface of `base`, found by its registry.
May import: the core modules, meshpose_mobile.
"""

from __future__ import annotations

from meshpose_export.targets.base import (
    Check,
    Precision,
    Target,
    TargetName,
    Tolerance,
    find_target,
    get_target,
    list_targets,
    register_target,
    target_for,
)

__all__ = [
    "Check",
    "Precision",
    "Target",
    "TargetName",
    "Tolerance",
    "find_target",
    "get_target",
    "list_targets",
    "register_target",
    "target_for",
]
