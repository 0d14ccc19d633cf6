"""The peer: MediaPipe's BlazePose GHUM full landmark model, on the same LiteRT interpreter.

`meshpose-models fetch` unzips `pose_landmark_full.tflite` from the mediapipe 0.10.21 wheel into the
user cache (`make setup` / `make peers` into the checkout's `benchmarks/peers/`), where
`paths.find_model_file` finds it; nothing is downloaded at run time and mediapipe is never imported.
"""

from __future__ import annotations

import math
from pathlib import Path

from meshpose_export.litert import op_details, tensor_shapes
from meshpose_mobile.paths import FETCH_COMMAND, ModelNotFoundError, find_model_file, missing_model_message

PEER_NAME = "blazepose_full"
PEER_FILE = "pose_landmark_full.tflite"
PEER_SOURCE = "mediapipe 0.10.21 wheel: mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
_WEIGHTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}


def find_peer(peer_dir: Path | None = None) -> Path | None:
    """`peer_dir`/pose_landmark_full.tflite when a folder is given, else where `find_model_file` finds it."""
    if peer_dir is not None:
        path = Path(peer_dir) / PEER_FILE
        return path if path.is_file() else None
    try:
        return find_model_file(PEER_FILE)
    except ModelNotFoundError:
        return None


def missing_peer(peer_dir: Path | None = None) -> str:
    """Why the peer is not timed, with the fix."""
    if peer_dir is not None:
        return f"{Path(peer_dir) / PEER_FILE} is missing; drop --peer-dir, or run `{FETCH_COMMAND}` and pass its folder"
    return missing_model_message(PEER_FILE)


def tflite_params(path: Path | str) -> int:
    """Weights and biases of the weighted layers, counted from the graph (fp16 weights included:
    their DEQUANTIZE outputs have the same shapes)."""
    tensors = tensor_shapes(path)
    seen: set[int] = set()
    total = 0
    for op in op_details(path):
        if op["op_name"] not in _WEIGHTED:
            continue
        for i in [int(i) for i in op["inputs"]][1:]:
            if i >= 0 and i not in seen:
                seen.add(i)
                total += math.prod(tensors[i])
    return total
