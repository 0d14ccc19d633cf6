"""The visibility-weighted soft rasteriser and the boundary distance phi (method.md Sec. 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from meshpose_mobile.config import ModelConfig
from meshpose_mobile.errors import ConfigError
from meshpose_mobile.render import (
    crop_mask_to_grid,
    mask_boundary_distance,
    render_grid,
    render_silhouette,
    soft_silhouette,
)
from meshpose_mobile.topology import default_topology

TRI = torch.tensor([[[0.0, 0.0], [60.0, 0.0], [0.0, 60.0]]])  # (1, 3, 2), centroid (20, 20)
FACE = torch.tensor([[0, 1, 2]])


def _config(**kw: object) -> ModelConfig:
    return ModelConfig(variant="t", backbone="mobilenetv2", num_vertices=3, input_height=32, input_width=16, **kw)


def _render(points: torch.Tensor, vis: torch.Tensor, pixels: list[list[float]], sigma: float = 1.0) -> torch.Tensor:
    return soft_silhouette(points, vis, FACE, torch.tensor(pixels), sigma=sigma)[0]


def test_big_triangle_covers_its_centre_and_not_far_pixels() -> None:
    sil = _render(TRI, torch.ones(1, 3), [[20.0, 20.0], [200.0, 200.0], [-40.0, 10.0]])
    assert sil[0] > 0.999
    assert sil[1] < 1e-6 and sil[2] < 1e-6


def test_signed_distance_hand_values() -> None:
    # On the edge y = 0: d = 0 -> D = 1/2. Two pixels outside: D = sigmoid(-2 / sigma). Two inside: sigmoid(2).
    sil = _render(TRI, torch.ones(1, 3), [[30.0, 0.0], [30.0, -2.0], [30.0, 2.0]], sigma=1.0)
    expected = torch.tensor([0.5, 1 / (1 + math.exp(2.0)), 1 / (1 + math.exp(-2.0))])
    assert torch.allclose(sil, expected, atol=1e-5)


def test_winding_does_not_matter() -> None:
    pixels = [[20.0, 20.0], [30.0, -2.0], [70.0, 10.0]]
    ccw = _render(TRI, torch.ones(1, 3), pixels)
    cw = _render(TRI[:, [0, 2, 1]], torch.ones(1, 3), pixels)
    assert torch.allclose(ccw, cw, atol=1e-6)


def test_zero_visibility_makes_the_face_vanish() -> None:
    sil = _render(TRI, torch.zeros(1, 3), [[20.0, 20.0], [5.0, 5.0]])
    assert torch.all(sil.abs() < 1e-6)


def test_visibility_is_interpolated_barycentrically() -> None:
    # At the centroid every barycentric is 1/3: w = (1 + 0 + 0.5) / 3 = 0.5, D ~ 1 deep inside.
    sil = _render(TRI, torch.tensor([[1.0, 0.0, 0.5]]), [[20.0, 20.0]], sigma=0.5)
    assert sil[0].item() == pytest.approx(0.5, abs=1e-6)
    # Outside, barycentrics are clamped: beyond vertex 0 only vertex 0's visibility counts.
    outside = _render(TRI, torch.tensor([[0.8, 0.0, 0.0]]), [[-1.0, -1.0]], sigma=1.0)
    assert outside[0].item() == pytest.approx(0.8 / (1 + math.exp(math.sqrt(2.0))), abs=1e-5)


def test_overlapping_faces_combine_as_one_minus_product() -> None:
    points = torch.cat([TRI, TRI + 1.0], dim=1)  # 6 vertices, two overlapping faces
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    vis = torch.tensor([[0.5] * 3 + [0.25] * 3])
    sil = soft_silhouette(points, vis, faces, torch.tensor([[20.0, 20.0]]), sigma=0.5)
    assert sil.item() == pytest.approx(1 - (1 - 0.5) * (1 - 0.25), abs=1e-6)


def test_gradients_reach_vertices_and_visibilities() -> None:
    points = TRI.clone().requires_grad_(True)
    vis = torch.full((1, 3), 0.7, requires_grad=True)
    grid = render_grid(_config(), pad=2)
    sil = soft_silhouette(points, vis, FACE, grid, sigma=2.0)
    sil.sum().backward()
    assert points.grad is not None and vis.grad is not None
    assert torch.isfinite(points.grad).all() and torch.isfinite(vis.grad).all()
    assert points.grad.abs().sum() > 0
    assert torch.all(vis.grad > 0)  # more visibility never shrinks the silhouette


def test_chunking_and_culling_change_nothing() -> None:
    torch.manual_seed(0)
    topo = default_topology()
    faces = torch.as_tensor(topo.faces[:200])
    points = (torch.rand(2, topo.num_vertices, 2) * torch.tensor([16.0, 32.0])).requires_grad_(True)
    vis = torch.rand(2, topo.num_vertices).requires_grad_(True)
    grid = render_grid(_config(), pad=1)
    results = []
    for max_elements, cull in ((500, None), (10**9, None), (500, 3.0), (10**9, 3.0)):
        sil = soft_silhouette(points, vis, faces, grid, max_elements=max_elements, cull=cull)
        sil.square().sum().backward()
        results.append((sil.detach(), points.grad.clone(), vis.grad.clone()))
        points.grad = vis.grad = None
    # Chunk size never matters, with or without culling (3 sigma here, so that culling does drop pairs).
    for small, big in ((results[0], results[1]), (results[2], results[3])):
        for a, b in zip(small, big, strict=True):
            assert torch.allclose(a, b, atol=1e-5)
    # At the default 12 sigma the culled render matches the full one to float precision.
    full = soft_silhouette(points, vis, faces, grid, cull=None)
    assert torch.allclose(full, soft_silhouette(points, vis, faces, grid), atol=1e-4)


def test_render_grid_follows_the_cell_convention() -> None:
    grid = render_grid(_config(), pad=0)
    assert grid.shape == (8, 4, 2)
    assert grid[0, 0].tolist() == [1.5, 1.5] and grid[7, 3].tolist() == [13.5, 29.5]
    padded = render_grid(_config(), pad=2)
    assert padded.shape == (12, 8, 2) and padded[0, 0].tolist() == [-6.5, -6.5]
    released = render_grid(_config(cell_offset=0.0, pixel_offset=0.0), pad=0)
    assert released[1, 2].tolist() == [8.0, 4.0]
    with pytest.raises(ConfigError):
        render_grid(_config(), pad=-1)


def test_crop_mask_to_grid_samples_cells_and_pads_with_zeros() -> None:
    cfg = _config()
    mask = torch.zeros(32, 16)
    mask[:, 8:] = 1.0  # right half of the crop
    grid_mask = crop_mask_to_grid(mask, cfg, pad=1)
    assert grid_mask.shape == (10, 6)
    assert torch.all(grid_mask[0] == 0) and torch.all(grid_mask[:, 0] == 0) and torch.all(grid_mask[:, -1] == 0)
    # Inner cells: columns 0, 1 of the heatmap sit at x = 1.5, 5.5 (left), 2, 3 at 9.5, 13.5 (right).
    assert grid_mask[1:-1, 1:3].sum() == 0 and torch.all(grid_mask[1:-1, 3:5] == 1)
    with pytest.raises(ConfigError, match="crop size"):
        crop_mask_to_grid(torch.zeros(10, 10), cfg)


def test_render_silhouette_on_the_padded_grid() -> None:
    cfg = _config()
    # A triangle over the crop's top-left quarter, one vertex far off the crop (still rendered on the pad).
    verts = torch.tensor([[[0.0, 0.0, 5.0], [15.0, 0.0, 5.0], [0.0, -20.0, 5.0]]])
    sil = render_silhouette(verts, torch.ones(1, 3), FACE, cfg, pad=3, sigma=1.0)
    assert sil.shape == (1, 8 + 6, 4 + 6)
    assert sil[0, 1, 4] > 0.95  # cell at (5.5, -6.5): inside the part above the crop, 3.7 px from an edge
    assert sil[0, -1, -1] < 1e-6


def test_boundary_distance_hand_case() -> None:
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    phi = mask_boundary_distance(mask)
    assert phi[3, 3] == 3.0 and phi[2, 3] == 2.0 and phi[1, 1] == 1.0 and phi[0, 0] == 0.0
    assert phi.dtype == np.float32
    # A mask cut by the array edge: the edge is not a boundary (same as scipy's EDT).
    strip = np.zeros((1, 5), bool)
    strip[0, :4] = True
    assert mask_boundary_distance(strip).tolist() == [[4.0, 3.0, 2.0, 1.0, 0.0]]
    assert not mask_boundary_distance(np.ones((3, 3), bool)).any()
    assert not mask_boundary_distance(np.zeros((3, 3), bool)).any()


def test_boundary_distance_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    masks = rng.random((3, 12, 9)) > 0.35
    phi = mask_boundary_distance(torch.from_numpy(masks))
    assert phi.shape == masks.shape
    for m, p in zip(masks, phi, strict=True):
        outside = np.argwhere(~m)
        for r, c in np.argwhere(m):
            assert p[r, c] == pytest.approx(np.sqrt(((outside - [r, c]) ** 2).sum(1).min()), abs=1e-5)
