"""CoreML: an mlprogram .mlpackage (iOS 16+) whose input is a camera image, for the Neural Engine.

The image input takes a pixel buffer directly: ImageType has a single scale but a per-channel
bias, so the graph is asked for its form without the mean subtraction (`normalize_in_graph=False`)
and the mean goes into ImageType's bias while the per-channel std already sits in the first
convolution. Core ML predicts only on macOS; elsewhere `load` runs the artifact's own MIL program
through the reference interpreter (`coreml_mil`, labelled as such, not the Core ML runtime),
beside static checks of the saved program.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import platform
import warnings
from pathlib import Path

import numpy as np
import torch

from meshpose_export.targets.base import Check, ExportContext, Loaded, Target, Tolerance, register_target
from meshpose_mobile.deploy import OUTPUT_NAMES, MeshPoseDeploy
from meshpose_mobile.errors import ExportError

# Standard MIL ops a MeshPose program may contain; anything else means a converter surprise.
STANDARD_OPS = frozenset(
    {
        "const",
        "cast",
        "conv",
        "add",
        "sub",
        "mul",
        "real_div",
        "softmax",
        "reduce_sum",
        "reduce_mean",
        "reshape",
        "sigmoid",
        "relu",
        "clip",
        "concat",
        "stack",
        "expand_dims",
        "squeeze",
        "transpose",
        "upsample_bilinear",
        "resize_bilinear",
        "max_pool",
        "avg_pool",
        "matmul",
        "linear",
        "batch_norm",
        "constexpr_affine_dequantize",
        "constexpr_lut_to_dense",
        "constexpr_blockwise_shift_scale",
    }
)
_COMPRESSED = {
    "w8": "8-bit linear weights",
    "pal8": "8-bit k-means palettised weights",
    "pal6": "6-bit k-means palettised weights",
}


def _quiet():
    """coremltools prints version warnings and progress bars; keep the CLI's output readable."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    logging.getLogger("coremltools").setLevel(logging.ERROR)
    return stack


@contextlib.contextmanager
def _silence_native_stderr():
    """TensorFlow (imported by coremltools) logs from C++ straight to file descriptor 2."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _ct():
    with _quiet(), _silence_native_stderr():
        import coremltools as ct
    return ct


class CoreMLTarget(Target):
    name = "coreml"
    precisions = ("fp16", "fp32", "w8", "pal8", "pal6")
    recommended = ("fp16",)
    input_layout = "image: RGB CVPixelBuffer (uint8), no manual normalisation"
    suffix = ".mlpackage"

    def deploy_kwargs(self) -> dict[str, bool]:
        return {"normalize_in_graph": False}

    def export(self, graph: MeshPoseDeploy, out_path: Path, precision: str, ctx: ExportContext) -> Path:
        ct = _ct()
        if graph.normalize_in_graph:
            raise ExportError("CoreML export needs the graph built with normalize_in_graph=False")
        spec = graph.input_spec
        _, _, h, w = spec.shape
        with _quiet(), torch.no_grad():
            traced = torch.jit.trace(graph, graph.example_input(), check_trace=False)
            model = ct.convert(
                traced,
                inputs=[
                    ct.ImageType(
                        name=spec.name,
                        shape=spec.shape,
                        scale=1.0,
                        bias=list(spec.channel_bias),
                        color_layout=ct.colorlayout.RGB,
                    )
                ],
                outputs=[ct.TensorType(name=n) for n in OUTPUT_NAMES],
                convert_to="mlprogram",
                minimum_deployment_target=ct.target.iOS16,
                compute_precision=ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16,
            )
            model = self._compress(model, precision)
        meta = dict(ctx.metadata)
        model.author = meta.pop("author", "MeshPose Mobile")
        model.license = meta.pop("license", "")
        model.version = meta.pop("toolkit_version", "")
        model.short_description = meta.pop("description", "MeshPose body mesh from a person crop")
        for key, value in meta.items():
            model.user_defined_metadata[key] = str(value)
        model.input_description[spec.name] = f"RGB person crop {w}x{h}, see the crop contract in metadata"
        for out in graph.output_specs:
            model.output_description[out.name] = f"{out.shape}: {out.units}"
        with _quiet():
            model.save(str(out_path))
        return out_path

    def _compress(self, model, precision: str):
        if precision not in _COMPRESSED:
            return model
        import coremltools.optimize.coreml as cto

        if precision == "w8":
            op = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8")
            return cto.linear_quantize_weights(model, cto.OptimizationConfig(global_config=op))
        op = cto.OpPalettizerConfig(mode="kmeans", nbits=int(precision.removeprefix("pal")))
        return cto.palettize_weights(model, cto.OptimizationConfig(global_config=op))

    def load(self, path: Path, graph: MeshPoseDeploy) -> Loaded:
        ct = _ct()
        checks = static_checks(path, graph)
        if platform.system() != "Darwin":
            from meshpose_export.targets.coreml_mil import INTERPRETER_NOTE, image_runner

            reason = "Core ML predicts only on macOS; ran the saved program through the reference MIL interpreter"
            # fp16 mode: every op's output rounded to the dtype the program declares (an fp32
            # program declares none in float16, so the mode costs it nothing).
            runner = image_runner(path, mode="fp16")
            return Loaded(None, reason, checks, simulator=runner, simulator_note=INTERPRETER_NOTE)
        with _quiet():
            model = ct.models.MLModel(str(path), compute_units=ct.ComputeUnit.ALL)
        name = graph.input_spec.name

        def run(image: np.ndarray) -> dict[str, np.ndarray]:
            from PIL import Image

            hwc = np.clip(np.rint(image[0].transpose(1, 2, 0)), 0, 255).astype(np.uint8)
            outs = model.predict({name: Image.fromarray(hwc)})
            return {n: np.asarray(outs[n]) for n in OUTPUT_NAMES}

        return Loaded(run, "", checks)

    def tolerance(self, precision: str) -> Tolerance:
        # Measured on Linux through the simulator (the artifact's weights in float16 arithmetic),
        # meshpose_xs seeded, worst of vertices / vertices_2d, max / p99 px: fp16 0.38 / 0.22,
        # w8 3.56 / 1.72, pal8 4.46 / 2.11, pal6 17.3 / 8.5 (fails: use pal8). Budgets as for the
        # TFLite precision of the same weight width; re-measure on macOS (docs/design.md).
        return {
            "fp32": Tolerance(max_px=0.005, p99_px=0.002, visibility=1e-4),
            "fp16": Tolerance(max_px=0.5, p99_px=0.25, visibility=5e-3),
            "w8": Tolerance(max_px=8.0, p99_px=4.0, visibility=0.05),
            "pal8": Tolerance(max_px=8.0, p99_px=4.0, visibility=0.05),
            "pal6": Tolerance(max_px=10.0, p99_px=6.0, visibility=0.05),
        }[precision]


def precision_of(path: Path) -> str:
    """The precision an artifact was exported at, from the metadata written by `export`."""
    ct = _ct()
    with _quiet():
        spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    return dict(spec.description.metadata.userDefined).get("precision", "fp16")


def _program_ops(path: Path):
    ct = _ct()
    with _quiet():
        spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    main = spec.mlProgram.functions["main"]
    block = main.block_specializations[main.opset]
    return spec, list(block.operations)


def _const_values(path: Path, ops) -> list[np.ndarray]:
    """Every const tensor of the program stored in weight.bin, decoded."""
    from coremltools import libmilstoragepython as storage
    from coremltools.proto import MIL_pb2

    weights = path / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    if not weights.exists():
        return []
    reader = storage._BlobStorageReader(str(weights))
    # read_fp16_data hands back the raw 16-bit patterns; they are reinterpreted as float16 below.
    readers = {
        MIL_pb2.FLOAT16: lambda off: np.asarray(reader.read_fp16_data(off)).view(np.float16),
        MIL_pb2.FLOAT32: reader.read_float_data,
    }
    values = []
    for op in ops:
        if op.type != "const" or "val" not in op.attributes:
            continue
        val = op.attributes["val"]
        if not val.HasField("blobFileValue"):
            continue
        ttype = op.outputs[0].type.tensorType
        read = readers.get(ttype.dataType)
        if read is None:
            continue
        dims = [int(d.constant.size) for d in ttype.dimensions]
        values.append(np.asarray(read(val.blobFileValue.offset), dtype=np.float32).reshape(dims))
    return values


def _squeezed_shape(a: np.ndarray) -> tuple[int, ...]:
    return tuple(d for d in a.shape if d != 1)


def static_checks(path: Path, graph: MeshPoseDeploy) -> list[Check]:
    """What can be verified about a saved .mlpackage without running it."""
    from coremltools.proto import MIL_pb2

    spec, ops = _program_ops(path)
    checks = []
    kinds = sorted({op.type for op in ops})
    odd = [k for k in kinds if k not in STANDARD_OPS]
    checks.append(
        Check(
            "standard MIL ops only",
            not odd,
            f"{len(ops)} ops of {len(kinds)} kinds" + (f"; unexpected: {odd}" if odd else ""),
        )
    )

    out_names = {o.name for o in spec.description.output}
    # The ImageType bias is added to the camera pixels in float32 before the first cast; that is
    # preprocessing of the input itself, exact on 8-bit pixels, not a float32 island.
    inputs = {i.name for i in spec.description.input}
    const_names = {o.name for op in ops if op.type == "const" for o in op.outputs}

    def reads_only_inputs(op) -> bool:
        args = {a.name for v in op.inputs.values() for a in v.arguments}
        return bool(args & inputs) and args <= inputs | const_names

    fp32_ops = [
        op.type
        for op in ops
        if op.type not in ("const", "cast")
        and any(o.type.tensorType.dataType == MIL_pb2.FLOAT32 for o in op.outputs)
        and not reads_only_inputs(op)
    ]
    is_fp16 = any(o.type.tensorType.dataType == MIL_pb2.FLOAT16 for op in ops if op.type != "const" for o in op.outputs)
    if is_fp16:
        checks.append(
            Check(
                "no float32 islands in the FP16 program",
                not fp32_ops,
                "all compute ops are float16" if not fp32_ops else f"float32 ops: {sorted(set(fp32_ops))}",
            )
        )
    checks.append(Check("named outputs", out_names == set(OUTPUT_NAMES), f"outputs {sorted(out_names)}"))

    n_comp = sum(op.type.startswith("constexpr") for op in ops)
    cast = np.float16 if is_fp16 else np.float32
    if n_comp:
        checks.append(_compressed_weights_check(path, graph, n_comp))
    else:
        matched, worst, _ = _match_weights(graph, _const_values(path, ops), cast)
        n = len(list(_weight_params(graph)))
        exact = sum(err == 0.0 for err in matched.values())
        detail = f"{exact}/{n} weight tensors bit-equal after {np.dtype(cast).name} rounding"
        checks.append(
            Check(
                "weights in weight.bin equal PyTorch's",
                exact == n,
                detail + ("" if exact == n else f" (worst mismatch {worst:.3g})"),
            )
        )
    return checks


def _weight_params(graph: MeshPoseDeploy):
    return ((n, p.detach().numpy()) for n, p in graph.named_parameters() if p.ndim >= 2)


def _match_weights(
    graph: MeshPoseDeploy, consts: list[np.ndarray], cast
) -> tuple[dict[str, float], float, dict[str, np.ndarray]]:
    """For each PyTorch weight, the same-shape const closest to it: its max-abs error, the worst of
    those, and the const itself (as the artifact stores it, for simulation)."""
    by_shape: dict[tuple[int, ...], list[np.ndarray]] = {}
    for c in consts:
        by_shape.setdefault(_squeezed_shape(c), []).append(c)
    errors, best, worst = {}, {}, 0.0
    for name, w in _weight_params(graph):
        ref = w.astype(cast).astype(np.float32).ravel()
        cands = [c for c in by_shape.get(_squeezed_shape(w), []) if c.size == ref.size]
        errs = [float(np.abs(c.ravel() - ref).max()) for c in cands]
        errors[name] = min(errs) if errs else float("inf")
        if errs:
            best[name] = cands[int(np.argmin(errs))].reshape(w.shape)
        worst = max(worst, errors[name])
    return errors, worst, best


def decompressed_consts(path: Path) -> list[np.ndarray]:
    """The program's weights after coremltools.optimize decompresses them (runs on Linux)."""
    import tempfile

    import coremltools.optimize.coreml as cto

    ct = _ct()
    with _quiet(), tempfile.TemporaryDirectory() as tmp:
        plain = cto.decompress_weights(ct.models.MLModel(str(path), skip_model_load=True))
        out = Path(tmp) / "plain.mlpackage"
        plain.save(str(out))
        _, ops = _program_ops(out)
        return _const_values(out, ops)


def _compressed_weights_check(path: Path, graph: MeshPoseDeploy, n_comp: int) -> Check:
    """Every weight is found, decompressed, beside its PyTorch original; how far compression moved
    it is reported (the pixel cost is measured by the simulator, with these very weights)."""
    errors, _, _ = _match_weights(graph, decompressed_consts(path), np.float32)
    missing = [n for n, e in errors.items() if not np.isfinite(e)]
    rel = max(
        (errors[n] / max(float(np.abs(w).max()), 1e-12) for n, w in _weight_params(graph) if n not in missing),
        default=0.0,
    )
    detail = f"{n_comp} compressed tensors decompressed; worst error {rel:.4f} of the tensor's max |w|"
    return Check(
        "compressed weights decode to PyTorch's", not missing, detail + (f"; missing {missing[:2]}" if missing else "")
    )


register_target(CoreMLTarget())
