"""ONNX: torch.onnx (dynamo) at opset 18, simplified with onnxsim, one file with metadata."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from meshpose_export.artifact import Artifact, Executor
from meshpose_export.sidecar import Sidecar
from meshpose_export.targets.base import (
    Check,
    ExportContext,
    Precision,
    Target,
    TargetName,
    Tolerance,
    register_target,
)
from meshpose_mobile.deploy import INPUT_NAME, OUTPUT_NAMES, MeshPoseDeploy
from meshpose_mobile.errors import ExportError
from meshpose_mobile.signals import import_native

OPSET = 18


def onnx_lib() -> ModuleType:
    """The onnx package, imported with Ctrl-C deferred to the import's end: its nanobind init
    aborts the process if the interrupt is raised inside it (meshpose_mobile.signals)."""
    return import_native("onnx")


def export_onnx(graph: MeshPoseDeploy, out_path: Path, metadata: dict[str, str] | None = None) -> Path:
    """Deployment graph -> simplified single-file ONNX at `out_path` (also used by TFLite)."""
    onnx = onnx_lib()
    onnxsim = import_native("onnxsim")

    # The exporter warns about every torchvision op it cannot register; we use none of them.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    raw = out_path.with_name(out_path.stem + ".raw.onnx")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (graph.example_input(),),
            str(raw),
            dynamo=True,
            opset_version=OPSET,
            external_data=False,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            verbose=False,
        )
    model = onnx.load(str(raw))
    raw.unlink()
    simplified, ok = onnxsim.simplify(model)
    if not ok:
        raise ExportError("onnxsim could not verify the simplified ONNX graph; re-run with a fresh checkpoint")
    for key, value in (metadata or {}).items():
        entry = simplified.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(simplified)
    onnx.save(simplified, str(out_path))
    return out_path


# What phone NPUs/GPUs run without custom layers (method.md Sec. 8); Gather and friends are out.
STANDARD_OPS = frozenset(
    {
        "Conv",
        "Relu",
        "Max",
        "Clip",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Softmax",
        "ReduceSum",
        "ReduceMean",
        "Reshape",
        "Sigmoid",
        "Concat",
        "Unsqueeze",
        "Squeeze",
        "Resize",
        "MaxPool",
        "AveragePool",
        "GlobalAveragePool",
        "MatMul",
        "Transpose",
        "Constant",
    }
)


def graph_checks(path: Path) -> list[Check]:
    """Standard ops only, and every tensor fixed-shape with rank <= 4 (no 5-D tensors)."""
    onnx = onnx_lib()

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    ops = [n.op_type for n in model.graph.node]
    odd = sorted(set(ops) - STANDARD_OPS)
    values = [*model.graph.input, *model.graph.output, *model.graph.value_info]
    ranks = [len(v.type.tensor_type.shape.dim) for v in values]
    dynamic = [v.name for v in values if any(not d.HasField("dim_value") for d in v.type.tensor_type.shape.dim)]
    return [
        Check(
            "standard ONNX ops only",
            not odd,
            f"{len(ops)} ops of {len(set(ops))} kinds" + (f"; unexpected: {odd}" if odd else ""),
        ),
        Check(
            "fixed shapes, rank <= 4",
            max(ranks) <= 4 and not dynamic,
            f"{len(values)} tensors, max rank {max(ranks)}" + (f"; dynamic: {dynamic[:3]}" if dynamic else ""),
        ),
    ]


def onnx_runner(path: Path, threads: int = 0):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def run(image: np.ndarray) -> dict[str, np.ndarray]:
        outs = session.run(list(OUTPUT_NAMES), {INPUT_NAME: np.ascontiguousarray(image, dtype=np.float32)})
        return dict(zip(OUTPUT_NAMES, outs, strict=True))

    return run


class OnnxTarget(Target):
    name = TargetName.ONNX
    precisions = (Precision.FP32,)
    recommended = (Precision.FP32,)
    input_layout = "NCHW float32"
    suffix = ".onnx"
    runtime = "onnxruntime"

    def export(self, graph: MeshPoseDeploy, out_path: Path, precision: str, ctx: ExportContext) -> Path:
        return export_onnx(graph, out_path, dict(ctx.metadata))

    def load_executor(self, path: Path, sidecar: Sidecar, threads: int | None) -> Executor:
        return Executor(onnx_runner(path, threads or 0))

    def verify(self, artifact: Artifact, reference: MeshPoseDeploy) -> list[Check]:
        return graph_checks(artifact.path)

    def runtime_versions(self) -> dict[str, str]:
        import onnxruntime

        return {"onnxruntime": onnxruntime.__version__}

    def import_runtime(self) -> None:
        import onnxruntime  # noqa: F401

    def tolerance(self, precision: str) -> Tolerance:
        # Measured: ~1e-4 px max on meshpose_xs/hrnet32 seeded weights (docs/design.md).
        return Tolerance(max_px=0.01, p99_px=0.005, visibility=1e-4)


register_target(OnnxTarget())
