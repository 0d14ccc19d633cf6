"""Runs onnx2tf in its own process: TensorFlow's memory and log noise stay out of the caller,
and a crash there becomes a clean ExportError here. Usage: python -m ... ARGS_JSON."""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    args = json.loads(sys.argv[1])
    os.chdir(args.pop("cwd"))  # onnx2tf looks for its sample-data .npy in the working directory
    import onnx2tf

    onnx2tf.convert(**args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
