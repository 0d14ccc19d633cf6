"""Data-prior initialisation of a fresh MeshPose's output layers (`TrainConfig.prior_init`).

A default-initialised network starts far from any body: the bin softmax of each regression branch
is nearly flat, so every regressed vertex starts at the middle of its range (y = H, the crop's
bottom edge, with the project's ranges), and the heatmap scores times the gain (10) make each
vertex's spatial softmax peak on a random cell (max probability ~0.4 on meshpose_xs), so VertexPose
starts on random cells and the gradient of the pixel losses reaches only a few of them. The
network then spends its first steps learning the mean body, which a CPU run cannot afford.

This sets, before the first step:

- each regression branch's last bias to the log of a Gaussian over the bins centred on the
  per-vertex mean of the training labels (x, y, and depth after centring, as the vertex loss
  sees it), with the labels' spread (at least one bin), and shrinks the input-dependent weights
  by `WEIGHT_SCALE`, so the network starts predicting the mean body and learns the deviation;
- the visibility bias so that w_k starts at `START_VISIBILITY` (Eq. 7 then trusts the prior
  until the heatmap has learnt something; the visibility loss raises it where it should);
- the heatmap layer scaled by `WEIGHT_SCALE`, so every spatial softmax starts nearly flat and
  gradients reach every cell.

Nothing here changes the architecture or the exported graph; only starting values.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from meshpose_mobile.config import AXES
from meshpose_mobile.errors import ConfigError
from meshpose_mobile.model import MeshPose
from meshpose_mobile.train.data import SampleSource

WEIGHT_SCALE = 0.1
START_VISIBILITY = 0.1
PRIOR_SAMPLES = 256
# Smallest spread of the prior Gaussian, as a fraction of the axis range. Its logits are
# u mu / sd^2 - u^2 / (2 sd^2): large terms that cancel. With a 2-bin floor (1/32 of the range) the
# first CPU-trained meshpose_xs had logits up to 334 and float16 compute (CoreML fp16) moved them
# by 0.5, 6.7 px of vertex error; at 1/8 of the range the terms stay below 64.
MIN_SPREAD = 0.125


def label_statistics(source: SampleSource, count: int = PRIOR_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) mean and std of the ground-truth vertices over the first `count` samples (depth centred)."""
    verts = []
    for i in range(min(count, len(source))):
        sample = source[i]
        if "vertices" not in sample:
            continue
        v = np.asarray(sample["vertices"], dtype=np.float64).copy()
        v[:, 2] -= v[:, 2].mean()
        verts.append(v)
    if not verts:
        raise ConfigError(
            "prior_init needs training samples with vertex labels (synthetic bodies or pseudo-GT); "
            "set prior_init = false, add data.pseudo_gt, or set data.add_synthetic = true"
        )
    stack = np.stack(verts)
    return stack.mean(axis=0), stack.std(axis=0)


@torch.no_grad()
def start_regression_at(
    model: MeshPose, mean: np.ndarray, std: np.ndarray, min_spread: float, weight_scale: float
) -> None:
    """Each axis' regression branch starts at a Gaussian over its bins centred on `mean` with
    spread `std` ((K, 3) crop pixels, depth centred), at least `min_spread` of the axis' range,
    keeping `weight_scale` of its input-dependent logits (`RegressionBranch.start_at`)."""
    cfg = model.config
    bins = cfg.num_bins
    # Bin position in [0, 1]; bin centres are lo + (hi - lo) * u.
    u = (torch.arange(bins, dtype=torch.float64) + cfg.bin_offset) / bins
    for i, axis in enumerate(AXES):
        lo, hi = cfg.range_of(axis)
        span = hi - lo
        mu = (torch.as_tensor(mean[:, i], dtype=torch.float64) - lo) / span
        sd = (torch.as_tensor(std[:, i], dtype=torch.float64) / span).clamp(min=min_spread)
        model.regression[axis].start_at(u, mu, sd, weight_scale)


@torch.no_grad()
def apply_prior(model: MeshPose, mean: np.ndarray, std: np.ndarray) -> None:
    """Start `model` at the label distribution (`mean`, `std`: (K, 3) crop pixels, depth centred)."""
    start_regression_at(model, mean, std, MIN_SPREAD, WEIGHT_SCALE)
    vis = model.regression["vis"]
    vis.conv2.weight.mul_(WEIGHT_SCALE)
    vis.conv2.bias.fill_(math.log(START_VISIBILITY / (1.0 - START_VISIBILITY)))
    model.heatmap.weight.mul_(WEIGHT_SCALE)
    model.heatmap.bias.mul_(WEIGHT_SCALE)


def prior_init(model: MeshPose, source: SampleSource, count: int = PRIOR_SAMPLES) -> dict[str, float]:
    """`apply_prior` from the first `count` samples of `source`; returns what it set (for the log)."""
    mean, std = label_statistics(source, count)
    apply_prior(model, mean, std)
    return {"prior_samples": float(min(count, len(source))), "prior_std_px": float(std[:, :2].mean())}
