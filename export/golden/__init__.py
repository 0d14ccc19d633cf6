"""The golden vectors in golden/ that the iOS and Android core tests read, written from this
project's own code, one module per file (`python -m meshpose_export.golden [--check]`). Every file
is validated against its JSON Schema in golden/schema/ when written and when read back.

May import the layers below it (export core, targets, runtime, convert, bench) and the model core;
only the CLI layer sits above it, and nothing imports it but tests and its own entry point.
"""

from __future__ import annotations

from meshpose_export.golden.build import build_all, dumps, write_all
from meshpose_export.golden.check import (
    EXACT,
    PARITY_TOLERANCE_PX,
    RUNTIME_TOLERANCE,
    decode_difference,
    first_difference,
    schema_problems,
    sidecar_difference,
    stale_files,
)
from meshpose_export.golden.common import GOLDEN_DIR, GoldenCaseError, schema_name
from meshpose_export.golden.crop import _image, crop_with_border
from meshpose_export.golden.decode import _decode_case, _output_entry, decode_expected, output_array
from meshpose_export.golden.sidecar import sidecar_view

__all__ = [
    "EXACT",
    "GOLDEN_DIR",
    "PARITY_TOLERANCE_PX",
    "RUNTIME_TOLERANCE",
    "GoldenCaseError",
    "_decode_case",
    "_image",
    "_output_entry",
    "build_all",
    "crop_with_border",
    "decode_difference",
    "decode_expected",
    "dumps",
    "first_difference",
    "output_array",
    "schema_name",
    "schema_problems",
    "sidecar_difference",
    "sidecar_view",
    "stale_files",
    "write_all",
]
