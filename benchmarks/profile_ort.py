"""Per-operator ONNX Runtime profile of an exported .onnx.

python benchmarks/profile_ort.py MODEL.onnx [--threads 1] [--out benchmarks/results/<machine>/profile_xs]
"""

from __future__ import annotations

from meshpose_export.bench.profile_ort import main

if __name__ == "__main__":
    main()
