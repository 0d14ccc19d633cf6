"""Static contract checks of a saved CoreML program against the PyTorch deployment graph.

What can be verified without executing anything, each check naming its evidence:

- op kinds: standard MIL ops only, all executable by the reference interpreter;
- no float32 islands in an FP16 program (the image bias, exact on 8-bit pixels, excepted);
- outputs: names, shapes and dtypes (an FP16 program outputs FLOAT16, as the sidecar states);
- preprocessing: the ops reading the camera image equal the sidecar's normalisation (bias
  -255 * mean, scale 1, std inside the first convolution) in the sidecar's colour order;
- weights and biases: every PyTorch tensor found *by name* (the converter's names are the
  parameter paths with dots as underscores) and equal after the program's rounding; the
  converter's rewrites are accepted only as such: a tensor deduplicated onto an identical one,
  an all-zero tensor dropped with its add, scalars of the decode stored as separate scalars;
- op attributes: each convolution's strides, padding, dilation, groups and bias equal its
  PyTorch module's; bilinear resizes equal the graph's interpolations; every softmax reduces the
  last axis; no transposes (the deployment graph never permutes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from meshpose_export.targets.base import Check
from meshpose_export.targets.coreml import mil
from meshpose_mobile.deploy import OUTPUT_NAMES, MeshPoseDeploy

_SUFFIXES = ("_palettized", "_quantized", "_to_fp16")
# Compressed weights decode near, not onto, PyTorch's. Measured as RMS error relative to the
# tensor's RMS (max-based errors are ruled by k-means outliers: 0.105 of max |w| on xs's pal8
# expansions); a tensor swapped with a like one is at about sqrt(2).
COMPRESSED_REL_BOUND = 0.25


def base_name(name: str) -> str:
    """A program constant's name without the suffixes the FP16 and compression passes append."""
    changed = True
    while changed:
        changed = False
        for s in _SUFFIXES:
            if name.endswith(s):
                name, changed = name.removesuffix(s), True
    return name


def program_weights(program: mil.Program) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every floating constant of the program in float32 (compressed ones decoded), and the dtype
    each is stored in."""
    out, stored = {}, {}
    for k, v in program.consts.items():
        if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating):
            out[k], stored[k] = np.asarray(v, dtype=np.float32), v.dtype
    arith = mil.Arithmetic("fp32")
    for op in program.operations:
        if op.type.startswith("constexpr_"):
            fn = mil._OPS.get(op.type)
            if fn is None:
                continue  # reported by the op-kind check
            out[op.outputs[0].name] = np.asarray(fn(mil._Op(op, {}, arith)), dtype=np.float32)
            stored[op.outputs[0].name] = op.outputs[0].dtype
    return out, stored


def _torch_tensors(graph: MeshPoseDeploy) -> dict[str, np.ndarray]:
    tensors = dict(graph.named_parameters()) | dict(graph.named_buffers())
    if not graph.normalize_in_graph:
        tensors.pop("pixel_mean", None)  # the image input's bias does its work (checked apart)
    return {n: t.detach().to(torch.float32).numpy() for n, t in tensors.items()}


def _squeezed(a: np.ndarray) -> tuple[int, ...]:
    return tuple(d for d in a.shape if d != 1)


class _Matcher:
    """Compares PyTorch tensors with program constants at the program's precision."""

    def __init__(self, program: mil.Program) -> None:
        self.weights, self.stored = program_weights(program)

    @staticmethod
    def compressed(name: str) -> bool:
        return name.endswith(("_quantized", "_palettized"))

    def error(self, ref: np.ndarray, name: str) -> float:
        """0 when equal after rounding to the dtype the program stores the constant in; for
        compressed weights, the RMS error relative to the tensor's RMS."""
        got = self.weights[name]
        if ref.size != got.size:
            return float("inf")
        ref = ref.reshape(-1).astype(self.stored[name]).astype(np.float32)
        diff = got.reshape(-1).astype(np.float64) - ref
        if self.compressed(name):
            rms = float(np.sqrt(np.mean(ref.astype(np.float64) ** 2)))
            return float(np.sqrt(np.mean(diff**2))) / max(rms, 1e-12)
        return float(np.abs(diff).max()) if ref.size else 0.0

    def ok(self, err: float, name: str) -> bool:
        return err <= COMPRESSED_REL_BOUND if self.compressed(name) else err == 0.0


def weight_checks(program: mil.Program, graph: MeshPoseDeploy, fp16: bool) -> tuple[Check, dict[str, str]]:
    matcher = _Matcher(program)
    weights = matcher.weights
    by_base: dict[str, str] = {}
    for name in weights:
        by_base.setdefault(base_name(name), name)
    scalars = np.asarray([float(v.reshape(-1)[0]) for v in weights.values() if v.size == 1], dtype=np.float32)
    by_shape: dict[tuple[int, ...], list[str]] = {}
    for name, v in weights.items():
        by_shape.setdefault(_squeezed(v), []).append(name)
    counts = {"by name": 0, "deduplicated": 0, "scalars": 0, "zero, dropped": 0}
    bad: list[str] = []
    worst_compressed, n_compressed = 0.0, 0
    resolved: dict[str, str] = {}
    for tname, ref in _torch_tensors(graph).items():
        pname = by_base.get(tname.replace(".", "_"))
        if pname is not None:
            err = matcher.error(ref, pname)
            if matcher.ok(err, pname):
                counts["by name"] += 1
                resolved[tname] = pname
                if matcher.compressed(pname):
                    n_compressed += 1
                    worst_compressed = max(worst_compressed, err)
                continue
            bad.append(f"{tname} differs from {pname} ({err:.3g})")
            continue
        # Not under its own name: an identical tensor the converter merged it into?
        same = [n for n in by_shape.get(_squeezed(ref), []) if matcher.ok(matcher.error(ref, n), n)]
        if same:
            counts["deduplicated"] += 1
            resolved[tname] = same[0]
            continue
        if ref.size <= 4:  # decode affines ([scale, shift]) become scalar constants
            vals = ref.astype(np.float16 if fp16 else np.float32).astype(np.float32)
            if all((v == 0.0) or np.any(scalars == v) or np.any(scalars == np.float32(v)) for v in vals):
                counts["scalars"] += 1
                continue
        if not np.any(ref):
            counts["zero, dropped"] += 1
            continue
        bad.append(f"{tname} not in the program")
    n = sum(counts.values()) + len(bad)
    detail = f"{n - len(bad)}/{n} tensors: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    if n_compressed:
        detail += f"; {n_compressed} compressed, worst relative RMS error {worst_compressed:.4f}"
    if bad:
        detail += f"; {len(bad)} wrong, e.g. {bad[0]}"
    return Check("weights and biases equal PyTorch's, matched by name", not bad, detail), resolved


def attribute_checks(program: mil.Program, graph: MeshPoseDeploy) -> Check:
    matcher = _Matcher(program)
    decls = program.var_decls()
    problems: list[str] = []
    n_conv = 0
    for op in program.operations:
        if op.type != "conv":
            continue
        wname = op.inputs["weight"][0]
        module_path = base_name(str(wname)).removesuffix("_weight")
        module = _module_by_flat_name(graph, module_path)
        if module is None:
            problems.append(f"conv {op.name}: weight {wname} names no PyTorch convolution")
            continue
        n_conv += 1
        args = {k: _static(program, v) for k, v in op.inputs.items() if k != "x"}
        x_shape = decls[op.inputs["x"][0]].shape
        k = list(module.kernel_size)
        strides = [int(s) for s in np.ravel(args.get("strides", [1, 1]))]
        dil = [int(s) for s in np.ravel(args.get("dilations", [1, 1]))]
        pad = [int(p) for p in np.ravel(args["pad"])] if "pad" in args else None
        pads = mil._spatial_pads(str(args.get("pad_type", "valid")), pad, x_shape[2:], k, strides, dil)
        want_pads = [(p, p) for p in module.padding]
        groups = int(np.ravel(args.get("groups", 1))[0])
        for what, got, want in (
            ("strides", strides, list(module.stride)),
            ("dilations", dil, list(module.dilation)),
            ("groups", groups, module.groups),
            ("padding", pads, want_pads),
        ):
            if got != want:
                problems.append(f"conv {op.name}: {what} {got}, PyTorch {want}")
        bias = None if module.bias is None else module.bias.detach().float().numpy()
        if "bias" in args:
            bname = op.inputs["bias"][0]
            if bias is None or not isinstance(bname, str) or not matcher.ok(matcher.error(bias, bname), bname):
                problems.append(f"conv {op.name}: bias differs from PyTorch's")
        elif bias is not None and np.any(bias):
            problems.append(f"conv {op.name}: has no bias, PyTorch's is non-zero")
    expected = _graph_resizes(graph)
    resizes = [op for op in program.operations if op.type in ("upsample_bilinear", "resize_bilinear")]
    if len(resizes) != len(expected):
        problems.append(f"{len(resizes)} bilinear resizes, the graph has {len(expected)}")
    for op, (align, scale) in zip(resizes, expected, strict=False):
        args = {k: _static(program, v) for k, v in op.inputs.items() if k != "x"}
        if op.type == "upsample_bilinear":
            got_align = bool(np.ravel(args.get("align_corners", True))[0])
            half = bool(np.ravel(args.get("half_pixel_centers", not got_align))[0])
            got_scale = (float(np.ravel(args.get("scale_factor_height", 1))[0]),
                         float(np.ravel(args.get("scale_factor_width", 1))[0]))  # fmt: skip
            ok = got_align == align and half == (not align) and (scale is None or got_scale == scale)
        else:
            mode = str(args.get("sampling_mode", "DEFAULT"))
            ok = mode in (("STRICT_ALIGN_CORNERS", "ALIGN_CORNERS") if align else ("UNALIGN_CORNERS",))
        if not ok:
            problems.append(f"{op.type} {op.name}: not the graph's bilinear (align_corners={align})")
    for op in program.operations:
        if op.type == "softmax":
            rank = len(decls[op.inputs["x"][0]].shape)
            axis = int(np.ravel(_static(program, op.inputs["axis"]))[0]) % rank
            if axis != rank - 1:
                problems.append(f"softmax {op.name}: axis {axis}, the graph's softmaxes reduce the last axis")
        if op.type == "transpose":
            problems.append(f"transpose {op.name}: the deployment graph never permutes")
    detail = f"{n_conv} convolutions, {len(resizes)} resizes, softmax axes, layout ops"
    if problems:
        detail += f"; {len(problems)} wrong, e.g. {problems[0]}"
    return Check("op attributes equal the graph's", not problems, detail)


def _static(program: mil.Program, bindings: tuple[Any, ...]) -> Any:
    b = bindings[0]
    if isinstance(b, str):
        return program.consts.get(b)
    return b.value


def _module_by_flat_name(graph: MeshPoseDeploy, flat: str):
    """The Conv2d whose dotted path, with dots as underscores, is `flat`."""
    for name, module in graph.named_modules():
        if name.replace(".", "_") == flat and isinstance(module, torch.nn.Conv2d):
            return module
    return None


def _graph_resizes(graph: MeshPoseDeploy) -> list[tuple[bool, tuple[float, float] | None]]:
    """(align_corners, scale) of each bilinear interpolation left in the traced backbone."""
    gm = graph.backbone
    found = []
    for node in getattr(gm, "graph", None).nodes if hasattr(gm, "graph") else []:
        if node.op == "call_function" and node.target is torch.nn.functional.interpolate:
            if node.kwargs.get("mode") != "bilinear":
                continue
            sf = node.kwargs.get("scale_factor")
            scale = None if sf is None else ((float(sf), float(sf)) if np.isscalar(sf) else tuple(map(float, sf)))
            found.append((bool(node.kwargs.get("align_corners")), scale))
    return found


def io_checks(program: mil.Program, graph: MeshPoseDeploy, fp16: bool, output_dtype: str) -> list[Check]:
    checks = []
    want = {o.name: tuple(o.shape) for o in graph.output_specs}
    dtype = np.float16 if output_dtype == "float16" else np.float32
    got = {n: (d.shape, d.dtype) for n, d in program.output_decls.items()}
    ok = set(got) == set(OUTPUT_NAMES) and all(got[n] == (want[n], dtype) for n in want if n in got)
    detail = ", ".join(f"{n} {list(s)} {np.dtype(t).name}" for n, (s, t) in got.items())
    checks.append(Check(f"outputs: names, shapes, {output_dtype} (as the sidecar states)", ok, detail))

    spec = graph.input_spec
    problems = []
    if list(program.image_inputs.values()) != [spec.color_order]:
        problems.append(f"image colour space {list(program.image_inputs.values())}, sidecar {spec.color_order}")
    name = spec.name
    readers = [op for op in program.operations if any(name in b for b in op.inputs.values())]
    want_bias = np.asarray(spec.channel_bias, dtype=np.float32)
    # A zero mean (meshpose_blaze's [0, 1] input) leaves no bias add: the converter drops an add
    # of zeros, and the image goes straight into the first convolution (through a cast in FP16).
    if not want_bias.any() and len(readers) == 1 and readers[0].type in ("conv", "cast"):
        pass
    elif len(readers) != 1 or readers[0].type != "add":
        problems.append(f"the image is read by {[op.type for op in readers]}, expected one bias add")
    else:
        add = readers[0]
        other = [b for k, b in add.inputs.items() if b[0] != name]
        bias = np.asarray(_static(program, other[0]) if other else None, dtype=np.float32).reshape(-1)
        if bias.shape != want_bias.shape or not np.allclose(bias, want_bias, rtol=0, atol=1e-4):
            problems.append(f"image bias {bias.tolist()}, sidecar -255*mean = {want_bias.tolist()}")
        scales = [
            op
            for op in program.operations
            if op.type == "mul" and any(add.outputs[0].name in b for b in op.inputs.values())
        ]
        if scales:
            problems.append("the image is scaled after the bias; the sidecar puts 1/std in the first convolution")
    detail = (
        f"{spec.color_order} image, bias {[round(float(b), 3) for b in want_bias]} (= -255 * mean), scale 1, "
        f"1/std {[round(1 / s, 4) for s in spec.std]} inside the first convolution's weights"
    )
    if problems:
        detail = "; ".join(problems)
    checks.append(Check("preprocessing equals the sidecar's normalisation", not problems, detail))
    return checks


def contract_checks(
    program: mil.Program, graph: MeshPoseDeploy, standard_ops: frozenset[str], output_dtype: str
) -> list[Check]:
    checks = []
    kinds = program.op_kinds()
    odd = [k for k in kinds if k not in standard_ops]
    unrunnable = [k for k in kinds if k != "const" and k not in mil.supported_ops()]
    detail = f"{len(program.operations)} ops of {len(kinds)} kinds"
    if odd:
        detail += f"; unexpected: {odd}"
    if unrunnable:
        detail += f"; not executable by the reference interpreter: {unrunnable}"
    checks.append(Check("standard MIL ops only", not odd and not unrunnable, detail))

    fp16 = any(d.dtype == np.float16 for op in program.operations if op.type != "const" for d in op.outputs)
    if fp16:
        inputs = {d.name for d in program.inputs}

        def reads_only_inputs(op) -> bool:
            args = {b for v in op.inputs.values() for b in v if isinstance(b, str)}
            return bool(args & inputs) and args <= inputs | set(program.consts)

        islands = sorted(
            {
                op.type
                for op in program.operations
                if op.type not in ("const", "cast")
                and any(d.dtype == np.float32 for d in op.outputs)
                and not reads_only_inputs(op)
            }
        )
        checks.append(
            Check(
                "no float32 islands in the FP16 program",
                not islands,
                "all compute ops are float16" if not islands else f"float32 ops: {islands}",
            )
        )
    checks += io_checks(program, graph, fp16, output_dtype)
    weight_check, _ = weight_checks(program, graph, fp16)
    checks.append(weight_check)
    checks.append(attribute_checks(program, graph))
    return checks
