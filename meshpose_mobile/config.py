"""Model configuration: everything that fixes a MeshPose network's shapes and its decoding numbers.

The config travels inside every checkpoint and every artifact's metadata, so it is a frozen
dataclass with a plain-dict form (`to_dict` / `from_dict`) that survives JSON.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from meshpose_mobile.errors import ConfigError

AXES = ("x", "y", "z")


@dataclass(frozen=True)
class ModelConfig:
    """Shapes and decoding constants of one MeshPose network.

    Pixel conventions: a crop pixel's centre has integer coordinates, the top-left pixel's centre
    is (0, 0). Heatmap cell (i, j) sits at pixel
    ``(stride * (j + cell_offset) + pixel_offset, stride * (i + cell_offset) + pixel_offset)``.
    The project's convention (cell centres, method.md Eq. 1) is ``cell_offset=0.5,
    pixel_offset=-0.5``; the released model's is ``0.0, 0.0`` (integer cell index times stride).

    Regressed coordinates use bin centres ``lo + (hi - lo) / bins * (b + bin_offset)`` per axis,
    in crop pixels; z is depth relative to an arbitrary origin, in pixel units.
    """

    variant: str
    backbone: str
    num_vertices: int
    topology: str = "default"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    input_height: int = 256
    input_width: int = 192
    heatmap_stride: int = 4
    # Temperature beta of Eq. 1; folded into the heatmap convolution for deployment.
    gain: float = 1.0
    # Added to the visibility logit where Eq. 7 weighs the heatmap position p against the regressed
    # r (the `visibility` output stays the trained probability). Chosen after training on synthetic
    # validation bodies (train/calibrate.py); 0 is Eq. 7 as trained.
    fusion_shift: float = 0.0
    num_bins: int = 64
    # Width of the 'indexed' axis of the regression branch: pooled C -> head_mid * num_bins -> K.
    head_mid: int = 256
    x_range: tuple[float, float] = (-96.0, 288.0)
    y_range: tuple[float, float] = (-128.0, 640.0)
    z_range: tuple[float, float] = (-192.0, 192.0)
    bin_offset: float = 0.5
    cell_offset: float = 0.5
    pixel_offset: float = -0.5
    foreground_head: bool = True
    seam_average: bool = False
    # Per-channel normalisation of 0..255 RGB input: (pixel / 255 - mean) / std.
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    # RGB 0..255 the crop reads outside the photo (`CropContract.border_value`): part of the input
    # the network was trained on, like mean and std. The released model's import sets its demo's
    # (127.5, 0, 0).
    crop_border: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        self.validate()

    # --- derived numbers -------------------------------------------------------------------
    @property
    def heatmap_height(self) -> int:
        return self.input_height // self.heatmap_stride

    @property
    def heatmap_width(self) -> int:
        return self.input_width // self.heatmap_stride

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, self.input_height, self.input_width)

    def range_of(self, axis: str) -> tuple[float, float]:
        return {"x": self.x_range, "y": self.y_range, "z": self.z_range}[axis]

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    # --- checks ------------------------------------------------------------------------------
    @classmethod
    def check_field(cls, name: str, value: Any) -> None:
        """`value`'s type for field `name` (ConfigError naming the field and the type it takes):
        a checkpoint's config or a `--set model.x=...` override is data from outside."""
        kind = _FIELD_KINDS.get(name)
        if kind is None:
            raise ConfigError(f"model config: unknown field {name}; valid: {', '.join(_FIELD_KINDS)}")
        ok, what = _KIND_CHECKS[kind](value), _KIND_NAMES[kind]
        if not ok:
            raise ConfigError(f"model config: {name}={value!r} must be {what}")

    def validate(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"model config: {name}={getattr(self, name)!r} {why}")

        for f in dataclasses.fields(self):
            self.check_field(f.name, getattr(self, f.name))

        for name in ("num_vertices", "input_height", "input_width", "heatmap_stride", "num_bins", "head_mid"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise bad(name, "must be a positive integer")
        # Every backbone reaches at least stride 16 internally; other sizes would not divide evenly
        # (HRNet needs 32, checked by the model against its backbone).
        for name in ("input_height", "input_width"):
            if getattr(self, name) % 16:
                raise bad(name, "must be a multiple of 16 (the backbones' deepest stride)")
        if self.heatmap_stride not in (4, 8):
            raise bad("heatmap_stride", "must be 4 or 8, the stride of the backbone's dense features")
        if not self.gain > 0:
            raise bad("gain", "must be > 0")
        if not math.isfinite(self.fusion_shift):
            raise bad("fusion_shift", "must be a finite number")
        for axis in AXES:
            lo, hi = self.range_of(axis)
            if not hi > lo:
                raise bad(f"{axis}_range", "must be (lo, hi) with hi > lo")
        for name in ("mean", "std"):
            value = getattr(self, name)
            if len(value) != 3:
                raise bad(name, "must have 3 values (R, G, B)")
        if min(self.std) <= 0:
            raise bad("std", "must be > 0 per channel")
        object.__setattr__(self, "crop_border", as_border(self.crop_border))

    # --- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.crop_border == (0.0, 0.0, 0.0):
            # Defaults are left out, so checkpoints of our models stay readable by earlier versions.
            del d["crop_border"]
        if self.fusion_shift == 0.0:
            del d["fusion_shift"]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        if not isinstance(data, dict):
            raise ConfigError("model config must be a mapping of field names to values")
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"model config: unknown field(s) {', '.join(unknown)}; valid: {', '.join(names)}")
        kwargs = {}
        for key, value in data.items():
            if isinstance(value, list):
                # Numbers become floats; anything else stays as it is for `check_field` to name.
                value = tuple(float(v) if _is_number(v) else v for v in value)
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except TypeError as err:
            raise ConfigError(f"model config: {err}") from None


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _numbers(n: int) -> Any:
    return lambda v: isinstance(v, tuple | list) and len(v) == n and all(_is_number(x) for x in v)


# Field -> kind; `check_field` names the kind in its message.
_FIELD_KINDS = {
    "variant": "name",
    "backbone": "name",
    "num_vertices": "int",
    "topology": "name",
    "backbone_kwargs": "table",
    "input_height": "int",
    "input_width": "int",
    "heatmap_stride": "int",
    "gain": "number",
    "fusion_shift": "number",
    "num_bins": "int",
    "head_mid": "int",
    "x_range": "pair",
    "y_range": "pair",
    "z_range": "pair",
    "bin_offset": "number",
    "cell_offset": "number",
    "pixel_offset": "number",
    "foreground_head": "bool",
    "seam_average": "bool",
    "mean": "triple",
    "std": "triple",
    "crop_border": "border",
}
_KIND_CHECKS = {
    "name": lambda v: isinstance(v, str) and bool(v.strip()),
    "int": lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    "number": _is_number,
    "bool": lambda v: isinstance(v, bool),
    "table": lambda v: isinstance(v, dict),
    "pair": _numbers(2),
    "triple": _numbers(3),
    "border": lambda v: _is_number(v) or _numbers(3)(v),
}
_KIND_NAMES = {
    "name": "a non-empty string",
    "int": "an integer",
    "number": "a finite number",
    "bool": "true or false",
    "table": "a table (JSON object) of keyword arguments",
    "pair": "a list of two finite numbers [lo, hi]",
    "triple": "a list of three finite numbers [R, G, B]",
    "border": "one number or a list of three [R, G, B] in 0..255",
}


# A crop's border fill (R, G, B): the model config and the crop contract both hold one.
Border = tuple[float, float, float]


def as_border(value: Any) -> Border:
    """A border fill as (R, G, B) floats; one number means all three channels."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        values: list[Any] = [value] * 3
    elif isinstance(value, list | tuple | np.ndarray) and len(value) == 3:
        values = list(value)
    else:
        raise ConfigError(f"crop border_value {value!r} must be one number or three (R, G, B) in 0..255")
    ok = all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in values)
    if not ok or not all(0.0 <= float(v) <= 255.0 for v in values):
        raise ConfigError(f"crop border_value {value!r} must be three finite numbers (R, G, B) in 0..255")
    return (float(values[0]), float(values[1]), float(values[2]))
