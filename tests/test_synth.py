"""Synthetic data: deterministic, self-consistent labels, selfie crops, disk round trip, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from meshpose_mobile.errors import ConfigError, DataError
from meshpose_mobile.synth import SynthConfig, SynthDiskDataset, SyntheticBodies, rasterize, write_dataset
from meshpose_mobile.topology import default_topology

SMALL = SynthConfig(height=96, width=72, num_points=48)


@pytest.fixture(scope="module")
def gen() -> SyntheticBodies:
    return SyntheticBodies(SMALL, seed=3)


def test_same_seed_same_sample_different_index_differs(gen: SyntheticBodies) -> None:
    a, b = gen[5], SyntheticBodies(SMALL, seed=3)[5]
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert not np.array_equal(gen[6]["image"], a["image"])
    assert not np.array_equal(SyntheticBodies(SMALL, seed=4)[5]["vertices"], a["vertices"])


def test_shapes_and_ranges(gen: SyntheticBodies) -> None:
    s = gen[0]
    topo = default_topology()
    assert s["image"].shape == (96, 72, 3) and s["image"].dtype == np.uint8
    assert s["mask"].shape == s["part"].shape == (96, 72)
    assert s["vertices"].shape == (topo.num_vertices, 3)
    assert s["dp_pixels"].shape == (48, 2) and s["dp_bary"].shape == (48, 3)
    assert set(np.unique(s["part"])) <= set(range(25))
    np.testing.assert_array_equal(s["joints_3d"][:, :2], s["joints_2d"])
    assert float(s["pixels_per_metre"]) > 0


@pytest.mark.parametrize("index", range(6))
def test_densepose_points_are_the_barycentric_combination_of_projected_corners(
    gen: SyntheticBodies, index: int
) -> None:
    """Screen-space barycentrics: what Eq. 6 (UV consistency) assumes of every label."""
    s = gen[index]
    topo = default_topology()
    m = s["dp_mask"] > 0
    assert m.sum() > 10
    faces = topo.faces[s["dp_face"][m]]
    corners = s["vertices"][faces][..., :2]  # (n, 3, 2)
    landing = (s["dp_bary"][m][..., None] * corners).sum(1)
    np.testing.assert_allclose(landing, s["dp_pixels"][m], atol=2e-3)
    assert (s["dp_bary"][m] >= -1e-6).all()
    np.testing.assert_allclose(s["dp_bary"][m].sum(1), 1.0, atol=1e-5)
    # Points sit on the visible body, with that pixel's part and UV.
    px = s["dp_pixels"][m].astype(int)
    assert (s["mask"][px[:, 1], px[:, 0]] == 1).all()
    np.testing.assert_array_equal(s["part"][px[:, 1], px[:, 0]], s["dp_part"][m])
    np.testing.assert_allclose(s["uv"][px[:, 1], px[:, 0]], s["dp_uv"][m], atol=1e-3)
    # The part is one the face's own vertices carry.
    assert all(p in topo.parts[f] for p, f in zip(s["dp_part"][m], faces, strict=True))


def test_selfie_crops_cut_the_legs_off() -> None:
    gen = SyntheticBodies(SynthConfig(height=96, width=72, selfie_fraction=1.0), seed=0)
    ankles_out = 0
    for i in range(12):
        s = gen[i]
        assert bool(s["selfie"])
        ankles_out += int(s["joints_2d"][15:17, 1].min() > 95.5)
        # Head (nose, COCO 0) is in the picture.
        assert s["joints_2d_mask"][0] == 1
    assert ankles_out >= 10


def test_full_body_crops_mostly_show_the_whole_body() -> None:
    gen = SyntheticBodies(SynthConfig(height=96, width=72, selfie_fraction=0.0, occluder_prob=0.0), seed=1)
    inside = [gen[i]["joints_2d_mask"].mean() for i in range(12)]
    assert np.mean(inside) > 0.9


def test_hires_ground_truth_lies_on_the_low_poly_surface() -> None:
    gen = SyntheticBodies(SynthConfig(height=96, width=72, with_hires=True), seed=0)
    topo = default_topology()
    s = gen[2]
    assert s["hires_vertices"].shape == (len(topo.hires_vertices), 3)
    on_surface = topo.hires_from_lowpoly(s["vertices"])
    gap = np.linalg.norm(s["hires_vertices"] - on_surface, axis=-1)
    body = np.ptp(s["vertices"][:, 1])
    assert np.median(gap) < 0.02 * body


def test_rasterize_matches_brute_force_and_leaves_no_gap_on_a_shared_edge() -> None:
    pts = np.array([[1.2, 1.1], [14.7, 2.3], [3.3, 12.8], [15.2, 13.9]])
    depth = np.array([1.0, 2.0, 3.0, 0.5])
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    fmap, bary = rasterize(pts, depth, faces, 16, 16)
    for y in range(16):
        for x in range(16):
            hits = []
            for f, tri in enumerate(faces):
                a, b, c = pts[tri]
                m = np.array([[b[0] - a[0], c[0] - a[0]], [b[1] - a[1], c[1] - a[1]]])
                u, v = np.linalg.solve(m, [x - a[0], y - a[1]])
                w = np.array([1 - u - v, u, v])
                if (w >= -1e-9).all():
                    hits.append((float(w @ depth[tri]), f, w))
            if not hits:
                assert fmap[y, x] == -1
                continue
            _, f, w = min(hits, key=lambda h: h[0])
            assert fmap[y, x] == f
            np.testing.assert_allclose(bary[y, x], w, atol=1e-5)
    # The quad's interior is covered without holes.
    assert (fmap[3:12, 4:13] >= 0).all()


def test_disk_round_trip_and_errors(tmp_path) -> None:
    out = write_dataset(tmp_path / "ds", 5, SMALL, seed=3, shard_size=2)
    ds = SynthDiskDataset(out, default_topology())
    assert len(ds) == 5 and ds.config == SMALL
    ref = SyntheticBodies(SMALL, seed=3)
    for i in (0, 3, 4):
        for key, value in ref[i].items():
            np.testing.assert_array_equal(ds[i][key], value, err_msg=key)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging folder left behind"
    with pytest.raises(DataError, match="not empty"):
        write_dataset(out, 2, SMALL)
    with pytest.raises(DataError, match="dataset not found"):
        SynthDiskDataset(tmp_path / "nope")
    (tmp_path / "junk").mkdir()
    with pytest.raises(DataError, match=r"meta\.json"):
        SynthDiskDataset(tmp_path / "junk")


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("height", 0, "height"),
        ("selfie_fraction", 1.5, "selfie_fraction"),
        ("scale_range", (1.2, 0.9), "scale_range"),
        ("max_occluders", -1, "max_occluders"),
    ],
)
def test_bad_synth_config(field: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SynthConfig(**{field: value})
    with pytest.raises(ConfigError, match="unknown field"):
        SynthConfig.from_dict({"colour": 1})


def test_synth_cli(tmp_path) -> None:
    from meshpose_mobile.train.cli import synth_main

    runner = CliRunner()
    res = runner.invoke(synth_main, ["--bench", "--count", "4", "--height", "64", "--width", "48"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["images_per_s"] > 0
    res = runner.invoke(synth_main, ["--out", str(tmp_path / "d"), "--count", "3", "--height", "64", "--width", "48"])
    assert res.exit_code == 0, res.output
    assert len(SynthDiskDataset(tmp_path / "d")) == 3
    res = runner.invoke(synth_main, ["--out", str(tmp_path / "e"), "--set", "selfie_fraction=2"])
    assert res.exit_code != 0
    assert res.output.strip().startswith("error: synth config: selfie_fraction=2")
    assert "Traceback" not in res.output
