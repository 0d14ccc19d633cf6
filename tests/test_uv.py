"""DensePose UV decoding from VertexPose heatmaps (method.md Eq. 2 and the Table 1b baselines)."""

from __future__ import annotations

import torch

from meshpose_mobile.topology import default_topology
from meshpose_mobile.uv import decode_uv, face_parts

# Two triangles sharing an edge: vertices 0..3, faces (0,1,2) and (1,3,2); parts 1,1,1,2.
FACES = torch.tensor([[0, 1, 2], [1, 3, 2]])
PARTS = torch.tensor([1, 1, 1, 2])
UV = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


def _scores(q: list[float]) -> torch.Tensor:
    """Scores whose channel softmax is exactly `q` at a single pixel."""
    return torch.log(torch.tensor(q)).view(1, 4, 1, 1)


def test_barycentric_hand_case() -> None:
    # Q = (0.5, 0.3, 0.1, 0.1): face 0 sums to 0.9, face 1 to 0.5 -> f* = face 0.
    parts, uv = decode_uv(_scores([0.5, 0.3, 0.1, 0.1]), FACES, PARTS, UV)
    assert parts.item() == 1
    expected = (0.5 * UV[0] + 0.3 * UV[1] + 0.1 * UV[2]) / 0.9
    assert torch.allclose(uv[0, :, 0, 0], expected, atol=1e-6)


def test_barycentric_picks_the_face_with_most_mass() -> None:
    # Face 1 (vertices 1, 3, 2) sums to 0.8 vs face 0 at 0.7; its part is the majority part 1.
    parts, uv = decode_uv(_scores([0.2, 0.3, 0.2, 0.3]), FACES, PARTS, UV)
    expected = (0.3 * UV[1] + 0.3 * UV[3] + 0.2 * UV[2]) / 0.8
    assert torch.allclose(uv[0, :, 0, 0], expected, atol=1e-6)
    assert parts.item() == 1


def test_nearest_and_global_baselines() -> None:
    scores = _scores([0.1, 0.2, 0.1, 0.6])
    parts, uv = decode_uv(scores, FACES, PARTS, UV, method="nearest")
    assert parts.item() == 2 and torch.equal(uv[0, :, 0, 0], UV[3])
    parts, uv = decode_uv(scores, FACES, PARTS, UV, method="global")
    assert torch.allclose(uv[0, :, 0, 0], (torch.tensor([0.1, 0.2, 0.1, 0.6])[:, None] * UV).sum(0), atol=1e-6)


def test_face_parts_majority() -> None:
    faces = torch.tensor([[0, 1, 2], [3, 1, 2], [0, 3, 3], [0, 1, 3]])
    parts = torch.tensor([5, 7, 7, 9])
    assert face_parts(faces, parts).tolist() == [7, 7, 9, 5]


def test_default_topology_shapes() -> None:
    topo = default_topology()
    k = topo.num_vertices
    scores = torch.randn(2, k, 8, 6)
    parts, uv = decode_uv(scores, torch.as_tensor(topo.faces), torch.as_tensor(topo.parts), torch.as_tensor(topo.uv))
    assert parts.shape == (2, 8, 6) and uv.shape == (2, 2, 8, 6)
    assert parts.min() >= 1 and parts.max() <= 24
    assert uv.min() >= 0 and uv.max() <= 1
