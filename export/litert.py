"""Opening .tflite files on LiteRT: the one place the TFLite target, the runtime's person detector
and the benchmark's peer share. Core layer: imports meshpose_mobile only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from meshpose_mobile.cli import filtered_stderr


def op_details(path: Path | str) -> list[dict[str, Any]]:
    """Every op of a .tflite in execution order (name, input and output tensor indices), from
    LiteRT's interpreter: the one place that uses its private `_get_ops_details`."""
    from ai_edge_litert.interpreter import Interpreter

    return list(Interpreter(model_path=str(path))._get_ops_details())


# LiteRT's one line on every interpreter that gets its default CPU delegate: says nothing a user
# of meshpose-predict can act on (issue 20's sweep). Any other line LiteRT prints is passed on.
_LITERT_NOISE = re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$")


def _is_litert_noise(line: str) -> bool:
    return bool(_LITERT_NOISE.match(line.strip()))


def litert_interpreter(path: Path | str, threads: int | None = None) -> Any:
    """A LiteRT interpreter with its tensors allocated, its one line of noise filtered: the TFLite
    target's artifacts, the person detector and the peer all open theirs here."""
    from ai_edge_litert.interpreter import Interpreter

    with filtered_stderr(_is_litert_noise):
        interp = Interpreter(model_path=str(path), num_threads=threads)
        interp.allocate_tensors()
    return interp


def tensor_shapes(path: Path | str) -> dict[int, list[int]]:
    """Tensor index -> shape, for every tensor of a .tflite."""
    from ai_edge_litert.interpreter import Interpreter

    return {t["index"]: [int(d) for d in t["shape"]] for t in Interpreter(model_path=str(path)).get_tensor_details()}


def input_shape(path: Path | str) -> tuple[int, ...]:
    from ai_edge_litert.interpreter import Interpreter

    (inp,) = Interpreter(model_path=str(path)).get_input_details()
    return tuple(int(d) for d in inp["shape"])
