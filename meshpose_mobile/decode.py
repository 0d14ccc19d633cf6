"""The differentiable decoding of MeshPose (method.md Eq. 1, Sec. 3, Eq. 7) and its constants.

Both the training model and the deployment graph take their constants from here, so the two can
only differ in how the arithmetic is laid out, never in which numbers it uses.
"""

from __future__ import annotations

import torch
from torch import Tensor

from meshpose_mobile.config import AXES, ModelConfig


def cell_positions(cfg: ModelConfig) -> tuple[Tensor, Tensor]:
    """Pixel x of each heatmap column and pixel y of each heatmap row (see ModelConfig)."""
    s = float(cfg.heatmap_stride)
    xs = s * (torch.arange(cfg.heatmap_width, dtype=torch.float64) + cfg.cell_offset) + cfg.pixel_offset
    ys = s * (torch.arange(cfg.heatmap_height, dtype=torch.float64) + cfg.cell_offset) + cfg.pixel_offset
    return xs, ys


def grid_rows(cfg: ModelConfig) -> Tensor:
    """(2, h*w) float64: pixel x and y of every cell of a row-major flattened heatmap."""
    xs, ys = cell_positions(cfg)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)])


def bin_centres(cfg: ModelConfig) -> Tensor:
    """(3, B) float64: the value in pixels that each bin stands for, per axis x, y, z."""
    b = torch.arange(cfg.num_bins, dtype=torch.float64) + cfg.bin_offset
    rows = []
    for axis in AXES:
        lo, hi = cfg.range_of(axis)
        rows.append(lo + (hi - lo) / cfg.num_bins * b)
    return torch.stack(rows)


def seam_matrix(num_vertices: int, pairs: Tensor | None) -> Tensor:
    """(K, K) averaging matrix that replaces each seam pair by its mean (identity elsewhere)."""
    m = torch.eye(num_vertices, dtype=torch.float64)
    if pairs is None:
        return m
    for a, b in pairs.tolist():
        m[a, :] = 0.0
        m[b, :] = 0.0
        m[a, a] = m[a, b] = m[b, a] = m[b, b] = 0.5
    return m


def argsoftmax(scores: Tensor, gain: Tensor | float, rows: Tensor) -> Tensor:
    """Eq. 1: (B, K, h, w) scores -> (B, K, 2) expected pixel positions."""
    prob = torch.softmax(gain * scores.flatten(2), dim=-1)
    return prob @ rows.t().to(prob.dtype)


def bin_expectation(logits: Tensor, centres: Tensor) -> Tensor:
    """Sec. 3: (B, K, bins) logits -> (B, K) expected value of the bin centres."""
    return torch.softmax(logits, dim=-1) @ centres.to(logits.dtype)


def fuse_vertices(p2d: Tensor, regressed: Tensor, visibility: Tensor) -> Tensor:
    """Eq. 7: visible vertices trust the heatmap, hidden ones the regression; z is regressed."""
    w = visibility.unsqueeze(-1)
    xy = w * p2d + (1.0 - w) * regressed[..., :2]
    return torch.cat([xy, regressed[..., 2:]], dim=-1)
