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


# ------------------------------------------------------------------------------------ photo look

PHOTO = SynthConfig(height=96, width=72, num_points=48, appearance="photo")


@pytest.fixture(scope="module")
def photo_gen() -> SyntheticBodies:
    return SyntheticBodies(PHOTO, seed=3)


def test_flat_look_is_the_one_meshpose_xs_was_trained_on(gen: SyntheticBodies) -> None:
    """The default (flat) samples did not move when the photo look was added: fingerprints of two
    samples recorded from the generator before it (loose enough for a rounding flip on another CPU)."""
    assert SMALL.appearance == "flat" and "background" not in gen[0]
    for index, image_mean, vertex_sum, mask_px in (
        (0, 78.54089506, 94306.644581, 3468),
        (5, 87.37205826, 54538.604315, 2898),
    ):
        s = gen[index]
        assert abs(float(s["image"].astype(np.float64).mean()) - image_mean) < 0.05
        assert float(s["vertices"].astype(np.float64).sum()) == pytest.approx(vertex_sum, rel=1e-6)
        assert abs(int(s["mask"].sum()) - mask_px) <= 3


def test_photo_samples_are_a_pure_function_of_seed_and_index(photo_gen: SyntheticBodies) -> None:
    other = SyntheticBodies(PHOTO, seed=3)
    later, first = other[4], other[2]  # out of order: no state carries over between samples
    for index, b in ((2, first), (4, later)):
        a = photo_gen[index]
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert not np.array_equal(photo_gen[2]["image"], photo_gen[4]["image"])
    assert not np.array_equal(SyntheticBodies(PHOTO, seed=4)[2]["image"], first["image"])


def test_photo_look_differs_from_flat_and_labels_stay_self_consistent(photo_gen: SyntheticBodies) -> None:
    flat = SyntheticBodies(SMALL, seed=3)
    topo = default_topology()
    for i in range(4):
        p, f = photo_gen[i], flat[i]
        assert p.keys() == f.keys() | {"background", "framing", "picture_box", "person"}
        # The clothed person holds the visible body (clothes only add volume) and more.
        body, person = p["mask"] > 0, p["person"] > 0
        assert person.sum() >= body.sum() and (body & person).sum() >= 0.97 * body.sum()
        assert np.abs(p["image"].astype(float) - f["image"].astype(float)).mean() > 10
        # The clothes only change the picture: DensePose points still sit exactly on the naked mesh.
        m = p["dp_mask"] > 0
        corners = p["vertices"][topo.faces[p["dp_face"][m]]][..., :2]
        np.testing.assert_allclose((p["dp_bary"][m][..., None] * corners).sum(1), p["dp_pixels"][m], atol=2e-3)
        px = p["dp_pixels"][m].astype(int)
        assert (p["mask"][px[:, 1], px[:, 0]] == 1).all()


def test_photo_body_is_drawn_over_the_background(photo_gen: SyntheticBodies) -> None:
    """Inside the visible body the picture differs from the photo behind it (clothes, skin, hair)."""
    from meshpose_mobile import synth_photo

    for i in range(4):
        s = photo_gen[i]
        assert int(s["background"]) in range(len(synth_photo.BACKGROUND_PHOTOS))
        body = s["mask"] > 0
        if body.sum() < 50:
            continue
        inside = s["image"][body].astype(float).std(0).mean()
        assert inside > 3, "a flat blob, not a shaded body"


def _in_crop(xy: np.ndarray, height: int, width: int) -> np.ndarray:
    return (xy[..., 0] >= -0.5) & (xy[..., 0] < width - 0.5) & (xy[..., 1] >= -0.5) & (xy[..., 1] < height - 0.5)


def test_cut_framing_labels_vertices_outside_the_picture_invisible() -> None:
    """Bodies cut by the crop's edges: the loss's visibility labels (`partial_visibility_labels`,
    the representation training uses) mark the vertices outside the picture invisible and only
    those; DensePose points and joint masks agree; every vertex stays in the decodable range."""
    import torch

    from meshpose_mobile.config import ModelConfig
    from meshpose_mobile.losses import partial_visibility_labels
    from meshpose_mobile.registry import project_ranges
    from meshpose_mobile.synth import FRAMINGS

    h, w = 96, 64
    cfg = SynthConfig(
        height=h,
        width=w,
        num_points=48,
        appearance="photo",
        selfie_fraction=0.0,
        cut_fraction=1.0,
        upper_body_fraction=0.0,
    )
    gen = SyntheticBodies(cfg, seed=7)
    topo = default_topology()
    mcfg = ModelConfig(
        variant="t", backbone="mobilenetv2", num_vertices=topo.num_vertices, input_height=h, input_width=w
    )
    ranges = project_ranges(h, w)
    cut = 0
    for i in range(10):
        s = gen[i]
        assert FRAMINGS[int(s["framing"])] == "cut"
        v = s["vertices"][:, :2]
        inside = _in_crop(v, h, w)
        target, labelled = partial_visibility_labels(
            topo.num_vertices,
            torch.as_tensor(topo.faces),
            torch.as_tensor(s["dp_face"])[None],
            torch.as_tensor(s["dp_mask"] > 0)[None],
            torch.as_tensor(s["vertices"])[None],
            torch.ones(1),
            mcfg,
        )
        target, labelled = target[0].numpy(), labelled[0].numpy()
        invisible = labelled & (target == 0)
        np.testing.assert_array_equal(invisible, ~inside & ~(labelled & (target == 1)))
        seen = labelled & (target == 1)
        # A vertex seen by a DensePose point is in the picture or a corner of a face the edge cuts.
        seen_faces = topo.faces[s["dp_face"][s["dp_mask"] > 0]]
        assert set(np.flatnonzero(seen & ~inside)) <= set(seen_faces.ravel().tolist())
        np.testing.assert_array_equal(s["joints_2d_mask"] > 0, _in_crop(s["joints_2d"], h, w))
        assert ranges["x_range"][0] <= v[:, 0].min() and v[:, 0].max() <= ranges["x_range"][1]
        assert ranges["y_range"][0] <= v[:, 1].min() and v[:, 1].max() <= ranges["y_range"][1]
        if (~inside).sum() > 20:
            cut += 1
            # The body reaches the edge it is cut by.
            edges = np.concatenate([s["mask"][0], s["mask"][-1], s["mask"][:, 0], s["mask"][:, -1]])
            assert edges.any() or s["mask"].sum() == 0
    assert cut >= 7


def test_upper_body_framing_cuts_the_legs() -> None:
    from meshpose_mobile.synth import FRAMINGS

    cfg = SynthConfig(
        height=96, width=72, appearance="photo", selfie_fraction=0.0, upper_body_fraction=1.0, cut_fraction=0.0
    )
    gen = SyntheticBodies(cfg, seed=2)
    legs_out = 0
    for i in range(8):
        s = gen[i]
        assert FRAMINGS[int(s["framing"])] == "upper" and not bool(s["selfie"])
        assert s["joints_2d_mask"][0] == 1  # the nose is in the picture
        legs_out += int(s["joints_2d"][15:17, 1].min() > 95.5)
    assert legs_out >= 7


def test_backgrounds_come_from_the_listed_photos_without_people() -> None:
    from meshpose_export.runtime.realphoto import PHOTOS
    from meshpose_mobile import synth_photo
    from meshpose_mobile.samples import SAMPLE_PHOTOS

    names = {p.name for p in synth_photo.BACKGROUND_PHOTOS}
    # Photos of people judge models (samples.py, the real-photo evaluation): never a background.
    people = {p.name for p in SAMPLE_PHOTOS} | {p.ref.split(".")[0] for p in PHOTOS} | {p.name for p in PHOTOS}
    people |= {"astronaut", "camera", "grace_hopper", "lfw_subset", "no_time_for_that"}
    assert not names & people
    assert not any(any(q in p.path for q in people) for p in synth_photo.BACKGROUND_PHOTOS)
    lib = synth_photo.photo_library()
    assert len(lib) == len(synth_photo.BACKGROUND_PHOTOS) >= 10
    for photo in synth_photo.BACKGROUND_PHOTOS:
        assert photo.file().is_file()
    rng = np.random.default_rng(0)
    used = set()
    for _ in range(40):
        crop = synth_photo.draw_photo_crop(rng, 96, 72)
        used.add(crop.photo)
        src = lib[crop.photo].pixels
        ph, pw = src.shape[:2]
        # The window lies inside the photo, zoomed in (never blown up past the photo's own pixels
        # beyond 2.5x) and it is exactly what the crop shows.
        assert 0 <= crop.top and crop.top + crop.step * 96 <= ph - 1 + 1e-6
        assert 0 <= crop.left and crop.left + crop.step * 72 <= pw - 1 + 1e-6
        image = synth_photo.render_photo_crop(crop, 96, 72)
        y = crop.top + crop.step * 10.5 - 0.5
        col = 71 - 20 if crop.flip else 20
        x = crop.left + crop.step * (col + 0.5) - 0.5
        y0, x0 = int(y), int(x)
        fy, fx = y - y0, x - x0
        ref = (
            src[y0, x0] * (1 - fy) * (1 - fx)
            + src[y0, x0 + 1] * (1 - fy) * fx
            + src[y0 + 1, x0] * fy * (1 - fx)
            + src[y0 + 1, x0 + 1] * fy * fx
        )
        np.testing.assert_allclose(image[10, 20], ref, atol=1e-2)
    assert len(used) >= 8


def test_camera_effects_stay_in_their_ranges() -> None:
    from meshpose_mobile import synth_photo
    from meshpose_mobile.synth_photo import EFFECT_RANGES as R

    rng = np.random.default_rng(1)
    grey = np.full((48, 40, 3), 128.0, np.float32)
    jpeg = gray = 0
    for _ in range(120):
        fx = synth_photo.draw_effects(rng, 192, 192, (0.0, 6.0))
        assert fx.blur_sigma == 0 or 0.3 <= fx.blur_sigma <= R["blur_sigma"][1]
        assert fx.motion == 0 or 2 <= fx.motion <= R["motion"][1]
        assert all(R["gains"][0] <= g <= R["gains"][1] for g in fx.gains)
        for name in ("brightness", "contrast", "saturation", "gamma", "shot_noise"):
            lo, hi = R[name]
            assert lo <= getattr(fx, name) <= hi, name
        assert 0 <= fx.read_noise <= 6.0
        assert fx.jpeg_quality == 0 or R["jpeg_quality"][0] <= fx.jpeg_quality <= R["jpeg_quality"][1]
        jpeg += fx.jpeg_quality > 0
        gray += fx.grayscale
        out = synth_photo.apply_effects(grey, fx, rng)
        assert out.dtype == np.uint8 and out.shape == grey.shape
        # Exposure and colour stay photographic: 128 grey lands within the ranges' extremes
        # (0.85 gain x 0.7 brightness at gamma 1.25 .. 1.15 x 1.3 at gamma 0.8), plus noise.
        assert 45 <= out.reshape(-1, 3).mean(0).min() and out.reshape(-1, 3).mean(0).max() <= 215
    assert 60 <= jpeg <= 110 and 2 <= gray <= 30
    # Without effects the picture only rounds.
    none = synth_photo.CameraEffects(0.0, 0, 0, (1.0, 1.0, 1.0), 1.0, 1.0, 1.0, 1.0, False, 0.0, 0.0, 0)
    ramp = np.linspace(0, 255, 48 * 40 * 3, dtype=np.float32).reshape(48, 40, 3)
    np.testing.assert_allclose(synth_photo.apply_effects(ramp, none, rng), np.rint(ramp), atol=1)


def test_photo_config_is_checked_and_old_datasets_read_as_flat() -> None:
    with pytest.raises(ConfigError, match="appearance"):
        SynthConfig(appearance="painted")
    with pytest.raises(ConfigError, match="cut_fraction"):
        SynthConfig(upper_body_fraction=0.7, cut_fraction=0.5)
    old = SMALL.to_dict()
    for key in ("appearance", "upper_body_fraction", "cut_fraction"):
        old.pop(key)
    assert SynthConfig.from_dict(old) == SMALL
    assert SynthConfig.from_dict(PHOTO.to_dict()) == PHOTO


def test_photo_edge_band_reads_the_border_and_shows_no_body(photo_gen: SyntheticBodies) -> None:
    """photo_edge_prob: part of the crop lies beyond the photo's edge, as the crop contract fills it
    (0), and the labels see no body there (no mask, parts or points; the vertices behind it unseen);
    the body itself, its vertices and joints, do not move."""
    import dataclasses
    from types import SimpleNamespace

    import torch

    from meshpose_mobile import synth_photo
    from meshpose_mobile.losses import partial_visibility_labels

    edged = SyntheticBodies(dataclasses.replace(PHOTO, photo_edge_prob=1.0), seed=3)
    topo = default_topology()
    lost = hidden = 0
    for i in range(6):
        a, b = photo_gen[i], edged[i]
        for key in ("vertices", "joints_2d", "joints_3d", "framing", "background"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        band = np.zeros(b["mask"].shape, dtype=bool)
        rng = np.random.default_rng([3, i, 1])
        rng.random()  # the draw that decided there is a band
        band |= synth_photo.photo_edge_band(rng, *b["mask"].shape)
        frac = band.mean()
        assert 0.02 * 0.9 <= frac <= 1 - (1 - synth_photo.PHOTO_EDGE_MAX) ** 2 + 1e-9
        assert (b["image"][band] == 0).all()
        assert not b["mask"][band].any() and not b["part"][band].any()
        np.testing.assert_array_equal(b["mask"][~band], a["mask"][~band])
        np.testing.assert_array_equal(b["image"][~band], a["image"][~band])
        m = b["dp_mask"] > 0
        px = b["dp_pixels"][m].astype(int)
        assert not band[px[:, 1], px[:, 0]].any()
        corners = b["vertices"][topo.faces[b["dp_face"][m]]][..., :2]
        np.testing.assert_allclose((b["dp_bary"][m][..., None] * corners).sum(1), b["dp_pixels"][m], atol=2e-3)
        lost += int(a["mask"][band].sum())
        # The picture box is the rest of the crop, and the loss's labels mark the vertices behind
        # the band unseen, as they mark those off the crop.
        h, w = b["mask"].shape
        np.testing.assert_array_equal(a["picture_box"], [-0.5, -0.5, w - 0.5, h - 0.5])
        x0, y0, x1, y1 = b["picture_box"]
        ys, xs = np.mgrid[0:h, 0:w]
        np.testing.assert_array_equal((xs > x0) & (xs < x1) & (ys > y0) & (ys < y1), ~band)
        # in_crop reads the crop size only; this crop (96 x 72) is no model's input size.
        mcfg = SimpleNamespace(input_height=h, input_width=w)
        target, labelled = partial_visibility_labels(
            topo.num_vertices,
            torch.as_tensor(topo.faces),
            torch.as_tensor(b["dp_face"])[None],
            torch.as_tensor(m)[None],
            torch.as_tensor(b["vertices"])[None],
            torch.ones(1),
            mcfg,
            torch.as_tensor(b["picture_box"])[None],
        )
        v = b["vertices"][:, :2]
        pix = np.floor(v + 0.5).astype(int)
        on_crop = _in_crop(v, h, w)
        behind = np.zeros(len(v), bool)
        behind[on_crop] = band[pix[on_crop, 1], pix[on_crop, 0]]
        unseen = labelled[0].numpy() & (target[0].numpy() == 0)
        seen = labelled[0].numpy() & (target[0].numpy() == 1)
        np.testing.assert_array_equal(unseen, (behind | ~on_crop) & ~seen)
        hidden += int(unseen[behind].sum())
    assert lost > 0, "no band cut a body in six crops: the test would not see labels cleared"
    assert hidden > 0, "no vertex behind a band in six crops: the test would not see it labelled"


def test_photo_edge_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="photo_edge_prob"):
        SynthConfig(appearance="photo", photo_edge_prob=1.5)
    with pytest.raises(ConfigError, match="needs appearance='photo'"):
        SynthConfig(photo_edge_prob=0.4)
    old = PHOTO.to_dict()
    old.pop("photo_edge_prob")  # datasets and checkpoints written before the option
    assert SynthConfig.from_dict(old) == PHOTO


def test_photo_dataset_round_trip(tmp_path) -> None:
    out = write_dataset(tmp_path / "photo", 3, PHOTO, seed=3, shard_size=2)
    ds = SynthDiskDataset(out)
    assert ds.config.appearance == "photo"
    ref = SyntheticBodies(PHOTO, seed=3)
    for key, value in ref[2].items():
        np.testing.assert_array_equal(ds[2][key], value, err_msg=key)


@pytest.mark.parametrize("sigma", [0.8, 1.3, 2.4, 2.5, 4.0, 7.0])
def test_blur_keeps_the_light_and_spreads_it_by_sigma(sigma: float) -> None:
    from meshpose_mobile.synth_photo import gaussian_blur

    dot = np.zeros((81, 81, 1), np.float32)
    dot[40, 40] = 1.0
    out = gaussian_blur(dot, sigma)[..., 0]
    assert out.sum() == pytest.approx(1.0, abs=1e-5)
    offsets = np.arange(81) - 40
    spread = np.sqrt((out.sum(1) * offsets**2).sum())
    assert spread == pytest.approx(sigma, rel=0.17 if sigma >= 2.5 else 0.05)


def _upper_arm_angles(sample: dict) -> np.ndarray:
    """(2,) degrees between each upper arm (COCO shoulder -> elbow, 3-D labels) and straight down the crop."""
    j = sample["joints_3d"].astype(np.float64)
    arms = np.stack([j[7] - j[5], j[8] - j[6]])
    arms /= np.linalg.norm(arms, axis=1, keepdims=True)
    return np.degrees(np.arccos(np.clip(arms[:, 1], -1, 1)))  # crop y points down


def test_arms_down_hangs_arms_by_the_side() -> None:
    """arms_down_prob: upright bodies facing the camera hang their arms near straight down, where the
    joint limits' uniform draws (centred on the rig's A-pose) almost never do; 0 changes nothing."""
    import dataclasses

    upright = dataclasses.replace(PHOTO, selfie_fraction=0.0, yaw_range=0.0, tilt_range=0.0, cut_fraction=0.0)
    drawn = SyntheticBodies(upright, seed=4)
    hung = SyntheticBodies(dataclasses.replace(upright, arms_down_prob=1.0), seed=4)
    before = np.concatenate([_upper_arm_angles(drawn[i]) for i in range(12)])
    after = np.concatenate([_upper_arm_angles(hung[i]) for i in range(12)])
    assert np.median(before) > 45 and np.mean(before <= 25) < 0.2
    assert np.median(after) < 25 and after.max() < 50
    # The option off is the generator as it was, sample for sample.
    off = SyntheticBodies(dataclasses.replace(upright, arms_down_prob=0.0), seed=4)
    for key in ("image", "vertices", "dp_pixels"):
        np.testing.assert_array_equal(off[3][key], drawn[3][key])


def test_arms_down_keeps_the_phone_arm_and_is_checked() -> None:
    import dataclasses

    gen = SyntheticBodies(dataclasses.replace(PHOTO, arms_down_prob=1.0), seed=0)
    names = list(gen.topology.joint_names)
    angles = np.full((len(names), 3), 0.3)
    gen._arms_down(angles, np.random.default_rng(0), "left")
    assert (angles[names.index("left_shoulder")] == 0.3).all() and (angles[names.index("left_elbow")] == 0.3).all()
    assert (angles[names.index("right_shoulder")] != 0.3).any()
    with pytest.raises(ConfigError, match="arms_down_prob"):
        SynthConfig(arms_down_prob=1.5)
    old = PHOTO.to_dict()
    old.pop("arms_down_prob")  # datasets and checkpoints written before the option
    assert SynthConfig.from_dict(old) == PHOTO


def test_framing_metrics_per_joint_scores_against_the_labels() -> None:
    """benchmarks/framing_metrics.py --per-joint: a mesh at the labels scores every in-crop joint
    within 0.1 of the box, and one moved by 0.15 of the visible body's box within 0.2 but not 0.1."""
    import torch
    from benchmark_scripts import load_benchmark

    from meshpose_mobile.topology import default_topology

    fm = load_benchmark("framing_metrics")
    samples = [SyntheticBodies(PHOTO, seed=2)[i] for i in range(3)]

    class Labels:
        topology = default_topology()

        def __init__(self, shift: float) -> None:
            self.shift = shift

        def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
            verts = torch.stack([torch.as_tensor(s["vertices"]) for s in samples])
            sizes = []
            for s in samples:
                ys, xs = np.nonzero(s["mask"])
                sizes.append(max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1))
            verts[..., 0] += self.shift * torch.tensor(sizes, dtype=torch.float32)[:, None]
            return {"vertices": verts}

    def collate(chunk: list[dict]) -> dict[str, torch.Tensor]:
        return {"image": torch.zeros(len(chunk), 3, 8, 8)}

    for shift, within in ((0.0, (True, True)), (0.15, (False, True))):
        dist, seen = fm.joint_distances(Labels(shift), samples, collate, batch_size=8)
        assert dist.shape == seen.shape == (3, 17) and seen.any()
        d = dist[seen]
        assert ((d <= 0.1).all(), (d <= 0.2).all()) == within


def test_framing_metrics_silhouette_reads_the_true_mesh_as_its_ceiling() -> None:
    """benchmarks/framing_metrics.py --silhouette: a mesh at the labels scores what the true mesh
    scores, against the body's mask and the clothed person's, and one shifted sideways by a quarter
    of the crop scores less IoU."""
    import torch
    from benchmark_scripts import load_benchmark

    from meshpose_mobile.topology import default_topology

    fm = load_benchmark("framing_metrics")
    samples = [SyntheticBodies(PHOTO, seed=2)[i] for i in range(3)]
    h, w = samples[0]["mask"].shape

    class Labels:
        topology = default_topology()

        class config:
            input_height, input_width = h, w

        def __init__(self, shift: float) -> None:
            self.shift = shift

        def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
            verts = torch.stack([torch.as_tensor(s["vertices"]) for s in samples]).clone()
            verts[..., 0] += self.shift
            return {"vertices": verts}

    def collate(chunk: list[dict]) -> dict[str, torch.Tensor]:
        return {"image": torch.zeros(len(chunk), 3, 8, 8)}

    keys = ("mask", "person")
    same = fm.silhouette_split(Labels(0.0), samples, collate, 8, keys)
    assert same.shape == (3, 2, 2, 3)
    np.testing.assert_array_equal(same[:, :, 0], same[:, :, 1])
    # The mask is the visible body (occluders cut it), so the true mesh covers it but may spill.
    body = same[:, 0, 1]
    assert np.all(body[:, 2] > 0.9) and np.all(body[:, 0] <= body[:, 1])
    # The clothed person is larger: the true body mesh covers less of it and lies more inside it.
    person = same[:, 1, 1]
    assert np.all(person[:, 2] <= body[:, 2] + 1e-9) and np.all(person[:, 1] >= body[:, 1] - 1e-9)
    moved = fm.silhouette_split(Labels(w / 4), samples, collate, 8, keys)
    np.testing.assert_array_equal(moved[:, :, 1], same[:, :, 1])
    assert np.all(moved[:, 0, 0, 0] < same[:, 0, 0, 0])
    # A body without the mask reads nan, not zero.
    flat = [{k: v for k, v in smp.items() if k != "person"} for smp in samples]
    assert np.isnan(fm.silhouette_split(Labels(0.0), flat, collate, 8, keys)[:, 1]).all()
