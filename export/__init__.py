"""meshpose_export: MeshPose deployment graph -> ONNX, CoreML and TFLite artifacts, with parity.

This package lives in the repository's `export/` folder and is installed (and imported) as
`meshpose_export` (pyproject.toml's package-dir; a bare top-level `export` package would collide).
It holds everything that runs artifacts: the targets and their registry (`targets/`), the opened
artifact (`artifact.py`), the sidecar (`sidecar.py`), parity (`parity.py`), the export pipeline,
prediction and its overlay (`predict.py`, `overlay.py`), the benchmark (`bench/`) and the CLIs.
The model core, `meshpose_mobile`, never imports it.
"""

from __future__ import annotations

__version__ = "0.1.0"
