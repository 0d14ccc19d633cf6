"""Export targets, one module each, behind the interface of `base`; the registry finds them."""

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
