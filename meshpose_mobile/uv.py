"""Per-pixel DensePose decoding from VertexPose heatmaps (method.md Eq. 2 and Table 1b baselines).

Training and evaluation only: the deployment graph has no UV output.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

UVMethod = Literal["barycentric", "nearest", "global"]


def vertex_posterior(heatmaps: Tensor) -> Tensor:
    """Q(k | x): softmax over the K vertex channels at every pixel, (B, K, h, w)."""
    return torch.softmax(heatmaps, dim=1)


def face_parts(faces: Tensor, parts: Tensor) -> Tensor:
    """Part of each face: the part shared by most of its vertices (first vertex on a 3-way tie)."""
    p = parts[faces]  # (F, 3)
    same01 = p[:, 0] == p[:, 1]
    same12 = p[:, 1] == p[:, 2]
    return torch.where(same01 | ~same12, p[:, 0], p[:, 1])


def decode_uv(
    heatmaps: Tensor,
    faces: Tensor,
    parts: Tensor,
    uv: Tensor,
    method: UVMethod = "barycentric",
    face_uv: Tensor | None = None,
    face_part: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """(B, K, h, w) scores -> part index (B, h, w) in 1..24 and UV (B, 2, h, w).

    barycentric (Eq. 2): f* = argmax_f sum_{k in f} Q(k|x); UV = Q-weighted mean of f*'s vertex UVs,
    part = part of f*. nearest: UV and part of argmax_k Q(k|x). global: sum_k Q(k|x) UV_k, part of
    the most likely vertex. A topology with charts per face (DensePose's atlas) passes `face_uv`
    (F, 3, 2) and `face_part` (F,): barycentric decoding then reads the corners' (U, V) in the face's
    own chart, so faces along a chart border decode in one chart.
    """
    q = vertex_posterior(heatmaps)
    uv = uv.to(q.dtype)
    if method == "global":
        best = q.argmax(dim=1)
        return parts[best], torch.einsum("bkhw,kc->bchw", q, uv)
    if method == "nearest":
        best = q.argmax(dim=1)
        return parts[best], uv[best].permute(0, 3, 1, 2)
    if method != "barycentric":
        raise ValueError(f"unknown UV decoding method {method!r}")
    qf = q[:, faces]  # (B, F, 3, h, w)
    face = qf.sum(dim=2).argmax(dim=1)  # (B, h, w)
    qsel = torch.gather(qf, 1, face[:, None, None].expand(-1, 1, 3, -1, -1)).squeeze(1)  # (B, 3, h, w)
    weights = qsel / qsel.sum(dim=1, keepdim=True).clamp_min(1e-12)
    vert_uv = uv[faces[face]] if face_uv is None else face_uv.to(q.dtype)[face]  # (B, h, w, 3, 2)
    out_uv = (weights.permute(0, 2, 3, 1).unsqueeze(-1) * vert_uv).sum(dim=3).permute(0, 3, 1, 2)
    return (face_parts(faces, parts) if face_part is None else face_part)[face], out_uv
