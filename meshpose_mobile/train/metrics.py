"""Evaluation metrics on labelled crops (synthetic validation or any source with the same labels).

- ``v2d_px``: mean 2D distance between predicted and true vertex positions, crop pixels, over the
  vertices whose true position is inside the crop (occluded ones included; a selfie's legs far
  below the crop are not observable and would dominate), averaged per sample.
  ``v2d_all_px`` counts every vertex.
- ``pck``: fraction of in-crop COCO joints (regressed from the mesh with the topology's regressor)
  within ``alpha`` times the longer side of the true mesh's 2D box.
- ``part_acc`` / ``uv_err``: DensePose-style per-pixel scores at the heatmap cells whose pixel is on
  the visible body: the decoded part (`uv.decode_uv`) is right, and the UV distance on the pixels
  whose part is right (UV is only comparable within a part's chart).
- ``dp_part_acc`` / ``dp_uv_err``: the same two scores at the DensePose points only (what real
  DensePose-COCO annotations support).
- ``mpjpe_mm`` / ``pa_mpjpe_mm``: 3D COCO joints after aligning the hips' midpoint (MPJPE) or after a
  similarity Procrustes fit (PA-MPJPE), converted from pixel units with each sample's
  ``pixels_per_metre``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from meshpose_mobile.config import ModelConfig
from meshpose_mobile.losses import in_crop, pixel_to_cell, regress_joints
from meshpose_mobile.render import crop_mask_to_grid
from meshpose_mobile.topology import Topology
from meshpose_mobile.uv import decode_uv

# COCO-17 hips: left 11, right 12.
_HIPS = (11, 12)


def procrustes_align(pred: Tensor, gt: Tensor) -> Tensor:
    """(B, J, 3) pred mapped onto gt by the best similarity transform (Umeyama)."""
    mp, mg = pred.mean(1, keepdim=True), gt.mean(1, keepdim=True)
    p, g = pred - mp, gt - mg
    cov = g.transpose(1, 2) @ p  # (B, 3, 3)
    u, s, vt = torch.linalg.svd(cov)
    d = torch.sign(torch.linalg.det(u @ vt))
    fix = torch.ones_like(s)
    fix[:, -1] = d
    rot = u @ torch.diag_embed(fix) @ vt
    var = (p**2).sum(dim=(1, 2)).clamp_min(1e-12)
    scale = (s * fix).sum(1) / var
    return scale[:, None, None] * p @ rot.transpose(1, 2) + mg


def cell_labels(part: Tensor, uv: Tensor, config: ModelConfig) -> tuple[Tensor, Tensor]:
    """Crop-resolution labels (B, H, W) and (B, H, W, 2) sampled at the heatmap cells (nearest)."""
    cells_uv = crop_mask_to_grid(uv.permute(0, 3, 1, 2), config).permute(0, 2, 3, 1)
    return crop_mask_to_grid(part, config), cells_uv


class MetricSums:
    """Sums and counts across batches (and ranks), turned into means at the end."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, float] = {}

    def add(self, name: str, total: Tensor | float, count: Tensor | float) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + float(total)
        self.counts[name] = self.counts.get(name, 0.0) + float(count)

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in sorted(self.sums) if self.counts[k] > 0}


@torch.no_grad()
def batch_metrics(
    outputs: dict[str, Tensor],
    batch: dict[str, Tensor],
    topology: Topology,
    config: ModelConfig,
    sums: MetricSums,
    *,
    uv_method: str = "barycentric",
    pck_alpha: float = 0.1,
) -> None:
    pred = outputs["vertices"].float()
    gt = batch["vertices"].float()
    bsz = pred.shape[0]
    has_3d = batch["vertices_mask"].reshape(bsz, -1).amax(1) > 0 if "vertices_mask" in batch else torch.ones(bsz) > 0
    has_3d = has_3d.to(pred.device)
    dist2d = (pred[..., :2] - gt[..., :2]).norm(dim=-1)  # (B, K)
    sums.add("v2d_all_px", dist2d.mean(dim=1)[has_3d].sum(), has_3d.sum())
    h, w = config.input_height, config.input_width
    inside = (gt[..., 0] >= -0.5) & (gt[..., 0] < w - 0.5) & (gt[..., 1] >= -0.5) & (gt[..., 1] < h - 0.5)
    seen = inside.sum(1)
    per_sample = (dist2d * inside).sum(1) / seen.clamp_min(1)
    ok = (seen > 0) & has_3d
    sums.add("v2d_px", per_sample[ok].sum(), ok.sum())

    if topology.coco_regressor is not None:
        reg = torch.as_tensor(topology.coco_regressor, device=pred.device, dtype=pred.dtype)
        pj = regress_joints(pred, reg)
        gj2 = batch["joints_2d"]
        jmask = batch["joints_2d_mask"] > 0
        box = gt[..., :2].amax(1) - gt[..., :2].amin(1)
        thr = pck_alpha * box.amax(-1)  # (B,)
        hit = (pj[..., :2] - gj2).norm(dim=-1) <= thr[:, None]
        sums.add("pck", (hit & jmask).sum(), jmask.sum())

        has_j3 = batch["joints_3d_mask"].amax(1) > 0 if "joints_3d_mask" in batch else has_3d
        if bool(has_j3.any()):
            gj3 = batch["joints_3d"].float()[has_j3]
            pj3 = pj[has_j3]
            ppm = batch["pixels_per_metre"].float()[has_j3][:, None]
            root_p = pj3[:, list(_HIPS)].mean(1, keepdim=True)
            root_g = gj3[:, list(_HIPS)].mean(1, keepdim=True)
            err = ((pj3 - root_p) - (gj3 - root_g)).norm(dim=-1) / ppm * 1000.0
            sums.add("mpjpe_mm", err.mean(1).sum(), len(gj3))
            aligned = procrustes_align(pj3.double(), gj3.double()).float()
            pa = (aligned - gj3).norm(dim=-1) / ppm * 1000.0
            sums.add("pa_mpjpe_mm", pa.mean(1).sum(), len(gj3))

    if topology.faces is not None and topology.parts is not None and topology.uv is not None:
        dev = pred.device
        faces = torch.as_tensor(topology.faces, device=dev)
        parts = torch.as_tensor(topology.parts, device=dev)
        uv = torch.as_tensor(topology.uv, device=dev)
        face_uv = face_part = None
        if topology.chart_uv is not None and topology.chart_parts is not None:
            face_uv = torch.as_tensor(topology.chart_uv[: len(topology.faces)], device=dev)
            face_part = torch.as_tensor(topology.chart_parts[: len(topology.faces)], device=dev)
        pp, puv = decode_uv(
            outputs["heatmaps"].float(),
            faces,
            parts,
            uv,
            uv_method,  # type: ignore[arg-type]
            face_uv=face_uv,
            face_part=face_part,
        )
        gp, guv = cell_labels(batch["part"], batch["uv"], config)
        fg = gp > 0
        right = fg & (pp == gp)
        sums.add("part_acc", right.sum(), fg.sum())
        d = (puv.permute(0, 2, 3, 1) - guv).norm(dim=-1)
        sums.add("uv_err", (d * right).sum(), right.sum())
        if "dp_part" in batch:
            # The same scores at the annotated points only: what real DensePose labels allow.
            rows, cols = pixel_to_cell(batch["dp_pixels"], config)
            valid = (batch["dp_mask"] > 0) & in_crop(batch["dp_pixels"], config)
            b = torch.arange(bsz, device=dev)[:, None].expand_as(rows)
            dp_pp = pp[b, rows, cols]
            dp_uv = puv.permute(0, 2, 3, 1)[b, rows, cols]
            hit = valid & (dp_pp == batch["dp_part"])
            sums.add("dp_part_acc", hit.sum(), valid.sum())
            sums.add("dp_uv_err", ((dp_uv - batch["dp_uv"]).norm(dim=-1) * hit).sum(), hit.sum())


def merge_across_ranks(sums: MetricSums, device: torch.device) -> MetricSums:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return sums
    names = sorted(sums.sums)
    packed = torch.tensor([[sums.sums[n], sums.counts[n]] for n in names], dtype=torch.float64, device=device)
    dist.all_reduce(packed)
    out = MetricSums()
    for n, (s, c) in zip(names, packed.tolist(), strict=True):
        out.add(n, s, c)
    return out
