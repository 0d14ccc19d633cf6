"""`meshpose-topology from-smpl`: SMPL + DensePose atlas -> a topology with DensePose's own charts.

Every file here is made up in the test, in the real files' formats (SMPL's pickle with chumpy
objects and a scipy sparse J_regressor, DensePose's UV_Processed.mat); the real files never enter
the repository. The made-up body is a closed lat-long sphere stretched into a 1.7 m ellipsoid with
exactly SMPL's 6,890 vertices and 13,776 faces, 24 joints at body-like places, and an atlas of 24
charts (6 height bands x 4 sectors) that, like DensePose's, splits border vertices per chart and
leaves 2 faces out.
"""

from __future__ import annotations

import contextlib
import json
import math
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse
import torch
from click.testing import CliRunner

from meshpose_mobile.densepose import SurfaceMapper, load_densepose, rle_encode, save_pseudo_gt
from meshpose_mobile.smpl_topology import (
    SMPL_PARENTS,
    SmplFileError,
    read_densepose_atlas,
    read_smpl,
    topology_from_smpl,
)
from meshpose_mobile.topology import NUM_PARTS, Topology, load_topology

RINGS, SEGMENTS = 84, 82  # 84 * 82 + 2 poles = 6,890 vertices; 13,776 faces
BANDS, SECTORS = 6, 4

# Body-like joint centres (SMPL's order and axes: +y up, +x the body's left, metres).
JOINTS = np.array(
    [
        (0.0, -0.35, 0.0), (0.09, -0.42, 0.0), (-0.09, -0.42, 0.0), (0.0, -0.23, 0.0),
        (0.1, -0.75, 0.0), (-0.1, -0.75, 0.0), (0.0, -0.1, 0.0), (0.08, -1.0, 0.0),
        (-0.08, -1.0, 0.0), (0.0, 0.0, 0.0), (0.08, -1.08, 0.0), (-0.08, -1.08, 0.0),
        (0.0, 0.2, 0.0), (0.07, 0.12, 0.0), (-0.07, 0.12, 0.0), (0.0, 0.38, 0.0),
        (0.17, 0.12, 0.0), (-0.17, 0.12, 0.0), (0.2, -0.1, 0.0), (-0.2, -0.1, 0.0),
        (0.22, -0.3, 0.0), (-0.22, -0.3, 0.0), (0.23, -0.38, 0.0), (-0.23, -0.38, 0.0),
    ]
)  # fmt: skip


def sphere_body(rings: int = RINGS, segments: int = SEGMENTS) -> tuple[np.ndarray, np.ndarray, list]:
    """Vertices, CCW faces, and per face (row, segment, corner (ring, unwrapped segment) triples)."""
    theta = np.arange(1, rings + 1) * np.pi / (rings + 1)
    phi = np.arange(segments) * 2 * np.pi / segments
    unit = [(0.0, 1.0, 0.0)]
    unit += [(np.sin(t) * np.cos(p), np.cos(t), -np.sin(t) * np.sin(p)) for t in theta for p in phi]
    unit.append((0.0, -1.0, 0.0))
    v = np.array(unit) * np.array([0.3, 0.85, 0.15]) + np.array([0.0, -0.3, 0.0])
    last = len(v) - 1

    def vid(r: int, s: int) -> int:
        return 1 + r * segments + s % segments

    faces, info = [], []
    for s in range(segments):
        faces.append((0, vid(0, s), vid(0, s + 1)))
        info.append((0, s, ((-1, s + 0.5), (0, s), (0, s + 1))))
    for r in range(rings - 1):
        for s in range(segments):
            a, b, c, d = vid(r, s), vid(r, s + 1), vid(r + 1, s), vid(r + 1, s + 1)
            faces.append((a, c, d))
            info.append((r + 1, s, ((r, s), (r + 1, s), (r + 1, s + 1))))
            faces.append((a, d, b))
            info.append((r + 1, s, ((r, s), (r + 1, s + 1), (r, s + 1))))
    for s in range(segments):
        faces.append((last, vid(rings - 1, s + 1), vid(rings - 1, s)))
        info.append((rings, s, ((rings, s + 0.5), (rings - 1, s + 1), (rings - 1, s))))
    f = np.array(faces, np.int64)
    vol = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum()
    assert vol > 0, "fixture faces must be counter-clockwise seen from outside"
    return v, f, info


def make_smpl(v: np.ndarray, f: np.ndarray) -> dict[str, object]:
    """SMPL's keys, shapes and dtypes (chumpy/sparse wrapping is done when pickling)."""
    n = len(v)
    d2 = ((v[:, None] - JOINTS[None]) ** 2).sum(-1)
    w = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * 0.06**2))
    w /= w.sum(1, keepdims=True)
    # Joint regressor: the midpoint of the front and back vertices nearest to the joint's x, y.
    rows, cols = [], []
    for j, p in enumerate(JOINTS):
        for side in (1, -1):
            cand = np.flatnonzero(np.sign(v[:, 2]) == side)
            best = cand[np.argmin(np.abs(v[cand, 0] - p[0]) + np.abs(v[cand, 1] - p[1]))]
            rows.append(j)
            cols.append(best)
    jreg = scipy.sparse.csc_matrix((np.full(len(rows), 0.5), (rows, cols)), shape=(24, n))
    kintree = np.array([[4294967295 if p < 0 else p for p in SMPL_PARENTS], list(range(24))], np.int64)
    rng = np.random.default_rng(0)
    return {
        "v_template": v,
        "f": f.astype(np.uint32),
        "weights": w,
        "J_regressor": jreg,
        "J_regressor_prior": jreg,
        "kintree_table": kintree,
        "J": np.asarray(jreg @ v),
        "shapedirs": rng.normal(0, 1e-3, (n, 3, 10)),
        "posedirs": np.zeros((n, 3, 207)),
        "weights_prior": w,
        "vert_sym_idxs": np.arange(n),
        "bs_type": "lrotmin",
        "bs_style": "lbs",
    }


def make_atlas(n: int, f: np.ndarray, info: list, drop: tuple[int, ...] = (4000, 9000)) -> dict[str, np.ndarray]:
    """UV_Processed.mat's fields: 24 charts, border vertices once per chart, 1-based, 2 faces left out."""
    rows = RINGS + 1
    key_index: dict[tuple[int, int], int] = {}
    uv_vertex, corner_pos, part_of = [], [], []
    faces_out, face_part = [], []
    for fi, (row, seg, corners) in enumerate(info):
        if fi in drop:
            continue
        band = min(row * BANDS // rows, BANDS - 1)
        sector = seg * SECTORS // SEGMENTS
        part = band * SECTORS + sector + 1
        tri = []
        for vi, pos in zip(f[fi], corners, strict=True):
            key = (part, int(vi))
            if key not in key_index:
                key_index[key] = len(uv_vertex)
                uv_vertex.append(int(vi))
                corner_pos.append(pos)
                part_of.append(part)
            tri.append(key_index[key])
        faces_out.append(tri)
        face_part.append(part)
    pos = np.array(corner_pos, np.float64)
    pos[:, 0] = (pos[:, 0] + 1) / (RINGS + 1)  # ring -> latitude fraction, poles at 0 and 1
    part_of = np.array(part_of)
    u, v = np.zeros(len(pos)), np.zeros(len(pos))
    for p in range(1, NUM_PARTS + 1):
        sel = part_of == p
        for out, col in ((u, 1), (v, 0)):
            x = pos[sel, col]
            out[sel] = 0.05 + 0.9 * (x - x.min()) / (x.max() - x.min())
    return {
        "All_FaceIndices": np.array(face_part, np.float64)[:, None],
        "All_Faces": np.array(faces_out, np.float64) + 1,
        "All_U_norm": u[:, None],
        "All_V_norm": v[:, None],
        "All_vertices": np.array(uv_vertex, np.float64)[None] + 1,
    }


@contextlib.contextmanager
def fake_chumpy() -> Iterator[type]:
    """A `chumpy.ch.Ch` importable while pickling, so the file holds chumpy's class name like SMPL's."""
    mod = types.ModuleType("chumpy")
    ch = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x: np.ndarray) -> None:
            self.x = x
            self.terms = ["x"]

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    ch.Ch = Ch  # type: ignore[attr-defined]
    mod.ch = ch  # type: ignore[attr-defined]
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules.update({"chumpy": mod, "chumpy.ch": ch})
    try:
        yield Ch
    finally:
        for k, old in saved.items():
            if old is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = old


def write_smpl_pkl(path: Path, smpl: dict[str, object]) -> None:
    with fake_chumpy() as Ch:
        data = dict(smpl)
        for key in ("v_template", "shapedirs", "weights"):
            data[key] = Ch(data[key])
        path.write_bytes(pickle.dumps(data, protocol=2))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("smpl")
    v, f, info = sphere_body()
    assert v.shape == (6890, 3) and f.shape == (13776, 3)
    smpl = make_smpl(v, f)
    write_smpl_pkl(root / "SMPL_NEUTRAL.pkl", smpl)
    scipy.io.savemat(root / "UV_Processed.mat", make_atlas(len(v), f, info))
    return {"pkl": root / "SMPL_NEUTRAL.pkl", "mat": root / "UV_Processed.mat", "root": root}


@pytest.fixture(scope="module")
def built(files: dict[str, Path]) -> tuple[Topology, object, Path]:
    out = files["root"] / "topo.npz"
    topo, report = topology_from_smpl(files["pkl"], files["mat"], 600, out)
    return topo, report, out


# ------------------------------------------------------------------------------------------ files


def test_reads_smpl_pickle_without_chumpy(files: dict[str, Path]) -> None:
    assert "chumpy" not in sys.modules
    s = read_smpl(files["pkl"])
    assert s["v_template"].shape == (6890, 3) and s["f"].shape == (13776, 3)
    assert s["weights"].shape == (6890, 24) and s["J_regressor"].shape == (24, 6890)
    assert s["kintree_table"].shape == (2, 24)
    np.testing.assert_allclose(s["J_regressor"].sum(1), 1.0)
    assert "chumpy" not in sys.modules


def test_npz_form_builds_the_same_topology(files: dict[str, Path], built: tuple) -> None:
    s = read_smpl(files["pkl"])
    npz = files["root"] / "smpl.npz"
    np.savez(npz, **s)
    topo, _ = topology_from_smpl(npz, files["mat"], 600, files["root"] / "from_npz.npz")
    assert topo.hash == built[0].hash


def test_topology_contents(built: tuple) -> None:
    topo, report, out = built
    loaded = load_topology(out)
    assert loaded.hash == topo.hash
    assert topo.num_vertices == 600 and report.vertices == 600
    assert topo.chart_faces is not None and topo.chart_uv is not None and topo.chart_parts is not None
    assert set(np.unique(topo.parts).tolist()) == set(range(1, NUM_PARTS + 1))
    assert set(np.unique(topo.face_parts).tolist()) == set(range(1, NUM_PARTS + 1))
    assert topo.joint_names[0] == "pelvis" and len(topo.joint_names) == 20
    assert topo.joint_regressor is not None and topo.joint_regressor.shape == (20, 600)
    assert topo.coco_regressor is not None and topo.coco_regressor.shape == (17, 600)
    assert topo.hires_vertices is not None and len(topo.hires_vertices) == 6890
    # The upsampler's correspondence puts every SMPL vertex back within a few mm of itself.
    recon = topo.hires_from_lowpoly(topo.template)
    assert float(np.linalg.norm(recon - topo.hires_vertices, axis=1).max()) < 0.05
    # Rest joints regressed from the low-poly vertices agree with SMPL's (fixture: within 2 cm).
    assert float(np.linalg.norm(topo.joint_regressor @ topo.template - topo.joint_positions, axis=1).max()) < 0.02


def test_hands_and_feet_coarse_head_and_torso_detailed(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the same decimation without region weights: hands and feet keep fewer vertices, head
    and torso more."""
    from meshpose_mobile import smpl_topology

    s = read_smpl(files["pkl"])
    v, f, w = s["v_template"], s["f"], s["weights"]
    joints = s["J_regressor"] @ v
    region = {
        "hands+feet": w[:, [7, 8, 10, 11, 20, 21, 22, 23]].sum(1) > 0.5,
        "head": w[:, [12, 15]].sum(1) > 0.5,
        "torso": w[:, [0, 3, 6, 9, 13, 14]].sum(1) > 0.5,
    }

    def kept_per_region() -> dict[str, int]:
        keep, faces = smpl_topology.decimate(v, f, w, joints, 600)
        assert len(keep) == 600 and len(faces) == 1196
        return {k: int(np.isin(np.flatnonzero(m), keep).sum()) for k, m in region.items()}

    weighted = kept_per_region()
    monkeypatch.setattr(smpl_topology, "REGION_SCALE", {})
    plain = kept_per_region()
    assert weighted["hands+feet"] < 0.8 * plain["hands+feet"], (weighted, plain)
    assert weighted["head"] > plain["head"] and weighted["torso"] > plain["torso"], (weighted, plain)


def test_border_vertices_belong_to_each_chart(built: tuple) -> None:
    topo = built[0]
    assert topo.faces is not None and topo.chart_faces is not None and topo.chart_parts is not None
    charts_of: list[set[int]] = [set() for _ in range(topo.num_vertices)]
    for face, part in zip(topo.chart_faces, topo.chart_parts, strict=True):
        for vi in topo.faces[face]:
            charts_of[vi].add(int(part))
    multi = sum(len(c) > 1 for c in charts_of)
    assert multi > 50  # seams: these vertices carry one (U, V) per chart they border


def test_mapping_round_trips(built: tuple, files: dict[str, Path]) -> None:
    """(I, U, V) -> (face, barycentrics) -> (I, U, V) within 1e-3, for points drawn on the atlas."""
    topo = built[0]
    atlas = read_densepose_atlas(files["mat"])
    rng = np.random.default_rng(1)
    pick = rng.integers(0, len(atlas.faces), 4000)
    b = rng.dirichlet(np.ones(3), len(pick))
    parts = atlas.face_part[pick]
    uv = np.einsum("nc,ncd->nd", b, atlas.uv[atlas.faces[pick]])
    mapper = SurfaceMapper(topo)
    face, bary = mapper.map(parts, uv)
    back_parts, back_uv = mapper.to_uv(face, bary, parts)
    np.testing.assert_array_equal(back_parts, parts)
    err = np.abs(back_uv - uv).max(1)
    # Points inside the low-poly chart come back exactly; the rest (slivers between a chart's
    # border and its low-poly chords) land on the nearest chart point.
    covered = err < 1e-3
    assert covered.mean() > 0.97, covered.mean()  # 98.8 % of 20,000 points measured (docs/design.md)
    inside = bary.min(1) > 1e-6
    assert np.abs(back_uv[inside] - uv[inside]).max() < 1e-3
    assert err.max() < 0.1


# ------------------------------------------------------------------------------------------ errors


def _assert_one_line(err: pytest.ExceptionInfo, match: str) -> None:
    assert match in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_bad_files_give_one_line_errors_and_no_output(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "t.npz"
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"vertices": np.zeros((3, 3)), "faces": np.zeros((1, 3))}, protocol=2))
    with pytest.raises(SmplFileError) as err:
        topology_from_smpl(other, files["mat"], 600, out)
    _assert_one_line(err, "lacks SMPL's v_template")

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    with pytest.raises(SmplFileError) as err:
        topology_from_smpl(evil, files["mat"], 600, out)
    _assert_one_line(err, "holds a pickled os.system")

    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(SmplFileError) as err:
        read_smpl(junk)
    _assert_one_line(err, "not a readable SMPL pickle")

    mat = tmp_path / "nodp.mat"
    scipy.io.savemat(mat, {"something": np.zeros(3)})
    with pytest.raises(SmplFileError) as err:
        topology_from_smpl(files["pkl"], mat, 600, out)
    _assert_one_line(err, "lacks DensePose's All_FaceIndices")

    notmat = tmp_path / "x.mat"
    notmat.write_text("hello")
    with pytest.raises(SmplFileError) as err:
        read_densepose_atlas(notmat)
    _assert_one_line(err, "cannot read")

    # An SMPL model with other vertex counts than DensePose's atlas refers to.
    v, f, _ = sphere_body(30, 30)
    small = tmp_path / "small.pkl"
    write_smpl_pkl(small, make_smpl(v, f))
    with pytest.raises(SmplFileError) as err:
        topology_from_smpl(small, files["mat"], 600, out)
    _assert_one_line(err, "refers to SMPL vertex")

    # Arrays that do not belong together.
    s = read_smpl(files["pkl"])
    s["weights"] = s["weights"][:100]
    bad = tmp_path / "bad.npz"
    np.savez(bad, **s)
    with pytest.raises(SmplFileError) as err:
        topology_from_smpl(bad, files["mat"], 600, out)
    _assert_one_line(err, "weights has shape (100, 24)")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".t.npz")]


def test_cli(files: dict[str, Path], tmp_path: Path) -> None:
    from meshpose_mobile.topology_cli import main

    out = tmp_path / "cli.npz"
    args = ["from-smpl", "--smpl", str(files["pkl"]), "--densepose", str(files["mat"]), "--vertices", "500"]
    res = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "500 vertices" in res.output and out.is_file()
    assert load_topology(out).num_vertices == 500
    res = CliRunner().invoke(
        main,
        [
            "from-smpl",
            "--smpl",
            str(tmp_path / "none.pkl"),
            "--densepose",
            str(files["mat"]),
            "--out",
            str(tmp_path / "x.npz"),
        ],
    )
    assert res.exit_code == 2 and res.output.strip().splitlines() == [
        f"error: SMPL model not found: {tmp_path / 'none.pkl'}; pass --smpl SMPL_NEUTRAL.pkl (or .npz)"
    ]
    assert not (tmp_path / "x.npz").exists()


# ------------------------------------------------------------------------------------------ training


def _densepose_coco(root: Path, topo: Topology, atlas_path: Path) -> tuple[Path, Path, Path]:
    """A DensePose-COCO json (points on the made-up atlas, RLE part masks, COCO keypoints), random
    photos of its sizes, and mesh pseudo-GT (vertices and 3D joints) for its persons."""
    from PIL import Image

    atlas = read_densepose_atlas(atlas_path)
    rng = np.random.default_rng(3)
    images_dir = root / "images"
    images_dir.mkdir()
    images, annotations, ids, verts = [], [], [], []
    for i, (h, w) in enumerate(((240, 200), (200, 260), (256, 256))):
        name = f"{i:012d}.jpg"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(images_dir / name)
        images.append({"id": i + 1, "file_name": name, "height": h, "width": w})
        box = [w * 0.2, h * 0.1, w * 0.5, h * 0.8]
        n = 40
        pick = rng.integers(0, len(atlas.faces), n)
        b = rng.dirichlet(np.ones(3), n)
        uv = np.einsum("nc,ncd->nd", b, atlas.uv[atlas.faces[pick]])
        masks: list = [[] for _ in range(14)]
        m = np.zeros((256, 256), np.uint8)
        m[40:220, 60:200] = 1
        masks[0] = rle_encode(m)
        kp = np.stack([box[0] + rng.uniform(0, box[2], 17), box[1] + rng.uniform(0, box[3], 17), np.full(17, 2.0)], 1)
        annotations.append(
            {
                "id": 100 + i, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "bbox": box,
                "area": box[2] * box[3], "num_keypoints": 17, "keypoints": kp.ravel().round(2).tolist(),
                "dp_x": rng.uniform(40, 215, n).round(2).tolist(), "dp_y": rng.uniform(20, 235, n).round(2).tolist(),
                "dp_I": atlas.face_part[pick].astype(float).tolist(),
                "dp_U": uv[:, 0].round(6).tolist(), "dp_V": uv[:, 1].round(6).tolist(), "dp_masks": masks,
            }
        )  # fmt: skip
        assert topo.template is not None
        s = box[3] / 1.7
        centre = np.array([box[0] + box[2] / 2, box[1] + box[3] / 2, 0.0])
        ids.append(100 + i)
        verts.append(topo.template * np.array([s, -s, s]) + centre)
    ann = root / "densepose.json"
    ann.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [{"id": 1}]}))
    v = np.stack(verts).astype(np.float32)
    assert topo.coco_regressor is not None
    joints = np.einsum("jk,nkc->njc", topo.coco_regressor, v).astype(np.float32)
    pseudo = root / "pseudo.npz"
    save_pseudo_gt(pseudo, ids, v, joints_3d=joints, weight=np.array([1.0, 0.5, 0.8]), topology=topo)
    return ann, images_dir, pseudo


def _config(topology: Path, ann: Path, images: Path, pseudo: Path, **changes: object):
    from meshpose_mobile.train.config import TrainConfig, apply_override

    data = {
        "variant": "meshpose_tiny", "topology": str(topology), "steps": 4, "batch_size": 3,
        "eval_every": 2, "ckpt_every": 2, "log_every": 1,
        "data": {
            "train": str(ann), "images": str(images), "pseudo_gt": str(pseudo),
            "val": str(ann), "val_images": str(images), "val_pseudo_gt": str(pseudo),
        },
        "optim": {"warmup_steps": 1},
        # Fewer padding cells keep the silhouette renderer (the slowest term on CPU) quick.
        "loss": {"silhouette_pad": 2},
    }  # fmt: skip
    for key, value in changes.items():
        data = apply_override(data, f"{key}={json.dumps(value)}")
    return TrainConfig.from_dict(data)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Bit-exact comparisons between runs need one intra-op thread: with two, oneDNN's reductions
    changed the 6th digit of losses between two identical straight runs on a busy machine (measured
    here), which has nothing to do with resuming."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def coco(built: tuple, files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("coco")
    ann, images, pseudo = _densepose_coco(root, built[0], files["mat"])
    return {"ann": ann, "images": images, "pseudo": pseudo, "topology": built[2], "root": root}


def test_densepose_points_become_faces_of_their_chart(coco: dict[str, Path], built: tuple) -> None:
    topo = built[0]
    ds = load_densepose(coco["ann"], topo)
    assert len(ds.annotations) == 3
    mapper = SurfaceMapper(topo)
    for a in ds.annotations:
        parts, uv = mapper.to_uv(a.face_index, a.bary, a.parts)
        np.testing.assert_array_equal(parts, a.parts)
        assert np.quantile(np.abs(uv - a.uv).max(1), 0.9) < 1e-3


def test_trains_every_loss_and_resumes_exactly(coco: dict[str, Path], built: tuple, one_thread: None) -> None:
    from meshpose_mobile.checkpoint import load_checkpoint
    from meshpose_mobile.train.loop import read_metrics, train

    topo = built[0]
    cfg = _config(coco["topology"], coco["ann"], coco["images"], coco["pseudo"])
    straight = coco["root"] / "straight"
    res = train(cfg, straight)
    assert res["step"] == 4
    terms = read_metrics(straight, "train")
    every = (
        "bary",
        "uvc",
        "visibility",
        "silhouette",
        "vertex",
        "edge",
        "normal",
        "joint_2d",
        "joint_3d",
        "foreground",
    )
    for row in terms:
        for name in every:
            assert name in row and math.isfinite(row[name]) and row[name] > 0, (name, row)
    for key in ("dp_part_acc", "dp_uv_err", "v2d_px", "mpjpe_mm"):
        assert math.isfinite(res[key]), key
    model = load_checkpoint(straight / "model.pt", topology=topo)
    assert model.topology.hash == topo.hash and model.config.num_vertices == topo.num_vertices
    saved = torch.load(straight / "model.pt", weights_only=True)
    assert saved["topology_hash"] == topo.hash

    # A crash after step 3 (last checkpoint at 2), then --resume: the same metrics and weights.
    crashed = coco["root"] / "crashed"
    with pytest.raises(RuntimeError, match="injected"):
        train(cfg, crashed, _fault_after=(3, RuntimeError))
    train(cfg, crashed, resume=True)

    def evals(run: Path) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "eval_s"} for r in read_metrics(run, "eval")]

    assert evals(crashed) == evals(straight)
    a = torch.load(crashed / "model.pt", weights_only=True)["state_dict"]
    b = saved["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_mixed_batches_with_synthetic_bodies_of_this_topology(coco: dict[str, Path], built: tuple) -> None:
    from meshpose_mobile.registry import make_config
    from meshpose_mobile.synth import SynthConfig, SyntheticBodies
    from meshpose_mobile.train.data import Collate
    from meshpose_mobile.train.densepose_source import DensePoseSource
    from meshpose_mobile.train.loop import train

    topo = built[0]
    cfg = make_config("meshpose_tiny", topo)
    synth = SyntheticBodies(SynthConfig(height=cfg.input_height, width=cfg.input_width, num_points=32), 0, topo)
    sample = synth[0]
    assert sample["vertices"].shape == (topo.num_vertices, 3) and sample["mask"].any()
    real = DensePoseSource(coco["ann"], coco["images"], cfg, topo, pseudo_gt=coco["pseudo"])
    batch = Collate(cfg, 8)([real[0], sample])  # 196 padded points next to 32
    assert batch["dp_mask"].shape == (2, 196) and batch["dp_mask"][1].sum() == float(sample["dp_mask"].sum())
    run = coco["root"] / "mixed"
    res = train(
        _config(
            coco["topology"], coco["ann"], coco["images"], coco["pseudo"],
            **{"data.add_synthetic": True, "data.train_size": 3, "data.synth": {"num_points": 32}, "steps": 2},
        ),
        run,
    )  # fmt: skip
    assert res["step"] == 2


@pytest.mark.export
def test_export_with_the_built_topology(coco: dict[str, Path], built: tuple, tmp_path: Path) -> None:
    from meshpose_export.cli.export_cli import main as export_main
    from meshpose_mobile.train.loop import train

    topo = built[0]
    run = tmp_path / "run"
    train(_config(coco["topology"], coco["ann"], coco["images"], coco["pseudo"], steps=1, eval_every=1), run)
    out = tmp_path / "art"
    args = ["--ckpt", str(run / "model.pt"), "--topology", str(coco["topology"]), "--target", "onnx", "--out", str(out)]
    res = CliRunner().invoke(export_main, args)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["artifacts"][0]["passed"] is True
    sidecars = [p for p in out.glob("*.json") if p.name not in ("summary.json",) and ".parity" not in p.name]
    assert sidecars
    for p in sidecars:
        mesh = json.loads(p.read_text())["mesh"]
        assert mesh["topology_hash"] == topo.hash and mesh["num_vertices"] == topo.num_vertices
    # meshpose-predict --topology: the checkpoint and the artifact run with the matching topology.
    from PIL import Image

    from meshpose_export.cli.predict_cli import main as predict_main

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 100, 3), dtype=np.uint8)).save(photo)
    onnx = next(out.glob("*.onnx"))
    for model_file in (run / "model.pt", onnx):
        pred = tmp_path / f"pred_{model_file.suffix[1:]}"
        pargs = [str(photo), "--model", str(model_file), "--topology", str(coco["topology"]), "--box", "10,5,80,110"]
        res = CliRunner().invoke(predict_main, [*pargs, "--out", str(pred), "--no-overlay"])
        assert res.exit_code == 0, res.output
        people = json.loads((pred / "photo.json").read_text())["people"]
        assert len(people) == 1 and len(people[0]["xyz_lp"]) == topo.num_vertices
    # Another topology is refused with one line, by export and by predict.
    from meshpose_mobile.topology import default_topology

    other = tmp_path / "default.npz"
    default_topology().save(other)
    res = CliRunner().invoke(
        export_main, [*args[:2], "--topology", str(other), "--target", "onnx", "--out", str(tmp_path / "b")]
    )
    assert res.exit_code != 0 and "trained on topology" in res.output and "Traceback" not in res.output
    for model_file, says in ((run / "model.pt", "trained on topology"), (onnx, "was exported for topology")):
        pargs = [str(photo), "--model", str(model_file), "--topology", str(other), "--box", "10,5,80,110"]
        res = CliRunner().invoke(predict_main, [*pargs, "--out", str(tmp_path / "p2"), "--no-overlay"])
        assert res.exit_code != 0 and says in res.output and "Traceback" not in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1


def test_train_cli_topology_flag(coco: dict[str, Path], tmp_path: Path) -> None:
    from meshpose_mobile.train.cli import train_main

    res = CliRunner().invoke(train_main, ["--out", str(tmp_path / "r"), "--topology", str(tmp_path / "none.npz")])
    assert res.exit_code != 0 and res.output.startswith("error: topology file not found"), res.output
    res = CliRunner().invoke(
        train_main, ["--out", str(tmp_path / "r"), "--topology", str(coco["topology"]), "--print-config"]
    )
    assert res.exit_code == 0 and json.loads(res.output)["topology"] == str(coco["topology"])


def test_chart_fields_are_validated(built: tuple) -> None:
    from meshpose_mobile.errors import TopologyError

    arrays = built[0].to_arrays()
    bad = dict(arrays, chart_faces=arrays["chart_faces"][::-1].copy())
    with pytest.raises(TopologyError, match="chart_faces must start with every face"):
        Topology.from_arrays(bad)
    bad = {k: v for k, v in arrays.items() if k != "chart_uv"}
    with pytest.raises(TopologyError, match="come together"):
        Topology.from_arrays(bad)
    bad = dict(arrays, joint_regressor=arrays["joint_regressor"] * 2)
    with pytest.raises(TopologyError, match="joint_regressor row 0 sums to 2"):
        Topology.from_arrays(bad)


def test_mixing_and_prior_settings_are_one_line_errors(coco: dict[str, Path], tmp_path: Path) -> None:
    from meshpose_mobile.errors import ConfigError
    from meshpose_mobile.train.config import TrainConfig
    from meshpose_mobile.train.loop import train

    with pytest.raises(ConfigError, match=r"data\.add_synthetic=True mixes synthetic bodies into a dataset"):
        TrainConfig.from_dict({"data": {"add_synthetic": True}})
    # prior_init on persons without vertex labels (no pseudo-GT): named, with the fixes.
    cfg = _config(coco["topology"], coco["ann"], coco["images"], coco["pseudo"], prior_init=True)
    cfg = cfg.replace(data=type(cfg.data)(**{**cfg.data.__dict__, "pseudo_gt": ""}))
    with pytest.raises(ConfigError, match="prior_init needs training samples with vertex labels") as err:
        train(cfg, tmp_path / "run")
    assert "\n" not in str(err.value)
