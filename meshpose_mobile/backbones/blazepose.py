"""BlazePose GHUM full as an ordinary PyTorch network, and its importer from MediaPipe's TFLite file.

The architecture is written down here (`SPEC`, one line per layer, NCHW, standard layers), so a
model builds, trains and loads checkpoints without Google's file; only the *weights* come from
`pose_landmark_full.tflite` (mediapipe 0.10.21, Apache-2.0), read on first use and cached as a
state dict (`blazepose_weights_path`). Nothing of Google's is committed to this repository.

The importer reads the flatbuffer with the schema module that LiteRT ships
(`ai_edge_litert.schema_py_generated`, already a dependency of the TFLite target) and walks the
file's ops in order against `SPEC`: every op's type, inputs, shapes, stride, padding and fused
activation must match, else one `ModelFileError` line names the op and tensor that differ. That
is also why there is no converter chain (tf2onnx -> onnx2torch): it would add two packages and
give a graph of generated names, where this gives named `nn.Conv2d` layers (docs/design.md).

Mapping of the op set (TFLite NHWC -> PyTorch NCHW):
- CONV_2D (Cout, kh, kw, Cin) -> Conv2d weight (Cout, Cin, kh, kw); DEPTHWISE_CONV_2D (1, kh, kw, C)
  -> Conv2d(groups=C) weight (C, 1, kh, kw); fused RELU6 -> hardtanh(0, 6) after the layer;
- PAD before a VALID convolution and TF's SAME padding -> the Conv2d's own (symmetric) padding;
  SAME with stride 2 on an even size (bottom/right only) -> a kernel grown by a leading zero row
  and column with padding 1 (`_conv_padding`); any other asymmetric pad -> an explicit zero pad;
- RESIZE_BILINEAR x2 with half_pixel_centers -> interpolate(align_corners=False), the same sampling;
- MAX_POOL_2D, ADD (optionally with fused RELU6), RESHAPE -> flatten, LOGISTIC -> sigmoid;
- DEQUANTIZE of float16 weights -> float32 parameters (exact).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from meshpose_mobile.backbones.decoder import ConvBNReLU
from meshpose_mobile.backbones.registry import register_backbone
from meshpose_mobile.errors import ConfigError, ModelFileError

TFLITE_NAME = "pose_landmark_full.tflite"
INPUT_SIZE = 256
# Outputs of the full network, in the order of the TFLite file's outputs.
OUTPUT_NAMES = ("landmarks", "pose_flag", "segmentation", "heatmaps", "world_landmarks")
# The 64x64x48 decoder map that feeds BlazePose's heatmap layer (TFLite: `model_1/model/add_11/add`)
# and the deepest 2x2x288 map its landmark, world and flag layers read.
DENSE, DEEP = "add_11", "add_27"
DENSE_CHANNELS, DEEP_CHANNELS = 48, 288
# Bump when the cached state dict's layout changes.
CACHE_FORMAT = 2


@dataclass(frozen=True)
class Layer:
    """One layer of `SPEC`. kind: conv, dw (depthwise conv), add, up (bilinear x2), pool (max),
    flat (reshape to (1, N)), sigmoid. pad: (top, bottom, left, right) zeros before the layer."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    cin: int = 0
    cout: int = 0
    k: int = 0
    stride: int = 1
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)
    act: str = "none"

    def line(self) -> str:
        return (
            f"{self.name} {self.kind} {','.join(self.inputs)} {self.cin} {self.cout} {self.k} {self.stride} "
            f"{','.join(map(str, self.pad))} {self.act}"
        )

    @classmethod
    def parse(cls, line: str) -> Layer:
        name, kind, inputs, cin, cout, k, stride, pad, act = line.split()
        t, b, left, r = (int(v) for v in pad.split(","))
        return cls(name, kind, tuple(inputs.split(",")), int(cin), int(cout), int(k), int(stride), (t, b, left, r), act)


# Generated from pose_landmark_full.tflite by `read_layers` (non-DEQUANTIZE ops in file order, PADs
# folded into the next layer); `import_tflite` checks every file against it.
_SPEC_TEXT = """
conv_0 conv image 3 24 3 2 1,1,1,1 relu6
dw_0 dw conv_0 24 24 3 1 1,1,1,1 relu6
conv_1 conv dw_0 24 16 1 1 0,0,0,0 none
conv_2 conv conv_1 16 64 1 1 0,0,0,0 relu6
dw_1 dw conv_1 16 16 3 1 1,1,1,1 relu6
conv_3 conv dw_1 16 8 1 1 0,0,0,0 relu6
dw_2 dw conv_2 64 64 3 2 1,1,1,1 relu6
conv_4 conv dw_2 64 24 1 1 0,0,0,0 none
conv_5 conv conv_4 24 144 1 1 0,0,0,0 relu6
dw_3 dw conv_5 144 144 3 1 1,1,1,1 relu6
conv_6 conv dw_3 144 24 1 1 0,0,0,0 none
add_0 add conv_6,conv_4 0 0 0 1 0,0,0,0 none
conv_7 conv add_0 24 144 1 1 0,0,0,0 relu6
dw_4 dw add_0 24 24 3 1 1,1,1,1 relu6
conv_8 conv dw_4 24 48 1 1 0,0,0,0 relu6
dw_5 dw conv_7 144 144 5 2 2,2,2,2 relu6
conv_9 conv dw_5 144 32 1 1 0,0,0,0 none
conv_10 conv conv_9 32 192 1 1 0,0,0,0 relu6
dw_6 dw conv_10 192 192 5 1 2,2,2,2 relu6
conv_11 conv dw_6 192 32 1 1 0,0,0,0 none
add_1 add conv_11,conv_9 0 0 0 1 0,0,0,0 none
conv_12 conv add_1 32 192 1 1 0,0,0,0 relu6
dw_7 dw add_1 32 32 3 1 1,1,1,1 relu6
conv_13 conv dw_7 32 48 1 1 0,0,0,0 relu6
dw_8 dw conv_12 192 192 3 2 1,1,1,1 relu6
conv_14 conv dw_8 192 64 1 1 0,0,0,0 none
conv_15 conv conv_14 64 384 1 1 0,0,0,0 relu6
dw_9 dw conv_15 384 384 3 1 1,1,1,1 relu6
conv_16 conv dw_9 384 64 1 1 0,0,0,0 none
add_2 add conv_16,conv_14 0 0 0 1 0,0,0,0 none
conv_17 conv add_2 64 384 1 1 0,0,0,0 relu6
dw_10 dw conv_17 384 384 3 1 1,1,1,1 relu6
conv_18 conv dw_10 384 64 1 1 0,0,0,0 none
add_3 add conv_18,add_2 0 0 0 1 0,0,0,0 none
conv_19 conv add_3 64 384 1 1 0,0,0,0 relu6
dw_11 dw conv_19 384 384 5 1 2,2,2,2 relu6
conv_20 conv dw_11 384 88 1 1 0,0,0,0 none
conv_21 conv conv_20 88 528 1 1 0,0,0,0 relu6
dw_12 dw conv_21 528 528 5 1 2,2,2,2 relu6
conv_22 conv dw_12 528 88 1 1 0,0,0,0 none
add_4 add conv_22,conv_20 0 0 0 1 0,0,0,0 none
conv_23 conv add_4 88 528 1 1 0,0,0,0 relu6
dw_13 dw conv_23 528 528 5 1 2,2,2,2 relu6
conv_24 conv dw_13 528 88 1 1 0,0,0,0 none
add_5 add conv_24,add_4 0 0 0 1 0,0,0,0 none
conv_25 conv add_5 88 528 1 1 0,0,0,0 relu6
dw_14 dw add_5 88 88 3 1 1,1,1,1 relu6
conv_26 conv dw_14 88 48 1 1 0,0,0,0 relu6
dw_15 dw conv_25 528 528 5 2 2,2,2,2 relu6
conv_27 conv dw_15 528 144 1 1 0,0,0,0 none
conv_28 conv conv_27 144 864 1 1 0,0,0,0 relu6
dw_16 dw conv_28 864 864 5 1 2,2,2,2 relu6
conv_29 conv dw_16 864 144 1 1 0,0,0,0 none
add_6 add conv_29,conv_27 0 0 0 1 0,0,0,0 none
conv_30 conv add_6 144 864 1 1 0,0,0,0 relu6
dw_17 dw conv_30 864 864 5 1 2,2,2,2 relu6
conv_31 conv dw_17 864 144 1 1 0,0,0,0 none
add_7 add conv_31,add_6 0 0 0 1 0,0,0,0 none
conv_32 conv add_7 144 864 1 1 0,0,0,0 relu6
dw_18 dw conv_32 864 864 5 1 2,2,2,2 relu6
conv_33 conv dw_18 864 144 1 1 0,0,0,0 none
add_8 add conv_33,add_7 0 0 0 1 0,0,0,0 none
conv_34 conv add_8 144 864 1 1 0,0,0,0 relu6
dw_19 dw conv_34 864 864 3 1 1,1,1,1 relu6
dw_20 dw dw_19 864 864 3 1 1,1,1,1 relu6
conv_35 conv dw_20 864 48 1 1 0,0,0,0 relu6
up_0 up conv_35 0 0 0 1 0,0,0,0 none
add_9 add up_0,conv_26 0 0 0 1 0,0,0,0 none
up_1 up add_9 0 0 0 1 0,0,0,0 none
add_10 add up_1,conv_13 0 0 0 1 0,0,0,0 none
up_2 up add_10 0 0 0 1 0,0,0,0 none
add_11 add up_2,conv_8 0 0 0 1 0,0,0,0 none
dw_21 dw add_11 48 48 3 1 1,1,1,1 relu6
conv_36 conv dw_21 48 8 1 1 0,0,0,0 relu6
up_3 up conv_36 0 0 0 1 0,0,0,0 none
add_12 add up_3,conv_3 0 0 0 1 0,0,0,0 none
dw_22 dw add_12 8 8 3 1 1,1,1,1 relu6
conv_37 conv dw_22 8 8 1 1 0,0,0,0 none
add_13 add add_12,conv_37 0 0 0 1 0,0,0,0 relu6
dw_23 dw add_13 8 8 3 1 1,1,1,1 relu6
conv_38 conv dw_23 8 8 1 1 0,0,0,0 none
add_14 add add_13,conv_38 0 0 0 1 0,0,0,0 relu6
up_4 up add_14 0 0 0 1 0,0,0,0 none
dw_24 dw up_4 8 8 3 1 1,1,1,1 relu6
conv_39 conv dw_24 8 8 1 1 0,0,0,0 none
add_15 add up_4,conv_39 0 0 0 1 0,0,0,0 relu6
dw_25 dw add_15 8 8 3 1 1,1,1,1 relu6
conv_40 conv dw_25 8 8 1 1 0,0,0,0 none
add_16 add add_15,conv_40 0 0 0 1 0,0,0,0 relu6
conv_41 conv add_16 8 1 3 1 1,1,1,1 none
conv_42 conv add_11 48 39 1 1 0,0,0,0 none
dw_26 dw dw_19 864 864 3 1 1,1,1,1 relu6
conv_43 conv dw_26 864 288 1 1 0,0,0,0 relu6
dw_27 dw conv_43 288 288 3 2 0,1,0,1 relu6
conv_44 conv dw_27 288 288 1 1 0,0,0,0 none
pool_0 pool conv_43 0 0 2 2 0,0,0,0 none
add_17 add pool_0,conv_44 0 0 0 1 0,0,0,0 relu6
dw_28 dw add_17 288 288 3 1 1,1,1,1 relu6
conv_45 conv dw_28 288 288 1 1 0,0,0,0 none
add_18 add add_17,conv_45 0 0 0 1 0,0,0,0 relu6
dw_29 dw add_18 288 288 3 1 1,1,1,1 relu6
conv_46 conv dw_29 288 288 1 1 0,0,0,0 none
add_19 add add_18,conv_46 0 0 0 1 0,0,0,0 relu6
dw_30 dw add_19 288 288 3 1 1,1,1,1 relu6
conv_47 conv dw_30 288 288 1 1 0,0,0,0 none
add_20 add add_19,conv_47 0 0 0 1 0,0,0,0 relu6
dw_31 dw add_20 288 288 3 1 1,1,1,1 relu6
conv_48 conv dw_31 288 288 1 1 0,0,0,0 none
add_21 add add_20,conv_48 0 0 0 1 0,0,0,0 relu6
dw_32 dw add_21 288 288 3 2 0,1,0,1 relu6
conv_49 conv dw_32 288 288 1 1 0,0,0,0 none
pool_1 pool add_21 0 0 2 2 0,0,0,0 none
add_22 add pool_1,conv_49 0 0 0 1 0,0,0,0 relu6
dw_33 dw add_22 288 288 3 1 1,1,1,1 relu6
conv_50 conv dw_33 288 288 1 1 0,0,0,0 none
add_23 add add_22,conv_50 0 0 0 1 0,0,0,0 relu6
dw_34 dw add_23 288 288 3 1 1,1,1,1 relu6
conv_51 conv dw_34 288 288 1 1 0,0,0,0 none
add_24 add add_23,conv_51 0 0 0 1 0,0,0,0 relu6
dw_35 dw add_24 288 288 3 1 1,1,1,1 relu6
conv_52 conv dw_35 288 288 1 1 0,0,0,0 none
add_25 add add_24,conv_52 0 0 0 1 0,0,0,0 relu6
dw_36 dw add_25 288 288 3 1 1,1,1,1 relu6
conv_53 conv dw_36 288 288 1 1 0,0,0,0 none
add_26 add add_25,conv_53 0 0 0 1 0,0,0,0 relu6
dw_37 dw add_26 288 288 3 1 1,1,1,1 relu6
conv_54 conv dw_37 288 288 1 1 0,0,0,0 none
add_27 add add_26,conv_54 0 0 0 1 0,0,0,0 relu6
conv_55 conv add_27 288 195 2 1 0,0,0,0 none
flat_0 flat conv_55 0 0 0 1 0,0,0,0 none
conv_56 conv add_27 288 117 2 1 0,0,0,0 none
flat_1 flat conv_56 0 0 0 1 0,0,0,0 none
conv_57 conv add_27 288 1 2 1 0,0,0,0 none
sigmoid_0 sigmoid conv_57 0 0 0 1 0,0,0,0 none
flat_2 flat sigmoid_0 0 0 0 1 0,0,0,0 none
"""
SPEC: tuple[Layer, ...] = tuple(Layer.parse(s) for s in _SPEC_TEXT.strip().splitlines())
# Output name -> the SPEC value that holds it.
OUTPUTS: dict[str, str] = {
    "landmarks": "flat_0",
    "pose_flag": "flat_2",
    "segmentation": "conv_41",
    "heatmaps": "conv_42",
    "world_landmarks": "flat_1",
}


def _ancestors(values: Sequence[str]) -> set[str]:
    by_name = {layer.name: layer for layer in SPEC}
    need: set[str] = set()
    todo = list(values)
    while todo:
        name = todo.pop()
        if name in need or name == "image":
            continue
        if name not in by_name:
            raise KeyError(f"{name!r} is not a layer of BlazePose GHUM full")
        need.add(name)
        todo.extend(by_name[name].inputs)
    return need


class BlazePoseNet(nn.Module):
    """BlazePose GHUM full in NCHW. Input (B, 3, 256, 256) RGB in [0, 1].

    `values`: which SPEC values (layer names) or `OUTPUT_NAMES` forward returns, as a tuple; only
    the layers they depend on are built, so the encoder of meshpose_blaze carries no segmentation
    branch. Parameter names (``layers.<name>.weight``) are the same in every such subset.
    """

    def __init__(self, values: Sequence[str] = OUTPUT_NAMES) -> None:
        super().__init__()
        self.values = tuple(OUTPUTS.get(v, v) for v in values)
        need = _ancestors(self.values)
        self.plan = tuple(layer for layer in SPEC if layer.name in need)
        self.layers = nn.ModuleDict()
        for layer in self.plan:
            if layer.kind in ("conv", "dw"):
                grow, padding, _ = _conv_padding(layer.pad, layer.stride)
                self.layers[layer.name] = nn.Conv2d(
                    layer.cin,
                    layer.cout,
                    layer.k + grow,
                    stride=layer.stride,
                    padding=padding,
                    groups=layer.cin if layer.kind == "dw" else 1,
                )

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        values: dict[str, Tensor] = {"image": x}
        for layer in self.plan:
            h = values[layer.inputs[0]]
            kind = layer.kind
            if kind in ("conv", "dw"):
                extra = _conv_padding(layer.pad, layer.stride)[2]
                if extra is not None:
                    h = F.pad(h, extra)
                h = self.layers[layer.name](h)
            elif kind == "add":
                h = h + values[layer.inputs[1]]
            elif kind == "up":
                # TFLite half_pixel_centers sampling (clamped at the edges) is PyTorch's align_corners=False.
                h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
            elif kind == "pool":
                h = F.max_pool2d(h, layer.k, layer.stride)
            elif kind == "flat":
                h = h.flatten(1)
            elif kind == "sigmoid":
                h = torch.sigmoid(h)
            if layer.act == "relu6":
                # hardtanh, not relu6: it becomes Clip / clip / RELU6 in every target's standard op set.
                h = F.hardtanh(h, 0.0, 6.0)
            values[layer.name] = h
        return tuple(values[v] for v in self.values)


def _conv_padding(pad: tuple[int, int, int, int], stride: int) -> tuple[int, int, tuple[int, int, int, int] | None]:
    """(rows and columns of zeros added at the kernel's top and left, Conv2d's symmetric padding,
    an explicit F.pad or None).

    TF's SAME padding with stride 2 on an even size pads one more row and column at the bottom and
    right (0, 1, 0, 1): output i reads input rows 2i..2i+2. A kernel grown by a leading zero row and
    column, padded by 1 all round, reads rows 2i-1..2i+2 and weighs row 2i-1 by zero: the same sum,
    as one plain convolution (+7/9 of that layer's MACs: two 288-channel depthwise layers at 4x4
    and 2x2 outputs, 0.03 M). An ONNX Pad in front of a depthwise convolution made onnx2tf 1.29.24
    build a Keras layer the SavedModel could not track ("untracked resource"), and a stride-1
    convolution plus a strided Slice fails the export's standard-op check (docs/design.md)."""
    t, b, left, r = pad
    if t == b == left == r:
        return 0, t, None
    if stride == 2 and (t, left, b, r) == (0, 0, 1, 1):
        return 1, 1, None
    return 0, 0, (left, r, t, b)


# --------------------------------------------------------------------------------- the importer

_KINDS = {
    "CONV_2D": "conv",
    "DEPTHWISE_CONV_2D": "dw",
    "ADD": "add",
    "RESIZE_BILINEAR": "up",
    "MAX_POOL_2D": "pool",
    "RESHAPE": "flat",
    "LOGISTIC": "sigmoid",
}
_ACTS = {0: "none", 3: "relu6"}


@dataclass(frozen=True)
class FoundLayer:
    layer: Layer
    op_index: int
    op_name: str
    tensor: str  # the op's output tensor name (last part of TFLite's fused name)
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        raise ModelFileError(
            "reading BlazePose's .tflite needs ai-edge-litert (its flatbuffer schema); "
            "pip install ai-edge-litert==2.3.0"
        ) from None
    return schema_py_generated


def _short(name: bytes | str | None) -> str:
    text = name.decode(errors="replace") if isinstance(name, bytes) else str(name or "")
    return text.split(";")[-1]


def _same_pad(size: int, k: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def read_layers(path: str | Path) -> tuple[list[FoundLayer], dict[str, str]]:
    """The layers of a BlazePose-style .tflite in file order (PADs folded, weights as float32) and
    the name of the value behind each graph output. `ModelFileError` for any file this importer
    cannot represent exactly, naming the op and tensor."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelFileError(f"cannot read {path} ({err.strerror or err}); run `meshpose-models fetch`") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFileError(f"{path} is not a TFLite file (no TFL3 identifier); run `meshpose-models fetch` again")
    s = _schema()
    try:
        model = s.ModelT.InitFromPackedBuf(data, 0)
        graph = model.subgraphs[0]
        tensors, ops = graph.tensors, graph.operators
    except Exception as err:  # a damaged flatbuffer fails with any of struct/Index/Unicode errors
        why = " ".join(str(err).split())[:80] or type(err).__name__
        raise ModelFileError(
            f"{path} is a damaged TFLite file (its flatbuffer does not parse: {why}); run `meshpose-models fetch` again"
        ) from None
    op_names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}

    def where(j: int, op_name: str, t: int) -> str:
        return f"{path.name}: op {j} ({op_name}, tensor {_short(tensors[t].name)!r})"

    def const(t: int, j: int, op_name: str) -> np.ndarray:
        tensor = tensors[t]
        buf = model.buffers[tensor.buffer]
        raw = bytes(buf.data) if buf.data is not None else b""
        if not raw and getattr(buf, "offset", 0) > 1:
            raw = data[buf.offset : buf.offset + buf.size]
        dtype = {0: np.float32, 1: np.float16, 2: np.int32}.get(tensor.type)
        shape = [int(d) for d in tensor.shape]
        if dtype is None or len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
            raise ModelFileError(
                f"{where(j, op_name, t)}: constant data of {len(raw)} bytes does not fit shape {shape} "
                "(damaged file?); run `meshpose-models fetch` again"
            )
        return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(np.float32 if dtype != np.int32 else np.int32)

    (inp,) = graph.inputs
    in_shape = [int(d) for d in tensors[inp].shape]
    if in_shape != [1, INPUT_SIZE, INPUT_SIZE, 3] or tensors[inp].type != 0:
        raise ModelFileError(
            f"{path.name}: input {_short(tensors[inp].name)!r} is {in_shape}, not float32 [1, 256, 256, 3]; "
            "this is not BlazePose GHUM full; run `meshpose-models fetch`"
        )
    names: dict[int, str] = {inp: "image"}
    dequantized: dict[int, int] = {}
    pads: dict[int, tuple[int, tuple[int, int, int, int]]] = {}
    counters: dict[str, int] = {}
    found: list[FoundLayer] = []
    for j, op in enumerate(ops):
        code = model.operatorCodes[op.opcodeIndex]
        op_name = op_names.get(max(code.builtinCode, code.deprecatedBuiltinCode), f"code {code.builtinCode}")
        ins = [int(i) for i in op.inputs]
        out = int(op.outputs[0])
        if op_name == "DEQUANTIZE":
            dequantized[out] = ins[0]
            continue
        if op_name == "PAD":
            p = const(ins[1], j, op_name)
            if p.shape != (4, 2) or p[0].any() or p[3].any():
                raise ModelFileError(f"{where(j, op_name, out)}: pads {p.tolist()} touch batch or channels")
            src, prev = pads.get(ins[0], (ins[0], (0, 0, 0, 0)))
            pads[out] = (
                src,
                tuple(int(a) + b for a, b in zip((p[1, 0], p[1, 1], p[2, 0], p[2, 1]), prev, strict=True)),
            )
            continue
        kind = _KINDS.get(op_name)
        if kind is None:
            raise ModelFileError(f"{where(j, op_name, out)}: op {op_name} is not in BlazePose GHUM full's op set")
        opts = op.builtinOptions
        act = _ACTS.get(getattr(opts, "fusedActivationFunction", 0) if opts is not None else 0)
        if act is None:
            raise ModelFileError(
                f"{where(j, op_name, out)}: fused activation {opts.fusedActivationFunction} unsupported"
            )
        src_tensor, explicit = pads.get(ins[0], (ins[0], (0, 0, 0, 0)))
        data_ins = [src_tensor] + ([ins[1]] if kind == "add" else [])
        unknown = [t for t in data_ins if t not in names]
        if unknown:
            raise ModelFileError(f"{where(j, op_name, unknown[0])}: input is no earlier layer's output")
        cin = cout = k = 0
        stride = 1
        pad = explicit
        weight = bias = None
        in_shape_op = [int(d) for d in tensors[ins[0]].shape]
        if kind in ("conv", "dw"):
            w_t = dequantized.get(ins[1], ins[1])
            weight = const(w_t, j, op_name)
            bias = const(dequantized.get(ins[2], ins[2]), j, op_name) if len(ins) > 2 and ins[2] >= 0 else None
            if weight.ndim != 4 or weight.shape[1] != weight.shape[2]:
                raise ModelFileError(
                    f"{where(j, op_name, ins[1])}: weights {list(weight.shape)} are not square kernels"
                )
            if kind == "conv":
                cout, k, _, cin = weight.shape
            else:
                if getattr(opts, "depthMultiplier", 1) != 1 or weight.shape[0] != 1:
                    raise ModelFileError(f"{where(j, op_name, ins[1])}: depth multiplier other than 1")
                _, k, _, cout = weight.shape
                cin = cout
            if bias is None or bias.shape != (cout,):
                raise ModelFileError(f"{where(j, op_name, out)}: bias missing or not of {cout} values")
            stride = int(opts.strideH)
            if (
                opts.strideW != stride
                or getattr(opts, "dilationHFactor", 1) != 1
                or getattr(opts, "dilationWFactor", 1) != 1
            ):
                raise ModelFileError(f"{where(j, op_name, out)}: unequal strides or dilation")
            if opts.padding == 0:  # SAME, computed on the (possibly already padded) input
                ph = _same_pad(in_shape_op[1], k, stride)
                pw = _same_pad(in_shape_op[2], k, stride)
                pad = (pad[0] + ph[0], pad[1] + ph[1], pad[2] + pw[0], pad[3] + pw[1])
        elif src_tensor != ins[0]:
            raise ModelFileError(f"{where(j, op_name, out)}: a PAD feeds a {op_name}, which this importer cannot fold")
        elif kind == "pool":
            k, stride = int(opts.filterHeight), int(opts.strideH)
            if opts.filterWidth != k or opts.strideW != stride or opts.padding != 1:
                raise ModelFileError(f"{where(j, op_name, out)}: only square VALID max pooling is supported")
        elif kind == "up":
            size = const(ins[1], j, op_name).tolist()
            if size != [2 * in_shape_op[1], 2 * in_shape_op[2]] or opts.alignCorners or not opts.halfPixelCenters:
                raise ModelFileError(
                    f"{where(j, op_name, out)}: resize to {size} (align_corners={opts.alignCorners}, "
                    f"half_pixel_centers={opts.halfPixelCenters}); only x2 half-pixel resizes are supported"
                )
        n = counters.get(kind, 0)
        counters[kind] = n + 1
        name = f"{kind}_{n}"
        names[out] = name
        layer = Layer(name, kind, tuple(names[t] for t in data_ins), cin, cout, k, stride, pad, act)
        found.append(FoundLayer(layer, j, op_name, _short(tensors[out].name), weight, bias))
    outputs = {}
    for name, t in zip(OUTPUT_NAMES, graph.outputs, strict=False):
        if int(t) not in names:
            raise ModelFileError(f"{path.name}: output {_short(tensors[t].name)!r} is no layer's output")
        outputs[name] = names[int(t)]
    if len(graph.outputs) != len(OUTPUT_NAMES):
        raise ModelFileError(
            f"{path.name}: {len(graph.outputs)} outputs where BlazePose GHUM full has {len(OUTPUT_NAMES)}; "
            "run `meshpose-models fetch`"
        )
    return found, outputs


def import_tflite(path: str | Path) -> OrderedDict[str, Tensor]:
    """The state dict of `BlazePoseNet()` from MediaPipe's pose_landmark_full.tflite, checked op by
    op against `SPEC`; `ModelFileError` naming the first op or tensor that does not match."""
    path = Path(path)
    found, outputs = read_layers(path)
    for i, (want, got) in enumerate(zip(SPEC, found, strict=False)):
        if want != got.layer:
            diff = [
                f"{f} {getattr(got.layer, f)} (expected {getattr(want, f)})"
                for f in ("kind", "inputs", "cin", "cout", "k", "stride", "pad", "act")
                if getattr(got.layer, f) != getattr(want, f)
            ]
            raise ModelFileError(
                f"{path.name}: op {got.op_index} ({got.op_name}, tensor {got.tensor!r}) does not match "
                f"BlazePose GHUM full's layer {i} {want.name}: {'; '.join(diff)}; this importer reads mediapipe "
                "0.10.21's pose_landmark_full.tflite only (`meshpose-models fetch`)"
            )
    if len(found) != len(SPEC):
        raise ModelFileError(
            f"{path.name}: {len(found)} layers where BlazePose GHUM full has {len(SPEC)}; this importer reads "
            "mediapipe 0.10.21's pose_landmark_full.tflite only (`meshpose-models fetch`)"
        )
    if outputs != OUTPUTS:
        bad = next(n for n in OUTPUT_NAMES if outputs.get(n) != OUTPUTS[n])
        raise ModelFileError(f"{path.name}: output {bad} comes from {outputs.get(bad)}, expected {OUTPUTS[bad]}")
    state: OrderedDict[str, Tensor] = OrderedDict()
    for f in found:
        if f.weight is None or f.bias is None:
            continue
        w = f.weight.transpose(0, 3, 1, 2) if f.layer.kind == "conv" else f.weight[0].transpose(2, 0, 1)[:, None]
        grow = _conv_padding(f.layer.pad, f.layer.stride)[0]
        if grow:
            w = np.pad(w, ((0, 0), (0, 0), (grow, 0), (grow, 0)))
        if not (np.isfinite(w).all() and np.isfinite(f.bias).all()):
            raise ModelFileError(
                f"{path.name}: op {f.op_index} ({f.op_name}, tensor {f.tensor!r}) has non-finite weights"
            )
        state[f"layers.{f.layer.name}.weight"] = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
        state[f"layers.{f.layer.name}.bias"] = torch.from_numpy(np.ascontiguousarray(f.bias, dtype=np.float32))
    return state


def blazepose_weights_path(tflite: str | Path | None = None) -> Path:
    """The imported weights of BlazePose GHUM full, derived from its .tflite on first use.

    The .tflite is found by `paths.find_model_file` ($MESHPOSE_MODELS, the user cache, the
    checkout's benchmarks/peers/); the state dict is cached beside `paths.models_dir()` under a name
    that carries the file's SHA-256, written atomically (temp file, then rename).
    """
    from meshpose_mobile.atomic import torch_save_atomic
    from meshpose_mobile.paths import FETCH_COMMAND, MODEL_FILES, file_sha256, find_model_file, models_dir

    src = Path(tflite) if tflite is not None else find_model_file(TFLITE_NAME)
    try:
        digest = file_sha256(src)
    except OSError as err:
        raise ModelFileError(f"cannot read {src} ({err.strerror or err}); run `{FETCH_COMMAND}`") from None
    path = models_dir() / "derived" / f"blazepose_full-v{CACHE_FORMAT}-{digest[:16]}.pt"
    if not _readable_cache(path, digest):
        state = import_tflite(src)
        # The layout matched op by op; a file that differs from the released one only in its weight
        # bytes (a damaged download) is refused too, since no structural check can see it.
        released = MODEL_FILES[TFLITE_NAME].sha256
        if digest != released:
            raise ModelFileError(
                f"{src}: its layout is BlazePose GHUM full's but its SHA-256 {digest[:12]}... is not the released "
                f"file's {released[:12]}... (damaged weights?); run `{FETCH_COMMAND}` again"
            )
        torch_save_atomic({"format": CACHE_FORMAT, "sha256": digest, "source": src.name, "state_dict": state}, path)
    return path


def _readable_cache(path: Path, digest: str) -> bool:
    if not path.is_file():
        return False
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a damaged cache file is derived again
        return False
    return isinstance(data, dict) and data.get("sha256") == digest and isinstance(data.get("state_dict"), dict)


def blazepose_state_dict(tflite: str | Path | None = None) -> dict[str, Tensor]:
    path = blazepose_weights_path(tflite)
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def imported_blazepose(tflite: str | Path | None = None) -> BlazePoseNet:
    """The whole network with MediaPipe's weights, in eval mode (for parity with the TFLite file)."""
    net = BlazePoseNet()
    net.load_state_dict(blazepose_state_dict(tflite))
    return net.eval()


# ------------------------------------------------------------------------ meshpose_blaze backbone


class BlazePoseBackbone(nn.Module):
    """BlazePose GHUM full's encoder for MeshPose: (B, 3, 256, 256) in [0, 1] ->
    (dense (B, out_channels, 256 / dense_stride, ...), deep (B, 288, 2, 2)).

    The shipped form (`dense_stride = 8`, `neck = "depthwise"`) takes the encoder's 64x64x48
    decoder output to stride 8 by a depthwise 3x3 (stride 2) and a 1x1 projection: the 615
    heatmaps at 64x64 would cost 121 M MACs in their 1x1 convolution alone plus a softmax over
    2.5 M cells, more than the 1.3x budget against BlazePose full leaves (docs/design.md).
    `dense_stride = 4` keeps the decoder's own resolution and `neck = "conv"` reads it through one
    full 3x3 convolution (48 -> out_channels), the issue-22 probe head's form: options for the
    head ablation in docs/training.md, not the shipped model. The deep map feeds the regression
    and visibility branch.
    """

    input_divisor = 128  # the encoder halves its input seven times
    regression_channels = DEEP_CHANNELS

    def __init__(self, out_channels: int = 96, dense_stride: int = 8, neck: str = "depthwise") -> None:
        super().__init__()
        if dense_stride not in (4, 8):
            raise ConfigError(f"backbone_kwargs.dense_stride must be 4 or 8, got {dense_stride}")
        if neck not in ("depthwise", "conv"):
            raise ConfigError(f"backbone_kwargs.neck must be 'depthwise' or 'conv', got {neck!r}")
        self.out_channels = out_channels
        self.out_stride = dense_stride
        self.encoder = BlazePoseNet((DENSE, DEEP))
        step = dense_stride // 4
        if neck == "depthwise":
            layers = OrderedDict(
                down=ConvBNReLU(DENSE_CHANNELS, DENSE_CHANNELS, 3, stride=step, groups=DENSE_CHANNELS, relu6=True),
                proj=ConvBNReLU(DENSE_CHANNELS, out_channels, 1),
            )
        else:
            layers = OrderedDict(down=ConvBNReLU(DENSE_CHANNELS, out_channels, 3, stride=step))
        self.neck = nn.Sequential(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        dense, deep = self.encoder(x)
        return self.neck(dense), deep

    def pretrained_module(self) -> nn.Module:
        """The part whose weights come from MediaPipe (frozen by `TrainConfig.freeze_encoder`)."""
        return self.encoder

    def load_pretrained(self) -> str:
        state = blazepose_state_dict()
        own = self.encoder.state_dict()
        self.encoder.load_state_dict({k: state[k] for k in own})
        return f"encoder imported from {TFLITE_NAME} (MediaPipe BlazePose GHUM full, Apache-2.0)"


@register_backbone("blazepose_full")
def blazepose_full(out_channels: int = 96, dense_stride: int = 8, neck: str = "depthwise") -> BlazePoseBackbone:
    return BlazePoseBackbone(out_channels=out_channels, dense_stride=dense_stride, neck=neck)
