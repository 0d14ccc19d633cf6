"""The small interface every export target implements, and the registry that holds them.

A target knows: its name, file suffix and precisions; how to turn the deployment graph into a file
(`export`); how to open that file as an `Artifact`, a callable that needs no PyTorch graph
(`open`, through `load_executor`); what can be checked about the file without running it
(`verify`); and how far its outputs may drift from PyTorch (`tolerance`). Parity, predict, bench
and the CLIs are written once against this interface and ask the registry (`get_target`,
`list_targets`, `target_for`), so adding a format is one module plus `register_target`.

Targets outside this package register from a module named in the `MESHPOSE_EXPORT_TARGETS`
environment variable (comma-separated; it reaches the bench's timing subprocesses too) or from
an entry point of the group `meshpose_export.targets`.
"""

from __future__ import annotations

import abc
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from meshpose_export.artifact import Artifact, ArtifactError, Executor, NotRunnableHere, Outputs, Runner
from meshpose_export.sidecar import Sidecar
from meshpose_mobile.errors import ConfigError, MeshPoseError

if TYPE_CHECKING:
    from meshpose_mobile.deploy import MeshPoseDeploy

__all__ = [
    "Artifact",
    "Check",
    "ExportContext",
    "Outputs",
    "Precision",
    "Runner",
    "StandIn",
    "Target",
    "TargetName",
    "Tolerance",
    "get_target",
    "list_targets",
    "register_target",
    "target_for",
]

PLUGIN_ENV = "MESHPOSE_EXPORT_TARGETS"
ENTRY_POINT_GROUP = "meshpose_export.targets"


class TargetName(StrEnum):
    """The built-in targets (a registered plugin brings its own name)."""

    ONNX = "onnx"
    COREML = "coreml"
    TFLITE = "tflite"


class Precision(StrEnum):
    """Every precision any target offers; each target lists the ones it has."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8_DYNAMIC = "int8_dynamic"
    INT8_FULL = "int8_full"
    W8 = "w8"
    PAL8 = "pal8"
    PAL6 = "pal6"


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


@dataclass(frozen=True)
class StandIn:
    """Where an artifact cannot run here: a runner with the artifact's arithmetic and weights, so
    parity still gives pixel numbers, labelled by `note` as not the artifact's own."""

    runner: Runner
    note: str


@dataclass(frozen=True)
class ExportContext:
    """What an export needs besides the graph: metadata to embed and a scratch folder."""

    metadata: Mapping[str, str]
    workdir: Path
    calibration: np.ndarray | None = None  # (N, 3, H, W) 0..255 crops, for quantisation
    planned: tuple[str, ...] = ()  # every precision this run will export for the target


class Target(abc.ABC):
    name: str
    precisions: tuple[Precision, ...]
    # What `--precision` means when not given: the files most users want from this target.
    recommended: tuple[Precision, ...]
    suffix: str
    # How the artifact's input tensor is laid out, for the sidecar the apps read.
    input_layout: str
    # The runtime that executes the artifact, as bench rows name it, and its compute label there.
    runtime: str
    bench_compute: str = "cpu"

    def artifact_name(self, variant: str, precision: str) -> str:
        return f"{variant}_{precision}{self.suffix}"

    def claims(self, path: Path) -> bool:
        """Whether `path` is an artifact of this target (by its suffix)."""
        return path.name.lower().endswith(self.suffix)

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
    def load_executor(self, path: Path, sidecar: Sidecar, threads: int | None) -> Executor:
        """What runs the file on this machine; raise `NotRunnableHere(reason)` where nothing can."""

    @abc.abstractmethod
    def verify(self, artifact: Artifact, reference: MeshPoseDeploy) -> list[Check]:
        """Checks of the file that need no execution; `reference` is the graph it was made from."""

    @abc.abstractmethod
    def tolerance(self, precision: str) -> Tolerance:
        """Measured pass limits for this precision."""

    def open(self, path: str | Path, threads: int | None = None, *, sidecar: Sidecar | None = None) -> Artifact:
        """The artifact at `path` as a callable. Its sidecar (input spec, crop, precision) is read
        from beside the file unless given; the precision is the sidecar's, never the file's own."""
        path = Path(path)
        if not path.exists():
            raise ArtifactError(f"artifact not found: {path}; pass an exported artifact")
        side = sidecar if sidecar is not None else Sidecar.beside(path, self.suffix)
        executor, reason = None, ""
        try:
            executor = self.load_executor(path, side, threads)
        except NotRunnableHere as err:
            reason = str(err)
        except MeshPoseError:
            raise
        except Exception as err:  # runtimes raise their own types on a damaged file
            why = " ".join(str(err).split())[:150] or type(err).__name__
            raise ArtifactError(f"cannot load artifact {path} ({why}); re-export it") from None
        return Artifact(path, str(self.name), side.precision, side, executor, reason)

    def stand_in(self, artifact: Artifact, reference: MeshPoseDeploy) -> StandIn | None:
        """For parity only, where `artifact` cannot run here: see `StandIn`. None: no numbers."""
        return None

    def runs_here(self) -> bool:
        """Whether this machine can execute the format at all (bench's default runtimes)."""
        return True

    def runtime_versions(self) -> dict[str, str]:
        """Package -> version of what executes the format, for benchmark records."""
        return {}

    def import_runtime(self) -> None:  # noqa: B027 (optional hook; most runtimes import on open)
        """Import the runtime's libraries (bench measures memory above them)."""

    def timed_call(
        self, path: Path, threads: int, rng: np.random.Generator, scale: float = 255.0
    ) -> Callable[[], object]:
        """One inference on a fixed random input (values 0..scale), for latency timing."""
        artifact = self.open(path, threads)
        image = (rng.random(artifact.input_shape) * scale).astype(np.float32)
        return lambda: artifact(image)


_TARGETS: dict[str, Target] = {}
_loaded = False


def register_target(target: Target) -> Target:
    _TARGETS[str(target.name)] = target
    return target


def unregister_target(name: str) -> None:
    _TARGETS.pop(name, None)


def get_target(name: str) -> Target:
    _import_builtin()
    try:
        return _TARGETS[name]
    except KeyError:
        raise ConfigError(f"unknown target {name!r}; choose one of {', '.join(list_targets())} or all") from None


def list_targets() -> list[str]:
    _import_builtin()
    return list(_TARGETS)


def find_target(path: str | Path) -> Target | None:
    """The target whose artifact `path` is, or None."""
    _import_builtin()
    path = Path(path)
    return next((t for t in _TARGETS.values() if t.claims(path)), None)


def target_for(path: str | Path) -> Target:
    """The target that reads `path`, found from the file name."""
    target = find_target(path)
    if target is None:
        suffixes = ", ".join(t.suffix for t in _TARGETS.values())
        raise ConfigError(f"{Path(path).name} is no exported artifact ({suffixes}); pass a file meshpose-export wrote")
    return target


def _import_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from meshpose_export.targets import onnx_target, tflite_target  # noqa: F401
    from meshpose_export.targets.coreml import target as coreml_target  # noqa: F401

    for module in filter(None, (m.strip() for m in os.environ.get(PLUGIN_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"{PLUGIN_ENV} names {module!r}, which cannot be imported ({err})") from None
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
