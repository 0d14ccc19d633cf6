"""ONNX: torch.onnx (dynamo) at opset 18, simplified with onnxsim, one file with metadata."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from meshpose_export.targets.base import ExportContext, Loaded, Target, Tolerance, register_target
from meshpose_mobile.deploy import INPUT_NAME, OUTPUT_NAMES, MeshPoseDeploy
from meshpose_mobile.errors import ExportError

OPSET = 18


def export_onnx(graph: MeshPoseDeploy, out_path: Path, metadata: dict[str, str] | None = None) -> Path:
    """Deployment graph -> simplified single-file ONNX at `out_path` (also used by TFLite)."""
    import onnx
    import onnxsim

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
    name = "onnx"
    precisions = ("fp32",)
    recommended = ("fp32",)
    input_layout = "NCHW float32"
    suffix = ".onnx"

    def export(self, graph: MeshPoseDeploy, out_path: Path, precision: str, ctx: ExportContext) -> Path:
        return export_onnx(graph, out_path, dict(ctx.metadata))

    def load(self, path: Path, graph: MeshPoseDeploy) -> Loaded:
        return Loaded(onnx_runner(path))

    def tolerance(self, precision: str) -> Tolerance:
        # Measured: ~1e-4 px max on meshpose_xs/hrnet32 seeded weights (docs/design.md).
        return Tolerance(max_px=0.01, p99_px=0.005, visibility=1e-4)


register_target(OnnxTarget())
