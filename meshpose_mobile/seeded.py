"""Deterministic untrained weights that behave like a trained network numerically.

Exports without a checkpoint, parity tests and benchmarks need weights. Plain initialisation
leaves BatchNorm at mean 0 / var 1, which makes folding a no-op and lets activations drift far
from what a trained network produces, so parity measured on it would prove little. Instead the
running statistics are calibrated on a few synthetic batches (train-mode forward passes, no
gradient), then the BN affine parameters get a seeded perturbation, so every fold is exercised
with realistic magnitudes. Finally the heatmap and bin-logit layers are rescaled so the decoding
works in a trained network's regime (peaked but not one-hot distributions): left alone, random
heads saturate the bin softmax at the range ends, and parity measured there would prove little.
"""

from __future__ import annotations

import torch
from torch import nn

from meshpose_mobile.backbones import load_pretrained
from meshpose_mobile.model import MeshPose
from meshpose_mobile.registry import create_model
from meshpose_mobile.topology import Topology

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)
# Spread of the logits of a decoding softmax after calibration (std over cells / bins).
HEATMAP_LOGIT_STD = 1.0
BIN_LOGIT_STD = 1.5
VAR_FLOOR_QUANTILE = 0.9


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
    load_pretrained(model.backbone)
    calibrate_batchnorm(model, seed)
    return model
