"""Deterministic untrained weights that behave like a trained network numerically.

Exports without a checkpoint, parity tests and benchmarks need weights. Plain initialisation
leaves BatchNorm at mean 0 / var 1, which makes folding a no-op and lets activations drift far
from what a trained network produces, so parity measured on it would prove little. Instead the
running statistics are calibrated on a few synthetic batches (train-mode forward passes, no
gradient), then the BN affine parameters get a seeded perturbation, so every fold is exercised
with realistic magnitudes. Finally the heatmap and bin-logit layers are rescaled so the decoding
works in a trained network's regime (peaked but not one-hot distributions): left alone, random
heads saturate the bin softmax at the range ends, and parity measured there would prove little.
Heads on an imported (real-data) encoder are also aligned with their heatmaps (`align_heads`).
"""

from __future__ import annotations

import torch
from torch import nn

from meshpose_mobile import decode
from meshpose_mobile.backbones import load_pretrained
from meshpose_mobile.config import AXES
from meshpose_mobile.model import MeshPose
from meshpose_mobile.registry import create_model
from meshpose_mobile.topology import Topology

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)
# Spread of the logits of a decoding softmax after calibration (std over cells / bins).
HEATMAP_LOGIT_STD = 1.0
BIN_LOGIT_STD = 1.5
VAR_FLOOR_QUANTILE = 0.9
# Heads on an imported encoder (align_heads): the bin prior's spread as a fraction of each axis
# range, and what is left of the input-dependent bin logits (docs/design.md, meshpose_blaze).
PRIOR_SPREAD = 0.25
ALIGNED_WEIGHT_SCALE = 0.3


def synthetic_batch(batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """0..255 RGB images mixing smooth gradients, blobs and noise (image-like statistics)."""
    ys = torch.linspace(0, 1, height).view(1, 1, height, 1)
    xs = torch.linspace(0, 1, width).view(1, 1, 1, width)
    a = torch.rand(batch, 3, 1, 1, generator=generator)
    b = torch.rand(batch, 3, 1, 1, generator=generator)
    cx, cy = torch.rand(2, batch, 1, 1, 1, generator=generator)
    blob = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 0.05)
    noise = torch.rand(batch, 3, height, width, generator=generator)
    img = 0.4 * (a * xs + b * ys) + 0.4 * blob * torch.rand(batch, 3, 1, 1, generator=generator) + 0.2 * noise
    return (img.clamp(0, 1) * 255.0).float()


@torch.no_grad()
def calibrate_batchnorm(model: MeshPose, seed: int, batches: int = 4, batch_size: int = 4) -> None:
    g = torch.Generator().manual_seed(seed)
    cfg = model.config
    momenta = {}
    for m in model.modules():
        if isinstance(m, _BN):
            m.reset_running_stats()
            momenta[m] = m.momentum
            m.momentum = None  # cumulative average over the calibration batches
            # Perturbed before calibration so every layer's statistics match its input.
            m.weight.mul_(1.0 + 0.1 * torch.randn(m.weight.shape, generator=g))
            m.bias.add_(0.05 * torch.randn(m.bias.shape, generator=g))
    model.train()
    for i in range(batches):
        x = synthetic_batch(batch_size, cfg.input_height, cfg.input_width, g)
        if i % 2:  # noise images widen the statistics of the pooled (regression) features
            x = torch.rand(x.shape, generator=g) * 255.0
        model(x)
    for m, momentum in momenta.items():
        # A few synthetic images leave many channels with near-zero variance (pooled vectors,
        # flat depthwise responses); folding divides by it, and the random network then turns
        # FP16 weight rounding into pixels (1.7 px with a median floor, 0.3 px with this one on
        # meshpose_xs, while outputs still move ~15 px between inputs; docs/design.md).
        m.running_var.clamp_(min=float(torch.quantile(m.running_var.float(), VAR_FLOOR_QUANTILE)))
        m.momentum = momentum
    model.eval()
    x = synthetic_batch(batch_size, cfg.input_height, cfg.input_width, g)
    out = model(x)
    scale = HEATMAP_LOGIT_STD / float((cfg.gain * out["heatmaps"]).flatten(2).std(dim=-1).mean())
    model.heatmap.weight.mul_(scale)
    model.heatmap.bias.mul_(scale)
    for i, (name, branch) in enumerate(model.regression.items()):
        logits = out["bin_logits"][:, i]
        branch.conv2.weight.mul_(BIN_LOGIT_STD / float(logits.std(dim=-1).mean()))
        # Visibility is the bin mean through a sigmoid: centre it per vertex so that the
        # fusion of Eq. 7 mixes both estimates instead of picking one.
        mean = (logits * BIN_LOGIT_STD / float(logits.std(dim=-1).mean())).mean(dim=(0, 2))
        branch.conv2.bias.copy_(-mean if name == "vis" else torch.zeros_like(mean))


def seeded_model(variant: str, seed: int = 0, topology: Topology | None = None, **overrides: object) -> MeshPose:
    """`create_model` with seeded weights and calibrated BatchNorm, in eval mode."""
    # fork_rng keeps the caller's global RNG stream untouched by our seeding.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = create_model(variant, topology, **overrides)
    # Imported encoders (meshpose_blaze) keep their real weights; only the heads are seeded.
    imported = load_pretrained(model.backbone) is not None
    calibrate_batchnorm(model, seed)
    if imported:
        align_heads(model, seed)
    return model


@torch.no_grad()
def align_heads(model: MeshPose, seed: int, batch_size: int = 8) -> None:
    """Start the regression branches where the heatmaps already point, as training would leave them.

    Random heads on an imported encoder regress positions unrelated to the VertexPose ones
    (|p - r| 130-170 px on average, up to 460 px on meshpose_blaze's parity inputs), so Eq. 7
    turns any visibility error into pixels (CoreML fp16: 6.7 px on one synthetic input, budget 5),
    where a trained model has p ~ r. Here each x / y branch gets a Gaussian prior over its bins
    centred on that vertex's mean heatmap position over synthetic and noise images (z on 0), the
    construction of `train.prior.apply_prior`: two `mid` channels made constant (u and u^2 per bin,
    BatchNorm gamma 0) weighted per vertex by conv2; the input-dependent rest of conv2 is scaled by
    `ALIGNED_WEIGHT_SCALE`, so r still follows the input (|p - r| now 8-35 px on average, 30-124
    max). Scratch-trained backbones (meshpose_xs, tiny) are left as they are: their golden vectors
    and measured budgets rest on them.
    """
    cfg = model.config
    g = torch.Generator().manual_seed(seed + 1)
    h, w = cfg.input_height, cfg.input_width
    x = torch.cat([synthetic_batch(batch_size, h, w, g), torch.rand(batch_size, 3, h, w, generator=g) * 255.0])
    feats, deep = model.features(x)
    p2d = decode.argsoftmax(model.heatmap(feats), cfg.gain, model.grid_rows).mean(dim=0)
    pooled = deep.mean(dim=(2, 3)).unsqueeze(-1)
    u = (torch.arange(cfg.num_bins, dtype=torch.float64) + cfg.bin_offset) / cfg.num_bins
    # Quadratic logits u mu / sd^2 - u^2 / (2 sd^2): at a quarter of the range they stay below 16,
    # where float16 keeps 0.008 (at 1/32 they reached 334; train/prior.py).
    sd2 = PRIOR_SPREAD**2  # the fixed-point steps below move only the centre's weight
    for i, axis in enumerate(AXES):
        branch = model.regression[axis]
        lo, hi = cfg.range_of(axis)
        target = p2d[:, i].double() if i < 2 else torch.zeros(cfg.num_vertices, dtype=torch.float64)
        goal = (target - lo) / (hi - lo)
        branch.start_at(u, goal, PRIOR_SPREAD, ALIGNED_WEIGHT_SCALE)
        # The range truncates the Gaussian, which pulls its mean inwards; a few fixed-point steps
        # put the mean regressed position (not the Gaussian's centre) on the target.
        mu = goal.clone()
        for _ in range(6):
            branch.conv2.weight[:, 0, 0] = (mu / sd2).float()
            r = decode.bin_expectation(branch(pooled), model.bin_centres[i]).mean(dim=0).double()
            mu += goal - (r - lo) / (hi - lo)
        branch.conv2.weight[:, 0, 0] = (mu / sd2).float()
    # Visibility as calibrated swings w from 0.04 to 0.95 on a synthetic image that wakes the deep
    # map (its bin logits reach 15, where float16 keeps only 0.008, and w moved by 0.005 under
    # CoreML fp16); the same scale keeps it input-dependent, re-centred so Eq. 7 still mixes both.
    vis = model.regression["vis"]
    vis.conv2.weight.mul_(ALIGNED_WEIGHT_SCALE)
    vis.conv2.bias.zero_()
    vis.conv2.bias.copy_(-vis(pooled).mean(dim=(0, 2)))
