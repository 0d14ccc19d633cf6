"""meshpose_export: MeshPose deployment graph -> ONNX, CoreML and TFLite artifacts, with parity.

This package lives in the repository's `export/` folder and is installed (and imported) as
`meshpose_export` (pyproject.toml's package-dir; a bare top-level `export` package would collide).
Its layers, lowest first; each imports only the ones before it (tests/test_layers.py checks it):

  core       this folder's modules: artifact, sidecar, reference (PyTorch as an artifact), litert
  targets/   the converters and their checks behind one interface and registry (coreml/ is one)
  runtime/   what runs artifacts on photos and videos: predict, detector, people, tracking, video...
  convert/   the export pipeline and the one parity function
  bench/     speed, size and cost (meshpose-bench)
  cli/       the console commands

The model core, `meshpose_mobile`, is below all of them and never imports this package.
"""

from __future__ import annotations

__version__ = "0.1.0"
