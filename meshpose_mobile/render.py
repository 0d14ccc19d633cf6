"""Differentiable silhouette rendering with per-vertex visibility (method.md Sec. 4, paper App. C.2.2).

SoftRas-style soft rasterisation in which each face's influence is scaled by its interpolated
visibility, so faces of invisible (occluded or out-of-crop) vertices vanish from the silhouette:

    Sil(x) = 1 - prod_f (1 - w_f(x) * D_f(x)),    D_f(x) = sigmoid(-d(x, f) / sigma)

``d`` is the signed 2D distance from x to the projected triangle f (negative inside) and ``w_f(x)``
the barycentric interpolation of f's vertex visibilities at x, with barycentrics clamped to the
triangle for pixels outside it (so ``w_f`` stays a convex combination of the three visibilities).

The silhouette is rendered on the heatmap grid (one sample per heatmap cell, at the cell position
of `ModelConfig`) extended by ``pad`` cells on every side, so vertices that fall outside the crop
still land on rendered cells where the (zero-padded) ground-truth mask tells them to turn invisible.

Training only: nothing here is part of the exported graph.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from meshpose_mobile.config import ModelConfig
from meshpose_mobile.errors import ConfigError

# Elements (batch x pixels x faces) handled per face chunk. A chunk's backward holds ~80 float32
# tensors of this size (measured), so 2**19 bounds the rasteriser near 170 MB whatever B, P and F;
# chunks are recomputed in the backward pass instead of being stored (activation checkpointing).
DEFAULT_MAX_ELEMENTS = 2**19
# Keeps log(1 - w * D) finite where a face fully covers a pixel (sigmoid saturates to 1 in float32).
_COVER_EPS = 1e-6
_DIST_EPS = 1e-12
# Faces farther than this many sigmas from a pixel are skipped: each would add < sigmoid(-12) = 6e-6.
DEFAULT_CULL = 12.0


def render_grid(config: ModelConfig, pad: int = 0) -> Tensor:
    """(h + 2 pad, w + 2 pad, 2) float32: crop-pixel (x, y) of every render cell.

    Cell (i, j) of the padded grid is heatmap cell (i - pad, j - pad), placed with the
    ModelConfig rule ``stride * (index + cell_offset) + pixel_offset``, continued past the crop.
    """
    if not isinstance(pad, int) or isinstance(pad, bool) or pad < 0:
        raise ConfigError(f"render pad must be a non-negative integer number of cells, got {pad!r}")
    s = float(config.heatmap_stride)
    xs = s * (torch.arange(-pad, config.heatmap_width + pad, dtype=torch.float64) + config.cell_offset)
    ys = s * (torch.arange(-pad, config.heatmap_height + pad, dtype=torch.float64) + config.cell_offset)
    gy, gx = torch.meshgrid(ys + config.pixel_offset, xs + config.pixel_offset, indexing="ij")
    return torch.stack([gx, gy], dim=-1).float()


def crop_mask_to_grid(mask: Tensor, config: ModelConfig, pad: int = 0) -> Tensor:
    """Sample a crop-resolution mask (..., H_in, W_in) at the render cells -> (..., h + 2 pad, w + 2 pad).

    Nearest sampling at each cell's pixel position; cells outside the crop read 0, which is what
    teaches out-of-crop vertices a low visibility (App. C.2.2: the ground truth is padded).
    """
    if mask.shape[-2:] != (config.input_height, config.input_width):
        raise ConfigError(
            f"mask has size {tuple(mask.shape[-2:])}, expected the crop size "
            f"({config.input_height}, {config.input_width}); crop the mask like the image first"
        )
    grid = render_grid(config, pad).to(mask.device)
    col = torch.floor(grid[..., 0] + 0.5).long()
    row = torch.floor(grid[..., 1] + 0.5).long()
    inside = (col >= 0) & (col < config.input_width) & (row >= 0) & (row < config.input_height)
    values = mask[..., row.clamp(0, config.input_height - 1), col.clamp(0, config.input_width - 1)]
    return torch.where(inside, values, torch.zeros((), dtype=values.dtype, device=values.device))


def _cross(ax: Tensor, ay: Tensor, bx: Tensor, by: Tensor) -> Tensor:
    return ax * by - ay * bx


def _segment_distance_sq(px: Tensor, py: Tensor, ax: Tensor, ay: Tensor, bx: Tensor, by: Tensor) -> Tensor:
    ex, ey = bx - ax, by - ay
    length_sq = (ex * ex + ey * ey).clamp_min(_DIST_EPS)
    t = (((px - ax) * ex + (py - ay) * ey) / length_sq).clamp(0.0, 1.0)
    dx, dy = px - (ax + t * ex), py - (ay + t * ey)
    return dx * dx + dy * dy


def _pair_terms(px: Tensor, py: Tensor, tri: Tensor, vis: Tensor, sigma: float) -> Tensor:
    """log(1 - w_f(x) D_f(x)) elementwise: px, py (...) pixels, tri (..., 3, 2) corners, vis (..., 3)."""
    ax, ay = tri[..., 0, 0], tri[..., 0, 1]
    bx, by = tri[..., 1, 0], tri[..., 1, 1]
    cx, cy = tri[..., 2, 0], tri[..., 2, 1]
    area = _cross(bx - ax, by - ay, cx - ax, cy - ay)
    # Edge functions: e_a is opposite corner a (edge b->c), so e_a / area is a's barycentric.
    e_a = _cross(cx - bx, cy - by, px - bx, py - by)
    e_b = _cross(ax - cx, ay - cy, px - cx, py - cy)
    e_c = _cross(bx - ax, by - ay, px - ax, py - ay)
    sign = torch.where(area < 0, -1.0, 1.0)
    # Orientation-free inside test; degenerate (zero-area) triangles are never 'inside'.
    inside = (e_a * sign >= 0) & (e_b * sign >= 0) & (e_c * sign >= 0) & (area != 0)
    dist_sq = torch.minimum(
        torch.minimum(_segment_distance_sq(px, py, ax, ay, bx, by), _segment_distance_sq(px, py, bx, by, cx, cy)),
        _segment_distance_sq(px, py, cx, cy, ax, ay),
    )
    dist = torch.sqrt(dist_sq.clamp_min(_DIST_EPS))
    coverage = torch.sigmoid(torch.where(inside, dist, -dist) / sigma)
    safe_area = torch.where(area.abs() < _DIST_EPS, sign * _DIST_EPS, area)
    bary = (torch.stack([e_a, e_b, e_c], dim=-1) / safe_area.unsqueeze(-1)).clamp(0.0, 1.0)
    bary = bary / bary.sum(dim=-1, keepdim=True).clamp_min(_DIST_EPS)
    weight = (bary * vis).sum(dim=-1)
    covered = (weight * coverage).clamp(max=1.0 - _COVER_EPS)
    return torch.log1p(-covered)


def _log_uncovered(px: Tensor, py: Tensor, tri: Tensor, vis: Tensor, sigma: float, margin: float | None) -> Tensor:
    """sum_f log(1 - w_f(x) D_f(x)) over one chunk of faces: (B, P).

    px, py: (P,) pixel positions; tri: (B, Fc, 3, 2) corners; vis: (B, Fc, 3). With a margin, only
    the pixel-face pairs inside the face's bounding box grown by ``margin`` are evaluated.
    """
    batch, num_pixels = tri.shape[0], px.shape[0]
    if margin is None:
        terms = _pair_terms(px.view(1, -1, 1), py.view(1, -1, 1), tri.unsqueeze(1), vis.unsqueeze(1), sigma)
        return terms.sum(dim=-1)
    lo = tri.detach().amin(dim=2) - margin  # (B, Fc, 2)
    hi = tri.detach().amax(dim=2) + margin
    x, y = px.view(1, -1, 1), py.view(1, -1, 1)
    near = (x >= lo[:, None, :, 0]) & (x <= hi[:, None, :, 0]) & (y >= lo[:, None, :, 1]) & (y <= hi[:, None, :, 1])
    b, p, f = near.nonzero(as_tuple=True)
    terms = _pair_terms(px[p], py[p], tri[b, f], vis[b, f], sigma)
    return tri.new_zeros(batch * num_pixels).index_add(0, b * num_pixels + p, terms).view(batch, num_pixels)


def soft_silhouette(
    points: Tensor,
    visibility: Tensor,
    faces: Tensor,
    grid: Tensor,
    sigma: float = 2.0,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    cull: float | None = DEFAULT_CULL,
) -> Tensor:
    """Render visibility-weighted soft silhouettes.

    points: (B, K, 2) vertex positions in crop pixels; visibility: (B, K) in [0, 1];
    faces: (F, 3) vertex indices; grid: (..., 2) pixel positions to render (e.g. `render_grid`);
    sigma: softness in crop pixels. Returns (B, *grid.shape[:-1]) silhouettes in [0, 1).

    cull: pixel-face pairs farther than ``cull * sigma`` from the face's bounding box are skipped
    (each would change log(1 - Sil) by less than sigmoid(-cull), 6e-6 at the default 12); None
    evaluates every pair. Memory: faces go in chunks of at most ``max_elements / (B * pixels)``,
    each checkpointed when gradients are needed, so the working set does not grow with F.
    """
    if not sigma > 0:
        raise ConfigError(f"silhouette sigma must be > 0 pixels, got {sigma!r}")
    if points.ndim != 3 or points.shape[-1] != 2 or visibility.shape != points.shape[:2]:
        raise ValueError(f"expected points (B,K,2) and visibility (B,K), got {points.shape} and {visibility.shape}")
    batch = points.shape[0]
    out_shape = grid.shape[:-1]
    flat = grid.reshape(-1, 2).to(points)
    px, py = flat[:, 0].contiguous(), flat[:, 1].contiguous()
    margin = None if cull is None else float(cull) * sigma
    faces = faces.to(points.device).long()
    per_chunk = max(1, int(max_elements) // max(1, batch * flat.shape[0]))
    needs_grad = torch.is_grad_enabled() and (points.requires_grad or visibility.requires_grad)
    total = points.new_zeros(batch, flat.shape[0])
    for start in range(0, faces.shape[0], per_chunk):
        idx = faces[start : start + per_chunk]
        tri = points[:, idx]  # (B, Fc, 3, 2)
        vis = visibility[:, idx]  # (B, Fc, 3)
        if needs_grad:
            part = checkpoint(_log_uncovered, px, py, tri, vis, sigma, margin, use_reentrant=False)
        else:
            part = _log_uncovered(px, py, tri, vis, sigma, margin)
        total = total + part
    return (1.0 - torch.exp(total)).view(batch, *out_shape)


def render_silhouette(
    vertices: Tensor,
    visibility: Tensor,
    faces: Tensor,
    config: ModelConfig,
    *,
    pad: int = 8,
    sigma: float = 2.0,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    cull: float | None = DEFAULT_CULL,
) -> Tensor:
    """Silhouettes (B, h + 2 pad, w + 2 pad) of (B, K, >=2) crop-pixel vertices on the padded heatmap grid."""
    grid = render_grid(config, pad).to(vertices.device)
    return soft_silhouette(
        vertices[..., :2], visibility, faces, grid, sigma=sigma, max_elements=max_elements, cull=cull
    )


def mask_boundary_distance(mask: np.ndarray | Tensor) -> np.ndarray:
    """phi of the boundary loss: for each pixel inside the mask, the Euclidean distance (in pixels)
    from its centre to the nearest pixel centre outside the mask; 0 outside.

    Same values as ``scipy.ndimage.distance_transform_edt(mask)``: pixels beyond the array's edge do
    not count as outside (a mask cut by the crop edge stays 'deep' there). A mask with no outside
    pixel has no boundary and gets phi = 0 everywhere. Accepts (..., H, W); returns float32.

    Exact and scipy-free: the nearest outside pixel of an inside pixel always has a 4-neighbour
    inside the mask (its neighbour one step towards the inside pixel is nearer, hence inside), so
    distances are taken to those 'rim' pixels only, in chunks.
    """
    m = np.asarray(mask.detach().cpu() if isinstance(mask, Tensor) else mask).astype(bool)
    if m.ndim < 2:
        raise ValueError(f"mask must have at least 2 dimensions (H, W), got shape {m.shape}")
    if m.ndim > 2:
        flat = m.reshape(-1, *m.shape[-2:])
        return np.stack([mask_boundary_distance(one) for one in flat]).reshape(m.shape)
    out = np.zeros(m.shape, dtype=np.float32)
    inside = np.argwhere(m)
    if inside.size == 0:
        return out
    padded = np.pad(m, 1, constant_values=False)
    touches = padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
    rim = np.argwhere(~m & touches).astype(np.float64)
    if rim.size == 0:
        return out
    chunk = max(1, (1 << 22) // len(rim))
    for start in range(0, len(inside), chunk):
        pts = inside[start : start + chunk].astype(np.float64)
        d2 = ((pts[:, None, :] - rim[None, :, :]) ** 2).sum(-1).min(axis=1)
        out[inside[start : start + chunk, 0], inside[start : start + chunk, 1]] = np.sqrt(d2)
    return out
