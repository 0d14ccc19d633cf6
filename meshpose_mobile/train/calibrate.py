"""The heatmap gain chosen after training, on synthetic validation bodies (issue 22).

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

The gain lives in `ModelConfig`, so the chosen value travels in the checkpoint and reaches the
deployment graph (folded into the heatmap convolution) and every artifact with nothing else to
change. `benchmarks/calibrate_gain.py` applies it to a checkpoint, and `benchmarks/ship_blaze.py`
to the weights it ships.
"""

from __future__ import annotations

import dataclasses
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


@dataclass(frozen=True)
class GainChoice:
    """The chosen gain and what every candidate scored (`METRIC` on the validation bodies)."""

    gain: float
    training_gain: float
    tolerance: float
    bodies: int
    scores: tuple[tuple[float, float], ...]  # (gain, v2d_px), in the order tried

    def to_dict(self) -> dict[str, Any]:
        return {
            "gain": self.gain,
            "training_gain": self.training_gain,
            "rule": f"the lowest gain whose validation {METRIC} is within {self.tolerance:.1%} of the training "
            "gain's (meshpose_mobile/train/calibrate.py)",
            "validation_bodies": self.bodies,
            "scores": [{"gain": g, METRIC: round(v, 4)} for g, v in self.scores],
        }


def with_gain(model: MeshPose, gain: float) -> MeshPose:
    """`model` decoding with another gain (the same module: its forward reads the config)."""
    model.config = dataclasses.replace(model.config, gain=float(gain))
    return model


@torch.no_grad()
def choose_gain(
    model: MeshPose,
    bodies: Sequence[dict[str, Any]],
    config: TrainConfig,
    *,
    factors: Sequence[float] = GAIN_FACTORS,
    tolerance: float = GAIN_TOLERANCE,
) -> GainChoice:
    """Score `model` on `bodies` at each factor times its gain; the model keeps its own gain."""
    base = model.config.gain
    collate = Collate(model.config, config.loss.silhouette_pad, silhouette=False)
    scores = []
    try:
        for factor in factors:
            gain = base * factor
            metrics = evaluate(with_gain(model, gain), list(bodies), collate, config, torch.device("cpu"))
            scores.append((gain, float(metrics[METRIC])))
    finally:
        with_gain(model, base)
    reference = dict(scores).get(base, scores[0][1])
    within = [g for g, v in scores if v <= reference * (1.0 + tolerance)]
    chosen = min(within) if within else base
    return GainChoice(chosen, base, tolerance, len(bodies), tuple(scores))
