"""A reference interpreter of Core ML ML Programs (.mlpackage), in NumPy, for machines without Core ML.

Core ML predicts only on macOS, and no public tool executes an mlprogram elsewhere. This module
executes the artifact's *own* program: it reads the `main` function of the saved spec (its ops,
their inputs and attributes, immediate and weight.bin constants) and runs each op with the MIL
semantics documented in coremltools (`converters/mil/mil/ops/defs`). A converter bug inside an
op (wrong padding, resize mode, softmax axis, dropped bias, swapped colour order) therefore moves
the interpreter's outputs just as it would move the phone's. It is not the Core ML runtime:
reports say "MIL program executed by the reference interpreter (not the Core ML runtime)".

Two arithmetic modes:

- ``"fp32"``: every floating tensor is float32 (float16 constants are widened exactly). On an
  FP16 program this measures what the float16 *weights* alone cost.
- ``"fp16"``: each op computes in float32 from its inputs and rounds its output to the dtype the
  program declares for it (float16 in an FP16 program), which is what an fp16 runtime with
  float32 accumulators delivers at op boundaries. ``accumulate="fp16"`` (analysis only) also
  sums reductions sequentially in float16, the worst accumulator a runtime could use.

Every op's output shape is checked against the shape the program declares, and an op kind the
interpreter does not know is an error naming it, never a silent skip.

Op semantics (x: tensor; broadcasting as NumPy):

    const                      the stored value (immediate or weight.bin blob)
    cast(x, dtype)             to "fp16" / "fp32" / "int32" / "bool"
    add/sub/mul/real_div/maximum/minimum/pow   elementwise, broadcast
    relu, relu6, sigmoid, tanh, exp, sqrt, rsqrt(epsilon), clip(alpha, beta), square, abs
    conv(x, weight, bias?, strides, pad_type, pad, dilations, groups)
        NCHW; pad_type valid | custom (pad = [top, bottom, left, right]) | same | same_lower
    softmax(x, axis)           exp(x - max) / sum, along `axis`
    reduce_sum/mean/max/min(x, axes?, keep_dims)   axes None = all
    reshape(x, shape)          -1 inferred; 0 copies the input dim when ranks agree
    transpose(x, perm), expand_dims(x, axes), squeeze(x, axes?)
    concat(values, axis, interleave=False), stack(values, axis)
    matmul(x, y, transpose_x, transpose_y), linear(x, weight, bias?) = x @ W^T + b
    upsample_bilinear(x, scale_factor_height/width, align_corners, half_pixel_centers)
        source coordinate of output i: align_corners: i (in - 1) / (out - 1); half-pixel:
        (i + 0.5) in / out - 0.5; otherwise i in / out; clamped to [0, in - 1]
    resize_bilinear(x, target_size_height/width, sampling_mode) the five modes of coremltools' docs
    upsample_nearest_neighbor(x, scale_factor_height/width)
    max_pool/avg_pool(x, kernel_sizes, strides, pad_type, pad, ceil_mode, exclude_padding_from_average)
    batch_norm(x, mean, variance, gamma?, beta?, epsilon)
    constexpr_affine_dequantize   scale * (quantized_data - zero_point), scale/zero_point along axis
    constexpr_lut_to_dense        lut[indices], indices packed LSB-first at log2(len(lut)) bits
    constexpr_cast                source_val cast to output_dtype
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_export.targets.coreml.tools import coremltools_quietly
from meshpose_mobile.errors import ExportError

INTERPRETER_NOTE = "MIL program executed by the reference interpreter (not the Core ML runtime)"
MODES = ("fp32", "fp16")


class MILError(ExportError):
    """The program cannot be read or executed by this interpreter."""


# MIL DataType enum values (coremltools/proto/MIL.proto) -> NumPy dtypes.
_DTYPES: dict[int, Any] = {
    1: np.bool_,
    2: np.str_,
    10: np.float16,
    11: np.float32,
    12: np.float64,
    21: np.int8,
    22: np.int16,
    23: np.int32,
    24: np.int64,
    31: np.uint8,
    32: np.uint16,
    33: np.uint32,
    34: np.uint64,
}
_DTYPE_NAMES = {
    "fp16": np.float16,
    "fp32": np.float32,
    "fp64": np.float64,
    "int32": np.int32,
    "int64": np.int64,
    "int8": np.int8,
    "uint8": np.uint8,
    "bool": np.bool_,
}


@dataclass(frozen=True)
class TensorDecl:
    """A value's declared type: NumPy dtype and shape (empty for scalars)."""

    name: str
    dtype: Any
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Operation:
    type: str
    # Input name -> bindings (a variable name or an immediate value). Variadic inputs (concat's
    # `values`) have several.
    inputs: Mapping[str, tuple[Any, ...]]
    attributes: Mapping[str, Any]
    outputs: tuple[TensorDecl, ...]

    @property
    def name(self) -> str:
        return str(self.attributes.get("name", self.outputs[0].name if self.outputs else self.type))


@dataclass
class Program:
    """The `main` function of an mlprogram: what the interpreter executes."""

    path: Path
    opset: str
    inputs: tuple[TensorDecl, ...]
    # Input name -> "RGB" / "BGR" / "GRAYSCALE" for image inputs (a pixel buffer on the phone).
    image_inputs: dict[str, str]
    operations: tuple[Operation, ...]
    outputs: tuple[str, ...]
    # The model description's outputs (name -> dtype, shape): what an app receives.
    output_decls: dict[str, TensorDecl]
    metadata: dict[str, str]
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    cache: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def op_kinds(self) -> list[str]:
        return sorted({op.type for op in self.operations})

    def var_decls(self) -> dict[str, TensorDecl]:
        decls = {d.name: d for d in self.inputs}
        for op in self.operations:
            decls.update({d.name: d for d in op.outputs})
        return decls


# --- reading ----------------------------------------------------------------------------------


def _model_spec_path(package: Path) -> tuple[Path, Path]:
    """(model.mlmodel, weights folder) of an .mlpackage, as its manifest names them."""
    manifest = package / "Manifest.json"
    if not manifest.is_file():
        raise MILError(f"{package} is not an .mlpackage (no Manifest.json); pass the folder written by the export")
    try:
        info = json.loads(manifest.read_text())
        root = info["itemInfoEntries"][info["rootModelIdentifier"]]["path"]
    except (ValueError, KeyError) as err:
        raise MILError(f"{manifest} is unreadable ({err}); re-export the model") from None
    spec_file = package / "Data" / root
    return spec_file, spec_file.parent / "weights"


def _read_spec(package: Path):
    coremltools_quietly()  # coremltools' first import is noisy; do it quietly
    from coremltools.proto import Model_pb2

    spec_file, _ = _model_spec_path(package)
    spec = Model_pb2.Model()
    try:
        spec.ParseFromString(spec_file.read_bytes())
    except Exception as err:  # protobuf raises DecodeError and friends
        raise MILError(f"{spec_file} is not a Core ML model spec ({type(err).__name__}); re-export the model") from None
    return spec


class _Blobs:
    """weight.bin, read through coremltools' own MIL blob reader."""

    def __init__(self, weights_dir: Path) -> None:
        self.dir = weights_dir
        self._readers: dict[str, Any] = {}

    def read(self, file_name: str, offset: int, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
        from coremltools import libmilstoragepython as storage

        path = self.dir / file_name.split("/")[-1]
        if str(path) not in self._readers:
            if not path.is_file():
                raise MILError(f"weights file {path} is missing; re-export the model")
            self._readers[str(path)] = storage._BlobStorageReader(str(path))
        r = self._readers[str(path)]
        read = {
            np.float16: lambda o: np.asarray(r.read_fp16_data(o)).view(np.float16),
            np.float32: r.read_float_data,
            np.int8: r.read_int8_data,
            np.uint8: r.read_uint8_data,
            np.int16: r.read_int16_data,
            np.uint16: r.read_uint16_data,
            np.int32: r.read_int32_data,
            np.uint32: r.read_uint32_data,
        }.get(dtype)
        if read is None:
            raise MILError(f"weight.bin value of dtype {np.dtype(dtype).name} is not supported by the interpreter")
        data = np.asarray(read(offset))
        if data.size != math.prod(shape):
            raise MILError(f"weight.bin blob at offset {offset} has {data.size} values, the program declares {shape}")
        return data.astype(dtype, copy=False).reshape(shape)


def _tensor_type(value_type) -> tuple[Any, tuple[int, ...]]:
    kind = value_type.WhichOneof("type")
    if kind != "tensorType":
        raise MILError(f"value type {kind!r} is not supported by the interpreter (tensors only)")
    tt = value_type.tensorType
    dtype = _DTYPES.get(tt.dataType)
    if dtype is None:
        raise MILError(f"MIL data type {tt.dataType} is not supported by the interpreter")
    shape = []
    for d in tt.dimensions:
        if d.WhichOneof("dimension") != "constant":
            raise MILError("the program has a flexible (unknown) dimension; export with a fixed input shape")
        shape.append(int(d.constant.size))
    return dtype, tuple(shape)


def _decode_value(value, blobs: _Blobs) -> Any:
    dtype, shape = _tensor_type(value.type)
    kind = value.WhichOneof("value")
    if kind == "blobFileValue":
        return blobs.read(value.blobFileValue.fileName, value.blobFileValue.offset, dtype, shape)
    if kind != "immediateValue" or value.immediateValue.WhichOneof("value") != "tensor":
        raise MILError(f"constant of kind {kind!r} is not supported by the interpreter")
    t = value.immediateValue.tensor
    which = t.WhichOneof("value")
    if which == "bytes":
        raw = t.bytes.values
        arr = np.frombuffer(raw, dtype=dtype)
    elif which == "strings":
        vals = list(t.strings.values)
        return vals[0] if not shape else np.asarray(vals).reshape(shape)
    else:
        arr = np.asarray(list(getattr(t, which).values)).astype(dtype)
    if arr.size != math.prod(shape):
        raise MILError(f"immediate constant has {arr.size} values, the program declares {shape}")
    return arr.reshape(shape)


def _decl(named_value_type) -> TensorDecl:
    dtype, shape = _tensor_type(named_value_type.type)
    return TensorDecl(named_value_type.name, dtype, shape)


def _decode_op(op, blobs: _Blobs) -> Operation:
    inputs: dict[str, tuple[Any, ...]] = {}
    for key, arg in op.inputs.items():
        bindings = []
        for b in arg.arguments:
            if b.WhichOneof("binding") == "name":
                bindings.append(b.name)
            else:
                bindings.append(_Immediate(_decode_value(b.value, blobs)))
        inputs[key] = tuple(bindings)
    attributes = {key: _decode_value(val, blobs) for key, val in op.attributes.items()}
    if op.blocks:
        raise MILError(f"op {op.type!r} has nested blocks (control flow); the interpreter runs straight-line programs")
    return Operation(op.type, inputs, attributes, tuple(_decl(o) for o in op.outputs))


@dataclass(frozen=True)
class _Immediate:
    value: Any


def load_program(path: Path | str) -> Program:
    """Read the `main` function of a saved .mlpackage (no Core ML runtime needed)."""
    coremltools_quietly()  # before the first coremltools import below: its first import is noisy
    from coremltools.proto import FeatureTypes_pb2

    path = Path(path)
    spec = _read_spec(path)
    if spec.WhichOneof("Type") != "mlProgram":
        raise MILError(f"{path} holds a {spec.WhichOneof('Type')} model, not an ML Program; export with mlprogram")
    functions = spec.mlProgram.functions
    if "main" not in functions:
        raise MILError(f"{path} has no 'main' function")
    main = functions["main"]
    block = main.block_specializations[main.opset]
    _, weights = _model_spec_path(path)
    blobs = _Blobs(weights)
    ops = tuple(_decode_op(op, blobs) for op in block.operations)
    image_inputs = {}
    for feat in spec.description.input:
        if feat.type.WhichOneof("Type") == "imageType":
            cs = feat.type.imageType.colorSpace
            image_inputs[feat.name] = FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(cs)
    out_decls = {}
    for feat in spec.description.output:
        if feat.type.WhichOneof("Type") != "multiArrayType":
            continue
        ma = feat.type.multiArrayType
        name = FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(ma.dataType)
        dtype = {"FLOAT16": np.float16, "FLOAT32": np.float32, "DOUBLE": np.float64, "INT32": np.int32}[name]
        out_decls[feat.name] = TensorDecl(feat.name, dtype, tuple(int(s) for s in ma.shape))
    program = Program(
        path=path,
        opset=main.opset,
        inputs=tuple(_decl(i) for i in main.inputs),
        image_inputs=image_inputs,
        operations=ops,
        outputs=tuple(block.outputs),
        output_decls=out_decls,
        metadata=dict(spec.description.metadata.userDefined),
    )
    for op in ops:
        if op.type == "const":
            program.consts[op.outputs[0].name] = op.attributes["val"]
    return program


# --- executing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arithmetic:
    mode: str = "fp32"
    # "fp32" (float32 accumulators, the default) or "fp16" (sequential float16 sums in reductions
    # and softmax denominators: the most fragile accumulator a runtime could use; analysis only).
    accumulate: str = "fp32"
    # With accumulate="fp16": the op kinds whose sums use it (None: every reduction and softmax).
    accumulate_ops: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise MILError(f"unknown interpreter mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.accumulate not in MODES:
            raise MILError(f"unknown accumulator {self.accumulate!r}; choose one of {', '.join(MODES)}")

    def storage(self, dtype: Any) -> Any:
        """The dtype a value of declared `dtype` is kept in."""
        if np.issubdtype(dtype, np.floating):
            return np.float16 if (self.mode == "fp16" and dtype == np.float16) else np.float32
        return dtype


class _Op:
    """What an op implementation sees: its resolved inputs and the arithmetic."""

    def __init__(self, op: Operation, args: dict[str, list[Any]], arith: Arithmetic) -> None:
        self.op, self._args, self.arith = op, args, arith

    def has(self, key: str) -> bool:
        return key in self._args or key in self.op.attributes

    def __getitem__(self, key: str) -> Any:
        if key in self._args:
            vals = self._args[key]
            return vals[0] if len(vals) == 1 else vals
        if key in self.op.attributes:
            return self.op.attributes[key]
        raise MILError(f"op {self.op.type} ({self.op.name}) lacks required input {key!r}")

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if self.has(key) else default

    def f(self, key: str) -> np.ndarray:
        """A floating input as float32 for computing."""
        return np.asarray(self[key], dtype=np.float32)

    def list(self, key: str) -> list[Any]:
        if key in self._args:
            return list(self._args[key])
        return [self.op.attributes[key]]

    def ints(self, key: str, default: Any = None) -> list[int]:
        v = self.get(key, default)
        return [int(i) for i in np.asarray(v).ravel()]

    def scalar(self, key: str, default: Any = None) -> Any:
        v = self.get(key, default)
        return np.asarray(v).item() if v is not None else None


OpFn = Callable[[_Op], Any]
_OPS: dict[str, OpFn] = {}


def _op(*names: str) -> Callable[[OpFn], OpFn]:
    def register(fn: OpFn) -> OpFn:
        for n in names:
            _OPS[n] = fn
        return fn

    return register


def supported_ops() -> list[str]:
    return sorted(_OPS)


def run_program(
    program: Program | Path | str,
    inputs: Mapping[str, np.ndarray],
    mode: str = "fp32",
    *,
    accumulate: str = "fp32",
    accumulate_ops: frozenset[str] | None = None,
    keep: Callable[[str], bool] | None = None,
    round_fp16: Callable[[str], bool] | None = None,
) -> dict[str, np.ndarray]:
    """Execute `main` on `inputs` (name -> array; image inputs as RGB (1, 3, H, W) 0..255 values,
    whatever colour order the program declares). Returns the program's outputs as float32 (or
    the declared integer type); `keep(name)` also returns any intermediate value it selects.
    `round_fp16(name)` (analysis) rounds the selected floating values (constants or op outputs)
    to float16 whatever their declared dtype, e.g. one layer's weights of an fp32 program."""
    if not isinstance(program, Program):
        program = load_program(program)
    arith = Arithmetic(mode, accumulate, accumulate_ops)
    env: dict[str, Any] = {}
    for decl in program.inputs:
        if decl.name not in inputs:
            raise MILError(f"input {decl.name!r} missing; the program takes {[d.name for d in program.inputs]}")
        x = np.asarray(inputs[decl.name])
        if x.shape != decl.shape:
            raise MILError(f"input {decl.name!r} has shape {x.shape}, the program expects {decl.shape}")
        color = program.image_inputs.get(decl.name)
        if color == "BGR":
            # The pixel buffer is RGB; Core ML hands a BGR-declared model its channels reversed.
            x = x[:, ::-1]
        elif color not in (None, "RGB"):
            raise MILError(f"image input colour space {color} is not supported by the interpreter")
        env[decl.name] = np.ascontiguousarray(x, dtype=arith.storage(decl.dtype))
    kept: dict[str, np.ndarray] = {}
    for op in program.operations:
        args = {
            k: [env[b] if isinstance(b, str) else _cast_const(b.value, arith) for b in bindings]
            for k, bindings in op.inputs.items()
        }
        for bindings in op.inputs.values():
            missing = [b for b in bindings if isinstance(b, str) and b not in env]
            if missing:
                raise MILError(f"op {op.type} ({op.name}) reads {missing[0]!r} before it is defined")
        if op.type == "const":
            # Constants widened for this mode once per program, not once per input.
            cache = program.cache.setdefault(arith.mode, {})
            name = op.outputs[0].name
            if name not in cache:
                cache[name] = _cast_const(op.attributes["val"], arith, op.outputs[0].dtype)
            results = [cache[name]]
        else:
            fn = _OPS.get(op.type)
            if fn is None:
                raise MILError(
                    f"the program uses MIL op {op.type!r} ({op.name}), which the reference interpreter does not "
                    f"implement; supported: {', '.join(supported_ops())}"
                )
            out = fn(_Op(op, args, arith))
            results = list(out) if isinstance(out, tuple) else [out]
        if len(results) != len(op.outputs):
            raise MILError(
                f"op {op.type} ({op.name}) gave {len(results)} outputs, the program declares {len(op.outputs)}"
            )
        for decl, value in zip(op.outputs, results, strict=True):
            value = _cast_const(value, arith, decl.dtype)
            if isinstance(value, np.ndarray) and value.shape != decl.shape:
                raise MILError(
                    f"op {op.type} ({op.name}) computed shape {value.shape} for {decl.name!r}, "
                    f"the program declares {decl.shape}"
                )
            if (
                round_fp16 is not None
                and isinstance(value, np.ndarray)
                and value.dtype == np.float32
                and round_fp16(decl.name)
            ):
                value = value.astype(np.float16).astype(np.float32)
            env[decl.name] = value
            if keep is not None and keep(decl.name):
                kept[decl.name] = value
    outs = {}
    for name in program.outputs:
        v = np.asarray(env[name])
        outs[name] = v.astype(np.float32) if np.issubdtype(v.dtype, np.floating) else v
    outs.update({k: np.asarray(v) for k, v in kept.items() if k not in outs})
    return outs


def _cast_const(value: Any, arith: Arithmetic, dtype: Any = None) -> Any:
    if isinstance(value, str):
        return value
    value = np.asarray(value)
    dtype = dtype or value.dtype
    if dtype == np.str_:
        return value
    target = arith.storage(dtype)
    return value if value.dtype == target else value.astype(target)


# --- ops ----------------------------------------------------------------------------------------


@_op("cast")
def _cast(o: _Op) -> np.ndarray:
    dtype = _DTYPE_NAMES.get(str(o["dtype"]))
    if dtype is None:
        raise MILError(f"cast to {o['dtype']!r} is not supported by the interpreter")
    x = np.asarray(o["x"])
    if np.issubdtype(dtype, np.integer) and np.issubdtype(x.dtype, np.floating):
        x = np.trunc(x)
    # In fp32 mode a cast to fp16 widens instead of rounding: that mode isolates the weights.
    return x.astype(o.arith.storage(dtype))


for _name, _fn in {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "real_div": np.divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "pow": np.power,
}.items():
    _op(_name)(lambda o, fn=_fn: fn(o.f("x"), o.f("y")))

_op("relu")(lambda o: np.maximum(o.f("x"), 0.0))
_op("relu6")(lambda o: np.clip(o.f("x"), 0.0, 6.0))
_op("sigmoid")(lambda o: 1.0 / (1.0 + np.exp(-o.f("x"))))
_op("tanh")(lambda o: np.tanh(o.f("x")))
_op("exp")(lambda o: np.exp(o.f("x")))
_op("sqrt")(lambda o: np.sqrt(o.f("x")))
_op("square")(lambda o: np.square(o.f("x")))
_op("abs")(lambda o: np.abs(o.f("x")))
_op("rsqrt")(lambda o: 1.0 / np.sqrt(o.f("x") + np.float32(o.scalar("epsilon", 1e-12))))
_op("clip")(lambda o: np.clip(o.f("x"), np.float32(o.scalar("alpha")), np.float32(o.scalar("beta"))))
_op("identity")(lambda o: np.asarray(o["x"]))


def _axis_sum(x: np.ndarray, axes: tuple[int, ...], keepdims: bool, arith: Arithmetic, kind: str = "") -> np.ndarray:
    if arith.accumulate == "fp32" or (arith.accumulate_ops is not None and kind not in arith.accumulate_ops):
        return np.sum(x, axis=axes, keepdims=keepdims, dtype=np.float32)
    # Sequential float16 accumulation (cumsum is strictly left to right, unlike np.sum's pairwise).
    axes = tuple(sorted(a % x.ndim for a in axes))
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    flat = moved.reshape((*moved.shape[: x.ndim - len(axes)], -1)).astype(np.float16)
    with np.errstate(over="ignore"):
        total = np.cumsum(flat, axis=-1, dtype=np.float16)[..., -1].astype(np.float32)
    if keepdims:
        total = np.expand_dims(total, axes)
    return total


def _reduce_axes(o: _Op, x: np.ndarray) -> tuple[int, ...]:
    axes = o.get("axes")
    return tuple(range(x.ndim)) if axes is None else tuple(int(a) for a in np.asarray(axes).ravel())


@_op("reduce_sum")
def _reduce_sum(o: _Op) -> np.ndarray:
    x = o.f("x")
    return _axis_sum(x, _reduce_axes(o, x), bool(o.scalar("keep_dims", False)), o.arith, "reduce_sum")


@_op("reduce_mean")
def _reduce_mean(o: _Op) -> np.ndarray:
    x = o.f("x")
    axes = _reduce_axes(o, x)
    n = math.prod(x.shape[a] for a in axes)
    return _axis_sum(x, axes, bool(o.scalar("keep_dims", False)), o.arith, "reduce_mean") / np.float32(n)


_op("reduce_max")(
    lambda o: np.max(o.f("x"), axis=_reduce_axes(o, o.f("x")), keepdims=bool(o.scalar("keep_dims", False)))
)
_op("reduce_min")(
    lambda o: np.min(o.f("x"), axis=_reduce_axes(o, o.f("x")), keepdims=bool(o.scalar("keep_dims", False)))
)


@_op("softmax")
def _softmax(o: _Op) -> np.ndarray:
    x = o.f("x")
    axis = int(o.scalar("axis", -1))
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / _axis_sum(e, (axis,), True, o.arith, "softmax")


@_op("reshape")
def _reshape(o: _Op) -> np.ndarray:
    x = np.asarray(o["x"])
    shape = o.ints("shape")
    if len(shape) == x.ndim:
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


_op("transpose")(lambda o: np.transpose(np.asarray(o["x"]), o.ints("perm")))


@_op("expand_dims")
def _expand_dims(o: _Op) -> np.ndarray:
    x = np.asarray(o["x"])
    rank = x.ndim + len(o.ints("axes"))
    return np.expand_dims(x, tuple(a % rank for a in o.ints("axes")))


@_op("squeeze")
def _squeeze(o: _Op) -> np.ndarray:
    x = np.asarray(o["x"])
    if not o.has("axes"):
        return np.squeeze(x)
    return np.squeeze(x, axis=tuple(o.ints("axes")))


@_op("concat")
def _concat(o: _Op) -> np.ndarray:
    values = [np.asarray(v) for v in o.list("values")]
    axis = int(o.scalar("axis"))
    if o.scalar("interleave", False):
        # interleave: slices of every input alternate along the axis (one slice each, in turn).
        stacked = np.stack(values, axis=axis + 1 if axis >= 0 else axis)
        shape = list(values[0].shape)
        shape[axis] *= len(values)
        return stacked.reshape(shape)
    return np.concatenate(values, axis=axis)


_op("stack")(lambda o: np.stack([np.asarray(v) for v in o.list("values")], axis=int(o.scalar("axis"))))


@_op("matmul")
def _matmul(o: _Op) -> np.ndarray:
    x, y = o.f("x"), o.f("y")
    if o.scalar("transpose_x", False):
        x = np.swapaxes(x, -1, -2)
    if o.scalar("transpose_y", False):
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


@_op("linear")
def _linear(o: _Op) -> np.ndarray:
    out = np.matmul(o.f("x"), o.f("weight").T)
    return out + o.f("bias") if o.has("bias") else out


def _spatial_pads(
    pad_type: str, pad: list[int] | None, in_hw: tuple[int, ...], k: list[int], s: list[int], d: list[int]
) -> list[tuple[int, int]]:
    pads = []
    for i, (n, ki, si, di) in enumerate(zip(in_hw, k, s, d, strict=True)):
        dk = (ki - 1) * di + 1
        if pad_type == "valid":
            pads.append((0, 0))
        elif pad_type == "custom":
            if pad is None:
                raise MILError("pad_type 'custom' without a pad input")
            pads.append((pad[2 * i], pad[2 * i + 1]))
        elif pad_type in ("same", "same_lower"):
            total = max((math.ceil(n / si) - 1) * si + dk - n, 0)
            small, big = total // 2, total - total // 2
            pads.append((small, big) if pad_type == "same" else (big, small))
        else:
            raise MILError(f"pad_type {pad_type!r} is not supported by the interpreter")
    return pads


@_op("conv")
def _conv(o: _Op) -> np.ndarray:
    x, w = o.f("x"), o.f("weight")
    if x.ndim != 4:
        raise MILError(f"conv ({o.op.name}): only 2-D convolutions (rank-4 x) are supported, got rank {x.ndim}")
    n, c, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    groups = int(o.scalar("groups", 1))
    s = o.ints("strides", [1, 1])
    d = o.ints("dilations", [1, 1])
    pads = _spatial_pads(
        str(o.get("pad_type", "valid")), o.ints("pad") if o.has("pad") else None, (h, wd), [kh, kw], s, d
    )
    if cin_g * groups != c or cout % groups:
        raise MILError(f"conv ({o.op.name}): weight {w.shape} does not fit input {x.shape} with groups={groups}")
    xp = np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))
    hp, wp = xp.shape[2:]
    ho = (hp - (kh - 1) * d[0] - 1) // s[0] + 1
    wo = (wp - (kw - 1) * d[1] - 1) // s[1] + 1
    cout_g = cout // groups
    out = np.zeros((n, groups, cout_g, ho * wo), dtype=np.float32)
    xg = xp.reshape(n, groups, cin_g, hp, wp)
    wg = w.reshape(groups, cout_g, cin_g, kh, kw)
    depthwise = cin_g == 1 and cout_g == 1
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * d[0], j * d[1]
            patch = xg[:, :, :, r0 : r0 + s[0] * (ho - 1) + 1 : s[0], c0 : c0 + s[1] * (wo - 1) + 1 : s[1]]
            patch = patch.reshape(n, groups, cin_g, ho * wo)
            if depthwise:
                out += wg[None, :, :, 0, i, j, None] * patch
            else:
                out += np.matmul(wg[None, :, :, :, i, j], patch)
    out = out.reshape(n, cout, ho, wo)
    if o.has("bias"):
        out += o.f("bias").reshape(1, cout, 1, 1)
    return out


def _pool(o: _Op, kind: str) -> np.ndarray:
    x = o.f("x")
    k = o.ints("kernel_sizes")
    s = o.ints("strides", [1] * len(k))
    if x.ndim != 4 or len(k) != 2:
        raise MILError(f"{o.op.type} ({o.op.name}): only 2-D pooling is supported")
    pads = _spatial_pads(
        str(o.get("pad_type", "valid")), o.ints("pad") if o.has("pad") else None, x.shape[2:], k, s, [1, 1]
    )
    h, w = x.shape[2:]
    sizes = []
    for n_in, (p0, p1), ki, si in zip((h, w), pads, k, s, strict=True):
        span = n_in + p0 + p1 - ki
        n_out = (span + (si - 1 if o.scalar("ceil_mode", False) else 0)) // si + 1
        if o.scalar("ceil_mode", False) and (n_out - 1) * si >= n_in + p0:
            n_out -= 1
        sizes.append(n_out)
    ho, wo = sizes
    # Pad enough on the far side for ceil_mode windows; the padding never wins a max and is
    # excluded from averages by the count below when asked.
    extra = [max(0, (sizes[a] - 1) * s[a] + k[a] - (x.shape[2 + a] + pads[a][0] + pads[a][1])) for a in range(2)]
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(
        x,
        ((0, 0), (0, 0), (pads[0][0], pads[0][1] + extra[0]), (pads[1][0], pads[1][1] + extra[1])),
        constant_values=fill,
    )
    ones = np.pad(
        np.ones((h, w), np.float32), ((pads[0][0], pads[0][1] + extra[0]), (pads[1][0], pads[1][1] + extra[1]))
    )
    acc = np.full((*x.shape[:2], ho, wo), -np.inf if kind == "max" else 0.0, np.float32)
    count = np.zeros((ho, wo), np.float32)
    for i in range(k[0]):
        for j in range(k[1]):
            win = xp[:, :, i : i + s[0] * (ho - 1) + 1 : s[0], j : j + s[1] * (wo - 1) + 1 : s[1]]
            acc = np.maximum(acc, win) if kind == "max" else acc + win
            count += ones[i : i + s[0] * (ho - 1) + 1 : s[0], j : j + s[1] * (wo - 1) + 1 : s[1]]
    if kind == "max":
        return acc
    if o.scalar("exclude_padding_from_average", False):
        return acc / count
    return acc / np.float32(k[0] * k[1])


_op("max_pool")(lambda o: _pool(o, "max"))
_op("avg_pool")(lambda o: _pool(o, "avg"))


@_op("batch_norm")
def _batch_norm(o: _Op) -> np.ndarray:
    x = o.f("x")
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = 1.0 / np.sqrt(o.f("variance") + np.float32(o.scalar("epsilon", 1e-5)))
    if o.has("gamma"):
        scale = scale * o.f("gamma")
    out = (x - o.f("mean").reshape(shape)) * scale.reshape(shape)
    return out + o.f("beta").reshape(shape) if o.has("beta") else out


def _source_coords(n_out: int, n_in: int, mode: str) -> np.ndarray:
    """Where output sample i reads the input, per coremltools' sampling-mode definitions."""
    i = np.arange(n_out, dtype=np.float64)
    if mode in ("STRICT_ALIGN_CORNERS", "ALIGN_CORNERS"):
        if n_out == 1:
            src = np.full(1, (n_in - 1) / 2.0 if mode == "ALIGN_CORNERS" else 0.0)
        else:
            src = i * (n_in - 1) / (n_out - 1)
    elif mode == "UNALIGN_CORNERS":  # half-pixel centres
        src = (i + 0.5) * n_in / n_out - 0.5
    elif mode == "DEFAULT":
        src = i * (n_in - n_in / n_out) / (n_out - 1) if n_out > 1 else np.zeros(1)
    elif mode == "OFFSET_CORNERS":
        delta = max(1, n_in - 1) / n_out
        src = 0.5 * delta + i * delta
    elif mode == "ASYMMETRIC":  # upsample_bilinear without half-pixel centres or aligned corners
        src = i * n_in / n_out
    else:
        raise MILError(f"bilinear sampling mode {mode!r} is not supported by the interpreter")
    return np.clip(src, 0.0, n_in - 1)


def _interp_matrix(n_out: int, n_in: int, mode: str) -> np.ndarray:
    src = _source_coords(n_out, n_in, mode)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = (src - i0).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    np.add.at(m, (np.arange(n_out), i0), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), i1), frac)
    return m


def _bilinear(x: np.ndarray, out_hw: tuple[int, int], mode: str) -> np.ndarray:
    rows = _interp_matrix(out_hw[0], x.shape[-2], mode)
    cols = _interp_matrix(out_hw[1], x.shape[-1], mode)
    return np.matmul(np.matmul(rows, x), cols.T)


@_op("upsample_bilinear")
def _upsample_bilinear(o: _Op) -> np.ndarray:
    x = o.f("x")
    sh = float(o.scalar("scale_factor_height", 1.0))
    sw = float(o.scalar("scale_factor_width", 1.0))
    align = bool(o.scalar("align_corners", True))
    half = bool(o.scalar("half_pixel_centers", not align))
    if align and half:
        raise MILError(f"upsample_bilinear ({o.op.name}): align_corners and half_pixel_centers are exclusive")
    mode = "STRICT_ALIGN_CORNERS" if align else ("UNALIGN_CORNERS" if half else "ASYMMETRIC")
    out_hw = (math.floor(x.shape[-2] * sh), math.floor(x.shape[-1] * sw))
    return _bilinear(x, out_hw, mode)


@_op("resize_bilinear")
def _resize_bilinear(o: _Op) -> np.ndarray:
    x = o.f("x")
    out_hw = (int(o.scalar("target_size_height", 1)), int(o.scalar("target_size_width", 1)))
    return _bilinear(x, out_hw, str(o.get("sampling_mode", "DEFAULT")))


@_op("upsample_nearest_neighbor")
def _upsample_nearest(o: _Op) -> np.ndarray:
    x = o.f("x")
    sh, sw = float(o.scalar("scale_factor_height", 1)), float(o.scalar("scale_factor_width", 1))
    ho, wo = math.floor(x.shape[-2] * sh), math.floor(x.shape[-1] * sw)
    ri = np.minimum((np.arange(ho) / sh).astype(int), x.shape[-2] - 1)
    ci = np.minimum((np.arange(wo) / sw).astype(int), x.shape[-1] - 1)
    return x[..., ri, :][..., ci]


# --- compressed weights (iOS 16 constexpr ops) ------------------------------------------------


def unpack_bits(packed: np.ndarray, nbits: int, count: int) -> np.ndarray:
    """Indices packed LSB-first, `nbits` each, across byte boundaries (constexpr_lut_to_dense)."""
    bits = np.unpackbits(np.asarray(packed, dtype=np.uint8), bitorder="little")
    if bits.size < nbits * count:
        raise MILError(f"packed indices hold {bits.size // nbits} values, {count} expected")
    bits = bits[: nbits * count].reshape(count, nbits).astype(np.uint32)
    return (bits << np.arange(nbits, dtype=np.uint32)).sum(axis=1)


@_op("constexpr_affine_dequantize")
def _affine_dequantize(o: _Op) -> np.ndarray:
    q = np.asarray(o["quantized_data"]).astype(np.float32)
    axis = int(o.scalar("axis")) % q.ndim
    shape = [1] * q.ndim
    shape[axis] = -1
    scale = np.asarray(o["scale"], dtype=np.float32)
    zero = np.asarray(o["zero_point"]).astype(np.float32)
    scale = scale.reshape(shape) if scale.ndim else scale
    zero = zero.reshape(shape) if zero.ndim else zero
    return scale * (q - zero)


@_op("constexpr_lut_to_dense")
def _lut_to_dense(o: _Op) -> np.ndarray:
    lut = np.asarray(o["lut"])
    shape = [int(s) for s in np.asarray(o["shape"]).ravel()]
    nbits = round(math.log2(lut.size))
    if 2**nbits != lut.size or nbits not in (1, 2, 4, 6, 8):
        raise MILError(f"constexpr_lut_to_dense ({o.op.name}): a LUT of {lut.size} entries is not 2, 4, 16, 64 or 256")
    idx = unpack_bits(np.asarray(o["indices"]), nbits, math.prod(shape))
    return lut[idx].reshape(shape).astype(np.float32)


@_op("constexpr_cast")
def _constexpr_cast(o: _Op) -> np.ndarray:
    return np.asarray(o["source_val"]).astype(_DTYPE_NAMES[str(o["output_dtype"])])


# --- the artifact as a callable ---------------------------------------------------------------


def image_runner(program: Program | Path | str, mode: str = "fp32") -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """image (1, 3, H, W) RGB 0..255 -> the program's outputs. Pixels are rounded to uint8 first,
    as the phone's pixel buffer holds them (the macOS path does the same)."""
    if not isinstance(program, Program):
        program = load_program(program)
    if len(program.inputs) != 1:
        raise MILError(f"expected one image input, the program has {[d.name for d in program.inputs]}")
    name = program.inputs[0].name

    def run(image: np.ndarray) -> dict[str, np.ndarray]:
        pixels = np.clip(np.rint(np.asarray(image, dtype=np.float32)), 0, 255)
        return run_program(program, {name: pixels}, mode)

    return run
