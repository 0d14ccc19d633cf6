"""The golden vectors in golden/ (read by the iOS and Android core tests) are fresh, and the
Python reference they come from (export/frame_geometry.py, the sidecar rules) behaves as documented."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from meshpose_export import frame_geometry as fg
from meshpose_mobile.crop import CropContract
from meshpose_mobile.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _load_make_golden():
    spec = importlib.util.spec_from_file_location("make_golden", REPO / "scripts" / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_golden"] = module
    spec.loader.exec_module(module)
    return module


mg = _load_make_golden()


@pytest.fixture(scope="module")
def regenerated() -> dict:
    return mg.build_all()


def test_golden_files_are_fresh(regenerated: dict) -> None:
    stale = mg.stale_files(regenerated)
    assert not stale, f"golden/ is stale: {stale}; run python scripts/make_golden.py and commit golden/"
    on_disk = sorted(p.name for p in (REPO / "golden").glob("*.json"))
    assert on_disk == sorted(regenerated), "golden/ holds files the generator no longer writes (or misses some)"


def test_golden_files_are_documented(regenerated: dict) -> None:
    readme = (REPO / "golden" / "README.md").read_text()
    for name in regenerated:
        assert f"`{name}`" in readme, f"golden/README.md does not document {name}"


def test_stale_check_sees_a_changed_number(regenerated: dict) -> None:
    doc = json.loads(json.dumps(regenerated["crop.json"]))
    assert mg.first_difference(doc, regenerated["crop.json"], 1e-4) == ""
    doc["cases"][0]["expected"]["affine"][0][2] += 0.01
    assert "affine" in mg.first_difference(doc, regenerated["crop.json"], 1e-4)


def test_decode_vectors_are_the_prediction_engine_output(regenerated: dict) -> None:
    # Re-decode the stored raw outputs with the crop contract: the expected mesh must follow, so the
    # platform tests compare against exactly what Python's prediction engine computed.
    for case in regenerated["decode.json"]["cases"]:
        c = case["contract"]
        contract = CropContract(c["input_height"], c["input_width"], box_scale=c["box_scale"])
        affine = contract.box_affine(tuple(case["box"]))
        out = case["outputs"]["vertices"]
        if out["dtype"] == "float16":  # binary16 bit patterns, as a Core ML FLOAT16 output stores them
            verts = np.asarray(out["bits"], dtype=np.uint16).view(np.float16).astype(np.float64).reshape(-1, 3)
        else:
            verts = np.asarray(out["data"]).reshape(-1, 3)
        got = contract.to_image(verts, affine)
        want = np.asarray(case["expected"]["image_vertices"]).reshape(-1, 3)
        assert np.abs(got - want).max() < 1e-3, case["name"]
        assert list(case["outputs"]) != [o["name"] for o in case["sidecar_outputs"]], "outputs must be reordered"
    # The float16 case holds the platforms' half-float path to 0.01 px only if rounding to float16
    # moves the mesh by more than that: decoding its float32 twin instead must fail the tolerance.
    cases = {c["name"]: c for c in regenerated["decode.json"]["cases"]}
    half = cases["tiny_onnx_float16_astronaut"]
    assert all(o["dtype"] == "float16" and "data" not in o for o in half["outputs"].values())
    twin = np.asarray(cases["tiny_onnx_fp32_astronaut"]["expected"]["image_vertices"])
    assert np.abs(np.asarray(half["expected"]["image_vertices"]) - twin).max() > 0.05


def test_sidecars_agree_with_the_python_reader(regenerated: dict, tmp_path: Path) -> None:
    """Python's own reader (export/sidecar.py) takes every valid case and refuses the cases that
    break what it checks (format, version, required fields)."""
    import meshpose_mobile.crop
    from meshpose_export.sidecar import Sidecar, SidecarError

    # Until the per-channel border of issue 11 is on this branch, Python's reader takes one number.
    per_channel = hasattr(meshpose_mobile.crop, "as_border")
    for case in regenerated["sidecar.json"]["cases"]:
        path = tmp_path / f"{case['name']}.json"
        path.write_text(json.dumps(case["sidecar"]))
        if case["valid"]:
            if case["name"] == "per_channel_border" and not per_channel:
                continue
            side = Sidecar.read(path)
            assert side.crop.input_height == case["expected"]["input_height"]
            assert side.num_vertices == case["expected"]["num_vertices"]
            assert [o.name for o in side.outputs] == [o["name"] for o in case["expected"]["outputs"]]
        elif case["error"] in ("not_a_sidecar", "unsupported_version", "missing_field"):
            with pytest.raises(SidecarError):
                Sidecar.read(path)


def test_per_channel_border_crop_matches_scalar_crop() -> None:
    contract = CropContract(8, 6)
    image = mg._image("grad_5x7")
    box = (-3.0, -2.0, 5.0, 4.0)
    scalar, _ = CropContract(8, 6, border_value=7.0).crop(image, box)
    per_channel, _ = mg.crop_with_border(contract, image, box, [7.0, 7.0, 7.0])
    assert np.allclose(scalar, per_channel)
    mixed, _ = mg.crop_with_border(contract, image, box, [1.0, 2.0, 3.0])
    assert tuple(mixed[0, 0]) == (1.0, 2.0, 3.0)  # the corner lies outside the image


# --- frame geometry -----------------------------------------------------------------------------


@pytest.mark.parametrize("rotation", fg.ROTATIONS)
def test_rotation_round_trip_and_whole_buffer(rotation: int) -> None:
    bw, bh = 640, 480
    pts = np.array([[0.0, 0.0], [639.0, 479.0], [12.5, 300.25]])
    up = fg.buffer_to_upright(pts, bw, bh, rotation)
    assert np.allclose(fg.upright_to_buffer(up, bw, bh, rotation), pts)
    w, h = fg.upright_size(bw, bh, rotation)
    # Pixel centres stay pixel centres: the corners of the buffer land on the upright image's corners.
    corners = fg.buffer_to_upright(np.array([[0, 0], [bw - 1, 0], [0, bh - 1], [bw - 1, bh - 1]]), bw, bh, rotation)
    assert sorted(map(tuple, corners.tolist())) == sorted([(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)])
    assert fg.box_buffer_to_upright((-0.5, -0.5, bw, bh), bw, bh, rotation) == (-0.5, -0.5, w, h)


def test_quarter_turns_compose() -> None:
    m90 = fg.buffer_to_upright_matrix(6, 4, 90)
    m90b = fg.buffer_to_upright_matrix(4, 6, 90)  # the turned image is 4 wide, 6 tall
    assert np.allclose(fg.compose(m90b, m90), fg.buffer_to_upright_matrix(6, 4, 180))
    # 90 degrees clockwise: the buffer's bottom-left pixel becomes the top-left one.
    assert np.allclose(fg.buffer_to_upright(np.array([0.0, 3.0]), 6, 4, 90), [0.0, 0.0])


def test_view_fill_fit_and_mirroring() -> None:
    iw, ih, vw, vh = 480, 640, 390, 844
    edges = np.array([[-0.5, -0.5], [iw - 0.5, ih - 0.5]])
    fill = fg.image_to_view(edges, iw, ih, vw, vh, "fill")
    fit = fg.image_to_view(edges, iw, ih, vw, vh, "fit")
    assert fill[0, 0] <= 0 and fill[1, 0] >= vw and fill[0, 1] == pytest.approx(0) and fill[1, 1] == pytest.approx(vh)
    assert fit[0, 0] == pytest.approx(0) and fit[1, 0] == pytest.approx(vw) and fit[0, 1] > 0 and fit[1, 1] < vh
    p = np.array([[100.0, 200.0]])
    plain = fg.image_to_view(p, iw, ih, vw, vh, "fill")
    mirrored = fg.image_to_view(p, iw, ih, vw, vh, "fill", mirrored=True)
    assert mirrored[0, 0] == pytest.approx(vw - plain[0, 0]) and mirrored[0, 1] == pytest.approx(plain[0, 1])
    assert np.allclose(fg.view_to_image(mirrored, iw, ih, vw, vh, "fill", mirrored=True), p)


def test_boxes() -> None:
    assert fg.vision_box_to_pixels((0.0, 0.0, 1.0, 1.0), 480, 640) == (-0.5, -0.5, 480.0, 640.0)
    # Vision's origin is the bottom-left: a box at the bottom has y = 0 there, the bottom rows here.
    assert fg.vision_box_to_pixels((0.0, 0.0, 1.0, 0.25), 480, 640)[1] == pytest.approx(480 - 0.5)
    assert fg.normalized_box_to_pixels((0.0, 0.0, 0.5, 0.25), 480, 640) == (-0.5, -0.5, 240.0, 160.0)
    assert fg.edge_rect_to_box(0, 0, 480, 640) == (-0.5, -0.5, 480.0, 640.0)


def test_bad_geometry_input_is_one_line_error() -> None:
    with pytest.raises(ConfigError, match="rotation 45"):
        fg.upright_size(640, 480, 45)
    with pytest.raises(ConfigError, match="view mode"):
        fg.image_to_view_matrix(4, 3, 8, 3, mode="stretch")
    with pytest.raises(ConfigError, match="view size"):
        fg.image_to_view_matrix(4, 3, 0, 3)
