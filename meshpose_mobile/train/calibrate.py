"""Two decoding numbers chosen after training, on synthetic validation bodies (issue 22): Eq. 7's
fusion shift and the heatmap gain.

**The fusion shift.** Eq. 7 mixes each vertex's heatmap position p and regressed position r by its
visibility w, which training fits as the probability that the vertex is seen. That is the right
weight only if p is useless where the vertex is hidden. On meshpose_blaze it is not: r comes from
one pooled 2 x 2 map and is about twice as far off as p even on the vertices inside the crop that
the body hides (shipped weights, 160 validation bodies, in-crop error: p 13.6-24.7 px by framing,
r 27.4-43.9, the fused mesh 13.9-29.5). So w is re-weighted once training is done: Eq. 7 uses
sigmoid(logit + shift) instead of sigmoid(logit), where shift is the one of `FUSION_SHIFTS` with
the lowest 2-D error over *every* vertex (`v2d_all_px`, the whole mesh, including the vertices
outside the crop, which only r can place), among the shifts that do not raise the error over the
vertices inside the crop (`v2d_px`). The `visibility` output keeps the trained probability (the
trackers and overlays read it as one).

Eq. 1 decodes each vertex as the expectation of softmax(gain * S) over the heatmap cells. A
trained network makes its heatmaps sharper than its accuracy needs: on the shipped meshpose_blaze
(trained at gain 10) the synthetic validation error is the same at gain 4 (18.39 px, 160 bodies)
and 0.4 % higher at 3.5 (18.47 px), while the worst move under one grey level of input noise on
12 validation bodies falls from 12.5 to 4.8 px at 3.5. Where a vertex's heatmap has two nearly
equal modes, a tiny change of the scores moves its expectation by about gain * (distance between
the modes) * (the two modes' mass product), so a lower gain makes that jump proportionally
smaller, and the single peaks that make up most vertices barely notice. So the gain is re-chosen
once training is done: the lowest of `GAIN_FACTORS` times the training gain whose 2-D vertex
error on the validation stream stays within `GAIN_TOLERANCE` of the training gain's. Only
synthetic validation bodies choose it; real photos never do.

Both live in `ModelConfig`, so the chosen values travel in the checkpoint and reach the deployment
graph (the gain folded into the heatmap convolution, the shift one constant add) and every
artifact with nothing else to change. The shift is chosen first, at the training gain, and the
gain then on the shifted model. `benchmarks/calibrate_decode.py` applies both to a checkpoint, and
`benchmarks/ship_blaze.py` to the weights it ships.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from meshpose_mobile.model import MeshPose
from meshpose_mobile.train.config import TrainConfig
from meshpose_mobile.train.data import Collate
from meshpose_mobile.train.loop import evaluate

# Multiples of the training gain tried, highest first (the first is the training gain itself).
GAIN_FACTORS = (1.0, 0.7, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2)
# How much worse than at the training gain the validation 2-D vertex error may get (relative).
# 0.5 %: on the shipped meshpose_blaze the error is flat from 1.0 to 0.4x (18.33-18.39 px) and
# rises past 0.35x (18.47, then 18.61 at 0.3x and 19.62 at 0.2x); 0.5 % stops at the knee.
GAIN_TOLERANCE = 0.005
METRIC = "v2d_px"
# Shifts of the visibility logit tried for Eq. 7's weight (0 first: Eq. 7 as trained). Natural-log
# odds: +1.5 turns w = 0.5 into 0.82 and w = 0.1 into 0.33.
FUSION_SHIFTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
FUSION_METRIC = "v2d_all_px"


@dataclass(frozen=True)
class FusionChoice:
    """The chosen shift and what every candidate scored: (shift, `FUSION_METRIC`, `METRIC`)."""

    shift: float
    training_shift: float
    bodies: int
    scores: tuple[tuple[float, float, float], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fusion_shift": self.shift,
            "training_shift": self.training_shift,
            "rule": f"the shift with the lowest validation {FUSION_METRIC} among those whose {METRIC} is no higher "
            "than the training shift's (meshpose_mobile/train/calibrate.py)",
            "validation_bodies": self.bodies,
            "scores": [{"fusion_shift": d, FUSION_METRIC: round(a, 4), METRIC: round(v, 4)} for d, a, v in self.scores],
        }


@dataclass(frozen=True)
class GainChoice:
    """The chosen gain and what every candidate scored (`METRIC` on the validation bodies)."""

    gain: float
    training_gain: float
    tolerance: float
    bodies: int
    scores: tuple[tuple[float, float], ...]  # (gain, v2d_px), in the order tried
    # Set when the gain was fixed instead of chosen by the rule: why, and what the rule chose.
    fixed_why: str = ""
    rule_gain: float | None = None

    def to_dict(self) -> dict[str, Any]:
        rule = (
            f"the lowest gain whose validation {METRIC} is within {self.tolerance:.1%} of the training "
            "gain's (meshpose_mobile/train/calibrate.py)"
        )
        if self.fixed_why:
            rule = f"fixed at {self.gain:g}, not the rule's {self.rule_gain:g} ({rule}): {self.fixed_why}"
        return {
            "gain": self.gain,
            "training_gain": self.training_gain,
            "rule": rule,
            "validation_bodies": self.bodies,
            "scores": [{"gain": g, METRIC: round(v, 4)} for g, v in self.scores],
        }


def _score_each(
    model: MeshPose, bodies: Sequence[dict[str, Any]], config: TrainConfig, name: str, values: Sequence[float]
) -> list[dict[str, float]]:
    """The validation metrics of `model` with its config's `name` set to each of `values` in turn;
    the model keeps its own value (its forward reads the config, so nothing is rebuilt)."""
    own = model.config
    collate = Collate(own, config.loss.silhouette_pad, silhouette=False)
    out = []
    try:
        for value in values:
            model.config = dataclasses.replace(own, **{name: float(value)})
            out.append(evaluate(model, list(bodies), collate, config, torch.device("cpu")))
    finally:
        model.config = own
    return out


def with_gain(model: MeshPose, gain: float) -> MeshPose:
    """`model` decoding with another gain (the same module: its forward reads the config)."""
    model.config = dataclasses.replace(model.config, gain=float(gain))
    return model


def with_fusion_shift(model: MeshPose, shift: float) -> MeshPose:
    """`model` fusing with another shift (the same module: its forward reads the config)."""
    model.config = dataclasses.replace(model.config, fusion_shift=float(shift))
    return model


@torch.no_grad()
def choose_fusion_shift(
    model: MeshPose,
    bodies: Sequence[dict[str, Any]],
    config: TrainConfig,
    *,
    shifts: Sequence[float] = FUSION_SHIFTS,
) -> FusionChoice:
    """Score `model` on `bodies` at each shift (added to its own); the model keeps its own shift."""
    base = model.config.fusion_shift
    values = [base + delta for delta in shifts]
    scored = _score_each(model, bodies, config, "fusion_shift", values)
    scores = [(d, float(m[FUSION_METRIC]), float(m[METRIC])) for d, m in zip(values, scored, strict=True)]
    reference = next((v for d, _, v in scores if d == base), scores[0][2])
    allowed = [(a, d) for d, a, v in scores if v <= reference]
    chosen = min(allowed)[1] if allowed else base
    return FusionChoice(chosen, base, len(bodies), tuple(scores))


@torch.no_grad()
def choose_gain(
    model: MeshPose,
    bodies: Sequence[dict[str, Any]],
    config: TrainConfig,
    *,
    factors: Sequence[float] = GAIN_FACTORS,
    tolerance: float = GAIN_TOLERANCE,
    fixed: float | None = None,
    fixed_why: str = "",
) -> GainChoice:
    """Score `model` on `bodies` at each factor times its gain; the model keeps its own gain.
    `fixed` (with `fixed_why`, both recorded) overrides the rule's choice and is scored too: a gain
    picked for something the validation error does not see, such as the one-grey-level jitter."""
    base = model.config.gain
    values = [base * factor for factor in factors]
    gain = None
    if fixed is not None:
        problem = fixed_gain_problem(fixed, fixed_why)
        if problem:
            raise ValueError(problem)
        gain = next((v for v in values if abs(v - fixed) < 1e-9), None)
        if gain is None:
            gain = float(fixed)
            values.append(gain)
    scored = _score_each(model, bodies, config, "gain", values)
    scores = [(g, float(m[METRIC])) for g, m in zip(values, scored, strict=True)]
    reference = dict(scores).get(base, scores[0][1])
    # The rule looks at the factors' gains only, not at a fixed gain appended after them.
    within = [g for g, v in scores[: len(factors)] if v <= reference * (1.0 + tolerance)]
    chosen = min(within) if within else base
    if gain is None:
        return GainChoice(chosen, base, tolerance, len(bodies), tuple(scores))
    return GainChoice(gain, base, tolerance, len(bodies), tuple(scores), fixed_why.strip(), chosen)


def gain_problem(gain: float) -> str | None:
    """What is wrong with a heatmap gain given by hand, or None (every script's --gain reads it)."""
    if not (math.isfinite(gain) and gain > 0):
        return f"a fixed gain must be a finite number above 0, got {gain!r} (the shipped meshpose_blaze decodes at 3)"
    return None


def fixed_gain_problem(gain: float, why: str) -> str | None:
    """What is wrong with a gain fixed by hand (`choose_gain(fixed=...)`), or None: the one check
    `choose_gain` and the scripts' --gain / --gain-why share (they run it before minutes of scoring)."""
    problem = gain_problem(gain)
    if problem:
        return problem
    if not why.strip():
        return "a fixed gain needs its reason (--gain-why), which the checkpoint's record keeps"
    return None


@dataclass(frozen=True)
class DecodeCalibration:
    """What `calibrate` chose; `records` is what a checkpoint's `extra` keeps of it."""

    fusion: FusionChoice | None
    gain: GainChoice | None

    def records(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.fusion is not None:
            out["fusion_calibration"] = self.fusion.to_dict()
        if self.gain is not None:
            out["gain_calibration"] = self.gain.to_dict()
        return out


def calibrate(
    model: MeshPose,
    bodies: Sequence[dict[str, Any]],
    config: TrainConfig,
    *,
    fusion: bool = True,
    gain: bool = True,
    fixed_gain: float | None = None,
    fixed_gain_why: str = "",
) -> DecodeCalibration:
    """Choose the fusion shift (at the training gain), then the gain (with that shift; `fixed_gain`
    overrides the rule, see `choose_gain`), and apply both to `model`: the one sequence
    `calibrate_decode.py` and `ship_blaze.py` share."""
    fused = choose_fusion_shift(model, bodies, config) if fusion else None
    if fused is not None:
        with_fusion_shift(model, fused.shift)
    gained = choose_gain(model, bodies, config, fixed=fixed_gain, fixed_why=fixed_gain_why) if gain else None
    if gained is not None:
        with_gain(model, gained.gain)
    return DecodeCalibration(fused, gained)
