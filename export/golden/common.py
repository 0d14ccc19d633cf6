"""What every golden file shares: the header, rounding, the conventions' wording."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO / "golden"
GOLDEN_FORMAT = "meshpose-golden"
GOLDEN_VERSION = 1
DECIMALS = 6

# Error kinds the platform readers raise; the vectors name the kind each invalid case must raise.
SIDECAR_ERRORS = ("not_a_sidecar", "unsupported_version", "missing_field", "missing_output", "invalid_value")


class GoldenCaseError(Exception):
    """A case the reference rejects; `kind` is the error kind the platform code must report."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _r(value: Any, decimals: int | None = DECIMALS) -> Any:
    """Round floats (numpy or not) recursively (None: only make them plain floats); ints, bools,
    strings and None pass through."""
    if isinstance(value, dict):
        return {k: _r(v, decimals) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_r(v, decimals) for v in value]
    if isinstance(value, np.ndarray):
        return _r(value.tolist(), decimals)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value) if decimals is None else round(float(value), decimals)
        return 0.0 if v == 0 else v  # no "-0.0"
    return value


def _flat(a: np.ndarray) -> list[float]:
    return _r(np.asarray(a, dtype=np.float64).ravel())


def _doc(area: str, description: str, conventions: dict[str, str], cases: list[dict[str, Any]], **extra: Any):
    return {
        "format": GOLDEN_FORMAT,
        "format_version": GOLDEN_VERSION,
        "area": area,
        "generator": "scripts/make_golden.py",
        "description": description,
        "conventions": conventions,
        **extra,
        "cases": cases,
    }


PIXELS = "image pixels; pixel centres at integer coordinates, top-left pixel centre (0, 0) (meshpose_mobile/crop.py)"
BOX = "COCO xywh in image pixels: top-left corner x, y, width, height; the whole image is (-0.5, -0.5, W, H)"
MATRIX = "2x3 affine as rows [[a, b, tx], [c, d, ty]]: x' = a x + b y + tx, y' = c x + d y + ty"
FLAT = "arrays are flat, row-major (C order); `shape` gives the dimensions"


def schema_name(file_name: str) -> str:
    """The JSON Schema of a golden file: `crop.json` -> `golden-crop` (golden/schema/golden-crop.schema.json)."""
    return "golden-" + file_name.removesuffix(".json")
