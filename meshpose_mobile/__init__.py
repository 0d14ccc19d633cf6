"""MeshPose Mobile: the MeshPose human-mesh model (CVPR 2024), trainable and deployable to phones."""

from __future__ import annotations

__version__ = "0.1.0"
