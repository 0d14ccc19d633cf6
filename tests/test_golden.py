"""The golden vectors in golden/ (read by the iOS and Android core tests) are fresh, and the
Python reference they come from (export/runtime/frame_geometry.py, the sidecar rules) behaves as documented."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import meshpose_export.golden as mg
from meshpose_export import formats
from meshpose_export.runtime import frame_geometry as fg
from meshpose_mobile.crop import CropContract
from meshpose_mobile.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def regenerated() -> dict:
    return mg.build_all()


def test_golden_files_are_fresh(regenerated: dict) -> None:
    stale = mg.stale_files(regenerated)
    assert not stale, f"golden/ is stale: {stale}; run python scripts/make_golden.py and commit golden/"
    on_disk = sorted(p.name for p in (REPO / "golden").glob("*.json"))
    assert on_disk == sorted(regenerated), "golden/ holds files the generator no longer writes (or misses some)"


def test_golden_files_and_the_writer_follow_their_schemas(regenerated: dict) -> None:
    """golden/schema/ is the contract Python, MeshPoseKit and the Android core share: every file on
    disk and every freshly written one validates against its schema (jsonschema, draft 2020-12),
    and so do the sidecars and bench results documents inside them."""
    on_disk = {p.name: json.loads(p.read_text()) for p in (REPO / "golden").glob("*.json")}
    assert on_disk and mg.schema_problems(on_disk) == []
    assert mg.schema_problems(regenerated) == []
    schemas = {p.name for p in (REPO / "golden" / "schema").glob("*.schema.json")}
    assert schemas == {f"{mg.schema_name(n)}.schema.json" for n in on_disk} | {
        "sidecar.schema.json",
        "bench-results.schema.json",
    }


def test_schemas_reject_what_the_readers_reject(regenerated: dict) -> None:
    """The schemas and the golden cases agree: every invalid bench document and every sidecar case
    whose error is structural is rejected by the schema; the only sidecar cases it lets through are
    the rules across fields that JSON Schema cannot state (the readers check those)."""
    across_fields = {"crop_size_mismatch", "vertex_count_mismatch", "face_index_out_of_range"}
    for case in regenerated["sidecar.json"]["cases"]:
        problem = formats.problem(case["sidecar"], "sidecar")
        if case["valid"]:
            assert problem == "", case["name"]
        else:
            assert bool(problem) != (case["name"] in across_fields), case["name"]
    for case in regenerated["bench.json"]["invalid"]:
        assert formats.problem(case["document"], "bench-results"), case["name"]
    # A broken file on disk is reported by the staleness check, before its numbers are compared.
    doc = json.loads(json.dumps(regenerated["crop.json"]))
    doc["cases"][0]["contract"]["box_scale"] = "big"
    assert "box_scale" in mg.schema_problems({"crop.json": doc})[0]


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
            # The decimals are float32 values (the runtime's very bits): read them as float32.
            verts = np.asarray(out["data"]).astype(np.float32).astype(np.float64).reshape(-1, 3)
        got = contract.to_image(verts, affine)
        want = np.asarray(case["expected"]["image_vertices"]).reshape(-1, 3)
        # The outputs are stored exactly, so the mesh follows to the rounding of its decimals.
        assert np.abs(got - want).max() <= mg.EXACT, case["name"]
        assert list(case["outputs"]) != [o["name"] for o in case["sidecar_outputs"]], "outputs must be reordered"
    # The float16 case holds the platforms' half-float path to 0.01 px only if rounding to float16
    # moves the mesh by more than that: decoding its float32 twin instead must fail the tolerance.
    cases = {c["name"]: c for c in regenerated["decode.json"]["cases"]}
    half = cases["tiny_onnx_float16_astronaut"]
    assert all(o["dtype"] == "float16" and "data" not in o for o in half["outputs"].values())
    twin = np.asarray(cases["tiny_onnx_fp32_astronaut"]["expected"]["image_vertices"])
    assert np.abs(np.asarray(half["expected"]["image_vertices"]) - twin).max() > 0.05


def test_decode_expected_follows_exactly_from_the_stored_outputs() -> None:
    """On any CPU: the committed decode.json's expected values are what the prediction engine
    decodes from the file's own outputs (no runtime runs), and float32 outputs read back to
    float32 exactly as stored."""
    doc = json.loads((REPO / "golden" / "decode.json").read_text())
    for case in doc["cases"]:
        assert mg.first_difference(case["expected"], mg.decode_expected(case), mg.EXACT, relative=False) == ""
        for entry in case["outputs"].values():
            if entry["dtype"] == "float32":
                assert mg._output_entry(mg.output_array(entry))["data"] == entry["data"], case["name"]


def _with_outputs_moved(doc: dict, case_index: int, name: str, by: float) -> dict:
    """`doc` with one output of one case moved by `by` and its expected mesh decoded anew."""
    doc = json.loads(json.dumps(doc))
    case = doc["cases"][case_index]
    values = mg.output_array(case["outputs"][name]).astype(np.float64) + by
    case["outputs"][name] = mg._output_entry(values.astype(np.float32))
    case["expected"] = mg.decode_expected(case)
    return doc


def test_decode_stale_check_tolerates_kernels_but_not_changes(regenerated: dict) -> None:
    fresh = regenerated["decode.json"]
    assert mg.decode_difference(fresh, fresh) == ""
    names = [c["name"] for c in fresh["cases"]]
    for i, runtime in (
        (names.index("tiny_onnx_fp32_astronaut"), "onnxruntime"),
        (names.index("xs_deploy_fp32_astronaut"), "torch"),
    ):
        tol = mg.RUNTIME_TOLERANCE[runtime]["vertices"]
        assert mg.decode_difference(_with_outputs_moved(fresh, i, "vertices", 0.5 * tol), fresh) == ""
        assert "outputs.vertices" in mg.decode_difference(_with_outputs_moved(fresh, i, "vertices", 2 * tol), fresh)
    # A decoding change, however small, shows: the expected mesh must follow the stored outputs exactly.
    changed = json.loads(json.dumps(fresh))
    changed["cases"][0]["expected"]["image_vertices"][7] += 10 * mg.EXACT
    assert "expected.image_vertices[7]" in mg.decode_difference(changed, fresh)
    changed = json.loads(json.dumps(fresh))
    changed["cases"][0]["runtime"] = "someruntime"
    assert "runtime" in mg.decode_difference(changed, fresh)


def test_decode_cases_from_other_kernels_are_fresh(regenerated: dict, tmp_path: Path) -> None:
    """What this machine can switch its runtimes to (the kernels another CPU picks): ONNX Runtime
    without graph optimisations (plain NCHW kernels instead of NCHWc blocks) and PyTorch on 2
    threads; the committed decode.json, written on whatever machine, still counts as fresh."""
    from platform import machine as cpu_architecture

    import onnxruntime as ort
    import torch

    from meshpose_export.convert.pipeline import Job, run_export
    from meshpose_export.reference import reference_artifact
    from meshpose_export.runtime.predict import ModelInfo, Predictor
    from meshpose_export.targets.base import get_target
    from meshpose_mobile.samples import SAMPLE_PHOTOS
    from meshpose_mobile.seeded import seeded_model

    run_export(seeded_model("meshpose_tiny", seed=0), [Job(get_target("onnx"), "fp32")], tmp_path, log=lambda s: None)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(tmp_path / "meshpose_tiny_fp32.onnx"), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    tiny = Predictor.load(tmp_path / "meshpose_tiny_fp32.onnx")
    plain = Predictor(
        lambda x: dict(zip(names, session.run(None, {session.get_inputs()[0].name: x}), strict=True)),
        tiny.contract,
        tiny.info,
    )
    fresh = json.loads(json.dumps(regenerated["decode.json"]))
    by_name = {c["name"]: i for i, c in enumerate(fresh["cases"])}
    old = fresh["cases"][by_name["tiny_onnx_fp32_grace_hopper"]]
    sidecar = {"outputs": old["sidecar_outputs"], "mesh": {"num_vertices": old["num_vertices"]}}
    new = mg._decode_case(old["name"], old["description"], "onnxruntime", sidecar, plain, SAMPLE_PHOTOS[1])
    moved = np.abs(mg.output_array(new["outputs"]["vertices"]) - mg.output_array(old["outputs"]["vertices"])).max()
    if cpu_architecture().lower() in ("x86_64", "amd64"):
        # x86-64 with AVX: "all" lays convolutions out in NCHWc blocks (5.7e-5 crop px apart here);
        # ONNX Runtime has no such layout on ARM, where the two levels may agree.
        assert moved > 0, "the switch picked the same kernels: nothing was tried"
    fresh["cases"][by_name["tiny_onnx_fp32_grace_hopper"]] = new

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        old = fresh["cases"][by_name["xs_deploy_fp32_astronaut"]]
        xs = seeded_model("meshpose_xs", seed=0)
        info = ModelInfo("pytorch", "seeded", "meshpose_xs", "fp32", xs.config.num_vertices, "seed 0")
        contract = CropContract(xs.config.input_height, xs.config.input_width)
        pred = Predictor(reference_artifact(xs.deploy()), contract, info)
        sidecar = {"outputs": old["sidecar_outputs"], "mesh": {"num_vertices": old["num_vertices"]}}
        fresh["cases"][by_name["xs_deploy_fp32_astronaut"]] = mg._decode_case(
            old["name"], old["description"], "torch", sidecar, pred, SAMPLE_PHOTOS[0]
        )
    finally:
        torch.set_num_threads(threads)
    assert mg.stale_files({"decode.json": fresh}) == []


def test_sidecar_parity_number_may_move_within_its_measured_tolerance(regenerated: dict) -> None:
    fresh = regenerated["sidecar.json"]
    moved = json.loads(json.dumps(fresh))
    moved["cases"][1]["sidecar"]["parity"]["vertices_max_px"] += 0.5 * mg.PARITY_TOLERANCE_PX
    assert mg.sidecar_difference(moved, fresh) == ""
    moved["cases"][1]["sidecar"]["parity"]["vertices_max_px"] += 2 * mg.PARITY_TOLERANCE_PX
    assert "vertices_max_px" in mg.sidecar_difference(moved, fresh)
    moved = json.loads(json.dumps(fresh))
    moved["cases"][1]["sidecar"]["parity"]["passed"] = False
    assert "passed" in mg.sidecar_difference(moved, fresh)


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


# EXIF orientation by its definition: the side of the shown image that the stored image's first
# row runs along, and the side its first column runs along (TIFF/EXIF 2.3, tag 0x0112).
_EXIF_ROW_COL = {
    1: ("top", "left"),
    2: ("top", "right"),
    3: ("bottom", "right"),
    4: ("bottom", "left"),
    5: ("left", "top"),
    6: ("right", "top"),
    7: ("right", "bottom"),
    8: ("left", "bottom"),
}


@pytest.mark.parametrize("rotation", fg.ROTATIONS)
@pytest.mark.parametrize("mirrored", [False, True])
def test_exif_orientation_matches_its_definition(rotation: int, mirrored: bool) -> None:
    bw, bh = 6, 4
    w, h = fg.upright_size(bw, bh, rotation)
    m = fg.buffer_to_upright_matrix(bw, bh, rotation, mirrored)
    first_row = fg.apply_affine(m, np.array([[x, 0.0] for x in range(bw)]))
    first_col = fg.apply_affine(m, np.array([[0.0, y] for y in range(bh)]))

    def side(points: np.ndarray) -> str:
        for name, axis, value in (("top", 1, 0), ("bottom", 1, h - 1), ("left", 0, 0), ("right", 0, w - 1)):
            if np.allclose(points[:, axis], value):
                return name
        raise AssertionError(points)

    assert (side(first_row), side(first_col)) == _EXIF_ROW_COL[fg.exif_orientation(rotation, mirrored)]


def test_camera_orientation_agrees_with_what_the_platforms_publish() -> None:
    # Android: CameraX's own rotationDegrees formula, and never a mirror (ImageAnalysis frames are true images).
    for camera in fg.CAMERAS:
        for holding in fg.HOLDINGS:
            assert fg.camera_orientation("android", camera, holding) == (
                fg.camerax_rotation_degrees(camera, holding),
                False,
            )
    exif = {c: [fg.exif_orientation(*fg.camera_orientation("ios", c, h)) for h in fg.HOLDINGS] for c in fg.CAMERAS}
    # iOS back camera: .right, .left, .up, .down (Apple's Vision samples, the same in every copy).
    assert exif["back"] == [6, 8, 1, 3]
    # iOS front camera seen as a mirror view (turned upright, then flipped) is the widely copied
    # Vision / ML Kit table: .leftMirrored, .rightMirrored, .downMirrored, .upMirrored. That table
    # turns with the phone as a mirror view does, so it cannot also be the true image in every
    # holding; the model gets the true image, the mirror is the view's.
    mirror_view = [fg.exif_orientation(fg.camera_orientation("ios", "front", h)[0], True) for h in fg.HOLDINGS]
    assert mirror_view == [5, 7, 4, 2]
    assert exif["front"] == [6, 8, 3, 1]
    # A camera that faces the user sees the roll reversed: from portrait, turning the phone to
    # landscape_left takes a quarter turn off the back camera's rotation and adds one to the front's.
    for platform in fg.PLATFORMS:
        back = {h: fg.camera_orientation(platform, "back", h)[0] for h in fg.HOLDINGS}
        front = {h: fg.camera_orientation(platform, "front", h)[0] for h in fg.HOLDINGS}
        assert (back["landscape_left"] - back["portrait"]) % 360 == 270
        assert (front["landscape_left"] - front["portrait"]) % 360 == 90


def test_holding_from_gravity() -> None:
    assert fg.holding_from_gravity(0.0, -1.0, 0.0, "landscape_left") == "portrait"
    assert fg.holding_from_gravity(-1.0, 0.0, 0.0, "portrait") == "landscape_left"
    assert fg.holding_from_gravity(0.0, 0.1, -0.99, "landscape_right") == "landscape_right"  # flat: keep
    assert fg.holding_from_gravity(float("nan"), 0.0, 0.0, "portrait") == "portrait"
    with pytest.raises(ConfigError, match="holding"):
        fg.holding_from_gravity(0.0, -1.0, 0.0, "sideways")


def _android_orientation(gx: float, gy: float, gz: float) -> int:
    """OrientationEventListener's degrees as its source computes them from an accelerometer sample
    (SensorEventListenerImpl.onSensorChanged: X, Y, Z are the readings negated, i.e. gravity)."""
    x, y, z = gx, gy, gz
    if (x * x + y * y) * 4 < z * z:
        return fg.ORIENTATION_UNKNOWN
    return (90 - round(math.degrees(math.atan2(-y, x)))) % 360


def _near_a_decision_edge(angle: float) -> bool:
    """Within a degree of a tie between holdings (45 off each) or of the hysteresis' edge (55 off)."""
    edges = [c + d for c in (0.0, 90.0, 180.0, 270.0) for d in (45.0, -45.0, 55.0, -55.0)]
    return any(abs((angle - e + 180.0) % 360.0 - 180.0) < 1.0 for e in edges)


def test_holding_from_orientation_degrees_is_the_gravity_rule_on_android_angles() -> None:
    # The app feeds OrientationEventListener's degrees; away from the flat thresholds (Android's
    # 26.6 degrees from flat, ours 30) and the rounding to whole degrees, they give the holding
    # gravity gives, from every previous holding.
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(2000):
        g = rng.normal(size=3)
        g /= np.linalg.norm(g)
        angle = math.degrees(math.atan2(g[0], -g[1])) % 360.0
        if float(np.hypot(g[0], g[1])) < 0.55 or _near_a_decision_edge(angle):
            continue
        degrees = _android_orientation(*g)
        for previous in fg.HOLDINGS:
            expected = fg.holding_from_gravity(*g, previous)
            assert fg.holding_from_orientation_degrees(degrees, previous) == expected, (g, previous)
        checked += 1
    assert checked > 1000
    assert fg.holding_from_orientation_degrees(fg.ORIENTATION_UNKNOWN, "landscape_left") == "landscape_left"
    assert fg.holding_from_orientation_degrees(90, "portrait") == "landscape_right"  # turned clockwise
    with pytest.raises(ConfigError, match="whole degrees"):
        fg.holding_from_orientation_degrees(12.5, "portrait")


def test_target_rotation_is_the_holdings_surface_rotation() -> None:
    # Surface.ROTATION_90 is landscape_left (home edge on the right), as CameraX's samples map
    # OrientationEventListener's 225-314 degrees to it.
    assert {h: fg.target_rotation(h) for h in fg.HOLDINGS} == {
        "portrait": 0,
        "portrait_upside_down": 2,
        "landscape_left": 1,
        "landscape_right": 3,
    }
    assert fg.target_rotation(fg.holding_from_orientation_degrees(270, "portrait")) == 1
    assert fg.target_rotation(fg.holding_from_orientation_degrees(90, "portrait")) == 3
    with pytest.raises(ConfigError, match="holding"):
        fg.target_rotation("sideways")


def test_bad_geometry_input_is_one_line_error() -> None:
    with pytest.raises(ConfigError, match="rotation 45"):
        fg.upright_size(640, 480, 45)
    with pytest.raises(ConfigError, match="view mode"):
        fg.image_to_view_matrix(4, 3, 8, 3, mode="stretch")
    with pytest.raises(ConfigError, match="view size"):
        fg.image_to_view_matrix(4, 3, 0, 3)
