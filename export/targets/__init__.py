"""Export targets, one module each, behind the interface of `base`."""

from __future__ import annotations

from meshpose_export.targets.base import Target, get_target, list_targets

__all__ = ["Target", "get_target", "list_targets"]
