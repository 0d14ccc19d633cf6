"""The small interface every export target implements, and the registry that holds them.

A target knows four things: its name, how to turn the deployment graph into a file (`export`),
how to load that file back as a callable (`load`), and how far its outputs may drift from PyTorch
(`tolerance`). Everything else (parity, reports, the CLI) is written once against this interface.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from meshpose_mobile.deploy import MeshPoseDeploy
from meshpose_mobile.errors import ConfigError

Outputs = dict[str, np.ndarray]
# A loaded artifact: image (1, 3, H, W) float32 RGB 0..255 -> named outputs, as PyTorch's graph.
Runner = Callable[[np.ndarray], Outputs]


@dataclass(frozen=True)
class Tolerance:
    """Pass limits, in crop pixels for vertex outputs and in probability for visibility.

    Each number comes from measurement (docs/design.md, "Tolerances") with headroom; `max_px`
    bounds the worst vertex over all parity inputs, `p99_px` the 99th percentile.
    """

    max_px: float
    p99_px: float
    visibility: float


@dataclass(frozen=True)
class Check:
    """A static check of an artifact that does not need to run it (e.g. CoreML on Linux)."""

    name: str
    passed: bool
    detail: str


@dataclass
class Loaded:
    """An artifact loaded back. `runner` is None where this machine cannot execute the format;
    then `reason` says why, and `checks` hold what could be verified without running it."""

    runner: Runner | None
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    # Where the artifact cannot run: a PyTorch stand-in with the artifact's arithmetic (e.g. FP16
    # compute), so the report still gives pixel numbers, labelled as simulated.
    simulator: Runner | None = None
    simulator_note: str = ""


@dataclass(frozen=True)
class ExportContext:
    """What an export needs besides the graph: metadata to embed and a scratch folder."""

    metadata: Mapping[str, str]
    workdir: Path
    calibration: np.ndarray | None = None  # (N, 3, H, W) 0..255 crops, for quantisation
    planned: tuple[str, ...] = ()  # every precision this run will export for the target


class Target(abc.ABC):
    name: str
    precisions: tuple[str, ...]
    # What `--precision` means when not given: the files most users want from this target.
    recommended: tuple[str, ...]
    suffix: str
    # How the artifact's input tensor is laid out, for the sidecar the apps read.
    input_layout: str

    def artifact_name(self, variant: str, precision: str) -> str:
        return f"{variant}_{precision}{self.suffix}"

    def check_precision(self, precision: str) -> None:
        if precision not in self.precisions:
            raise ConfigError(
                f"target {self.name} has no precision {precision!r}; choose one of {', '.join(self.precisions)}"
            )

    def output_dtype(self, precision: str) -> str:
        """The element type of the artifact's outputs, as the sidecar states it."""
        return "float32"

    def deploy_kwargs(self) -> dict[str, bool]:
        """Which deployment form of the model this target converts (see `MeshPose.deploy`)."""
        return {}

    @abc.abstractmethod
    def export(self, graph: MeshPoseDeploy, out_path: Path, precision: str, ctx: ExportContext) -> Path:
        """Write the artifact at `out_path` (a file or a bundle folder) and return it."""

    @abc.abstractmethod
    def load(self, path: Path, graph: MeshPoseDeploy) -> Loaded:
        """Load an artifact written by `export`; `graph` is the reference it was made from."""

    @abc.abstractmethod
    def tolerance(self, precision: str) -> Tolerance:
        """Measured pass limits for this precision."""


_TARGETS: dict[str, Target] = {}


def register_target(target: Target) -> Target:
    _TARGETS[target.name] = target
    return target


def get_target(name: str) -> Target:
    _import_builtin()
    try:
        return _TARGETS[name]
    except KeyError:
        raise ConfigError(f"unknown target {name!r}; choose one of {', '.join(list_targets())} or all") from None


def list_targets() -> list[str]:
    _import_builtin()
    return list(_TARGETS)


def _import_builtin() -> None:
    from meshpose_export.targets import coreml_target, onnx_target, tflite_target  # noqa: F401
