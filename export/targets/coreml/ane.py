"""A Neural Engine report for a CoreML program, read from the program alone: an ESTIMATE.

Apple publishes no cost model of the Neural Engine; this report lists what the program contains
that Apple's own guidance flags (apple/ml-ane-transformers: channels-first (B, C, 1, S) layouts,
last axis at least 64 bytes because the ANE pads it, conv in place of linear/matmul against
constants, softmax and reductions over long axes split into chunks; coremltools performance docs:
float16 only on the ANE, float32 ops fall back to GPU/CPU), each item with the ops and shapes that
are its evidence. On a Mac, `compute_plan_report` adds Core ML's own answer (MLComputePlan, macOS
14.4 / iOS 17.4 or later) to the same report; that part never runs on Linux.
"""

from __future__ import annotations

import math
import platform
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_export.targets.coreml import mil

LABEL = "estimate from the program alone (Apple's published guidance), not a Core ML measurement"
# The ANE pads a tensor's last axis to 64 bytes (apple/ml-ane-transformers), i.e. 32 float16 values.
ANE_LAST_AXIS_BYTES = 64
LONG_AXIS = 1024
LARGE_1X1_OUT = 4096


def _elems(shape: tuple[int, ...]) -> int:
    return math.prod(shape) if shape else 1


def ane_report(program: mil.Program) -> dict[str, Any]:
    decls = program.var_decls()
    items: list[dict[str, Any]] = []

    def shape_of(binding: Any) -> tuple[int, ...]:
        return decls[binding].shape if isinstance(binding, str) and binding in decls else ()

    # 1. float32 compute: the ANE runs float16 only. The image bias add (preprocessing of the
    #    pixel buffer, exact on 8-bit values) is not counted.
    inputs = {d.name for d in program.inputs}
    fp32 = [
        op
        for op in program.operations
        if op.type not in ("const", "cast") and not op.type.startswith("constexpr")
        and any(d.dtype == np.float32 for d in op.outputs)
        and not {b for v in op.inputs.values() for b in v if isinstance(b, str)} <= inputs | set(program.consts)
    ]  # fmt: skip
    if fp32:
        items.append(
            {
                "item": "float32 ops run off the Neural Engine (GPU/CPU)",
                "evidence": sorted({op.type for op in fp32}),
                "count": len(fp32),
                "ops": [op.name for op in fp32[:8]],
            }
        )

    # 2. Last axis of 1 (or very short): padded to 64 bytes on the ANE.
    short = []
    for op in program.operations:
        if op.type == "const" or not op.outputs:
            continue
        d = op.outputs[0]
        if len(d.shape) >= 2 and d.dtype in (np.float16, np.float32):
            last = d.shape[-1]
            per = 2 if d.dtype == np.float16 else 4
            if last * per < ANE_LAST_AXIS_BYTES:
                waste = ANE_LAST_AXIS_BYTES / (last * per)
                short.append((op, d.shape, waste))
    if short:
        worst = sorted(short, key=lambda t: -_elems(t[1]) * t[2])[:6]
        items.append(
            {
                "item": f"tensors whose last axis is under {ANE_LAST_AXIS_BYTES} bytes "
                "(padded: memory and work x up to 32)",
                "count": len(short),
                "evidence": [
                    {"op": op.type, "name": op.name, "shape": list(s), "padding_factor": round(w, 1)}
                    for op, s, w in worst
                ],
            }
        )

    # 3. Reshapes that move channels into height (the regression branch's (1, mid*bins, 1, 1) ->
    #    (1, mid, bins, 1)): a layout change the ANE does through memory, and a last axis of 1.
    moves = []
    for op in program.operations:
        if op.type != "reshape":
            continue
        src, dst = shape_of(op.inputs["x"][0]), op.outputs[0].shape
        if len(src) == 4 and len(dst) == 4 and dst[1] < src[1] and dst[2] > src[2]:
            moves.append({"name": op.name, "from": list(src), "to": list(dst)})
    if moves:
        items.append({"item": "reshapes that move channels into height", "count": len(moves), "evidence": moves})

    # 4. Large 1x1 convolutions on a 1x1 input: one weight read per multiply-add (memory-bound).
    big = []
    for op in program.operations:
        if op.type != "conv":
            continue
        x = shape_of(op.inputs["x"][0])
        w = shape_of(op.inputs["weight"][0])
        if len(x) == 4 and x[2] * x[3] == 1 and len(w) == 4 and w[0] >= LARGE_1X1_OUT:
            big.append({"name": op.name, "weight": list(w), "params": _elems(w)})
    if big:
        params = sum(b["params"] for b in big)
        total = sum(
            _elems(decls[op.inputs["weight"][0]].shape)
            for op in program.operations
            if op.type == "conv" and isinstance(op.inputs["weight"][0], str)
        )
        items.append(
            {
                "item": f"1x1 convolutions with >= {LARGE_1X1_OUT} outputs on a 1x1 input (memory-bound: "
                "every weight is read for one multiply-add)",
                "count": len(big),
                "params": params,
                "share_of_conv_params": round(params / max(total, 1), 3),
                "bytes_fp16": params * 2,
                "evidence": big,
            }
        )

    # 5. Softmax / reductions over long axes.
    long_ops = []
    for op in program.operations:
        if op.type in ("softmax", "reduce_sum", "reduce_mean"):
            x = shape_of(op.inputs["x"][0])
            if op.type == "softmax":
                axes = [int(np.ravel(program.consts.get(op.inputs["axis"][0], -1))[0])]
            else:
                raw = program.consts.get(op.inputs["axes"][0]) if "axes" in op.inputs else None
                axes = list(range(len(x))) if raw is None else [int(a) for a in np.ravel(raw)]
            n = math.prod(x[a] for a in axes) if x else 0
            if n >= LONG_AXIS:
                long_ops.append({"op": op.type, "name": op.name, "input": list(x), "reduced_elements": n})
    if long_ops:
        items.append({"item": f"softmax / reductions over >= {LONG_AXIS} elements", "count": len(long_ops),
                      "evidence": long_ops})  # fmt: skip

    # 6. Matmuls against constants (ANE guidance: express them as 1x1 convolutions).
    mm = []
    for op in program.operations:
        if op.type in ("matmul", "linear"):
            ins = [op.inputs.get(k, (None,))[0] for k in ("x", "y", "weight")]
            consts = [b for b in ins if isinstance(b, str) and b in program.consts]
            if consts:
                mm.append({"name": op.name, "const": consts[0], "const_shape": list(program.consts[consts[0]].shape)})
    if mm:
        items.append({"item": "matmuls against constants", "count": len(mm), "evidence": mm[:8]})

    return {"label": LABEL, "ops": len(program.operations), "op_kinds": program.op_kinds(), "items": items}


def compute_plan_report(path: Path) -> dict[str, Any] | None:
    """Core ML's own device placement per op (MLComputePlan), on macOS 14.4+ only; None elsewhere.
    Written against coremltools' documented API; it has not run on this project's Linux CI."""
    if platform.system() != "Darwin":
        return None
    import coremltools as ct

    plan = ct.models.compute_plan.MLComputePlan.load_from_path(
        path=str(path), compute_units=ct.ComputeUnit.ALL
    )  # fmt: skip
    program = plan.model_structure.program
    counts: dict[str, int] = {}
    for fn in program.functions.values():
        for op in fn.block.operations:
            usage = plan.get_compute_device_usage_for_mlprogram_operation(op)
            device = type(usage.preferred_compute_device).__name__ if usage else "none"
            counts[device] = counts.get(device, 0) + 1
    return {"label": "Core ML's MLComputePlan (measured on this Mac)", "preferred_device_ops": counts}
