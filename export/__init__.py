"""meshpose_export: MeshPose deployment graph -> ONNX, CoreML and TFLite artifacts, with parity."""

from __future__ import annotations

__version__ = "0.1.0"
