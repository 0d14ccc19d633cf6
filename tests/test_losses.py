"""Every training loss on hand-computed cases, plus one SGD step per loss moving the prediction the right way."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from meshpose_mobile.config import ModelConfig
from meshpose_mobile.decode import grid_rows as decode_grid_rows
from meshpose_mobile.errors import ConfigError, MeshPoseError
from meshpose_mobile.losses import (
    LossWeights,
    barycentric_cross_entropy,
    edge_loss,
    heatmap_spread,
    in_box,
    joint_2d_loss,
    joint_3d_loss,
    normal_loss,
    partial_visibility_labels,
    pixel_to_cell,
    regress_joints,
    silhouette_loss,
    total_loss,
    uv_consistency,
    vertex_loss,
    visibility_bce,
)
from meshpose_mobile.render import render_grid, soft_silhouette
from meshpose_mobile.topology import NUM_COCO_KEYPOINTS, Topology

FACES = torch.tensor([[0, 1, 2]])
CFG = ModelConfig(variant="t", backbone="mobilenetv2", num_vertices=3, input_height=16, input_width=16)


def _sgd(param: torch.Tensor, loss: torch.Tensor, lr: float) -> None:
    loss.backward()
    with torch.no_grad():
        param -= lr * param.grad
    param.grad = None


# ------------------------------------------------------------------------------ pixel -> cell


def test_pixel_to_cell_rule() -> None:
    xs = torch.tensor([-0.5, 3.49, 3.5, 7.0, 15.4, 100.0, -9.0])
    _, col = pixel_to_cell(torch.stack([xs, torch.zeros_like(xs)], dim=-1), CFG)
    assert col.tolist() == [0, 0, 1, 1, 3, 3, 0]
    released = CFG.replace(cell_offset=0.0, pixel_offset=0.0)  # cell j at pixel 4j
    _, col = pixel_to_cell(torch.tensor([[1.99, 0.0], [2.0, 0.0], [8.0, 0.0]]), released)
    assert col.tolist() == [0, 1, 2]
    row, _ = pixel_to_cell(torch.tensor([[0.0, 9.5]]), CFG)
    assert row.item() == 2


# ------------------------------------------------------------------------------ Eq. 5


def _heatmap_with(q: list[float], row: int, col: int) -> torch.Tensor:
    scores = torch.zeros(1, 3, 4, 4)
    scores[0, :, row, col] = torch.log(torch.tensor(q))
    return scores


def test_barycentric_cross_entropy_hand_case() -> None:
    heat = _heatmap_with([1 / 6, 1 / 3, 1 / 2], row=1, col=2)
    # Cell (1, 2) sits at pixel (9.5, 5.5); (10.2, 6.9) rounds to it. The 2nd point is masked,
    # the 3rd is off the crop: neither counts.
    pixels = torch.tensor([[[10.2, 6.9], [0.0, 0.0], [30.0, 5.0]]])
    face = torch.zeros(1, 3, dtype=torch.long)
    bary = torch.tensor([[[0.5, 0.25, 0.25], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    mask = torch.tensor([[True, False, True]])
    loss = barycentric_cross_entropy(heat, pixels, face, bary, mask, FACES, CFG)
    expected = 0.5 * math.log(6) + 0.25 * math.log(3) + 0.25 * math.log(2)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    nearest = barycentric_cross_entropy(heat, pixels, face, bary, mask, FACES, CFG, target="nearest")
    assert nearest.item() == pytest.approx(math.log(6), abs=1e-6)
    per_point = barycentric_cross_entropy(heat, pixels, face, bary, mask, FACES, CFG, reduction="none")
    assert per_point.shape == (1, 3) and per_point[0, 1] == 0 and per_point[0, 2] == 0
    summed = barycentric_cross_entropy(heat, pixels, face, bary, mask, FACES, CFG, reduction="sum")
    assert summed.item() == pytest.approx(expected, abs=1e-6)


def test_barycentric_cross_entropy_step_moves_posterior_to_barycentrics() -> None:
    torch.manual_seed(0)
    scores = torch.randn(1, 3, 4, 4).requires_grad_(True)
    before_scores = scores.detach().clone()
    args = (torch.tensor([[[9.5, 5.5]]]), torch.zeros(1, 1, dtype=torch.long), torch.tensor([[[0.6, 0.3, 0.1]]]))
    mask = torch.ones(1, 1)
    target = torch.tensor([0.6, 0.3, 0.1])
    q0 = torch.softmax(before_scores[0, :, 1, 2], 0)
    loss0 = barycentric_cross_entropy(scores, *args, mask, FACES, CFG)
    _sgd(scores, loss0, lr=1.0)
    q1 = torch.softmax(scores[0, :, 1, 2].detach(), 0)
    assert barycentric_cross_entropy(scores, *args, mask, FACES, CFG) < loss0
    assert (q1 - target).abs().sum() < (q0 - target).abs().sum()
    other = torch.ones(4, 4, dtype=torch.bool)
    other[1, 2] = False
    assert torch.equal(scores.detach()[0][:, other], before_scores[0][:, other])  # only the annotated cell moves


# ------------------------------------------------------------------------------ Eq. 6


def test_uv_consistency_hand_case() -> None:
    p = torch.tensor([[[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]]).repeat(2, 1, 1)
    bary = torch.tensor([[[0.5, 0.25, 0.25]], [[1.0, 0.0, 0.0]]])
    pixels = torch.tensor([[[4.0, 5.0]], [[100.0, 100.0]]])  # lands at (1, 1): distance 5
    face = torch.zeros(2, 1, dtype=torch.long)
    mask = torch.tensor([[1.0], [0.0]])
    assert uv_consistency(p, pixels, face, bary, mask, FACES).item() == pytest.approx(5.0, abs=1e-6)


def test_uv_consistency_step_moves_the_landing_point() -> None:
    p = torch.tensor([[[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]], requires_grad=True)
    bary = torch.tensor([[[0.5, 0.25, 0.25]]])
    pixels = torch.tensor([[[4.0, 5.0]]])
    face, mask = torch.zeros(1, 1, dtype=torch.long), torch.ones(1, 1)
    loss0 = uv_consistency(p, pixels, face, bary, mask, FACES)
    _sgd(p, loss0, lr=1.0)
    landed = (bary[0, 0, :, None] * p.detach()[0]).sum(0)
    assert uv_consistency(p, pixels, face, bary, mask, FACES) < loss0
    assert torch.linalg.norm(landed - pixels[0, 0]) < 5.0
    # The gradient of a Euclidean distance pulls each vertex along the unit residual, scaled by b_k.
    assert torch.allclose(p.detach()[0, 0] - torch.tensor([0.0, 0.0]), 0.5 * torch.tensor([0.6, 0.8]), atol=1e-5)


# ------------------------------------------------------------------------------ visibility


def test_visibility_bce_hand_case_and_step() -> None:
    logits = torch.tensor([[0.0, 2.0, -1.0]], requires_grad=True)
    target = torch.tensor([[1.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False]])
    loss = visibility_bce(logits, target, mask)
    assert loss.item() == pytest.approx((math.log(2) + math.log(1 + math.exp(2))) / 2, abs=1e-6)
    _sgd(logits, loss, lr=1.0)
    after = logits.detach()[0]
    assert after[0] > 0 and after[1] < 2.0 and after[2] == -1.0
    assert visibility_bce(logits, target, mask) < loss


def test_partial_visibility_labels() -> None:
    faces = torch.tensor([[0, 1, 2], [2, 3, 4]])
    face_index = torch.tensor([[1, 0]])
    point_mask = torch.tensor([[True, False]])  # only face 1 -> vertices 2, 3, 4 seen
    gt = torch.tensor([[[-5.0, 3.0], [2.0, 2.0], [3.0, 3.0], [40.0, 3.0], [5.0, 5.0], [5.0, 15.4]]])
    target, mask = partial_visibility_labels(6, faces, face_index, point_mask, gt, torch.tensor([True]), CFG)
    assert target.tolist() == [[0.0, 0.0, 1.0, 1.0, 1.0, 0.0]]
    # vertex 0 is off the crop (invisible); vertex 3 is off the crop but annotated: annotation wins.
    assert mask.tolist() == [[True, False, True, True, True, False]]
    _, no_gt = partial_visibility_labels(6, faces, face_index, point_mask, gt, torch.tensor([False]), CFG)
    assert no_gt.tolist() == [[False, False, True, True, True, False]]
    # A crop whose columns from x = 4.5 on lie beyond the photo's edge: vertex 5 (x 5) joins the
    # unseen; vertex 4 (x 5, seen by a DensePose point) stays seen; vertex 1 (x 2) stays unlabelled.
    box = torch.tensor([[-0.5, -0.5, 4.5, 100.0]])
    target, mask = partial_visibility_labels(6, faces, face_index, point_mask, gt, torch.tensor([True]), CFG, box)
    assert target.tolist() == [[0.0, 0.0, 1.0, 1.0, 1.0, 0.0]]
    assert mask.tolist() == [[True, False, True, True, True, True]]


def test_in_box_is_per_sample_and_half_open() -> None:
    pts = torch.tensor([[[0.0, 0.0], [4.5, 0.0]], [[0.0, 0.0], [4.5, 0.0]]])
    boxes = torch.tensor([[-0.5, -0.5, 4.5, 9.5], [-0.5, -0.5, 9.5, 9.5]])
    assert in_box(pts, boxes).tolist() == [[True, False], [True, True]]


# ------------------------------------------------------------------------------ silhouette


def test_silhouette_loss_hand_case() -> None:
    sil = torch.tensor([[[1.0, 0.5], [0.0, 0.0]]])
    gt = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    phi = torch.tensor([[[1.0, 2.0], [0.0, 0.0]]])
    # L1 = 0.5 / 4; boundary = (1 * 0 + 2 * 0.5) / 4; lambda = 0.1.
    assert silhouette_loss(sil, gt, phi, 0.1).item() == pytest.approx(0.125 + 0.1 * 0.25)
    # phi from the mask itself: both mask pixels touch the outside -> phi = 1.
    assert silhouette_loss(sil, gt, None, 0.1).item() == pytest.approx(0.125 + 0.1 * 0.125)
    both = silhouette_loss(sil.repeat(2, 1, 1), gt.repeat(2, 1, 1), None, 0.1, torch.tensor([1.0, 0.0]))
    assert both.item() == pytest.approx(0.1375)


def test_silhouette_step_grows_a_too_small_and_too_hidden_triangle() -> None:
    grid = render_grid(CFG, pad=1)  # 6 x 6 cells at -2.5 .. 17.5
    gt = ((grid[..., 0] > 0) & (grid[..., 0] < 14) & (grid[..., 1] > 0) & (grid[..., 1] < 14)).float()[None]
    points = torch.tensor([[[5.0, 5.0], [10.0, 5.0], [5.0, 10.0]]], requires_grad=True)
    vis = torch.full((1, 3), 0.3, requires_grad=True)

    def loss_now() -> torch.Tensor:
        sil = soft_silhouette(points, vis, FACES, grid, sigma=2.0)
        return silhouette_loss(sil, gt, None, 0.1)

    loss0 = loss_now()
    loss0.backward()
    with torch.no_grad():
        points -= 20.0 * points.grad
        vis -= 0.5 * vis.grad
    area = lambda p: 0.5 * abs(float(torch.linalg.det(torch.stack([p[1] - p[0], p[2] - p[0]]))))  # noqa: E731
    assert loss_now() < loss0
    assert torch.all(vis.detach() > 0.3)  # the mask says the body is there: more visible
    assert area(points.detach()[0]) > 12.5  # and larger than the 5 x 5 / 2 start


# ------------------------------------------------------------------------------ 3D terms


def test_vertex_loss_hand_case_and_depth_centring() -> None:
    pred = torch.zeros(1, 2, 3)
    gt = torch.tensor([[[3.0, 4.0, 0.0], [3.0, 4.0, 0.0]]])
    assert vertex_loss(pred, gt, torch.ones(1)).item() == pytest.approx(5.0, abs=1e-6)
    shifted = torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, 3.0]]])
    assert vertex_loss(shifted, shifted + torch.tensor([0.0, 0.0, 10.0]), torch.ones(1)).item() < 1e-3
    per_vertex = vertex_loss(pred, torch.tensor([[[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]]), torch.tensor([[1.0, 0.0]]))
    assert per_vertex.item() == pytest.approx(5.0, abs=1e-6)


def test_vertex_loss_step() -> None:
    pred = torch.zeros(1, 2, 3, requires_grad=True)
    gt = torch.tensor([[[3.0, 4.0, 0.0], [-3.0, 4.0, 0.0]]])
    loss0 = vertex_loss(pred, gt, torch.ones(1))
    _sgd(pred, loss0, lr=1.0)
    assert vertex_loss(pred, gt, torch.ones(1)) < loss0
    assert torch.all(torch.linalg.norm(pred.detach() - gt, dim=-1) < 5.0)


TRI3 = torch.tensor([[[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 4.0, 0.0]]])
EDGES = torch.tensor([[0, 1], [0, 2], [1, 2]])


def test_edge_loss_hand_case_and_step() -> None:
    gt = 2.0 * TRI3  # edges 6, 8, 10 against 3, 4, 5
    assert edge_loss(TRI3, gt, EDGES, torch.ones(1)).item() == pytest.approx(4.0, abs=1e-5)
    assert edge_loss(TRI3 + 7.0, TRI3, EDGES, torch.ones(1)).item() < 1e-3  # translation-free
    pred = TRI3.clone().requires_grad_(True)
    loss0 = edge_loss(pred, gt, EDGES, torch.ones(1))
    _sgd(pred, loss0, lr=0.5)
    lengths = torch.linalg.norm(pred.detach()[0, EDGES[:, 0]] - pred.detach()[0, EDGES[:, 1]], dim=-1)
    assert edge_loss(pred, gt, EDGES, torch.ones(1)) < loss0
    assert torch.all(lengths > torch.tensor([3.0, 4.0, 5.0]))


def test_normal_loss_hand_case_and_step() -> None:
    standing = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]])  # normal +y
    lying = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])  # normal +z
    one = torch.ones(1)
    assert normal_loss(lying, lying, FACES, one).item() == pytest.approx(0.0, abs=1e-6)
    assert normal_loss(lying, standing, FACES, one).item() == pytest.approx(1.0, abs=1e-6)
    assert normal_loss(lying[:, [0, 2, 1]], lying, FACES, one).item() == pytest.approx(2.0, abs=1e-6)
    pred = lying.clone().requires_grad_(True)
    loss0 = normal_loss(pred, standing, FACES, one)
    _sgd(pred, loss0, lr=0.1)
    assert normal_loss(pred, standing, FACES, one) < loss0


def test_joint_losses_hand_case_and_step() -> None:
    reg = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    verts = torch.tensor([[[0.0, 0.0, 0.0], [2.0, 0.0, 2.0], [5.0, 5.0, 7.0]]])
    assert regress_joints(verts, reg).tolist() == [[[1.0, 0.0, 1.0], [5.0, 5.0, 7.0]]]
    kp = torch.tensor([[[1.0, 3.0], [5.0, 5.0]]])
    assert joint_2d_loss(verts, kp, torch.ones(1, 2), reg).item() == pytest.approx(1.5, abs=1e-5)
    assert joint_2d_loss(verts, kp, torch.tensor([[0.0, 1.0]]), reg).item() == pytest.approx(0.0, abs=1e-3)
    # 3D: depths centred over the labelled joints, so a constant depth offset costs nothing.
    j3 = torch.tensor([[[1.0, 3.0, 101.0], [5.0, 5.0, 107.0]]])
    assert joint_3d_loss(verts, j3, torch.ones(1, 2), reg).item() == pytest.approx(1.5, abs=1e-5)

    pred = verts.clone().requires_grad_(True)
    for loss_fn, target in ((joint_2d_loss, kp), (joint_3d_loss, j3)):
        loss0 = loss_fn(pred, target, torch.ones(1, 2), reg)
        _sgd(pred, loss0, lr=0.5)
        assert loss_fn(pred, target, torch.ones(1, 2), reg) < loss0
    assert regress_joints(pred.detach(), reg)[0, 0, 1] > 0.0  # joint 0 moved up towards y = 3


# ------------------------------------------------------------------------------ weights


def test_loss_weights_round_trip_and_validation() -> None:
    w = LossWeights(uvc=0.2, silhouette_pad=4)
    assert LossWeights.from_dict(w.to_dict()) == w
    for bad in ({"bary": -1.0}, {"edge": float("nan")}, {"normal": float("inf")}, {"vertex": True}, {"joint_2d": "1"}):
        with pytest.raises(ConfigError) as err:
            LossWeights.from_dict(bad)
        assert "\n" not in str(err.value) and next(iter(bad)) in str(err.value)
    for bad in ({"bary_target": "soft"}, {"silhouette_sigma": 0.0}, {"silhouette_pad": -1}, {"lambda": 1.0}):
        with pytest.raises(ConfigError):
            LossWeights.from_dict(bad)
    with pytest.raises(ConfigError):
        LossWeights.from_dict([1, 2])  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ Eq. 20


def _square_topology(with_regressor: bool = True) -> Topology:
    reg = np.full((NUM_COCO_KEYPOINTS, 4), 0.25, dtype=np.float32) if with_regressor else None
    return Topology(name="square", num_vertices=4, faces=np.array([[0, 1, 2], [0, 2, 3]]), coco_regressor=reg)


def _outputs(requires_grad: bool = True) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    cfg = CFG.replace(num_vertices=4)
    heat = torch.randn(2, 4, cfg.heatmap_height, cfg.heatmap_width, requires_grad=requires_grad)
    p2d = torch.rand(2, 4, 2) * 16
    vis_logits = torch.zeros(2, 4, requires_grad=requires_grad)
    verts = torch.cat([p2d, torch.zeros(2, 4, 1)], dim=-1).requires_grad_(requires_grad)
    return {
        "heatmaps": heat,
        "vertices_2d": p2d,
        "visibility_logits": vis_logits,
        "visibility": torch.sigmoid(vis_logits),
        "vertices": verts,
    }


def _targets() -> dict[str, torch.Tensor]:
    square = torch.tensor([[2.0, 2.0, 0.0], [12.0, 2.0, 0.0], [12.0, 12.0, 0.0], [2.0, 12.0, 0.0]])
    return {
        "dp_pixels": torch.tensor([[[5.0, 5.0], [9.0, 9.0]], [[3.0, 8.0], [0.0, 0.0]]]),
        "dp_face": torch.tensor([[0, 1], [1, 0]]),
        "dp_bary": torch.tensor([[[0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]], [[0.6, 0.2, 0.2], [1.0, 0.0, 0.0]]]),
        "dp_mask": torch.tensor([[True, True], [True, False]]),
        "vertices": square.expand(2, 4, 3).clone(),
        "vertices_mask": torch.tensor([1.0, 0.3]),
        "joints_2d": torch.full((2, NUM_COCO_KEYPOINTS, 2), 7.0),
        "joints_2d_mask": torch.ones(2, NUM_COCO_KEYPOINTS),
        "joints_3d": torch.full((2, NUM_COCO_KEYPOINTS, 3), 7.0),
        "joints_3d_mask": torch.ones(2, NUM_COCO_KEYPOINTS),
    }


def test_total_loss_sums_the_weighted_terms_present() -> None:
    topo, cfg = _square_topology(), CFG.replace(num_vertices=4)
    weights = LossWeights(silhouette_pad=1)
    outputs, targets = _outputs(), _targets()
    grid_shape = (2, cfg.heatmap_height + 2, cfg.heatmap_width + 2)
    targets["silhouette"] = torch.zeros(grid_shape)
    total, terms = total_loss(outputs, targets, topo, weights, cfg)
    assert set(terms) == {"bary", "uvc", "visibility", "silhouette", "vertex", "edge", "normal", "joint_2d", "joint_3d"}
    expected = sum(getattr(weights, k) * v for k, v in terms.items())
    assert total.item() == pytest.approx(float(expected.detach()), rel=1e-6)
    # Each term equals its function called directly on the same data.
    bary = barycentric_cross_entropy(
        outputs["heatmaps"], targets["dp_pixels"], targets["dp_face"], targets["dp_bary"], targets["dp_mask"],
        torch.as_tensor(topo.faces), cfg,
    )  # fmt: skip
    assert terms["bary"].item() == pytest.approx(bary.item())
    assert terms["vertex"].item() == pytest.approx(
        vertex_loss(outputs["vertices"], targets["vertices"], targets["vertices_mask"]).item()
    )
    total.backward()
    assert outputs["heatmaps"].grad is not None and outputs["vertices"].grad is not None


def test_regressed_term_trains_r_where_the_fused_mesh_cannot() -> None:
    """Where a vertex is seen (w = 1), Eq. 7's mesh takes x and y from p alone, so the fused
    vertex loss gives r's x and y no gradient; the `regressed` term does."""
    topo, cfg = _square_topology(), CFG.replace(num_vertices=4)
    targets = {k: _targets()[k] for k in ("vertices", "vertices_mask")}
    torch.manual_seed(1)
    r = (torch.rand(2, 4, 3) * 16).requires_grad_()
    p2d, w = torch.rand(2, 4, 2) * 16, torch.ones(2, 4, 1)
    fused = torch.cat([w * p2d + (1 - w) * r[..., :2], r[..., 2:]], dim=-1)
    outputs = {**_outputs(), "vertices_2d": p2d, "regressed": r, "vertices": fused}
    _, terms = total_loss(outputs, targets, topo, LossWeights(), cfg)
    assert "regressed" not in terms  # off by default: the paper's loss
    (grad,) = torch.autograd.grad(terms["vertex"], r)
    assert grad[..., :2].abs().max() == 0.0
    _, terms = total_loss(outputs, targets, topo, LossWeights(regressed=0.05), cfg)
    expected = vertex_loss(r, targets["vertices"], targets["vertices_mask"])
    assert terms["regressed"].item() == pytest.approx(expected.item())
    (grad,) = torch.autograd.grad(terms["regressed"], r)
    assert grad[..., :2].abs().min() > 0.0
    assert LossWeights.from_dict({"regressed": 0.05}).regressed == 0.05


def test_heatmap_spread_measures_the_decode_distribution_about_its_mean() -> None:
    """One cell: no spread; two cells d px apart with masses m and 1 - m: d sqrt(m (1 - m)), the
    two-mode shape that makes a vertex jump under a tiny change of its scores."""
    cfg = CFG.replace(num_vertices=2)
    rows = decode_grid_rows(cfg)
    heat = torch.full((1, 2, cfg.heatmap_height, cfg.heatmap_width), -1e4)
    heat[0, 0, 1, 1] = 0.0  # vertex 0: one cell
    heat[0, 1, 0, 0] = 0.0  # vertex 1: two cells 3 columns (12 px) apart ...
    heat[0, 1, 0, 3] = math.log(3.0)  # ... masses 1/4 and 3/4 at gain 1
    per = heatmap_spread(heat, 1.0, rows, torch.ones(1, 2), reduction="none")
    assert per[0, 0].item() == pytest.approx(0.0, abs=1e-5)
    assert per[0, 1].item() == pytest.approx(12.0 * math.sqrt(0.25 * 0.75), rel=1e-5)
    # A lower gain spreads the same scores: masses 1/(1 + sqrt 3) and sqrt 3/(1 + sqrt 3) at gain 1/2.
    m = 1.0 / (1.0 + math.sqrt(3.0))
    low = heatmap_spread(heat, 0.5, rows, torch.ones(1, 2), reduction="none")
    assert low[0, 1].item() == pytest.approx(12.0 * math.sqrt(m * (1 - m)), rel=1e-5)
    # The mask picks vertices; the mean is over those picked.
    only = heatmap_spread(heat, 1.0, rows, torch.tensor([[0.0, 1.0]]))
    assert only.item() == pytest.approx(per[0, 1].item(), rel=1e-6)
    # Its gradient moves mass from the far mode toward the near one: one SGD step lowers it.
    scores = heat.clone().requires_grad_()
    before = heatmap_spread(scores, 1.0, rows, torch.tensor([[0.0, 1.0]]))
    _sgd(scores, before, 0.1)
    assert heatmap_spread(scores, 1.0, rows, torch.tensor([[0.0, 1.0]])).item() < before.item()


def test_heatmap_spread_term_in_total_loss_reads_the_gain_and_the_picture() -> None:
    topo, cfg = _square_topology(), CFG.replace(num_vertices=4, gain=2.0)
    targets = {k: _targets()[k] for k in ("vertices", "vertices_mask")}
    outputs = _outputs()
    _, terms = total_loss(outputs, targets, topo, LossWeights(), cfg)
    assert "heatmap_spread" not in terms  # off by default: the paper's loss
    rows = decode_grid_rows(cfg)
    mask = targets["vertices_mask"].unsqueeze(1).expand(2, 4)
    _, terms = total_loss(outputs, targets, topo, LossWeights(heatmap_spread=0.02), cfg)
    own_gain = heatmap_spread(outputs["heatmaps"], 2.0, rows, mask)
    assert terms["heatmap_spread"].item() == pytest.approx(own_gain.item(), rel=1e-6)
    _, terms = total_loss(outputs, targets, topo, LossWeights(heatmap_spread=0.02, spread_gain=0.5), cfg)
    assert terms["heatmap_spread"].item() == pytest.approx(heatmap_spread(outputs["heatmaps"], 0.5, rows, mask).item())
    # Vertices behind the picture's edge (here: x >= 10) and off the crop carry no spread term.
    targets["picture_box"] = torch.tensor([[0.0, 0.0, 10.0, 16.0]]).expand(2, 4)
    targets["vertices"] = targets["vertices"].clone()
    targets["vertices"][1, 3, 1] = 40.0  # off the crop
    _, terms = total_loss(outputs, targets, topo, LossWeights(heatmap_spread=0.02), cfg)
    kept = mask * torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
    assert terms["heatmap_spread"].item() == pytest.approx(heatmap_spread(outputs["heatmaps"], 2.0, rows, kept).item())
    with pytest.raises(ConfigError, match="spread_gain"):
        LossWeights(spread_gain=-1.0)
    assert LossWeights.from_dict({"heatmap_spread": 0.02, "spread_gain": 3.0}).spread_gain == 3.0


def test_heatmap_spread_on_visible_vertices_reads_the_visibility_labels() -> None:
    """`spread_vertices = 'visible'` keeps the vertices labelled seen, even with the visibility term off."""
    topo, cfg = _square_topology(), CFG.replace(num_vertices=4, gain=2.0)
    targets = {k: _targets()[k] for k in ("vertices", "vertices_mask")}
    targets["visibility"] = torch.tensor([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 1.0]])
    targets["visibility_mask"] = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    outputs = _outputs()
    weights = LossWeights(heatmap_spread=0.02, spread_vertices="visible", visibility=0.0)
    _, terms = total_loss(outputs, targets, topo, weights, cfg)
    assert "visibility" not in terms
    seen = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0]])  # labelled 1 where a label exists
    mask = seen * targets["vertices_mask"].unsqueeze(1)
    expected = heatmap_spread(outputs["heatmaps"], 2.0, decode_grid_rows(cfg), mask)
    assert terms["heatmap_spread"].item() == pytest.approx(expected.item(), rel=1e-6)
    # The labels derived from DensePose points work the same way: every vertex of a hit face is seen.
    derived = {k: v for k, v in _targets().items() if k.startswith("dp_") or k.startswith("vertices")}
    _, terms = total_loss(outputs, derived, topo, weights, cfg)
    hit = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 1.0]])  # sample 1: face (0, 2, 3) only
    expected = heatmap_spread(outputs["heatmaps"], 2.0, decode_grid_rows(cfg), hit * derived["vertices_mask"][:, None])
    assert terms["heatmap_spread"].item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ConfigError, match="spread_vertices"):
        LossWeights(spread_vertices="hidden")


def test_total_loss_skips_absent_targets_and_zero_weights() -> None:
    topo, cfg = _square_topology(), CFG.replace(num_vertices=4)
    targets = {k: v for k, v in _targets().items() if k.startswith("dp_")}
    total, terms = total_loss(_outputs(), targets, topo, LossWeights(uvc=0.0), cfg)
    assert set(terms) == {"bary", "visibility"}  # visibility labels come from the DensePose faces
    assert total.item() == pytest.approx(terms["bary"].item() + terms["visibility"].item())
    empty_total, empty_terms = total_loss(_outputs(), {}, topo, LossWeights(), cfg)
    assert empty_terms == {} and empty_total.item() == 0.0
    empty_total.backward()  # still differentiable


def test_total_loss_one_line_errors() -> None:
    cfg = CFG.replace(num_vertices=4)
    with pytest.raises(ConfigError, match="coco_regressor") as err:
        total_loss(_outputs(), _targets(), _square_topology(with_regressor=False), LossWeights(), cfg)
    assert "\n" not in str(err.value) and isinstance(err.value, MeshPoseError)
    bad = {"silhouette": torch.zeros(2, 3, 3)}
    with pytest.raises(ConfigError, match="crop_mask_to_grid"):
        total_loss(_outputs(), bad, _square_topology(), LossWeights(), cfg)
