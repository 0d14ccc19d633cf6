"""Release budgets: tighter parity limits for the exact weights files the project ships.

A target's tolerance (`Target.tolerance`) has to hold for any weights a user converts, so it is
set by the most sensitive trained network measured (meshpose_xs: float16 moves its mesh 3.5 px,
because one grey level of input moves it 100 px). A shipped file is known: its float16 error was
measured when it shipped, so a converter change that made it several times worse would still pass
the generic budget unnoticed. Here each shipped file, named by the SHA-256 of its bytes, gets the
limits its release measurement supports, with the figures and where they came from; a different
file (a user's checkpoint, the next shipped weights before this table is updated) gets none and
is judged by the target's budget alone. `tests/test_budgets.py` fails when a shipped file changes
without this table following.

Budgets only ever tighten: `parity.check` takes the smaller of the two limits, field by field.
Each is the release figure with at least 2x headroom (other CPUs' float16 and summation kernels
move these numbers by a fraction of that; docs/design.md, "Golden files across CPUs"), never a
last-bit fit to one machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from meshpose_export.targets.base import Tolerance
from meshpose_mobile.paths import file_sha256


@dataclass(frozen=True)
class ReleaseBudget:
    """A parity limit for one shipped file at one target and precision, with its evidence."""

    tolerance: Tolerance
    measured: str  # the release figures, worst of vertices / vertices_2d, max / p99 px
    source: str  # the file and the run that measured them


_BLAZE_STAGE7 = (
    "meshpose_blaze_synth.pt (stage 7, shipped 2026-12-05): meshpose-export --precision all, "
    "2-core AMD EPYC, this project's pins"
)

# SHA-256 of the shipped file -> {"target/precision": budget}.
# Only where the release figure with 2x headroom is under the target's budget: CoreML w8 measured
# 4.84 / 2.85 px there, so its 8 / 4 px budget stays; the failing int8 and palettised forms and the
# float32 ones (already at converter-bug level) have no entry. meshpose_xs_synth.pt has none: its
# float16 figures (3.49 / 1.21 px) set the targets' 5 / 2 px budgets in the first place.
# The stage-5 file (d7fadc3d..., git c1a8493) had CoreML fp16 2.0 / 1.5 px from 0.96 / 0.67 px.
RELEASE_BUDGETS: dict[str, dict[str, ReleaseBudget]] = {
    "22cb8c38a00eed524c0dea4f4e5f85f288d8fb1689f856c78f4b5fbb41c5699a": {
        # Issue 22's float16 aim is 0.5 px max; this file meets it on TFLite, so that is the budget.
        # Its p99 0.152 px gets 0.35 (2x headroom, not the stage-5 file's 0.3).
        "tflite/fp16": ReleaseBudget(
            Tolerance(max_px=0.5, p99_px=0.35, visibility=1e-3),
            "vertices 0.202 / 0.152 px, vertices_2d 0.229 / 0.131 px, visibility 3e-4",
            _BLAZE_STAGE7,
        ),
        # Executed by the MIL interpreter (each op rounded to float16); Core ML's own float16
        # kernels are not measured here, so the budget is the interpreter's figure with headroom.
        # With OMP_NUM_THREADS=1 (PyTorch and NumPy on one thread) 1.402 / 1.179 px: one float16
        # rounding flipped by a last float32 bit moves this network tenths of a pixel (docs/design.md,
        # "CoreML float16: where the last pixel comes from"). 2x the worse reading is 2.81 px: 2.9; the p99
        # keeps the target's 2 px (1.7x the one-thread reading).
        "coreml/fp16": ReleaseBudget(
            Tolerance(max_px=2.9, p99_px=2.0, visibility=5e-3),
            "vertices 1.329 / 0.980 px (one thread 1.402 / 1.179), vertices_2d 0.799 / 0.557 px, visibility 2.5e-3",
            _BLAZE_STAGE7,
        ),
    },
}


def release_budgets(weights: Path | None) -> dict[str, ReleaseBudget]:
    """The budgets of the weights file at `weights` ({} for a file this table does not know)."""
    if weights is None or not weights.is_file():
        return {}
    return dict(RELEASE_BUDGETS.get(file_sha256(weights), {}))


def tighter(generic: Tolerance, budget: ReleaseBudget | None) -> Tolerance:
    """The smaller limit of each field: a release budget can only tighten the target's."""
    if budget is None:
        return generic
    b = budget.tolerance
    return Tolerance(
        max_px=min(generic.max_px, b.max_px),
        p99_px=min(generic.p99_px, b.p99_px),
        visibility=min(generic.visibility, b.visibility),
    )
