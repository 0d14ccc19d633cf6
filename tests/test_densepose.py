"""DensePose-COCO loading, COCO RLE, (I, U, V) -> mesh face mapping and the pseudo-GT format."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from meshpose_mobile.densepose import (
    DensePoseError,
    SurfaceMapper,
    load_densepose,
    load_pseudo_gt,
    rle_decode,
    rle_encode,
    save_pseudo_gt,
)
from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.topology import NUM_PARTS, Topology, default_topology

FIXTURE = Path(__file__).parent / "data" / "densepose_fixture.json"


@pytest.fixture(scope="module")
def dataset():
    return load_densepose(FIXTURE)


def test_fixture_parses(dataset) -> None:
    assert sorted(dataset.images) == [1, 2]
    assert [a.id for a in dataset.annotations] == [101, 102]
    assert dataset.skipped == 1  # the plain COCO person without dp_* fields
    assert sum(a.num_points for a in dataset.annotations) == 12
    assert [a.id for a in dataset.for_image(2)] == [102]
    first = dataset.annotations[0]
    # dp frame -> image pixel centres: x = bbox_x + dp_x / 255 * bbox_w - 0.5.
    assert first.points[0].tolist() == pytest.approx([200 + 128 / 255 * 150 - 0.5, 40 + 110 / 255 * 400 - 0.5])


def test_every_point_maps_to_a_face_of_its_own_part(dataset) -> None:
    topo = default_topology()
    for ann in dataset.annotations:
        corner_parts = topo.parts[topo.faces[ann.face_index]]
        assert np.all(corner_parts == ann.parts[:, None])
        assert np.all(ann.bary >= 0) and np.allclose(ann.bary.sum(axis=1), 1.0)
    # The fixture's UVs are face centroids (rounded) except the last point of annotation 102, which
    # lies outside every UV triangle of part 22 and takes the nearest one.
    for ann in dataset.annotations:
        rebuilt = np.einsum("nc,ncd->nd", ann.bary, topo.uv[topo.faces[ann.face_index]].astype(np.float64))
        err = np.abs(rebuilt - ann.uv).max(axis=1)
        exact = err < 1e-9
        assert exact.sum() == (6 if ann.id == 101 else 5)
        if ann.id == 102:
            assert not exact[-1] and ann.bary[-1].min() == 0.0  # on an edge of the nearest triangle


def _toy_topology() -> Topology:
    """Part p (1..24) is one unit right triangle in UV; part 1 is a unit square of two triangles."""
    uv, parts, faces = [], [], []
    for p in range(1, NUM_PARTS + 1):
        base = len(uv)
        uv += [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
        parts += [p] * 3
        faces.append([base, base + 1, base + 2])
    uv.append([1.0, 1.0])
    parts.append(1)
    faces.append([1, 3 * NUM_PARTS, 2])
    return Topology(name="toy", num_vertices=len(uv), faces=np.array(faces), parts=np.array(parts), uv=np.array(uv))


def test_surface_mapper_hand_cases() -> None:
    mapper = SurfaceMapper(_toy_topology())
    face, bary = mapper.map(np.array([5, 1, 1, 7]), np.array([[0.25, 0.5], [0.75, 0.75], [0.1, 0.1], [1.0, 1.0]]))
    assert face.tolist() == [4, 24, 0, 6]
    # (0.25, 0.5) in (0,0), (1,0), (0,1): weights 0.25, 0.25, 0.5.
    assert bary[0].tolist() == pytest.approx([0.25, 0.25, 0.5])
    # (0.75, 0.75) in (1,0), (1,1), (0,1): weights 0.25, 0.5, 0.25.
    assert bary[1].tolist() == pytest.approx([0.25, 0.5, 0.25])
    # (1, 1) is outside part 7's triangle: nearest point (0.5, 0.5) on the hypotenuse.
    assert bary[3].tolist() == pytest.approx([0.0, 0.5, 0.5])
    with pytest.raises(DensePoseError, match=r"outside 1\.\.24"):
        mapper.map(np.array([25]), np.array([[0.5, 0.5]]))


def test_mapper_needs_parts_and_uv() -> None:
    with pytest.raises(DensePoseError, match="faces, parts or uv"):
        SurfaceMapper(Topology.minimal(10, "bare"))


# ------------------------------------------------------------------------------ RLE


def test_rle_hand_cases() -> None:
    # Column-major runs 1 zero, 2 ones, 3 zeros over 2 x 3.
    expected = np.array([[0, 1, 0], [1, 0, 0]], dtype=np.uint8)
    assert np.array_equal(rle_decode({"size": [2, 3], "counts": [1, 2, 3]}), expected)
    assert np.array_equal(rle_decode({"size": [2, 3], "counts": "123"}), expected)
    assert rle_encode(expected) == {"size": [2, 3], "counts": "123"}
    assert rle_encode(expected, compressed=False) == {"size": [2, 3], "counts": [1, 2, 3]}
    # From the 4th count on, the string stores the difference to the count two places back:
    # [2, 3, 1, 4] -> '2', '3', '1', 4 - 3 = 1 -> '1'; a negative difference -4 is 'L' (28 + 48).
    assert rle_encode(rle_decode({"size": [2, 5], "counts": [2, 3, 1, 4]})) == {"size": [2, 5], "counts": "2311"}
    assert rle_decode({"size": [2, 4], "counts": "151L"}).T.reshape(-1).tolist() == [0, 1, 1, 1, 1, 1, 0, 1]
    # A mask starting with a 1 begins with an empty zero run; a count >= 16 needs two characters.
    assert rle_encode(np.ones((4, 5)), compressed=False)["counts"] == [0, 20]
    assert rle_decode(rle_encode(np.ones((4, 5)))).all()


def test_rle_round_trips(dataset) -> None:
    rng = np.random.default_rng(0)
    for compressed in (True, False):
        for _ in range(30):
            mask = rng.random(tuple(rng.integers(1, 40, size=2))) > rng.random()
            assert np.array_equal(rle_decode(rle_encode(mask, compressed=compressed)), mask)
    raw = json.loads(FIXTURE.read_text())["annotations"][0]["dp_masks"]
    compressed_masks = [m for m in raw if isinstance(m, dict) and isinstance(m["counts"], str)]
    assert compressed_masks
    for rle in compressed_masks:
        assert rle_encode(rle_decode(rle)) == rle
    torso = rle_decode(raw[0])
    assert torso.sum() == 110 * 80 and torso[70, 90] == 1 and torso[69, 90] == 0 and torso[179, 169] == 1
    arm = rle_decode(raw[10])  # the uncompressed one
    assert arm.sum() == 65 * 50 and arm[75:140, 40:90].all()


def test_part_masks(dataset) -> None:
    first = dataset.annotations[0]
    frame = first.part_mask()
    assert frame.shape == (256, 256) and set(np.unique(frame).tolist()) == {0, 1, 11, 14}
    assert frame[100, 120] == 1 and frame[30, 120] == 14 and frame[100, 60] == 11
    image = first.image_mask(480, 640)
    assert image.shape == (480, 640)
    assert image[:40].sum() == 0 and image[:, :200].sum() == 0  # nothing outside the box
    # Pixel (x=290, y=170) is in box cell (floor(90.5 / 150 * 256), floor(130.5 / 400 * 256)) = (154, 83): torso.
    assert image[170, 290] == 1


def test_rle_errors_are_one_line() -> None:
    for bad in (
        {"size": [2, 2], "counts": [1, 2]},
        {"size": [2], "counts": [4]},
        {"counts": "1"},
        {"size": [1, 1], "counts": "\x7f"},
    ):
        with pytest.raises(DensePoseError) as err:
            rle_decode(bad)
        assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------ bad files


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "dp.json"
    path.write_text(json.dumps(doc))
    return path


def _doc() -> dict:
    return json.loads(FIXTURE.read_text())


def _broken(change) -> dict:
    doc = copy.deepcopy(_doc())
    change(doc["annotations"][0])
    return doc


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.pop("dp_I"), "missing key"),
        (lambda a: a["dp_I"].__setitem__(0, 25), "part index 25 is outside 1..24"),
        (lambda a: a["dp_I"].__setitem__(0, 0), "part index 0 is outside 1..24"),
        (lambda a: a["dp_U"].pop(), "differ in length"),
        (lambda a: a["dp_V"].__setitem__(0, 1.5), r"\[0, 1\]"),
        (lambda a: a.__setitem__("bbox", [0, 0, -1, 5]), "bbox"),
        (lambda a: a.__setitem__("image_id", 99), "image_id 99"),
        (lambda a: a.__setitem__("dp_masks", [[]] * 3), "14 RLEs"),
        (lambda a: a["dp_x"].__setitem__(0, "x"), "finite numbers"),
    ],
)
def test_bad_annotations_give_one_line_errors(tmp_path: Path, change, match: str) -> None:
    with pytest.raises(DensePoseError, match=match) as err:
        load_densepose(_write(tmp_path, _broken(change)))
    assert "\n" not in str(err.value) and isinstance(err.value, MeshPoseError)


def test_bad_files_give_one_line_errors(tmp_path: Path) -> None:
    cases = [
        (tmp_path / "nope.json", "not found"),
        (tmp_path / "bad.json", "not valid json"),
        (_write(tmp_path, {"images": []}), "annotations"),
    ]
    (tmp_path / "bad.json").write_text('{"images": [,]}')
    for path, match in cases:
        with pytest.raises(DensePoseError, match=match) as err:
            load_densepose(path)
        assert "\n" not in str(err.value)


def test_bad_mask_surfaces_on_access(tmp_path: Path) -> None:
    doc = _broken(lambda a: a["dp_masks"].__setitem__(0, {"size": [256, 256], "counts": [5]}))
    ann = load_densepose(_write(tmp_path, doc)).annotations[0]
    with pytest.raises(DensePoseError, match=r"annotation 101: dp_masks\[0\]"):
        ann.part_mask()


def test_uv_transform_hook(tmp_path: Path) -> None:
    seen = {}

    def chart(parts: np.ndarray, uv: np.ndarray) -> np.ndarray:
        seen["n"] = len(parts)
        return 1.0 - uv

    ds = load_densepose(FIXTURE, uv_transform=chart)
    assert seen["n"] == 6
    assert not np.array_equal(ds.annotations[0].face_index, load_densepose(FIXTURE).annotations[0].face_index)


# ------------------------------------------------------------------------------ pseudo-GT


def test_pseudo_gt_round_trip(tmp_path: Path) -> None:
    topo = default_topology()
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(2, topo.num_vertices, 3)).astype(np.float32)
    joints = rng.normal(size=(2, 17, 3)).astype(np.float32)
    path = tmp_path / "pgt.npz"
    save_pseudo_gt(path, [101, 102], verts, joints_3d=joints, weight=np.array([1.0, 0.5]), topology=topo)
    pgt = load_pseudo_gt(path, topo)
    assert len(pgt) == 2 and pgt.topology_hash == topo.hash
    entry = pgt.get(102)
    assert entry is not None and np.array_equal(entry.vertices, verts[1]) and entry.weight == 0.5
    assert np.array_equal(entry.joints_3d, joints[1])
    assert pgt.get(999) is None
    # Without optional arrays: weight defaults to 1, no joints.
    save_pseudo_gt(tmp_path / "min.npz", [7], verts[:1])
    minimal = load_pseudo_gt(tmp_path / "min.npz")
    assert minimal.get(7).weight == 1.0 and minimal.get(7).joints_3d is None


def test_pseudo_gt_errors(tmp_path: Path) -> None:
    topo = default_topology()
    verts = np.zeros((1, topo.num_vertices, 3), np.float32)
    save_pseudo_gt(tmp_path / "a.npz", [1], verts, topology=topo)
    small = Topology.minimal(10, "small")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    np.savez(tmp_path / "nokey.npz", vertices=verts)
    other = Topology(name="other", num_vertices=topo.num_vertices)
    cases = [
        (lambda: load_pseudo_gt(tmp_path / "missing.npz"), "not found"),
        (lambda: load_pseudo_gt(tmp_path / "junk.npz"), "not a valid .npz"),
        (lambda: load_pseudo_gt(tmp_path / "nokey.npz"), "annotation_id"),
        (lambda: load_pseudo_gt(tmp_path / "a.npz", small), "10"),
        (lambda: load_pseudo_gt(tmp_path / "a.npz", other), "another topology"),
        (lambda: save_pseudo_gt(tmp_path / "d.npz", [1, 1], np.zeros((2, 5, 3))), "duplicates"),
        (lambda: save_pseudo_gt(tmp_path / "n.npz", [1], np.full((1, 5, 3), np.nan)), "NaN"),
        (lambda: save_pseudo_gt(tmp_path / "w.npz", [1], np.zeros((1, 5, 3)), weight=np.array([2.0])), "weight"),
        (lambda: save_pseudo_gt(tmp_path / "x.json", [1], np.zeros((1, 5, 3))), ".npz"),
    ]
    for call, match in cases:
        with pytest.raises(DensePoseError, match=match) as err:
            call()
        assert "\n" not in str(err.value)
