"""An exported artifact opened for use: a callable with its input spec, sidecar, target and precision.

`Target.open(path)` returns one; parity, predict and bench only ever call it. It needs no PyTorch
graph: everything it knows comes from the file and the sidecar beside it. Where this machine
cannot execute the format (CoreML off macOS), `can_run` is False, `reason` says why, and calling it
raises `NotRunnableHere` with that reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshpose_export.sidecar import Sidecar
from meshpose_mobile.errors import MeshPoseError

Outputs = dict[str, np.ndarray]
# image (1, 3, H, W) float32 RGB 0..255 -> named outputs, as the PyTorch deployment graph returns them.
Runner = Callable[[np.ndarray], Outputs]


class ArtifactError(MeshPoseError):
    """An artifact file that cannot be opened or fed (missing, damaged, wrong input)."""


class NotRunnableHere(ArtifactError):
    """The format has no runtime on this machine (e.g. CoreML on Linux); the message says which."""


@dataclass(frozen=True)
class Executor:
    """What runs an artifact's file. `note` is empty when the format's own runtime runs it, else it
    says plainly what executes it instead (so reports never blur the two)."""

    run: Runner
    note: str = ""


@dataclass(frozen=True, eq=False)
class Artifact:
    path: Path
    target: str
    precision: str
    sidecar: Sidecar
    executor: Executor | None = None
    reason: str = ""  # why it cannot run here, when `executor` is None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def can_run(self) -> bool:
        return self.executor is not None

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """The shape the callable takes (always NCHW RGB 0..255, whatever the file's own layout)."""
        return (1, 3, self.sidecar.input.height, self.sidecar.input.width)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.sidecar.outputs)

    def __call__(self, image: np.ndarray) -> Outputs:
        if self.executor is None:
            raise NotRunnableHere(f"{self.name} cannot run on this machine: {self.reason}")
        if tuple(np.shape(image)) != self.input_shape:
            got = tuple(np.shape(image))
            raise ArtifactError(f"{self.name} takes an image of shape {self.input_shape} (NCHW RGB 0..255), got {got}")
        return self.executor.run(image)
