"""meshpose-predict: one code path for checkpoints and artifacts, outputs in image pixels, the
overlay, bad input, and the authors' layout end to end (import -> export -> predict -> agree)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from meshpose_export.cli.export_cli import EXIT_PARITY_FAILED
from meshpose_export.cli.export_cli import main as export_main
from meshpose_export.cli.predict_cli import main as predict_main
from meshpose_export.runtime.overlay import render_overlay
from meshpose_export.runtime.predict import PredictError, Predictor, check_box, parse_box
from meshpose_export.targets.base import get_target
from meshpose_mobile.checkpoint import save_checkpoint
from meshpose_mobile.crop import CropContract
from meshpose_mobile.released import released_upsampler_layout, to_released_layout
from meshpose_mobile.samples import SAMPLE_PHOTOS
from meshpose_mobile.seeded import seeded_model
from meshpose_mobile.topology import Topology
from meshpose_mobile.upsampler import HighPolyUpsampler

ASTRONAUT = SAMPLE_PHOTOS[0]
BOX = ",".join(f"{v:g}" for v in ASTRONAUT.box)


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(ASTRONAUT.load()).save(path)
    return path


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, tiny_model) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt", tiny_model)


def _ok(main, args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + (str(result.exception) if result.exception else "")
    return result


def _error(main, args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith(("warning:", "note:"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# --- the prediction path -----------------------------------------------------------------------


def test_outputs_are_the_crop_outputs_mapped_back(tiny_ckpt: Path) -> None:
    predictor = Predictor.load(tiny_ckpt)
    image = ASTRONAUT.load()
    pred = predictor.predict(image, ASTRONAUT.box)
    contract = CropContract(64, 48, box_scale=1.1)
    crop, affine = contract.crop(image, ASTRONAUT.box)
    out = predictor.runner(np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32))
    assert np.allclose(pred.affine, affine)
    assert np.allclose(pred.xyz_lp, contract.to_image(out["vertices"][0].astype(np.float64), affine))
    assert np.allclose(pred.vertex_vis_lp, out["visibility"][0])
    # z scales by box width / input width: the contract widens the 350 px box to 0.75 of 502 px.
    assert pred.scale == pytest.approx(max(350.0, 502.0 * 0.75) * 1.1 / 48)
    whole = predictor.predict(image)
    assert whole.whole_image and whole.box == (-0.5, -0.5, 512.0, 512.0)


def test_box_parsing_and_checks() -> None:
    assert parse_box("1, 2.5,30,40") == (1.0, 2.5, 30.0, 40.0)
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,4,5"):
        with pytest.raises(PredictError, match="four numbers"):
            parse_box(bad)
    assert check_box((-20, -20, 50, 50), 100, 80) == (-20.0, -20.0, 50.0, 50.0)  # partly outside is fine
    with pytest.raises(PredictError, match="lies outside the 100x80 image"):
        check_box((100, 10, 20, 20), 100, 80)
    with pytest.raises(PredictError, match="positive width"):
        check_box((10, 10, 0, 20), 100, 80)


def test_overlay_faces_and_points(tiny_ckpt: Path, tiny_model) -> None:
    predictor = Predictor.load(tiny_ckpt)
    image = ASTRONAUT.load()
    pred = predictor.predict(image, ASTRONAUT.box)
    for faces in (tiny_model.topology.faces, None):
        png = render_overlay(image, pred, faces, title="t")
        import io

        with Image.open(io.BytesIO(png)) as im:
            assert im.format == "PNG" and im.width > im.height > 400


# --- the command line --------------------------------------------------------------------------


def test_cli_single_image(tmp_path: Path, tiny_ckpt: Path, photo_path: Path) -> None:
    result = _ok(predict_main, [str(photo_path), "--model", str(tiny_ckpt), "--out", str(tmp_path)])
    doc = json.loads((tmp_path / "astronaut.json").read_text())
    assert doc["format"] == "meshpose-prediction" and doc["format_version"] == 2 and doc["model"]["kind"] == "pytorch"
    assert doc["num_people"] == 1 and doc["detector"]["min_score"] == 0.5
    (person,) = doc["people"]
    # The detector's box (test_detector.py checks it against the hand-drawn one) is the crop box.
    assert person["box_source"] == "detector" and person["score"] > 0.7
    assert person["box"] == pytest.approx(person["detection"]["box"], abs=1e-3)
    assert len(person["xyz_lp"]) == 615 and len(person["vertex_vis_lp"]) == 615 and person["xyz_hp"] is None
    assert (tmp_path / "astronaut_overlay.png").stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astronaut.json", "astronaut_overlay.png"]
    assert "wrote" in result.output


def test_cli_whole_image_and_given_box(tmp_path: Path, tiny_ckpt: Path, photo_path: Path) -> None:
    args = [str(photo_path), "--model", str(tiny_ckpt), "--no-overlay"]
    _ok(predict_main, [*args, "--whole-image", "--out", str(tmp_path / "w")])
    (person,) = json.loads((tmp_path / "w" / "astronaut.json").read_text())["people"]
    assert person["box_source"].startswith("whole image") and person["box"] == [-0.5, -0.5, 512.0, 512.0]
    _ok(predict_main, [*args, "--box", BOX, "--out", str(tmp_path / "b")])
    doc = json.loads((tmp_path / "b" / "astronaut.json").read_text())
    assert doc["detector"] is None and doc["people"][0]["box_source"] == "given"
    assert "either --box or --whole-image" in _error(predict_main, [*args, "--box", BOX, "--whole-image"])


def test_cli_photo_with_nobody(tmp_path: Path, tiny_ckpt: Path) -> None:
    """Nobody in the photo is not an error: exit 0, an empty people list, a warning, no overlay."""
    empty = tmp_path / "wall.png"
    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(empty)
    result = _ok(predict_main, [str(empty), "--model", str(tiny_ckpt), "--out", str(tmp_path / "o")])
    assert "warning: no person found in wall.png" in result.stderr
    doc = json.loads((tmp_path / "o" / "wall.json").read_text())
    assert doc["num_people"] == 0 and doc["people"] == []
    assert not (tmp_path / "o" / "wall_overlay.png").exists()


def test_cli_several_people(tmp_path: Path, tiny_ckpt: Path) -> None:
    """Two people side by side: one mesh each, best score first, one overlay with both."""
    photo = ASTRONAUT.load()
    two = np.concatenate([photo, photo[:, ::-1]], axis=1)
    Image.fromarray(two).save(tmp_path / "two.png")
    args = [str(tmp_path / "two.png"), "--model", str(tiny_ckpt), "--out", str(tmp_path / "o")]
    _ok(predict_main, args)
    doc = json.loads((tmp_path / "o" / "two.json").read_text())
    assert doc["num_people"] == 2
    scores = [p["score"] for p in doc["people"]]
    assert scores == sorted(scores, reverse=True)
    centres = sorted(p["box"][0] + p["box"][2] / 2 for p in doc["people"])
    assert centres[0] < 512 < centres[1]
    assert (tmp_path / "o" / "two_overlay.png").stat().st_size > 10_000
    _ok(predict_main, [*args, "--max-people", "1", "--no-overlay"])
    assert json.loads((tmp_path / "o" / "two.json").read_text())["num_people"] == 1


def test_cli_folder(tmp_path: Path, tiny_ckpt: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    image = ASTRONAUT.load()
    Image.fromarray(image).save(folder / "a.jpg")
    Image.fromarray(image[:, ::-1]).save(folder / "a.png")
    Image.fromarray(image[::2, ::2]).save(folder / "b.png")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    result = _ok(predict_main, [str(folder), "--model", str(tiny_ckpt), "--out", str(out), "--no-overlay"])
    assert "wrote 3 prediction(s)" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["a_jpg.json", "a_png.json", "b.json"]
    (folder / "c.jpg").write_bytes(b"not a jpeg")
    result = CliRunner().invoke(predict_main, [str(folder), "--model", str(tiny_ckpt), "--out", str(out)])
    # Progress bar and per-image warnings come first; the verdict is the last line.
    last = result.stderr.strip().splitlines()[-1]
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert last.startswith("error: 1 of 4 images failed; the first: cannot read image") and "c.jpg" in last
    assert "warning: skipped c.jpg" in result.stderr
    assert (out / "b_overlay.png").exists() and not (out / "c.json").exists()


def test_cli_unreadable_image(tmp_path: Path, tiny_ckpt: Path) -> None:
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(b"\xff\xd8 half a jpeg")
    line = _error(predict_main, [str(junk), "--model", str(tiny_ckpt), "--out", str(tmp_path / "o")])
    assert "cannot read image" in line and "photo.jpg" in line
    assert not (tmp_path / "o" / "photo.json").exists()
    line = _error(predict_main, [str(tmp_path / "none.jpg"), "--model", str(tiny_ckpt), "--out", str(tmp_path)])
    assert "image not found" in line


def test_cli_box_outside_image(tmp_path: Path, tiny_ckpt: Path, photo_path: Path) -> None:
    out = tmp_path / "o"
    args = [str(photo_path), "--model", str(tiny_ckpt), "--out", str(out)]
    assert "lies outside the 512x512 image" in _error(predict_main, [*args, "--box", "600,10,50,80"])
    assert "four numbers" in _error(predict_main, [*args, "--box", "10,10,50"])
    assert not out.exists()  # a refused command leaves no folder behind


def test_cli_truncated_checkpoint(tmp_path: Path, tiny_ckpt: Path, photo_path: Path) -> None:
    cut = tmp_path / "cut.pt"
    cut.write_bytes(tiny_ckpt.read_bytes()[:2000])
    line = _error(predict_main, [str(photo_path), "--model", str(cut), "--out", str(tmp_path / "o")])
    assert "truncated" in line
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    line = _error(predict_main, [str(photo_path), "--model", str(foreign), "--out", str(tmp_path / "o")])
    assert "neither a MeshPose Mobile checkpoint nor the released MeshPose layout" in line


def test_cli_artifact_without_sidecar(tmp_path: Path, photo_path: Path) -> None:
    fake = tmp_path / "m.onnx"
    fake.write_bytes(b"onnx?")
    line = _error(predict_main, [str(photo_path), "--model", str(fake), "--out", str(tmp_path / "o")])
    assert "no sidecar m.onnx.json" in line


# --- end to end: export, then predict with every runtime ---------------------------------------


def _agreement(ref: dict, other: dict, target: str, precision: str, hp_gain: float | None) -> dict[str, float]:
    """Max differences of two prediction JSONs, checked against the export tolerance (crop pixels,
    converted to image pixels by the JSON's scale, plus the 4-decimal rounding of the JSON)."""
    tol = get_target(target).tolerance(precision)
    scale = ref["crop_to_image_scale"]
    assert other["crop_to_image_scale"] == pytest.approx(scale)
    lp = np.linalg.norm(np.subtract(ref["xyz_lp"], other["xyz_lp"]), axis=-1)
    vis = np.abs(np.subtract(ref["vertex_vis_lp"], other["vertex_vis_lp"]))
    assert lp.max() <= tol.max_px * scale + 2e-4, (target, lp.max(), tol.max_px * scale)
    assert vis.max() <= tol.visibility + 1e-4, (target, vis.max())
    stats = {"lp_max_px": float(lp.max()), "vis_max": float(vis.max())}
    if hp_gain is not None:
        hp = np.abs(np.subtract(ref["xyz_hp"], other["xyz_hp"])).max()
        # The upsampler is linear: per axis it moves at most `hp_gain` times the low-poly change.
        lp_axis = np.abs(np.subtract(ref["xyz_lp"], other["xyz_lp"])).max()
        assert hp <= hp_gain * lp_axis + 1e-3, (target, hp, hp_gain * lp_axis)
        stats["hp_max_px"] = float(hp)
    return stats


def _upsampler_gain(up: HighPolyUpsampler) -> float:
    """Max absolute row sum of the whole linear map low -> high, centring included."""
    with torch.no_grad():
        a = up.upsampling2.weight.double() @ up.upsampling.weight.double()
        w = up.centre_weights.double()
        k = a.shape[1]
        m = a @ (torch.eye(k, dtype=torch.float64) - w.view(1, -1)) + w.view(1, -1)
    return float(m.abs().sum(dim=1).max())


def _export_and_predict(
    tmp_path: Path,
    ckpt: Path,
    constants: Path,
    upsampler: Path,
    photo: Path,
    stem: str,
    extra_export: list[str],
) -> tuple[dict[str, dict], dict[str, int]]:
    """meshpose-export to onnx fp32, tflite fp32 and coreml fp16, then meshpose-predict with the
    checkpoint and every artifact that runs here: the prediction JSONs by runtime and the export
    exit codes by target (3 = artifact written but its parity check failed)."""
    out = tmp_path / "artifacts"
    common = ["--ckpt", str(ckpt), "--out", str(out), "--random-inputs", "2", *extra_export]
    codes = {}
    for target, precision in (("onnx", "fp32"), ("tflite", "fp32"), ("coreml", "fp16")):
        result = CliRunner().invoke(export_main, [*common, "--target", target, "--precision", precision])
        assert result.exit_code in (0, EXIT_PARITY_FAILED) and "Traceback" not in result.output, result.output
        codes[target] = result.exit_code
    predictions = {}
    runs = {
        "pytorch": ckpt,
        "onnx": out / f"{stem}_fp32.onnx",
        "tflite": out / f"{stem}_fp32.tflite",
    }
    for kind, model in runs.items():
        dest = tmp_path / f"pred-{kind}"
        args = [str(photo), "--model", str(model), "--box", BOX, "--out", str(dest)]
        _ok(predict_main, [*args, "--upsampler", str(upsampler), "--released-constants", str(constants)])
        doc = json.loads((dest / f"{photo.stem}.json").read_text())
        predictions[kind] = {**doc["people"][0], "model": doc["model"]}
        assert (dest / f"{photo.stem}_overlay.png").exists()
    coreml = out / f"{stem}_fp16.mlpackage"
    report = json.loads((out / f"{stem}_fp16.mlpackage.parity.json").read_text())
    # CoreML runs only on macOS: here its saved program is checked statically (ops, FP16, weights).
    assert coreml.is_dir() and report["checks"] and all(c["passed"] for c in report["checks"]), report["checks"]
    return predictions, codes


@pytest.mark.export
def test_tiny_export_and_predict_agree(tmp_path: Path, photo_path: Path) -> None:
    """Fast variant of the released flow: a 518-vertex tiny model, the authors' upsampler layout
    (smaller sizes) and made-up constants, through both CLIs."""
    from test_released import write_constants

    model = seeded_model("meshpose_tiny", seed=3, topology=Topology.minimal(518, "test-518"))
    ckpt = save_checkpoint(tmp_path / "tiny518.pt", model)
    constants = write_constants(tmp_path / "constants.json")
    up_path = tmp_path / "upsampler.pth"
    torch.manual_seed(0)
    torch.save(released_upsampler_layout(HighPolyUpsampler(518, 64, 300)), up_path)
    preds, codes = _export_and_predict(tmp_path, ckpt, constants, up_path, photo_path, "meshpose_tiny", [])
    assert codes == {"onnx": 0, "tflite": 0, "coreml": 0}
    gain = _upsampler_gain(Predictor.load(ckpt, upsampler=up_path, released_constants=constants).upsampler)
    for kind, precision in (("onnx", "fp32"), ("tflite", "fp32")):
        _agreement(preds["pytorch"], preds[kind], kind, precision, gain)
    assert len(preds["onnx"]["xyz_hp"]) == 300 and preds["onnx"]["model"]["kind"] == "onnx"
    assert "executed_by" not in preds["onnx"]["model"]  # its own runtime ran it
    # The CoreML artifact predicts here too, through the MIL interpreter, and the JSON says so.
    dest = tmp_path / "pred-coreml"
    model = tmp_path / "artifacts" / "meshpose_tiny_fp16.mlpackage"
    args = [str(photo_path), "--model", str(model), "--box", BOX, "--out", str(dest)]
    _ok(predict_main, [*args, "--upsampler", str(up_path), "--released-constants", str(constants)])
    doc = json.loads((dest / f"{photo_path.stem}.json").read_text())
    coreml = {**doc["people"][0], "model": doc["model"]}
    assert coreml["model"]["kind"] == "coreml" and "interpreter" in coreml["model"]["executed_by"]
    _agreement(preds["pytorch"], coreml, "coreml", "fp16", gain)


@pytest.mark.slow
@pytest.mark.export
def test_released_layout_end_to_end(tmp_path: Path, photo_path: Path) -> None:
    """A checkpoint in exactly the authors' layout (random weights, their names and shapes, nested
    as ckpt['model']['root']) and their upsampler layout at full size: import, export to ONNX fp32,
    TFLite fp32 and CoreML fp16, predict, and agree within the export tolerances."""
    from test_released import made_up_constants, write_constants

    t0 = time.perf_counter()
    ours = seeded_model("meshpose_hrnet32", seed=0, topology=Topology.minimal(518, "released-518"))
    ckpt = tmp_path / "meshpose_hrnet32_released.pth"
    torch.save(to_released_layout(ours), ckpt)
    data = made_up_constants()
    constants = write_constants(tmp_path / "constants.json", data)
    centre = torch.zeros(518)
    centre[data["centre"]["vertices"]] = torch.tensor(data["centre"]["weights"])
    torch.manual_seed(0)
    up_path = tmp_path / "upsampler.pth"
    torch.save(released_upsampler_layout(HighPolyUpsampler(518, 1723, 6890, centre)), up_path)
    extra = ["--released-constants", str(constants)]
    preds, codes = _export_and_predict(tmp_path, ckpt, constants, up_path, photo_path, "meshpose_hrnet32", extra)
    assert codes["onnx"] == 0
    gain = _upsampler_gain(Predictor.load(ckpt, upsampler=up_path, released_constants=constants).upsampler)
    stats = {"onnx": _agreement(preds["pytorch"], preds["onnx"], "onnx", "fp32", gain)}
    a, b = np.asarray(data["seam_pairs"]).T
    for kind in ("onnx", "tflite"):
        lp = np.asarray(preds[kind]["xyz_lp"])
        assert np.abs(lp[a] - lp[b]).max() < 1e-2  # seams averaged inside the exported graph
        assert len(preds[kind]["xyz_hp"]) == 6890
    tflite_lp = np.linalg.norm(np.subtract(preds["pytorch"]["xyz_lp"], preds["tflite"]["xyz_lp"]), axis=-1).max()
    coreml = json.loads((tmp_path / "artifacts" / "meshpose_hrnet32_fp16.mlpackage.parity.json").read_text())
    coreml_px = coreml["stats"]["vertices"]["max"] if coreml["stats"] else None
    print(
        f"released layout end to end: {time.perf_counter() - t0:.0f} s; {stats}; tflite lp max {tflite_lp:.4f} px "
        f"(image); coreml fp16 (MIL interpreter) max {coreml_px} px (crop)"
    )
    # PyTorch, ONNX and TFLite must agree. CoreML cannot predict on Linux; its export must finish
    # and report: its FP16 figure (the program run by the MIL interpreter) measures HRNet-W32 in
    # float16 (printed above) and is judged by its own parity report, not by this test.
    assert codes["tflite"] == 0, f"TFLite fp32 parity failed: {tflite_lp:.4f} px"
    assert codes["coreml"] in (0, EXIT_PARITY_FAILED) and coreml["stats"]
    stats["tflite"] = _agreement(preds["pytorch"], preds["tflite"], "tflite", "fp32", gain)
    print(f"agreement with PyTorch: {stats}")
