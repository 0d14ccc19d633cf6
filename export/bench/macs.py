"""Multiply-accumulates per inference, counted from the exported graph itself.

ONNX: Conv (grouped and depthwise included), ConvTranspose, MatMul and Gemm, with shapes from
ONNX shape inference. TFLite (for the peer, whose only graph is a .tflite): CONV_2D,
DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL. Elementwise ops, softmax and
pooling are not multiply-accumulates and are left out, as every MAC count in the literature does.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from meshpose_mobile.errors import ConfigError


@dataclass(frozen=True)
class MacCount:
    total: int
    by_op: dict[str, int]


def onnx_macs(path: Path | str) -> MacCount:
    from meshpose_export.targets.onnx_target import onnx_lib

    onnx = onnx_lib()

    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), strict_mode=False)
    except Exception as err:  # onnx raises its own exception types for bad files
        raise ConfigError(f"{path}: not a readable ONNX model ({str(err).splitlines()[0][:120]})") from None
    shapes: dict[str, list[int]] = {}
    for vi in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = [d.dim_value for d in dims]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    shapes[node.output[0]] = list(a.t.dims)

    by_op: Counter[str] = Counter()
    for node in model.graph.node:
        op = node.op_type
        if op not in ("Conv", "ConvTranspose", "MatMul", "Gemm"):
            continue
        ins = [shapes.get(n) for n in node.input]
        out = shapes.get(node.output[0])
        if out is None or any(s is None for s in ins[:2]):
            raise ConfigError(f"{path}: cannot count MACs of {op} node {node.name!r}: shapes unknown (dynamic graph?)")
        attrs = {a.name: a for a in node.attribute}
        a_shape, b_shape = ins[0], ins[1]
        if op == "Conv":
            # Weight (Cout, Cin/groups, kh, kw): each output element costs Cin/groups * kh * kw.
            macs = math.prod(out) * math.prod(b_shape[1:])
        elif op == "ConvTranspose":
            # Weight (Cin, Cout/groups, kh, kw): each input element scatters into Cout/groups * kh * kw.
            macs = math.prod(a_shape) * math.prod(b_shape[1:])
        elif op == "MatMul":
            macs = math.prod(out) * a_shape[-1]
        else:  # Gemm
            trans_a = attrs["transA"].i if "transA" in attrs else 0
            macs = math.prod(out) * (a_shape[0] if trans_a else a_shape[-1])
        by_op[op] += macs
    return MacCount(sum(by_op.values()), dict(by_op))


def tflite_macs(path: Path | str) -> MacCount:
    from meshpose_export.litert import op_details, tensor_shapes

    tensors = tensor_shapes(path)
    by_op: Counter[str] = Counter()
    for op in op_details(path):
        name = op["op_name"]
        ins = [tensors.get(int(i), []) for i in op["inputs"] if int(i) >= 0]
        outs = [tensors.get(int(i), []) for i in op["outputs"] if int(i) >= 0]
        if not outs or len(ins) < 2:
            continue
        out = outs[0]
        if name == "CONV_2D":  # weights (Cout, kh, kw, Cin / groups)
            macs = math.prod(out) * math.prod(ins[1][1:])
        elif name == "DEPTHWISE_CONV_2D":  # weights (1, kh, kw, Cout)
            macs = math.prod(out) * ins[1][1] * ins[1][2]
        elif name == "TRANSPOSE_CONV":  # inputs: output_shape, weights (Cout, kh, kw, Cin), input
            macs = math.prod(ins[2]) * math.prod(ins[1][:3]) if len(ins) > 2 else 0
        elif name == "FULLY_CONNECTED":  # weights (N, K)
            macs = math.prod(out) * ins[1][-1]
        elif name == "BATCH_MATMUL":
            macs = math.prod(out) * ins[0][-1]
        else:
            continue
        by_op[name] += macs
    return MacCount(sum(by_op.values()), dict(by_op))
