"""The PyTorch reference behind the Artifact shape: the deployment graph every artifact is made
from, opened as an `Artifact` that parity, predict and bench call like any exported file.

It is no export target (nothing is converted and the registry does not list it): `reference_artifact`
wraps a graph in memory; `save_reference` / `open_reference` carry it to a fresh process (bench's
timing worker), rebuilt from its variant and state dict because a pickled fx graph does not load back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from meshpose_export.artifact import Artifact, Executor, Outputs
from meshpose_export.sidecar import Sidecar
from meshpose_mobile.atomic import torch_save_atomic
from meshpose_mobile.crop import CropContract
from meshpose_mobile.deploy import OUTPUT_NAMES, MeshPoseDeploy
from meshpose_mobile.registry import create_model

REFERENCE = "pytorch"
_FORMAT = "meshpose-reference"


@dataclass(frozen=True)
class _Layout:
    """What the sidecar of the reference says about its input and outputs."""

    name: str = REFERENCE
    input_layout: str = "NCHW float32 RGB 0..255 (the PyTorch deployment graph)"

    def output_dtype(self, precision: str) -> str:
        return "float32"


def reference_artifact(
    graph: MeshPoseDeploy, contract: CropContract | None = None, *, path: str | Path = REFERENCE, weights_note: str = ""
) -> Artifact:
    """`graph` (eval mode) as an Artifact; its sidecar is built from the graph, like an export's."""
    path = Path(path)
    contract = contract or CropContract.for_config(graph.config)
    sidecar = Sidecar.build(graph, _Layout(), "fp32", contract, path.name, weights_note)

    def run(image: np.ndarray) -> Outputs:
        with torch.no_grad():
            outs = graph(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)))
        return {name: t.numpy() for name, t in zip(OUTPUT_NAMES, outs, strict=True)}

    return Artifact(path, REFERENCE, "fp32", sidecar, Executor(run))


def save_reference(graph: MeshPoseDeploy, path: str | Path, deploy_kwargs: dict[str, Any]) -> Path:
    """The file `open_reference` reads: variant, the `deploy()` arguments and the state dict."""
    payload = {
        "format": _FORMAT,
        "variant": graph.config.variant,
        "deploy_kwargs": dict(deploy_kwargs),
        "state_dict": graph.state_dict(),
    }
    return torch_save_atomic(payload, path)


def open_reference(path: str | Path, threads: int | None = None) -> Artifact:
    """The graph `save_reference` wrote, rebuilt (the peak memory then includes building the
    training-form module); `threads` sets PyTorch's intra-op threads of this process."""
    if threads is not None:
        torch.set_num_threads(threads)
    data = torch.load(Path(path), weights_only=True)
    graph = create_model(data["variant"]).deploy(**data["deploy_kwargs"]).eval()
    graph.load_state_dict(data["state_dict"])
    return reference_artifact(graph, path=path)


def timed_call(path: Path, threads: int, rng: np.random.Generator, scale: float = 255.0) -> Callable[[], object]:
    """`Target.timed_call` for the reference: one call on a fixed random input (values 0..scale)."""
    artifact = open_reference(path, threads)
    image = (rng.random(artifact.input_shape) * scale).astype(np.float32)
    return lambda: artifact(image)
