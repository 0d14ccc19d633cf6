"""User-facing errors.

Every error a user can cause by a bad file, flag or config derives from `MeshPoseError`; the CLIs
print its message on one line and exit non-zero, so the message must name the problem and the fix.
Programming errors stay ordinary exceptions and keep their tracebacks.
"""

from __future__ import annotations


class MeshPoseError(Exception):
    """Base class of errors caused by user input; `str(err)` is the one-line message shown."""

    exit_code = 2


class TopologyError(MeshPoseError):
    """A topology file is missing, unreadable or inconsistent."""


class ConfigError(MeshPoseError):
    """A model or export configuration value is invalid."""


class CheckpointError(MeshPoseError):
    """A checkpoint is missing, truncated, or does not fit the requested model."""


class DataError(MeshPoseError):
    """A dataset or annotation file (DensePose-COCO, pseudo ground truth) is missing or malformed."""


class ExportError(MeshPoseError):
    """A conversion to a target format failed."""


class ModelFileError(MeshPoseError):
    """A third-party model file (e.g. BlazePose's .tflite) is damaged or is not the one expected."""
