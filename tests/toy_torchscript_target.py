"""A fourth target written the way a plugin would be: one module and `register_target`.

TorchScript (`torch.jit.trace` of the deployment graph, saved as `.torchscript`): its artifact
runs through `torch.jit.load` without the Python model, so it is an honest format for showing
that export, parity, predict and bench need no change to take a new target. Not a shipped target:
tests register it (in-process by import, and through MESHPOSE_EXPORT_TARGETS in the bench's
timing subprocesses).
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np
import torch

from meshpose_export.artifact import Artifact, Executor
from meshpose_export.sidecar import Sidecar
from meshpose_export.targets.base import Check, ExportContext, Precision, Target, Tolerance, register_target
from meshpose_mobile.deploy import MeshPoseDeploy


@contextlib.contextmanager
def _no_deprecation():
    """torch.jit warns that it is deprecated in favour of torch.export; it still works, and the toy
    only needs some real format."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


class TorchScriptTarget(Target):
    name = "torchscript"
    precisions = (Precision.FP32,)
    recommended = (Precision.FP32,)
    input_layout = "NCHW float32"
    suffix = ".torchscript"
    runtime = "torchscript"

    def export(self, graph: MeshPoseDeploy, out_path: Path, precision: str, ctx: ExportContext) -> Path:
        with torch.no_grad(), _no_deprecation():
            traced = torch.jit.trace(graph, graph.example_input(), check_trace=False)
            torch.jit.save(traced, str(out_path), _extra_files={"meshpose.json": str(dict(ctx.metadata))})
        return out_path

    def load_executor(self, path: Path, sidecar: Sidecar, threads: int | None) -> Executor:
        with _no_deprecation():
            module = torch.jit.load(str(path)).eval()
        names = [o.name for o in sidecar.outputs]

        def run(image: np.ndarray) -> dict[str, np.ndarray]:
            with torch.no_grad():
                outs = module(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)))
            return {n: o.numpy() for n, o in zip(names, outs, strict=True)}

        return Executor(run)

    def verify(self, artifact: Artifact, reference: MeshPoseDeploy) -> list[Check]:
        with _no_deprecation():
            graph = torch.jit.load(str(artifact.path)).inlined_graph
        kinds = [n.kind() for n in graph.nodes()]
        python_ops = sorted({k for k in kinds if k.startswith("prim::PythonOp")})
        return [Check("no Python ops in the TorchScript graph", not python_ops, f"{len(kinds)} nodes")]

    def tolerance(self, precision: str) -> Tolerance:
        return Tolerance(max_px=0.01, p99_px=0.005, visibility=1e-4)


TARGET = register_target(TorchScriptTarget())
