"""meshpose-eval-real: the metrics on cases with known answers, the peer's crop and its way back to
the photo, and the command on one real photo with the tiny model (two columns side by side).

BlazePose GHUM full comes from `make setup` (benchmarks/peers/) or `meshpose-models fetch`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from meshpose_export.cli.realphoto_cli import main
from meshpose_export.runtime.realphoto import (
    BLAZEPOSE_COCO,
    COCO_NAMES,
    PHOTOS,
    BlazePoseFull,
    crop_mask_to_image,
    fill_faces,
    mask_cover,
    mask_iou,
    mask_split,
    mean_error,
    pck,
    peer_box,
)
from meshpose_mobile.checkpoint import save_checkpoint
from meshpose_mobile.crop import CropContract

ASTRONAUT = next(p for p in PHOTOS if p.name == "astronaut")


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, tiny_model) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt", tiny_model)


@pytest.fixture(scope="module")
def peer() -> BlazePoseFull:
    return BlazePoseFull()


# --- metrics -----------------------------------------------------------------------------------


def test_pck_and_mean_error_known_answers() -> None:
    rng = np.random.default_rng(0)
    ref = rng.uniform(0, 300, size=(17, 2))
    assert pck(ref, ref, 100.0, 0.1) == 1.0
    assert mean_error(ref, ref, 100.0) == 0.0
    # Every joint 15 px off on a 100 px box: outside 0.1, inside 0.2, mean error 0.15.
    shifted = ref + np.array([9.0, 12.0])
    assert pck(shifted, ref, 100.0, 0.1) == 0.0
    assert pck(shifted, ref, 100.0, 0.2) == 1.0
    assert mean_error(shifted, ref, 100.0) == pytest.approx(0.15)
    # 8 joints 5 px off, 9 joints 25 px off.
    mixed = ref.copy()
    mixed[:8, 0] += 5.0
    mixed[8:, 1] -= 25.0
    assert pck(mixed, ref, 100.0, 0.1) == pytest.approx(8 / 17)
    assert pck(mixed, ref, 100.0, 0.2) == pytest.approx(8 / 17)
    assert pck(mixed, ref, 100.0, 0.3) == 1.0
    assert mean_error(mixed, ref, 100.0) == pytest.approx((8 * 5 + 9 * 25) / 17 / 100)
    # Only the masked joints count; none -> nan.
    mask = np.zeros(17, bool)
    mask[8:] = True
    assert pck(mixed, ref, 100.0, 0.1, mask) == 0.0
    assert math.isnan(pck(mixed, ref, 100.0, 0.1, np.zeros(17, bool)))


def test_mask_iou_known_answers() -> None:
    a = np.zeros((40, 40), bool)
    a[10:20, 10:20] = True
    assert mask_iou(a, a) == 1.0
    b = np.zeros_like(a)
    b[10:20, 15:25] = True  # overlap 10 x 5 of a union of 150
    assert mask_iou(a, b) == pytest.approx(50 / 150)
    assert mask_iou(a, ~a) == 0.0
    assert mask_iou(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_mask_cover_splits_the_iou() -> None:
    a = np.zeros((40, 40), bool)
    a[10:20, 10:20] = True
    b = np.zeros_like(a)
    b[10:20, 15:35] = True  # overlap 50: half of a, a quarter of b
    assert mask_cover(a, b) == pytest.approx(0.5) and mask_cover(b, a) == pytest.approx(0.25)
    # IoU follows from the two shares: 1 / IoU = 1 / p + 1 / r - 1.
    assert 1 / mask_iou(a, b) == pytest.approx(1 / 0.5 + 1 / 0.25 - 1)
    assert mask_cover(a, a | b) == 1.0 and mask_cover(a, ~a) == 0.0
    assert math.isnan(mask_cover(np.zeros_like(a), a))
    assert mask_split(a, b) == (mask_iou(a, b), 0.5, 0.25)


def test_fill_faces_fills_the_triangles() -> None:
    square = np.array([[10.0, 10.0], [20.0, 10.0], [20.0, 20.0], [10.0, 20.0]])
    mask = fill_faces(square, np.array([[0, 1, 2], [0, 2, 3]]), 32, 32)
    want = np.zeros((32, 32), bool)
    want[10:21, 10:21] = True  # pixel centres 10..20 on and inside the edges
    np.testing.assert_array_equal(mask, want)
    assert mask_iou(fill_faces(square, np.array([[0, 1, 2]]), 32, 32), mask) == pytest.approx(66 / 121)


def test_crop_mask_maps_back_to_its_box() -> None:
    contract = CropContract(256, 256, box_scale=1.0)
    affine = contract.box_affine((10.0, 20.0, 100.0, 100.0))
    mask = crop_mask_to_image(np.ones((256, 256)), affine, 200, 200)
    want = np.zeros((200, 200), bool)
    want[20:120, 10:110] = True
    np.testing.assert_array_equal(mask, want)
    # Left half of the crop -> left half of the box.
    half = np.zeros((256, 256))
    half[:, :128] = 1.0
    got = crop_mask_to_image(half, affine, 200, 200)
    assert got[20:120, 10:59].all() and not got[:, 61:].any()


# --- the peer on the model's crop --------------------------------------------------------------


def test_peer_box_is_the_model_crop_squared(tiny_ckpt: Path) -> None:
    from meshpose_export.runtime.predict import Predictor

    predictor = Predictor.load(tiny_ckpt)
    contract = predictor.contract
    x, y, w, h = ASTRONAUT.boxes[0]
    pred = predictor.predict(ASTRONAUT.load(), (x, y, w, h))
    sq = peer_box(pred, contract)
    # The crop grows the box to the model's aspect, scales it by box_scale; the peer pads it square.
    grown_h = max(h, w / contract.aspect) * contract.box_scale
    grown_w = grown_h * contract.aspect
    side = max(grown_w, grown_h)
    np.testing.assert_allclose(sq, (x + w / 2 - side / 2, y + h / 2 - side / 2, side, side), atol=1e-6)


def test_peer_landmarks_and_mask_land_on_the_person(peer: BlazePoseFull) -> None:
    image = ASTRONAUT.load()
    x, y, w, h = ASTRONAUT.boxes[0]
    side = max(w, h) * 1.1
    res = peer(image, (x + w / 2 - side / 2, y + h / 2 - side / 2, side, side))
    assert res.landmarks.shape == (39, 2) and res.mask.shape == image.shape[:2]
    assert res.pose_flag > 0.5
    # Her face is at about x 190..290, y 70..190 in this photo: the nose and both eyes are there.
    for i in (0, 2, 5):
        assert 190 < res.landmarks[i, 0] < 290 and 70 < res.landmarks[i, 1] < 190, res.landmarks[i]
    assert res.mask[130, 240] and not res.mask[20, 480]  # her face; the sky by the shuttle
    assert len(BLAZEPOSE_COCO) == 17 and res.coco.shape == (17, 2)


# --- the command -------------------------------------------------------------------------------


def _invoke(args: list[str]):
    return CliRunner().invoke(main, args)


def test_cli_one_photo_two_models_side_by_side(tmp_path: Path, tiny_ckpt: Path) -> None:
    out, pics = tmp_path / "res", tmp_path / "pics"
    args = ["--model", str(tiny_ckpt), "--model", str(tiny_ckpt), "--label", "a", "--label", "b"]
    result = _invoke([*args, "--photos", "astronaut", "--out", str(out), "--pictures", str(pics)])
    assert result.exit_code == 0, result.output + (str(result.exception) if result.exception else "")
    report = json.loads((out / "realphoto.json").read_text())
    assert report["format"] == "meshpose-realphoto" and "never" in report["rule"]
    assert [m["label"] for m in report["models"]] == ["a", "b"]
    assert report["num_people"] == 1 and report["rows"][0]["photo"] == "astronaut"
    a, b = (report["rows"][0]["models"][k] for k in ("a", "b"))
    assert a == b  # the same checkpoint twice: the same numbers in both columns
    for key in ("pck@0.1", "pck@0.2", "iou", "mesh_in_seg", "seg_in_mesh"):
        assert 0.0 <= a[key] <= 1.0
    if a["iou"] > 0:
        assert 1 / a["iou"] == pytest.approx(1 / a["mesh_in_seg"] + 1 / a["seg_in_mesh"] - 1, rel=1e-2)
    assert report["summary"]["a"]["seg_in_mesh"] == pytest.approx(a["seg_in_mesh"])
    assert a["pck@0.1"] <= a["pck@0.2"] and a["mean_err"] > 0
    assert report["summary"]["a"]["pck@0.1"] == pytest.approx(a["pck@0.1"])
    # Per joint: the row's 17 distances give its PCK, and with one person each joint's share is 0 or 1.
    err = np.array(a["joint_err"])
    assert err.shape == (17,) and np.mean(err <= 0.1) == pytest.approx(a["pck@0.1"], abs=1e-4)
    assert np.mean(err) == pytest.approx(a["mean_err"], abs=1e-3)
    joints = report["per_joint"]["a"]
    assert list(joints) == list(COCO_NAMES)
    assert [joints[n]["pck@0.2"] for n in COCO_NAMES] == [float(e <= 0.2) for e in err]
    seen = a["joint_visible"]
    assert [joints[n]["visible_people"] for n in COCO_NAMES] == [int(v) for v in seen] and any(seen)
    assert [joints[n]["pck@0.1_visible"] for n in COCO_NAMES] == [
        float(e <= 0.1) if v else None for e, v in zip(err, seen, strict=True)
    ]
    # BlazePose is sure of the astronaut (pose flag 0.99), so the second mean is the same person
    assert a["peer_pose_flag"] > 0.9 and report["peer_sure"]["summary"]["a"]["people"] == 1
    assert report["peer_sure"]["summary"]["a"]["pck@0.1"] == pytest.approx(a["pck@0.1"])
    table = (out / "realphoto.md").read_text()
    assert "| mean where BlazePose is sure | 1 / 1 |" in table
    assert "| astronaut | 0 |" in table and "a PCK@0.1" in table and "b PCK@0.1" in table and "**mean**" in table
    assert "| joint | a | a, where seen | seen by BlazePose | b |" in table and "| left_wrist |" in table
    split = f"{a['mesh_in_seg']:.2f} / {a['seg_in_mesh']:.2f}"
    assert "Silhouette split" in table and f"a {split}, b {split}." in table
    png = pics / "astronaut.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["photos"][0]["picture"] == "../pics/astronaut.png"


def _one_error(result) -> str:
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith(("warning:", "note:"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_cli_bad_input_one_line(tmp_path: Path, tiny_ckpt: Path) -> None:
    base = ["--model", str(tiny_ckpt), "--out", str(tmp_path / "o"), "--no-pictures"]
    assert "unknown photo 'nobody'" in _one_error(_invoke([*base, "--photos", "nobody"]))
    # A file under the expected name that is not the one the boxes were drawn on.
    fake = tmp_path / "photos"
    fake.mkdir()
    (fake / "messi5.jpg").write_bytes(b"not the photo")
    line = _one_error(_invoke([*base, "--photos", "messi", "--photo-dir", str(fake)]))
    assert "SHA-256" in line and "make realphotos" in line
    assert "--label" in _one_error(_invoke([*base, "--label", "a", "--label", "b", "--photos", "astronaut"]))
    assert "not found" in _one_error(_invoke([*base, "--photos", "astronaut", "--peer", str(tmp_path / "x.tflite")]))
    assert not (tmp_path / "o").exists()  # refused runs leave no folder


def test_missing_package_photo_is_skipped_and_detector_boxes(tmp_path: Path, tiny_ckpt: Path, peer) -> None:
    from meshpose_export.runtime.detector import PersonDetector
    from meshpose_export.runtime.predict import Predictor
    from meshpose_export.runtime.realphoto import ModelSpec, evaluate, select_photos
    from meshpose_mobile.topology import default_topology

    topo = default_topology()
    spec = ModelSpec("tiny", Predictor.load(tiny_ckpt, topology=topo), topo)
    photos = select_photos(["astronaut", "messi"])
    # Not found (no folder holds it) and not named by the user: listed as skipped, the rest runs.
    report, files = evaluate([spec], photos, peer, dirs=[tmp_path])
    assert [s["photo"] for s in report["skipped"]] == ["messi"] and "make realphotos" in report["skipped"][0]["why"]
    assert report["num_people"] == 1 and files == {}
    detector = PersonDetector(aspect=spec.predictor.contract.aspect)
    report, _ = evaluate([spec], photos[:1], peer, detector=detector)
    (row,) = report["rows"]
    assert report["box_mode"] == "detector" and row["box_source"].startswith("detector")


def test_peer_sure_summary_keeps_the_people_blazepose_is_sure_of() -> None:
    """Per model, means over rows whose pose flag (on that model's crop) reaches MediaPipe's 0.5;
    a flag just under it is left out."""
    from meshpose_export.runtime.realphoto import PEER_SURE, markdown_table, peer_sure_summary, summarise

    def metrics(flag: float, pck: float) -> dict:
        return {"pck@0.1": pck, "pck@0.2": pck, "mean_err": 1 - pck, "iou": 0.5, "pck@0.1_visible": pck,
                "pck@0.2_visible": pck / 2, "peer_pose_flag": flag}  # fmt: skip

    def row(photo: str, person: int, a: dict, b: dict) -> dict:
        return {"photo": photo, "person": person, "box": [0, 0, 1, 1], "models": {"a": a, "b": b}}

    rows = [
        row("p", 0, metrics(0.99, 1.0), metrics(0.99, 1.0)),
        row("p", 1, metrics(PEER_SURE, 0.5), metrics(0.449, 0.0)),
        row("q", 0, metrics(0.449, 0.0), metrics(0.1, 0.0)),
    ]
    sure = peer_sure_summary(rows, ["a", "b"])
    assert sure["pose_flag_at_least"] == 0.5
    assert sure["summary"]["a"]["people"] == 2 and sure["summary"]["a"]["pck@0.1"] == pytest.approx(0.75)
    assert sure["summary"]["b"]["people"] == 1 and sure["summary"]["b"]["pck@0.1"] == pytest.approx(1.0)
    report = {
        "models": [{"label": "a"}, {"label": "b"}],
        "rows": rows,
        "num_people": 3,
        "summary": {"a": sure["summary"]["a"], "b": sure["summary"]["b"]},
        "peer_sure": sure,
    }
    table = markdown_table(report)
    assert "| p | 1 | 0, 0, 1, 1 | 0.50 / 0.45 |" in table
    assert "| mean where BlazePose is sure | 2 / 1 | | >= 0.5 | 0.75 |" in table
    # The joints BlazePose itself sees (visibility > 0.5), over every person: a 0.50 | 0.25, b 0.33 | 0.17.
    report["summary"] = summarise(rows, ["a", "b"])
    seen = "| mean over the joints BlazePose sees (> 0.5) | 3 | | | 0.50 | 0.25 | | | 0.33 | 0.17 | | |"
    assert seen in markdown_table(report)


def test_heatmap_positions_come_from_the_graph_for_checkpoints_and_artifacts(tmp_path: Path, tiny_ckpt: Path) -> None:
    """`--positions heatmap` scores the graph's own `vertices_2d` output, in PyTorch and in an
    exported file alike; `both` puts the two column groups side by side and names them."""
    import torch

    from meshpose_export.cli.export_cli import main as export_main
    from meshpose_export.runtime.predict import PredictError, Predictor
    from meshpose_mobile.checkpoint import load_checkpoint

    image = np.random.default_rng(0).integers(0, 256, (300, 220, 3), dtype=np.uint8)
    box = (20.0, 30.0, 150.0, 240.0)
    predictor = Predictor.load(tiny_ckpt)
    fused = predictor.predict(image, box)
    heat = predictor.predict(image, box, positions="heatmap")
    crop, _ = predictor.contract.crop(image, box)
    with torch.no_grad():
        out = load_checkpoint(tiny_ckpt).eval()(torch.from_numpy(crop.transpose(2, 0, 1)[None].astype(np.float32)))
    np.testing.assert_allclose(heat.crop_xyz_lp[:, :2], out["vertices_2d"][0].double().numpy(), atol=1e-3)
    np.testing.assert_array_equal(heat.crop_xyz_lp[:, 2], fused.crop_xyz_lp[:, 2])  # depth stays regressed
    assert np.abs(heat.crop_xyz_lp[:, :2] - fused.crop_xyz_lp[:, :2]).max() > 1.0  # the tiny heads differ
    with pytest.raises(PredictError, match="positions 'hm'"):
        predictor.predict(image, box, positions="hm")

    arts = tmp_path / "arts"
    result = CliRunner().invoke(export_main, ["--ckpt", str(tiny_ckpt), "--target", "onnx", "--out", str(arts)])
    assert result.exit_code == 0, result.output
    (onnx,) = arts.glob("*.onnx")
    on_file = Predictor.load(onnx).predict(image, box, positions="heatmap")
    # ONNX fp32 against PyTorch: within the target's parity budget (0.01 px, export/targets/onnx_target.py).
    assert np.abs(on_file.crop_xyz_lp[:, :2] - heat.crop_xyz_lp[:, :2]).max() < 0.01

    out_dir = tmp_path / "res"
    args = ["--model", str(tiny_ckpt), "--positions", "both", "--photos", "astronaut", "--out", str(out_dir)]
    result = _invoke([*args, "--no-pictures"])
    assert result.exit_code == 0, result.output
    report = json.loads((out_dir / "realphoto.json").read_text())
    labels = [(m["label"], m["positions"]) for m in report["models"]]
    assert labels == [("meshpose_tiny", "fused"), ("meshpose_tiny, heatmap p", "heatmap")]
    assert "Heatmap positions only (meshpose_tiny, heatmap p)" in (out_dir / "realphoto.md").read_text()


# --- photos a user brings ----------------------------------------------------------------------


def _save_astronaut(folder: Path, name: str = "astronaut.png") -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.fromarray(ASTRONAUT.load()).save(path)  # PNG: lossless, so the same pixels as the packaged photo
    return path


def test_user_photo_scores_as_the_packaged_one_and_baseline_subtracts(tmp_path: Path, tiny_ckpt: Path) -> None:
    """A user's copy of the astronaut with the stored box in --box-file gives the packaged row's numbers;
    the packaged photo joins only when --photos names it, under its own name (the copy is renamed);
    --baseline states each model's means above the baseline's."""
    mine = _save_astronaut(tmp_path / "mine")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"astronaut.png": [list(ASTRONAUT.boxes[0])]}))
    out = tmp_path / "res"
    args = ["--model", str(tiny_ckpt), "--model", str(tiny_ckpt), "--label", "m", "--label", "base"]
    result = _invoke([*args, "--baseline", "base", "--image", str(mine), "--box-file", str(boxes),
                      "--photos", "astronaut", "--out", str(out), "--no-pictures"])  # fmt: skip
    assert result.exit_code == 0, result.output + (str(result.exception) if result.exception else "")
    report = json.loads((out / "realphoto.json").read_text())
    packaged, user = report["rows"]
    assert (packaged["photo"], user["photo"]) == ("astronaut", "astronaut-2")
    assert user["box_source"] == "your --box-file" and report["box_mode"] == "stored"
    assert user["models"] == packaged["models"] and user["peer_pose_flag"] == packaged["peer_pose_flag"]
    entry = report["photos"][1]
    assert entry["source"].startswith("your photo: ") and entry["source"].endswith("mine/astronaut.png")
    assert len(entry["sha256"]) == 64
    above = report["above_baseline"]
    assert above["label"] == "base" and above["models"]["m"]["pck@0.1"] == 0.0  # the same checkpoint twice
    table = (out / "realphoto.md").read_text()
    assert "| above base (its mean subtracted) | 2 | | | +0.00 |" in table and "1 photo(s) of your own" in table


def test_user_folder_without_boxes_uses_the_detector(tmp_path: Path, tiny_ckpt: Path) -> None:
    """A folder of photos: those --box-file lists use its boxes, the rest the person detector's."""
    folder = tmp_path / "mine"
    _save_astronaut(folder, "a.png")
    _save_astronaut(folder, "b.png")
    (folder / "notes.txt").write_text("not a photo: skipped by the folder listing")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({str(folder / "b.png"): [[20, 10, 350, 502], [0, 0, 100, 100]]}))
    out = tmp_path / "res"
    result = _invoke(["--model", str(tiny_ckpt), "--image", str(folder), "--box-file", str(boxes), "--out", str(out),
                      "--no-pictures"])  # fmt: skip
    assert result.exit_code == 0, result.output + (str(result.exception) if result.exception else "")
    report = json.loads((out / "realphoto.json").read_text())
    assert [r["photo"] for r in report["rows"]] == ["a", "b", "b"]  # no packaged photo without --photos
    assert report["rows"][0]["box_source"].startswith("detector ")
    assert report["box_mode"] == "stored, detector where none"
    assert [r["box"] for r in report["rows"][1:]] == [[20, 10, 350, 502], [0, 0, 100, 100]]


def test_user_photo_bad_input_one_line(tmp_path: Path, tiny_ckpt: Path) -> None:
    mine = _save_astronaut(tmp_path / "mine")
    base = ["--model", str(tiny_ckpt), "--out", str(tmp_path / "o"), "--no-pictures"]

    def box_file(content: str) -> str:
        path = tmp_path / "boxes.json"
        path.write_text(content)
        return str(path)

    assert "not among the --image photos" in _one_error(
        _invoke([*base, "--image", str(mine), "--box-file", box_file('{"other.jpg": [[0, 0, 9, 9]]}')])
    )
    assert "not a box of four finite numbers" in _one_error(
        _invoke([*base, "--image", str(mine), "--box-file", box_file('{"astronaut.png": [[0, 0, 0, 9]]}')])
    )
    assert "cannot read --box-file" in _one_error(_invoke([*base, "--image", str(mine), "--box-file", box_file("{")]))
    assert "--box-file" in _one_error(_invoke([*base, "--image", str(mine), "--box-file", str(tmp_path / "none")]))
    assert "pass --image too" in _one_error(_invoke([*base, "--box-file", box_file("{}")]))
    assert "image not found" in _one_error(_invoke([*base, "--image", str(tmp_path / "gone.jpg")]))
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    assert "cannot read image" in _one_error(_invoke([*base, "--image", str(tmp_path / "bad.jpg")]))
    boxed = ["--image", str(mine), "--box-file", box_file('{"astronaut.png": [[20, 10, 350, 502]]}')]
    assert "--baseline 'x' is not a model label" in _one_error(_invoke([*base, *boxed, "--baseline", "x"]))
    assert not (tmp_path / "o").exists()  # refused runs leave no folder


# --- BlazePose on its own region (MediaPipe's) -------------------------------------------------


def test_mediapipe_roi_geometry() -> None:
    """Centred on the mid-hip, side 2 * radius * 1.25, turned so the hip -> circle-point direction
    points up in the crop; the crop's corners are that square in the photo."""
    import math

    from meshpose_export.runtime.realphoto import (
        PEER_INPUT,
        ROI_SCALE,
        RealPhotoError,
        crop_corners,
        match_detection,
        mediapipe_roi,
    )

    top = (PEER_INPUT / 2 - 0.5, PEER_INPUT / 2 - 0.5 - PEER_INPUT / (2 * ROI_SCALE))
    affine, rotation = mediapipe_roi((100.0, 200.0), (100.0, 100.0))  # upright: the circle point above the hip
    assert rotation == pytest.approx(0.0)
    apply = lambda pt: affine[:, :2] @ np.asarray(pt, float) + affine[:, 2]  # noqa: E731
    np.testing.assert_allclose(apply((100.0, 200.0)), [PEER_INPUT / 2 - 0.5] * 2, atol=1e-9)
    np.testing.assert_allclose(apply((100.0, 100.0)), top, atol=1e-9)
    corners = crop_corners(affine)
    np.testing.assert_allclose(corners[2] - corners[0], [250.0, 250.0], atol=1e-9)  # 2 * 100 * 1.25
    # Leaning 45 degrees to the right: turned clockwise by 45 degrees, the circle point again straight up.
    lean = (100.0 + 100.0 / math.sqrt(2), 200.0 - 100.0 / math.sqrt(2))
    affine, rotation = mediapipe_roi((100.0, 200.0), lean)
    assert rotation == pytest.approx(math.pi / 4)
    apply = lambda pt: affine[:, :2] @ np.asarray(pt, float) + affine[:, 2]  # noqa: E731
    np.testing.assert_allclose(apply(lean), top, atol=1e-9)
    with pytest.raises(RealPhotoError, match="--peer-crop model"):
        mediapipe_roi((5.0, 5.0), (5.0, 5.0))

    class Det:
        def __init__(self, box: tuple) -> None:
            self.box = box

    far, near = Det((500.0, 500.0, 10.0, 10.0)), Det((12.0, 8.0, 100.0, 100.0))
    assert match_detection((10.0, 10.0, 100.0, 100.0), [far, near]) is near
    assert match_detection((10.0, 10.0, 100.0, 100.0), [far]) is None  # no overlap: no region


def test_peer_on_its_own_region_puts_the_close_ups_legs_below_the_photo(peer: BlazePoseFull) -> None:
    """On the astronaut (waist up, 512 px tall) BlazePose on MediaPipe's region puts her hips at the
    photo's bottom edge and her ankles far below it, legs unseen; on the model's crop, squared, it
    draws a shrunken whole body inside the photo (ankles at the crop's bottom edge)."""
    from meshpose_export.runtime.detector import PersonDetector
    from meshpose_export.runtime.realphoto import match_detection

    image = ASTRONAUT.load()
    found = match_detection(ASTRONAUT.boxes[0], PersonDetector(aspect=0.75)(image))
    assert found is not None
    own = peer.on_roi(image, found)
    assert own.pose_flag > 0.9 and own.crop.startswith("MediaPipe's region")
    assert own.coco[11:13, 1].min() > 470 and own.coco[15:17, 1].min() > 700  # hips ~520, ankles ~910
    assert not own.coco_visible[13:17].any()  # knees and ankles: not seen
    square = peer(image, (20.0 - 76.0, 10.0, 502.0, 502.0))
    assert square.coco[15:17, 1].max() < 512  # ankles inside the photo (~436): the shrunken body


def test_cli_peer_crop_is_recorded(tmp_path: Path, tiny_ckpt: Path) -> None:
    base = ["--model", str(tiny_ckpt), "--photos", "astronaut", "--no-pictures"]
    for crop, expect in (("mediapipe", "MediaPipe's region"), ("model", "model crop, squared")):
        out = tmp_path / crop
        result = _invoke([*base, "--peer-crop", crop, "--out", str(out)])
        assert result.exit_code == 0, result.output
        report = json.loads((out / "realphoto.json").read_text())
        assert report["reference"]["peer_crop"] == crop and report["rows"][0]["peer_crop"].startswith(expect)
        note = "its own region" if crop == "mediapipe" else "--peer-crop model"
        assert note in (out / "realphoto.md").read_text()
