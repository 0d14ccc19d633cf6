"""Every training loss of MeshPose (method.md Sec. 2, 4, 5; paper Eq. 5, 6, 14-20) and their weighting.

Conventions shared by all losses (docs/training.md has the full list):

- Positions are crop pixels (top-left pixel centre at (0, 0)); z is depth in pixel units with an
  arbitrary origin, so 3D terms compare depths after removing each mesh's mean depth.
- Distances (UV consistency, vertex, joints) are Euclidean norms in pixels, not squared: the terms
  then share one unit and a few far-off outliers (pseudo-GT) do not dominate the batch.
- Every label comes with a mask of the labels' shape. A mask may be boolean or hold weights in
  [0, 1] (e.g. 0.3 for pseudo-GT samples); ``mean`` reduction is ``sum(mask * loss) / sum(mask)``
  over the labelled items of the whole batch, 0 when nothing is labelled; ``sum`` is
  ``sum(mask * loss)``; ``none`` returns ``mask * loss`` per item.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import torch
import torch.nn.functional as F
from torch import Tensor

from meshpose_mobile import decode
from meshpose_mobile.config import ModelConfig
from meshpose_mobile.errors import ConfigError
from meshpose_mobile.render import mask_boundary_distance, render_silhouette
from meshpose_mobile.topology import Topology

Reduction = Literal["mean", "sum", "none"]
BaryTarget = Literal["barycentric", "nearest"]
_NORM_EPS = 1e-12

# ---------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class LossWeights:
    """The lambda_i of Eq. 20 plus the few numbers that define the silhouette and bary terms.

    The paper's weights were lost in extraction; these defaults are starting choices scaled to the
    terms' units (pixels for distances, nats for cross-entropies, cells for phi). A weight of 0
    drops its term. Pseudo-GT samples get smaller weights through their target masks, not here.
    """

    bary: float = 1.0
    uvc: float = 0.05
    visibility: float = 1.0
    silhouette: float = 1.0
    # lambda of the boundary term inside the silhouette loss (Eq. 19).
    boundary: float = 0.1
    vertex: float = 0.02
    edge: float = 0.05
    normal: float = 0.5
    joint_2d: float = 0.02
    joint_3d: float = 0.02
    # BCE of the foreground head against the body mask at heatmap resolution. Not a paper term:
    # the project adds the head (person presence for tracking), and an untrained head would ship
    # a meaningless output.
    foreground: float = 0.5
    # Mean 2-D vertex move (crop px) between a crop and a copy with integer noise of up to
    # `consistency_noise` grey levels per pixel, in one forward pass of both (the trainer adds it;
    # issue 22: one grey level moved meshpose_xs's vertices by ~100 px, so 8-bit artifacts failed).
    # Not a paper term.
    consistency: float = 0.0
    consistency_noise: int = 1
    # Mean 2-D vertex move (crop px) between the network and a copy whose convolution weights carry
    # random rounding-sized errors: uniform, up to half a step of a per-output-channel grid with
    # `weight_noise_levels` steps each side of zero (127: int8's, which also covers float16's far
    # smaller rounding). One more forward pass of the clean crops (the trainer adds it). Why:
    # the shipped meshpose_blaze moves 7 px when every weight changes by 2^-11 of itself (float16
    # rounding) and 32 px under int8 rounding, so 8-bit artifacts fail parity (issue 22). Not a
    # paper term.
    weight_consistency: float = 0.0
    weight_noise_levels: int = 127
    # Mean 2-D vertex move (crop px) between the network and a pass where every convolution's output
    # is multiplied by 1 + u, u uniform within +-2^-`activation_noise_bits` (11: float16's largest
    # relative rounding, so the pass sees errors the size CoreML's float16 arithmetic makes). One more
    # forward pass of the clean crops (the trainer adds it). Why: CoreML fp16 parity of the shipped
    # meshpose_blaze is ~1 px, 1.55 px of it from the encoder's arithmetic and 1.61 px from rounding
    # its first convolution's output alone, and a faster-learning fine-tune (the arms run) lost it to
    # 2.3 px (docs/design.md, "CoreML float16: where the last pixel comes from"). Unlike
    # `weight_consistency` the noise is float16's size, not int8's. Not a paper term.
    activation_consistency: float = 0.0
    activation_noise_bits: int = 11
    # Which moves the three terms above average: the largest `move_top` fraction of the batch's
    # vertex moves (every crop's vertices together), 1.0 all of them. Why: the shipped numbers are
    # worst cases (a one-grey-level change moves the stage-7 file's vertices by 0.28 px on average but
    # 22 px at most over 64 bodies x 8 draws; parity budgets are maxima), and a mean over every vertex
    # of every crop hardly sees the few vertices of the few crops that jump. Not a paper term.
    move_top: float = 1.0
    # Spread (crop px) of each vertex's decoding distribution softmax(gain * S) around its own
    # expectation (Eq. 1), at `spread_gain` (0: the model's gain), over the vertices whose true
    # position lies on the picture. Why: a one-grey-level change moves a vertex by about gain x
    # (distance between two modes of its heatmap) x (their masses' product), and the vertices
    # past 5 px on the stage-7 file spread 49 px at its decode gain 3 against 26 px for the rest
    # (64 bodies x 8 draws, benchmarks/sensitivity.py; docs/design.md, "One peak per heatmap").
    # The paper trains the heatmaps through the cross-entropy per pixel over the vertices (Eq. 5),
    # which leaves the shape of each vertex's map over the pixels free. Not a paper term.
    heatmap_spread: float = 0.0
    spread_gain: float = 0.0
    # Which vertices `heatmap_spread` reads: 'picture', every vertex whose true position lies on the
    # crop and the photo; 'visible', only those the visibility labels mark seen (a DensePose point on
    # one of their faces). Why the second: on 'picture' the real-photo silhouette fell with the
    # term's weight, and Eq. 7 with the fusion shift draws half-hidden vertices mostly from their
    # heatmaps too. Tried once (stop 38): IoU 0.53 against 0.51, the control's 0.55, so most of that
    # cost stays (docs/design.md, "One peak per heatmap").
    spread_vertices: str = "picture"
    # `vertex` on the regressed positions r alone (every vertex, depth centred), beside the fused
    # mesh's. Why: Eq. 7 reaches r through (1 - w), so the fused loss hardly trains r where the
    # vertex is seen, and r, which alone places hidden and out-of-crop vertices (and z), stayed
    # about twice as far off as the heatmap positions (docs/design.md, "Eq. 7's fusion shift").
    # Not a paper term; 0 keeps the paper's loss.
    regressed: float = 0.0
    # Relative squared distance of the imported encoder's maps from the imported network's own on
    # the same crops, while it fine-tunes (meshpose_mobile/train/feature_keep.py; the trainer adds
    # it). Why: fine-tuning on synthetic bodies moved meshpose_blaze's heatmap positions away from
    # BlazePose's on real photos (PCK@0.2 0.83-0.86 frozen, 0.72-0.74 fine-tuned). Not a paper term.
    feature_keep: float = 0.0
    # Eq. 5 target: 'barycentric' (the paper) or 'nearest' (one-hot ablation, Table 1b).
    bary_target: str = "barycentric"
    # Softness of the rasteriser in crop pixels: half a heatmap cell, so coverage changes smoothly
    # over one render cell instead of aliasing on the 4-pixel grid.
    silhouette_sigma: float = 2.0
    # Render cells added on every side of the heatmap grid (4 crop pixels each).
    silhouette_pad: int = 8

    WEIGHT_FIELDS = (
        "bary",
        "uvc",
        "visibility",
        "silhouette",
        "boundary",
        "vertex",
        "edge",
        "normal",
        "joint_2d",
        "joint_3d",
        "foreground",
        "consistency",
        "weight_consistency",
        "activation_consistency",
        "regressed",
        "feature_keep",
        "heatmap_spread",
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in self.WEIGHT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"loss weight {name}={value!r} must be a finite number >= 0; fix it in the config")
        if self.spread_vertices not in ("picture", "visible"):
            raise ConfigError(f"spread_vertices={self.spread_vertices!r} is unknown; use 'picture' or 'visible'")
        if self.bary_target not in ("barycentric", "nearest"):
            raise ConfigError(f"bary_target={self.bary_target!r} is unknown; use 'barycentric' or 'nearest'")
        sigma = self.silhouette_sigma
        if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not math.isfinite(sigma) or sigma <= 0:
            raise ConfigError(f"silhouette_sigma={sigma!r} must be a finite number > 0 (crop pixels)")
        noise = self.consistency_noise
        if isinstance(noise, bool) or not isinstance(noise, int) or not 1 <= noise <= 255:
            raise ConfigError(f"consistency_noise={noise!r} must be a whole number of grey levels, 1 to 255")
        levels = self.weight_noise_levels
        if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= 32767:
            raise ConfigError(f"weight_noise_levels={levels!r} must be a whole number of grid steps, 1 to 32767")
        top = self.move_top
        if isinstance(top, bool) or not isinstance(top, int | float) or not math.isfinite(top) or not 0 < top <= 1:
            raise ConfigError(
                f"move_top={top!r} must be above 0 and at most 1 (1: every vertex move; 0.01: the largest 1 %)"
            )
        bits = self.activation_noise_bits
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 23:
            raise ConfigError(
                f"activation_noise_bits={bits!r} must be a whole number of bits, 1 to 23 (11: float16's rounding)"
            )
        gain = self.spread_gain
        if isinstance(gain, bool) or not isinstance(gain, int | float) or not math.isfinite(gain) or gain < 0:
            raise ConfigError(
                f"spread_gain={gain!r} must be a finite number >= 0 (0: the model's own gain; 3: the shipped decode's)"
            )
        pad = self.silhouette_pad
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
            raise ConfigError(f"silhouette_pad={pad!r} must be an integer >= 0 (heatmap cells)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LossWeights:
        if not isinstance(data, dict):
            raise ConfigError("loss weights must be a mapping of field names to values")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"loss weights: unknown field(s) {', '.join(unknown)}; valid: {', '.join(names)}")
        return cls(**data)


# ------------------------------------------------------------------------------------ reductions


def _reduce(values: Tensor, mask: Tensor | None, reduction: Reduction) -> Tensor:
    weights = torch.ones_like(values) if mask is None else mask.to(values.dtype).expand_as(values)
    weighted = values * weights
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    if reduction == "mean":
        # clamp keeps an all-unlabelled batch at 0 (and its graph alive) instead of 0 / 0.
        return weighted.sum() / weights.sum().clamp_min(1e-12)
    raise ValueError(f"unknown reduction {reduction!r}; use 'mean', 'sum' or 'none'")


def _norm(v: Tensor) -> Tensor:
    # The epsilon keeps the gradient finite at an exact hit (|v| = 0).
    return torch.sqrt((v * v).sum(dim=-1) + _NORM_EPS)


def _center_depth(points: Tensor, mask: Tensor | None = None) -> Tensor:
    """Subtract the (masked) mean z over the point axis: weak perspective leaves the depth origin free."""
    z = points[..., 2:]
    if mask is None:
        mean = z.mean(dim=-2, keepdim=True)
    else:
        w = mask.to(points.dtype).unsqueeze(-1)
        mean = (z * w).sum(dim=-2, keepdim=True) / w.sum(dim=-2, keepdim=True).clamp_min(1e-12)
    return torch.cat([points[..., :2], z - mean], dim=-1)


def _faces_tensor(faces: Tensor | Any, device: torch.device) -> Tensor:
    return torch.as_tensor(faces, device=device).long()


# ------------------------------------------------------------------------------ VertexPose (Sec. 2)


def pixel_to_cell(pixels: Tensor, config: ModelConfig) -> tuple[Tensor, Tensor]:
    """Heatmap cell (row, col) whose position is nearest each crop pixel (..., 2) = (x, y).

    Inverse of ModelConfig's cell rule: ``col = floor((x - pixel_offset) / stride - cell_offset + 0.5)``,
    likewise for rows, clamped to the heatmap. With the project convention (0.5, -0.5) and stride 4,
    cell j holds the pixels whose centres lie in [4j - 0.5, 4j + 3.5); ties go to the higher cell.
    """
    s = float(config.heatmap_stride)
    col = torch.floor((pixels[..., 0] - config.pixel_offset) / s - config.cell_offset + 0.5).long()
    row = torch.floor((pixels[..., 1] - config.pixel_offset) / s - config.cell_offset + 0.5).long()
    return row.clamp(0, config.heatmap_height - 1), col.clamp(0, config.heatmap_width - 1)


def in_crop(pixels: Tensor, config: ModelConfig) -> Tensor:
    """True where a crop-pixel position (..., 2) lies on the crop (pixel edges at -0.5 and size - 0.5)."""
    x, y = pixels[..., 0], pixels[..., 1]
    return (x >= -0.5) & (x < config.input_width - 0.5) & (y >= -0.5) & (y < config.input_height - 0.5)


def vertex_log_posterior_at(heatmaps: Tensor, pixels: Tensor, config: ModelConfig) -> Tensor:
    """log Q(k | x) (B, N, K) at the cell of each pixel (B, N, 2): log-softmax over K of the raw scores."""
    b, k, h, w = heatmaps.shape
    row, col = pixel_to_cell(pixels, config)
    flat = (row * w + col).clamp(0, h * w - 1)  # (B, N)
    scores = torch.gather(heatmaps.flatten(2), 2, flat.unsqueeze(1).expand(b, k, -1))  # (B, K, N)
    return torch.log_softmax(scores, dim=1).transpose(1, 2)


def barycentric_cross_entropy(
    heatmaps: Tensor,
    pixels: Tensor,
    face_index: Tensor,
    bary: Tensor,
    mask: Tensor,
    faces: Tensor,
    config: ModelConfig,
    *,
    target: BaryTarget = "barycentric",
    reduction: Reduction = "mean",
) -> Tensor:
    """Eq. 5: ``-sum_{k in f_a} b_a[k] log Q(k | x_a)`` per annotated pixel.

    heatmaps (B, K, h, w) raw scores S; pixels (B, N, 2) crop pixels; face_index (B, N); bary
    (B, N, 3) in the face's vertex order; mask (B, N). Q is read at the pixel's cell
    (`pixel_to_cell`); points off the crop are dropped. ``target='nearest'`` is the ablation
    baseline: a one-hot on the face vertex with the largest barycentric.
    """
    logq = vertex_log_posterior_at(heatmaps, pixels, config)  # (B, N, K)
    verts = _faces_tensor(faces, heatmaps.device)[face_index.long()]  # (B, N, 3)
    picked = torch.gather(logq, 2, verts)
    weights = bary.to(logq.dtype)
    if target == "nearest":
        weights = F.one_hot(weights.argmax(dim=-1), 3).to(logq.dtype)
    elif target != "barycentric":
        raise ValueError(f"unknown bary target {target!r}; use 'barycentric' or 'nearest'")
    loss = -(weights * picked).sum(dim=-1)
    valid = mask.to(loss.dtype) * in_crop(pixels, config).to(loss.dtype)
    return _reduce(loss, valid, reduction)


def heatmap_spread(
    heatmaps: Tensor,
    gain: float,
    rows: Tensor,
    mask: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    """sqrt(E|x - p_k|^2) in crop pixels per vertex, x ~ softmax(gain * S_k) over the cells, p_k its
    expectation (Eq. 1). heatmaps (B, K, h, w) raw scores; rows (2, h*w) the cells' pixel x and y
    (`decode.grid_rows`); mask (B, K). The variance is E|x|^2 - |p|^2 taken about the grid's centre,
    so no (B, K, h*w) distance tensor is made."""
    r = rows.to(heatmaps.dtype)
    r = r - r.mean(dim=1, keepdim=True)
    prob = torch.softmax(gain * heatmaps.flatten(2), dim=-1)
    mean = prob @ r.t()
    second = prob @ (r * r).sum(dim=0)
    var = (second - (mean * mean).sum(dim=-1)).clamp_min(0.0)
    return _reduce(torch.sqrt(var + _NORM_EPS), mask, reduction)


def uv_consistency(
    vertices_2d: Tensor,
    pixels: Tensor,
    face_index: Tensor,
    bary: Tensor,
    mask: Tensor,
    faces: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    """Eq. 6: ``|| x_a - sum_{k in f_a} b_a[k] p_k ||_2`` in crop pixels, per annotated pixel.

    vertices_2d (B, K, 2) are the VertexPose positions p_k (Eq. 1), the ones this term trains.
    """
    verts = _faces_tensor(faces, vertices_2d.device)[face_index.long()]  # (B, N, 3)
    b, n = verts.shape[:2]
    corners = torch.gather(vertices_2d, 1, verts.reshape(b, n * 3, 1).expand(-1, -1, 2)).view(b, n, 3, 2)
    landed = (bary.to(corners.dtype).unsqueeze(-1) * corners).sum(dim=2)
    return _reduce(_norm(pixels.to(landed.dtype) - landed), mask, reduction)


# ------------------------------------------------------------------------------ visibility (Sec. 4)


def in_box(pixels: Tensor, box: Tensor) -> Tensor:
    """True where a crop-pixel position (B, ..., 2) lies in its sample's box (B, 4) x0, y0, x1, y1
    (pixel edges, half-open like `in_crop`)."""
    shape = (box.shape[0],) + (1,) * (pixels.dim() - 2)
    x, y = pixels[..., 0], pixels[..., 1]
    x0, y0, x1, y1 = (box[:, i].view(shape).to(pixels.dtype) for i in range(4))
    return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)


def partial_visibility_labels(
    num_vertices: int,
    faces: Tensor,
    face_index: Tensor | None = None,
    point_mask: Tensor | None = None,
    gt_vertices: Tensor | None = None,
    gt_mask: Tensor | None = None,
    config: ModelConfig | None = None,
    picture_box: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Sec. 4 partial labels -> (target, mask), each (B, K).

    Visible (1): the 3 vertices of the face of every valid DensePose point (face_index (B, N),
    point_mask (B, N)). Invisible (0): every vertex whose ground-truth position (gt_vertices
    (B, K, >=2), crop pixels, used where gt_mask (B,) is set) lies off the crop, or off the part of
    the crop that shows the photo (picture_box (B, 4), crop pixels: a crop that reaches past the
    photo's edge reads the contract's border value there, and a vertex behind it is no more seen
    than one off the crop). A vertex with both labels stays visible: a DensePose point is a direct
    observation, pseudo-GT is a fit. Needs ``config`` for the crop size when gt_vertices is given.
    """
    if face_index is None and gt_vertices is None:
        raise ValueError("partial_visibility_labels needs DensePose faces, ground-truth vertices, or both")
    ref = face_index if face_index is not None else gt_vertices
    assert ref is not None
    batch, device = ref.shape[0], ref.device
    target = torch.zeros(batch, num_vertices, device=device)
    labelled = torch.zeros(batch, num_vertices, dtype=torch.bool, device=device)
    if gt_vertices is not None:
        if config is None:
            raise ValueError("partial_visibility_labels needs config (crop size) with gt_vertices")
        off = ~in_crop(gt_vertices[..., :2], config)
        if picture_box is not None:
            off = off | ~in_box(gt_vertices[..., :2], picture_box)
        if gt_mask is not None:
            off = off & gt_mask.bool().view(batch, 1)
        labelled |= off
    if face_index is not None:
        verts = _faces_tensor(faces, device)[face_index.long()]  # (B, N, 3)
        valid = torch.ones_like(face_index, dtype=torch.bool) if point_mask is None else point_mask.bool()
        counts = torch.zeros(batch, num_vertices, device=device)
        counts.scatter_add_(1, verts.flatten(1), valid.unsqueeze(-1).expand_as(verts).flatten(1).to(counts.dtype))
        seen = counts > 0
        target[seen] = 1.0
        labelled |= seen
    return target, labelled


def visibility_bce(visibility_logits: Tensor, target: Tensor, mask: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Binary cross-entropy on the labelled vertices only (Sec. 4 partial labels); logits (B, K)."""
    loss = F.binary_cross_entropy_with_logits(visibility_logits, target.to(visibility_logits.dtype), reduction="none")
    return _reduce(loss, mask, reduction)


def silhouette_loss(
    silhouette: Tensor,
    gt_mask: Tensor,
    phi: Tensor | None = None,
    boundary_weight: float = 0.1,
    sample_mask: Tensor | None = None,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    """Eq. 19 per sample: ``mean_x |Sil - M| + lambda * mean_x phi(x) (1 - Sil(x))``.

    silhouette, gt_mask (B, H, W) on the same (padded) render grid; phi (B, H, W) the distance to
    the mask boundary inside the mask (`mask_boundary_distance`, in render cells), computed here
    when not given; sample_mask (B,). Pixel means keep the term independent of the grid size.
    """
    m = gt_mask.to(silhouette.dtype)
    if phi is None:
        phi = torch.from_numpy(mask_boundary_distance(gt_mask.detach().cpu().numpy() > 0.5))
    phi = phi.to(silhouette)
    l1 = (silhouette - m).abs().flatten(1).mean(dim=1)
    boundary = (phi * (1.0 - silhouette)).flatten(1).mean(dim=1)
    return _reduce(l1 + boundary_weight * boundary, sample_mask, reduction)


# ------------------------------------------------------------------------------ 3D terms (Sec. 5)


def vertex_loss(pred: Tensor, gt: Tensor, mask: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Per-vertex Euclidean distance (pixels) between (B, K, 3) meshes after centring each one's depth.

    mask: (B,) per sample or (B, K) per vertex.
    """
    dist = _norm(_center_depth(pred) - _center_depth(gt.to(pred.dtype)))
    return _reduce(dist, mask if mask.ndim == 2 else mask.view(-1, 1), reduction)


def edge_loss(pred: Tensor, gt: Tensor, edges: Tensor, mask: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """``| ||V_i - V_j|| - ||G_i - G_j|| |`` per mesh edge (E, 2); mask (B,). Translation-free, so no centring."""
    e = _faces_tensor(edges, pred.device)
    gt = gt.to(pred.dtype)
    lp = _norm(pred[:, e[:, 0]] - pred[:, e[:, 1]])
    lg = _norm(gt[:, e[:, 0]] - gt[:, e[:, 1]])
    return _reduce((lp - lg).abs(), mask.view(-1, 1), reduction)


def face_normals(vertices: Tensor, faces: Tensor) -> Tensor:
    """(B, F, 3) unit normals, same winding rule as `Topology.face_normals`."""
    f = _faces_tensor(faces, vertices.device)
    a, b, c = vertices[:, f[:, 0]], vertices[:, f[:, 1]], vertices[:, f[:, 2]]
    n = torch.cross(b - a, c - a, dim=-1)
    return n / _norm(n).unsqueeze(-1)


def normal_loss(pred: Tensor, gt: Tensor, faces: Tensor, mask: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """``1 - cos`` between predicted and ground-truth face normals, per face; mask (B,)."""
    cos = (face_normals(pred, faces) * face_normals(gt.to(pred.dtype), faces)).sum(dim=-1)
    return _reduce(1.0 - cos, mask.view(-1, 1), reduction)


def regress_joints(vertices: Tensor, regressor: Tensor) -> Tensor:
    """``J @ V``: (B, K, D) vertices -> (B, J, D) joints with a (J, K) landmarker."""
    return torch.einsum("jk,bkd->bjd", torch.as_tensor(regressor).to(vertices), vertices)


def joint_2d_loss(
    vertices: Tensor, keypoints: Tensor, mask: Tensor, regressor: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """Euclidean distance (pixels) between the (x, y) of ``J @ V`` and 2D keypoints (B, J, 2); mask (B, J)."""
    joints = regress_joints(vertices[..., :2], regressor)
    return _reduce(_norm(joints - keypoints.to(joints.dtype)), mask, reduction)


def joint_3d_loss(
    vertices: Tensor, joints_3d: Tensor, mask: Tensor, regressor: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """Euclidean distance between ``J @ V`` and 3D joints (B, J, 3), depths centred over the labelled joints."""
    joints = regress_joints(vertices, regressor)
    dist = _norm(_center_depth(joints, mask) - _center_depth(joints_3d.to(joints.dtype), mask))
    return _reduce(dist, mask, reduction)


# ------------------------------------------------------------------------------------ Eq. 20


class LossTargets(TypedDict, total=False):
    """What a batch may supervise; a term runs when all its keys are present (and its weight > 0).

    DensePose points (bary, uvc, visibility labels): ``dp_pixels`` (B, N, 2) crop pixels,
    ``dp_face`` (B, N) face index, ``dp_bary`` (B, N, 3), ``dp_mask`` (B, N).
    Visibility BCE: ``visibility`` (B, K) and ``visibility_mask`` (B, K); when absent they are
    derived from the DensePose points and ``vertices`` (`partial_visibility_labels`).
    Silhouette: ``silhouette`` (B, h + 2 pad, w + 2 pad) ground-truth mask on the padded render grid
    (`render.crop_mask_to_grid`), optional ``silhouette_phi`` (same shape) and ``silhouette_mask`` (B,).
    3D: ``vertices`` (B, K, 3) crop pixels + depth, ``vertices_mask`` (B,) or (B, K).
    Where the crop shows the photo: ``picture_box`` (B, 4) x0, y0, x1, y1 crop pixels (the derived
    visibility labels mark vertices outside it invisible; absent: the whole crop).
    Joints: ``joints_2d`` (B, 17, 2) + ``joints_2d_mask`` (B, 17); ``joints_3d`` (B, 17, 3) + ``joints_3d_mask``.
    Foreground: ``foreground`` (B, h, w) body mask at the heatmap cells (`render.crop_mask_to_grid`, pad 0),
    optional ``foreground_mask`` (B,).
    """

    dp_pixels: Tensor
    dp_face: Tensor
    dp_bary: Tensor
    dp_mask: Tensor
    visibility: Tensor
    visibility_mask: Tensor
    silhouette: Tensor
    silhouette_phi: Tensor
    silhouette_mask: Tensor
    vertices: Tensor
    vertices_mask: Tensor
    joints_2d: Tensor
    joints_2d_mask: Tensor
    joints_3d: Tensor
    joints_3d_mask: Tensor
    foreground: Tensor
    foreground_mask: Tensor
    picture_box: Tensor


def _need(topology: Topology, field: str, term: str) -> Any:
    value = getattr(topology, field)
    if value is None:
        raise ConfigError(
            f"the {term} loss needs topology {field} but {topology.name!r} has none; "
            f"use a topology with {field} or set its weight to 0"
        )
    return value


def total_loss(
    outputs: dict[str, Any],
    targets: LossTargets | dict[str, Tensor],
    topology: Topology,
    weights: LossWeights,
    config: ModelConfig,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 20: ``sum_i lambda_i L_i`` over the terms this batch supervises.

    outputs: a `MeshPoseOutput`. Returns the weighted total and the unweighted value of every term
    that ran (keys: bary, uvc, visibility, silhouette, vertex, heatmap_spread, regressed, edge, normal,
    joint_2d, joint_3d, foreground).
    Each term is a ``mean`` over the labelled items of the batch.
    """
    t = targets
    terms: dict[str, Tensor] = {}
    vertices = outputs["vertices"]
    device = vertices.device
    has_dp = all(k in t for k in ("dp_pixels", "dp_face", "dp_bary", "dp_mask"))
    has_3d = "vertices" in t and "vertices_mask" in t

    if has_dp and (weights.bary > 0 or weights.uvc > 0):
        faces = torch.as_tensor(_need(topology, "faces", "DensePose"), device=device)
        if weights.bary > 0:
            terms["bary"] = barycentric_cross_entropy(
                outputs["heatmaps"],
                t["dp_pixels"],
                t["dp_face"],
                t["dp_bary"],
                t["dp_mask"],
                faces,
                config,
                target="nearest" if weights.bary_target == "nearest" else "barycentric",
            )
        if weights.uvc > 0:
            terms["uvc"] = uv_consistency(
                outputs["vertices_2d"], t["dp_pixels"], t["dp_face"], t["dp_bary"], t["dp_mask"], faces
            )

    vis_target = vis_mask = None
    if weights.visibility > 0 or (weights.heatmap_spread > 0 and weights.spread_vertices == "visible"):
        if "visibility" in t and "visibility_mask" in t:
            vis_target, vis_mask = t["visibility"], t["visibility_mask"]
        elif has_dp or has_3d:
            faces = torch.as_tensor(_need(topology, "faces", "visibility"), device=device)
            gt_mask = t.get("vertices_mask") if has_3d else None
            if gt_mask is not None and gt_mask.ndim == 2:
                gt_mask = gt_mask.amax(dim=1)
            vis_target, vis_mask = partial_visibility_labels(
                topology.num_vertices,
                faces,
                t["dp_face"] if has_dp else None,
                (t["dp_mask"].bool() & in_crop(t["dp_pixels"], config)) if has_dp else None,
                t["vertices"] if has_3d else None,
                gt_mask,
                config,
                t.get("picture_box"),
            )
        if weights.visibility > 0 and vis_target is not None and vis_mask is not None:
            terms["visibility"] = visibility_bce(outputs["visibility_logits"], vis_target, vis_mask)

    if weights.silhouette > 0 and "silhouette" in t:
        faces = torch.as_tensor(_need(topology, "faces", "silhouette"), device=device)
        sil = render_silhouette(
            vertices,
            outputs["visibility"],
            faces,
            config,
            pad=weights.silhouette_pad,
            sigma=weights.silhouette_sigma,
        )
        gt = t["silhouette"]
        if gt.shape != sil.shape:
            raise ConfigError(
                f"silhouette target has shape {tuple(gt.shape)} but the render grid is {tuple(sil.shape)}; "
                f"build it with render.crop_mask_to_grid(mask, config, pad={weights.silhouette_pad})"
            )
        terms["silhouette"] = silhouette_loss(
            sil, gt, t.get("silhouette_phi"), weights.boundary, t.get("silhouette_mask")
        )

    if has_3d:
        gt, gt_mask = t["vertices"], t["vertices_mask"]
        per_sample = gt_mask if gt_mask.ndim == 1 else gt_mask.amax(dim=1)
        if weights.vertex > 0:
            terms["vertex"] = vertex_loss(vertices, gt, gt_mask)
        if weights.heatmap_spread > 0:
            on_picture = in_crop(gt[..., :2], config)
            if "picture_box" in t:
                on_picture = on_picture & in_box(gt[..., :2], t["picture_box"])
            known = gt_mask.to(gt.dtype) if gt_mask.ndim == 2 else gt_mask.to(gt.dtype).unsqueeze(1)
            picked = on_picture.to(gt.dtype) * known
            if weights.spread_vertices == "visible":
                # The visibility block above ran for this term and, with `vertices` given, always has labels.
                assert vis_target is not None and vis_mask is not None
                picked = picked * ((vis_target > 0.5) & (vis_mask > 0)).to(gt.dtype)
            terms["heatmap_spread"] = heatmap_spread(
                outputs["heatmaps"], weights.spread_gain or config.gain, decode.grid_rows(config), picked
            )
        if weights.regressed > 0 and "regressed" in outputs:
            terms["regressed"] = vertex_loss(outputs["regressed"], gt, gt_mask)
        if weights.edge > 0:
            terms["edge"] = edge_loss(vertices, gt, torch.as_tensor(_edges(topology), device=device), per_sample)
        if weights.normal > 0:
            faces = torch.as_tensor(_need(topology, "faces", "normal"), device=device)
            terms["normal"] = normal_loss(vertices, gt, faces, per_sample)

    if weights.joint_2d > 0 and "joints_2d" in t and "joints_2d_mask" in t:
        reg = torch.as_tensor(_need(topology, "coco_regressor", "joint"), device=device)
        terms["joint_2d"] = joint_2d_loss(vertices, t["joints_2d"], t["joints_2d_mask"], reg)
    if weights.joint_3d > 0 and "joints_3d" in t and "joints_3d_mask" in t:
        reg = torch.as_tensor(_need(topology, "coco_regressor", "joint"), device=device)
        terms["joint_3d"] = joint_3d_loss(vertices, t["joints_3d"], t["joints_3d_mask"], reg)

    fg_logits = outputs.get("foreground")
    if weights.foreground > 0 and "foreground" in t and fg_logits is not None:
        bce = F.binary_cross_entropy_with_logits(
            fg_logits[:, 0], t["foreground"].to(fg_logits.dtype), reduction="none"
        ).mean(dim=(1, 2))
        terms["foreground"] = _reduce(bce, t.get("foreground_mask"), "mean")

    # A batch with nothing to supervise still returns a differentiable zero.
    total = vertices.sum() * 0.0
    for name, value in terms.items():
        total = total + getattr(weights, name) * value
    return total, terms


def _edges(topology: Topology) -> Any:
    _need(topology, "faces", "edge")
    return topology.edges
