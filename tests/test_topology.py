"""Tests of the Topology format and of the packaged default (anny-615) topology."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from meshpose_mobile.errors import TopologyError
from meshpose_mobile.topology import Topology, default_topology, load_topology

COCO = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

# (left, right) DensePose parts: hand, foot, upper/lower leg back/front, upper/lower arm, head.
LEFT_RIGHT_PARTS = (
    (4, 3),
    (5, 6),
    (8, 7),
    (10, 9),
    (12, 11),
    (14, 13),
    (15, 16),
    (17, 18),
    (19, 20),
    (21, 22),
    (24, 23),
)

# Hires vertices lie off the 615-vertex surface where it cuts corners (fingers, nose, ears);
# measured at build time: mean 2.4 mm, max 24.2 mm.
HIRES_MEAN_TOL_M = 0.005
HIRES_MAX_TOL_M = 0.030


@pytest.fixture(scope="module")
def topo() -> Topology:
    return default_topology()


def test_default_loads_and_validates(topo: Topology) -> None:
    topo.validate()
    assert topo.name == "anny-615"
    assert topo.num_vertices == 615
    assert topo.template is not None and topo.template.shape == (615, 3)
    assert topo.template.dtype == np.float32
    assert topo.faces is not None and topo.faces.dtype == np.int64
    assert load_topology("default").hash == topo.hash
    assert default_topology() is topo  # cached


def test_default_is_watertight(topo: Topology) -> None:
    assert topo.faces is not None
    f = topo.faces
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    # Consistent orientation: each directed edge appears once, its reverse once.
    assert len(np.unique(directed, axis=0)) == len(directed)
    _, counts = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
    assert np.all(counts == 2)
    assert len(topo.edges) == len(counts)
    assert topo.num_vertices - len(topo.edges) + len(f) == 2
    # One component: flood fill over the edges.
    adj: list[list[int]] = [[] for _ in range(topo.num_vertices)]
    for a, b in topo.edges.tolist():
        adj[a].append(b)
        adj[b].append(a)
    seen, stack = {0}, [0]
    while stack:
        for n in adj[stack.pop()]:
            if n not in seen:
                seen.add(n)
                stack.append(n)
    assert len(seen) == topo.num_vertices
    assert topo.template is not None
    v = topo.template.astype(np.float64)
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    assert area.min() > 1e-8
    # Counter-clockwise seen from outside <=> positive enclosed volume.
    volume = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
    assert 0.03 < volume < 0.1  # m^3, an adult body


def test_default_axes(topo: Topology) -> None:
    assert topo.template is not None
    lo, hi = topo.template.min(0), topo.template.max(0)
    height = hi[1] - lo[1]
    assert 1.4 < height < 2.0
    assert height > hi[0] - lo[0] and height > hi[2] - lo[2]  # +y is up


def test_default_parts_and_uv(topo: Topology) -> None:
    assert topo.parts is not None and topo.uv is not None
    assert set(np.unique(topo.parts).tolist()) == set(range(1, 25))
    assert topo.uv.min() >= 0.0 and topo.uv.max() <= 1.0
    assert topo.template is not None
    x = topo.template[:, 0]
    # Left parts (DensePose numbering) at +x, right parts at -x.
    for left, right in LEFT_RIGHT_PARTS:
        assert x[topo.parts == left].mean() > 0 > x[topo.parts == right].mean()
    z = topo.template[:, 2]
    assert z[topo.parts == 2].mean() > z[topo.parts == 1].mean()  # torso front before back


def test_default_coco_regressor(topo: Topology) -> None:
    assert topo.coco_regressor is not None and topo.template is not None
    assert topo.coco_regressor.shape == (17, 615)
    np.testing.assert_allclose(topo.coco_regressor.sum(1, dtype=np.float64), 1.0, atol=1e-4)
    kp = dict(zip(COCO, topo.coco_regressor.astype(np.float64) @ topo.template, strict=True))
    for name in COCO:
        if name.startswith("left_"):
            assert kp[name][0] > 0.02, name
            assert kp["right_" + name[5:]][0] < -0.02, name
    # The face keypoints top the body ones (the eyes sit above the nose, so no "nose highest").
    face = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert min(kp[n][1] for n in face) > max(kp[n][1] for n in COCO if n not in face) + 0.1
    assert abs(kp["nose"][0]) < 0.01
    # The nose is the most forward face point (the rest-pose hands reach further forward).
    assert kp["nose"][2] > max(kp["left_eye"][2], kp["right_eye"][2]) > kp["left_ear"][2] + 0.05
    order = ["left_eye", "left_shoulder", "left_hip", "left_knee", "left_ankle"]
    heights = [kp[n][1] for n in order]
    assert heights == sorted(heights, reverse=True)


def test_default_skeleton(topo: Topology) -> None:
    assert topo.skin_weights is not None and topo.joint_parents is not None
    assert 20 <= topo.num_joints <= 30
    np.testing.assert_allclose(topo.skin_weights.sum(1, dtype=np.float64), 1.0, atol=1e-4)
    assert topo.skin_weights.min() >= 0
    assert topo.joint_parents[0] == -1
    assert all(0 <= p < i for i, p in enumerate(topo.joint_parents[1:].tolist(), start=1))
    assert topo.joint_positions is not None
    pos = dict(zip(topo.joint_names, topo.joint_positions, strict=True))
    assert pos["left_wrist"][0] > 0 > pos["right_wrist"][0]
    assert pos["head"][1] > pos["neck"][1] > pos["pelvis"][1] > pos["left_knee"][1]


def test_default_hires_reconstruction(topo: Topology) -> None:
    assert topo.hires_vertices is not None and topo.hires_faces is not None and topo.template is not None
    assert len(topo.hires_vertices) > 10_000
    recon = topo.hires_from_lowpoly(topo.template)
    dist = np.linalg.norm(recon - topo.hires_vertices, axis=1)
    assert dist.mean() < HIRES_MEAN_TOL_M
    assert dist.max() < HIRES_MAX_TOL_M


def test_hash_stable_and_sensitive(topo: Topology, tmp_path: Path) -> None:
    assert topo.hash == Topology.from_arrays(topo.to_arrays()).hash
    assert len(topo.hash) == 64
    assert topo.template is not None
    moved = topo.template.copy()
    moved[0, 0] += 1e-3
    assert dataclasses.replace(topo, template=moved).hash != topo.hash
    assert dataclasses.replace(topo, name="other").hash != topo.hash
    assert dataclasses.replace(topo, seam_pairs=np.array([[0, 1]])).hash != topo.hash


def test_save_load_round_trip(topo: Topology, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "t.npz"
    topo.save(path)
    back = load_topology(path)
    assert back.hash == topo.hash
    assert back.joint_names == topo.joint_names
    for key, value in topo.to_arrays().items():
        np.testing.assert_array_equal(back.to_arrays()[key], value)
    assert not list(path.parent.glob("*.tmp"))  # the atomic write leaves no temp file
    assert load_topology(str(path)).hash == topo.hash


def test_minimal(tmp_path: Path) -> None:
    t = Topology.minimal(518, "meshpose-518")
    t.validate()
    assert t.num_vertices == 518 and t.faces is None
    with pytest.raises(TopologyError, match="no faces"):
        _ = t.edges
    t.save(tmp_path / "m.npz")
    back = load_topology(tmp_path / "m.npz")
    assert back.num_vertices == 518 and back.hash == t.hash


def _set(field: str, fn: Callable[[np.ndarray], None]) -> Callable[[dict[str, np.ndarray]], None]:
    def apply(arrays: dict[str, np.ndarray]) -> None:
        arr = arrays[field].copy()
        fn(arr)
        arrays[field] = arr

    return apply


def _assign(index: tuple[int | slice, ...] | int | np.ndarray, value: float) -> Callable[[np.ndarray], None]:
    def fn(a: np.ndarray) -> None:
        a[index] = value

    return fn


BAD_CASES: list[tuple[str, Callable[[dict[str, np.ndarray]], None], str]] = [
    ("face_out_of_range", _set("faces", _assign((3, 1), 615)), "faces index 615"),
    ("face_negative", _set("faces", _assign((3, 1), -1)), "faces index -1"),
    ("part_zero", _set("parts", _assign(0, 0)), "part index 0"),
    ("part_25", _set("parts", _assign(0, 25)), "part index 25"),
    ("part_missing", _set("parts", lambda a: a.__setitem__(a == 13, 11)), "parts [13]"),
    ("uv_above_one", _set("uv", _assign((5, 0), 1.5)), "uv"),
    ("uv_negative", _set("uv", _assign((5, 1), -0.1)), "uv"),
    ("regressor_sum", _set("coco_regressor", _assign((2, 7), 0.5)), "coco_regressor row 2"),
    ("skin_sum", _set("skin_weights", _assign((9, 0), 0.7)), "skin_weights row 9"),
    ("template_shape", lambda d: d.__setitem__("template", d["template"][:-1]), "template has shape"),
    ("uv_shape", lambda d: d.__setitem__("uv", d["uv"][:, :1]), "uv has shape"),
    ("skin_shape", lambda d: d.__setitem__("skin_weights", d["skin_weights"][:-2]), "skin_weights has shape"),
    (
        "regressor_shape",
        lambda d: d.__setitem__("coco_regressor", d["coco_regressor"][:16]),
        "coco_regressor has shape",
    ),
    ("num_vertices", lambda d: d.__setitem__("num_vertices", np.array(600)), "expected (600"),
    ("hires_face_index", _set("hires_face_index", _assign(4, 10_000)), "hires_face_index index 10000"),
    ("template_nan", _set("template", _assign((1, 1), np.nan)), "template holds NaN"),
    ("skin_inf", _set("skin_weights", _assign((1, 1), np.inf)), "skin_weights holds NaN or infinite"),
    ("missing_name", lambda d: d.pop("name"), "missing the required key(s) name"),
    ("missing_num_vertices", lambda d: d.pop("num_vertices"), "num_vertices"),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_topology_files(
    topo: Topology, tmp_path: Path, case: str, mutate: Callable[[dict[str, np.ndarray]], None], expected: str
) -> None:
    arrays = dict(topo.to_arrays())
    mutate(arrays)
    path = tmp_path / f"{case}.npz"
    np.savez(path, **arrays)
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    message = str(info.value)
    assert "\n" not in message
    assert expected in message
    assert str(path) in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="not found") as info:
        load_topology(tmp_path / "nope.npz")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "name"),
    [(b"this is not a zip file", "text.npz"), (b"PK\x03\x04broken", "truncated.npz"), (b"", "empty.npz")],
)
def test_corrupt_file(tmp_path: Path, content: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TopologyError, match=r"not a valid \.npz") as info:
        load_topology(path)
    assert "\n" not in str(info.value)


def test_truncated_real_file(topo: Topology, tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    topo.save(good)
    bad = tmp_path / "cut.npz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(TopologyError) as info:
        load_topology(bad)
    assert "\n" not in str(info.value)


def test_npy_and_pickle_rejected(tmp_path: Path) -> None:
    npy = tmp_path / "a.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(TopologyError, match=r"single \.npy array"):
        load_topology(npy)
    pickled = tmp_path / "p.npz"
    np.savez(pickled, name=np.array("x"), num_vertices=np.array(3), template=np.array([{"a": 1}], dtype=object))
    with pytest.raises(TopologyError) as info:
        load_topology(pickled)
    assert "\n" not in str(info.value)


def test_validate_in_memory(topo: Topology) -> None:
    assert topo.parts is not None
    with pytest.raises(TopologyError, match=r"outside 1\.\.24"):
        dataclasses.replace(topo, parts=np.where(topo.parts == 1, 30, topo.parts)).validate()
    with pytest.raises(TopologyError, match="non-integer"):
        Topology(name="x", num_vertices=3, faces=np.array([[0.0, 1.5, 2.0]]))
    with pytest.raises(TopologyError, match="parent"):
        assert topo.joint_parents is not None
        bad = topo.joint_parents.copy()
        bad[3] = 7
        dataclasses.replace(topo, joint_parents=bad).validate()
    with pytest.raises(TopologyError, match="out of range"):
        Topology(name="x", num_vertices=3, faces=np.array([[0, 1, 3]])).validate()
    Topology(name="tri", num_vertices=3, faces=np.array([[0, 1, 2]])).validate()


def test_face_normals_point_outwards(topo: Topology) -> None:
    assert topo.template is not None and topo.faces is not None
    normals = topo.face_normals(topo.template)
    centres = topo.template[topo.faces].mean(1)
    head = centres[:, 1] > 0.7  # the head is roughly convex
    outward = centres[head] - centres[head].mean(0)
    assert np.mean((normals[head] * outward).sum(1) > 0) > 0.9


def test_from_arrays_accepts_weights_only_checkpoint(topo: Topology) -> None:
    # torch.load(weights_only=True) refuses numpy arrays, so checkpoints store tensors and strings.
    torch = pytest.importorskip("torch")
    arrays = topo.to_arrays()
    state = {k: torch.from_numpy(v) for k, v in arrays.items() if v.dtype.kind != "U"}
    state["name"] = topo.name
    state["joint_names"] = list(topo.joint_names)
    buf = io.BytesIO()
    torch.save({"topology": state}, buf)
    buf.seek(0)
    back = Topology.from_arrays(torch.load(buf, weights_only=True)["topology"])
    assert back.hash == topo.hash
