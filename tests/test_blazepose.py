"""meshpose_blaze: BlazePose GHUM full imported from MediaPipe's .tflite, its parity with the LiteRT
interpreter, bad model files, and the variant built on it (shapes, costs, checkpoints, training).

The .tflite comes from `make setup` (benchmarks/peers/) or `meshpose-models fetch`; it is never
committed. Every test writes its derived weights under a temporary $MESHPOSE_MODELS.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from meshpose_mobile.backbones.blazepose import (
    DEEP,
    DENSE,
    OUTPUT_NAMES,
    SPEC,
    BlazePoseNet,
    blazepose_weights_path,
    import_tflite,
    imported_blazepose,
)
from meshpose_mobile.errors import ConfigError, ModelFileError
from meshpose_mobile.paths import find_model_file

# Parity bound of the issue: every output within 1e-3 of its range over the test inputs.
RELATIVE_TOL = 1e-3


@pytest.fixture(autouse=True)
def _models_dir(tmp_path_factory, monkeypatch) -> None:
    # Derived weights go to a temporary folder; the .tflite is still found in the checkout.
    monkeypatch.setenv("MESHPOSE_MODELS", str(tmp_path_factory.getbasetemp() / "models"))


@pytest.fixture(scope="module")
def tflite() -> Path:
    return find_model_file("pose_landmark_full.tflite")


def _photo_crops() -> dict[str, np.ndarray]:
    """256x256 RGB crops in [0, 1] of the two photos of people that ship in wheels, and noise."""
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    def square(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        crop = Image.fromarray(img[top : top + s, left : left + s]).resize((256, 256), Image.BILINEAR)
        return np.asarray(crop, dtype=np.float32) / 255.0

    hopper = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    rng = np.random.default_rng(0)
    return {
        "astronaut": square(skimage.data.astronaut()),
        "grace_hopper": square(hopper),
        "noise": rng.random((256, 256, 3), dtype=np.float32),
        "noise_smooth": np.asarray(
            Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).resize((256, 256), Image.BILINEAR),
            dtype=np.float32,
        )
        / 255.0,
    }


def importer_parity(tflite_path: Path) -> dict[str, dict[str, float]]:
    """Per output: max |PyTorch - LiteRT| over the inputs, the output's range, and their ratio.

    The imported module runs in float64, so the figures are LiteRT's own float32 rounding: the
    segmentation logits (range ~2,000) move by ~1 between float32 and float64 in *either* runtime
    (PyTorch float32 vs float64: up to 3.4 on Grace Hopper), which would otherwise take half the bound.
    """
    from ai_edge_litert.interpreter import Interpreter

    net = imported_blazepose(tflite_path).double()
    interp = Interpreter(model_path=str(tflite_path))
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    outs = interp.get_output_details()
    diffs: dict[str, float] = dict.fromkeys(OUTPUT_NAMES, 0.0)
    lo: dict[str, float] = dict.fromkeys(OUTPUT_NAMES, math.inf)
    hi: dict[str, float] = dict.fromkeys(OUTPUT_NAMES, -math.inf)
    for img in _photo_crops().values():
        interp.set_tensor(inp["index"], img[None])
        interp.invoke()
        with torch.no_grad():
            got = net(torch.from_numpy(img).permute(2, 0, 1)[None].double())
        for name, detail, mine in zip(OUTPUT_NAMES, outs, got, strict=True):
            ref = interp.get_tensor(detail["index"])
            mine = mine.numpy()
            if mine.ndim == 4:
                mine = mine.transpose(0, 2, 3, 1)
            assert mine.shape == ref.shape, name
            diffs[name] = max(diffs[name], float(np.abs(mine - ref).max()))
            lo[name], hi[name] = min(lo[name], float(ref.min())), max(hi[name], float(ref.max()))
    report = {}
    for name in OUTPUT_NAMES:
        # The pose flag is a probability: its range is [0, 1] whatever these inputs score.
        span = 1.0 if name == "pose_flag" else hi[name] - lo[name]
        report[name] = {"max_abs": diffs[name], "range": span, "relative": diffs[name] / span}
    return report


# --- the network and the importer --------------------------------------------------------------


def test_spec_builds_without_the_file() -> None:
    full = BlazePoseNet()
    enc = BlazePoseNet((DENSE, DEEP))
    # The encoder carries no segmentation branch nor output layers, under the same parameter names.
    assert set(enc.state_dict()) < set(full.state_dict())
    assert sum(p.numel() for p in enc.parameters()) < sum(p.numel() for p in full.parameters())
    dense, deep = enc(torch.rand(1, 3, 256, 256))
    assert dense.shape == (1, 48, 64, 64) and deep.shape == (1, 288, 2, 2)
    shapes = [tuple(t.shape) for t in full(torch.rand(1, 3, 256, 256))]
    assert shapes == [(1, 195), (1, 1), (1, 1, 256, 256), (1, 39, 64, 64), (1, 117)]
    assert all(isinstance(m, nn.Conv2d) for m in full.layers.values())
    assert {layer.kind for layer in SPEC} == {"conv", "dw", "add", "up", "pool", "flat", "sigmoid"}


def test_importer_matches_litert(tflite: Path) -> None:
    report = importer_parity(tflite)
    for name, r in report.items():
        assert r["relative"] <= RELATIVE_TOL, (name, r)


def test_weights_cached_once_atomically(tflite: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MESHPOSE_MODELS", str(tmp_path))
    path = blazepose_weights_path()
    assert path.parent == tmp_path / "derived" and path.is_file()
    stamp = path.stat().st_mtime_ns
    assert blazepose_weights_path() == path and path.stat().st_mtime_ns == stamp
    path.write_bytes(b"damaged")  # a damaged cache is derived again
    assert blazepose_weights_path() == path and path.stat().st_size > 1_000_000
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def _bad_file_refused(path: Path, tmp_path: Path, monkeypatch) -> str:
    monkeypatch.setenv("MESHPOSE_MODELS", str(tmp_path / "cache"))
    with pytest.raises(ModelFileError) as err:
        blazepose_weights_path(path)
    derived = tmp_path / "cache" / "derived"
    assert not derived.exists() or not any(derived.iterdir()), "nothing half-written"
    return _one_line(err)


def test_truncated_file(tflite: Path, tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "pose_landmark_full.tflite"
    bad.write_bytes(tflite.read_bytes()[:100_000])
    assert "damaged TFLite file" in _bad_file_refused(bad, tmp_path, monkeypatch)


def test_not_a_tflite(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"hello, not a model")
    assert "not a TFLite file" in _bad_file_refused(bad, tmp_path, monkeypatch)


def test_other_model_names_its_input(tmp_path: Path, monkeypatch) -> None:
    other = find_model_file("pose_detection.tflite")
    msg = _bad_file_refused(other, tmp_path, monkeypatch)
    assert "input 'input_1' is [1, 224, 224, 3]" in msg


def test_changed_op_is_named(tflite: Path, tmp_path: Path, monkeypatch) -> None:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(tflite.read_bytes(), 0)
    model.subgraphs[0].operators[12].builtinOptions.fusedActivationFunction = 0  # RELU6 -> none
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    bad = tmp_path / "edited.tflite"
    bad.write_bytes(bytes(builder.Output()))
    msg = _bad_file_refused(bad, tmp_path, monkeypatch)
    assert "op 12 (CONV_2D, tensor 'model_1/model/conv2d_2/Conv2D')" in msg
    assert "act none (expected relu6)" in msg


def test_damaged_weights_are_refused(tflite: Path, tmp_path: Path, monkeypatch) -> None:
    data = bytearray(tflite.read_bytes())
    # A weight byte half-way through the file: the layout still matches, only the digest tells.
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "pose_landmark_full.tflite"
    bad.write_bytes(bytes(data))
    import_tflite(bad)  # the layout is intact
    assert "SHA-256" in _bad_file_refused(bad, tmp_path, monkeypatch)


# --- the variant ------------------------------------------------------------------------------


def _conv_macs(model: nn.Module, image: torch.Tensor) -> dict[str, int]:
    """MACs of every Conv1d/Conv2d by module name, from one forward pass."""
    macs: dict[str, int] = {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d):

            def hook(mod: nn.Module, _inp: tuple, out: torch.Tensor, name: str = name) -> None:
                per_out = mod.in_channels // mod.groups * math.prod(mod.kernel_size)
                macs[name] = out[0].numel() * per_out

            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model(image)
    for h in hooks:
        h.remove()
    return macs


def test_meshpose_blaze_shapes_and_costs() -> None:
    from meshpose_mobile.cli import parameter_rows
    from meshpose_mobile.registry import create_model

    model = create_model("meshpose_blaze").eval()
    cfg = model.config
    assert (cfg.input_height, cfg.input_width) == (256, 256)
    assert cfg.mean == (0.0, 0.0, 0.0) and cfg.std == (1.0, 1.0, 1.0)  # [0, 1] input, as BlazePose's ROI
    image = torch.rand(1, 3, 256, 256) * 255
    out = model(image)
    assert out["heatmaps"].shape == (1, 615, 32, 32)
    assert out["vertices"].shape == (1, 615, 3) and out["visibility"].shape == (1, 615)
    # No 16,384-wide expansion: the regression branch expands pooled 288 -> head_mid * bins.
    assert all(b.conv1.out_channels == cfg.head_mid * cfg.num_bins <= 4096 for b in model.regression.values())
    macs = _conv_macs(model, image)
    encoder = sum(v for k, v in macs.items() if k.startswith("backbone.encoder."))
    heads = sum(v for k, v in macs.items() if not k.startswith("backbone.encoder.") and k != "foreground")
    assert heads < encoder, (heads, encoder)
    assert "meshpose_blaze" in [r["variant"] for r in parameter_rows()]


def test_head_ablation_options_build_train_config_and_refuse_bad_values() -> None:
    """The probe-head form of the ablation in docs/training.md (stride 4, one full 3x3 neck
    convolution) comes from a train config's [model] table; the shipped form keeps its keys."""
    from meshpose_mobile.registry import create_model
    from meshpose_mobile.train.config import TrainConfig
    from meshpose_mobile.train.loop import _build_model

    shipped = create_model("meshpose_blaze")
    assert {k for k in shipped.state_dict() if k.startswith("backbone.neck.")} >= {
        "backbone.neck.down.conv.weight",
        "backbone.neck.proj.conv.weight",
    }
    kwargs = {"out_channels": 64, "dense_stride": 4, "neck": "conv"}
    config = TrainConfig(variant="meshpose_blaze", model={"heatmap_stride": 4, "backbone_kwargs": kwargs})
    model = _build_model(config).eval()
    assert model.backbone.out_stride == 4 and model.backbone.neck.down.conv.groups == 1
    with torch.no_grad():
        out = model(torch.rand(1, 3, 256, 256) * 255)
        deployed = model.deploy()(torch.rand(1, 3, 256, 256) * 255)
    assert out["heatmaps"].shape == (1, 615, 64, 64)
    assert deployed[0].shape == (1, 615, 3)
    with pytest.raises(ConfigError, match="heatmap_stride=4"):
        create_model("meshpose_blaze", backbone_kwargs=kwargs)  # heatmaps left at stride 8
    with pytest.raises(ConfigError, match="dense_stride must be 4 or 8"):
        create_model("meshpose_blaze", backbone_kwargs={"dense_stride": 16})
    with pytest.raises(ConfigError, match="neck must be"):
        create_model("meshpose_blaze", backbone_kwargs={"neck": "wide"})


def test_seeded_keeps_imported_encoder_and_checkpoint_roundtrip(tflite: Path, tmp_path: Path) -> None:
    from meshpose_mobile.checkpoint import load_checkpoint, save_checkpoint
    from meshpose_mobile.seeded import seeded_model

    model = seeded_model("meshpose_blaze")
    imported = import_tflite(tflite)
    for key, value in model.backbone.encoder.state_dict().items():
        assert torch.equal(value, imported[key]), key
    save_checkpoint(tmp_path / "blaze.pt", model)
    again = load_checkpoint(tmp_path / "blaze.pt", variant="meshpose_blaze")
    image = torch.rand(1, 3, 256, 256) * 255
    with torch.no_grad():
        assert torch.equal(model(image)["vertices"], again(image)["vertices"])


def test_seeded_heads_agree_with_the_heatmaps(tflite: Path) -> None:
    """Seeded heads on the imported encoder start where the heatmaps point, as trained ones do.

    Before `seeded.align_heads` the regressed and heatmap positions were 128-167 px apart on
    average and up to 460 px on the parity inputs, so Eq. 7 turned CoreML fp16's visibility
    rounding into 6.7 px; after it 8-18 px on average and at most 50 px on these images, with
    w in 0.28-0.72 (measured here). The bounds leave room for other CPUs, not for the old heads."""
    from meshpose_mobile.seeded import seeded_model, synthetic_batch

    model = seeded_model("meshpose_blaze")
    g = torch.Generator().manual_seed(7)
    images = torch.cat([synthetic_batch(4, 256, 256, g), torch.rand(4, 3, 256, 256, generator=g) * 255.0])
    with torch.no_grad():
        out = model(images)
    apart = (out["vertices_2d"] - out["regressed"][..., :2]).norm(dim=-1)
    assert float(apart.mean(dim=1).max()) < 40.0, apart.mean(dim=1)
    assert float(apart.max()) < 120.0
    # Still input-dependent: the parity check must see the heads move with the image.
    assert float(out["regressed"][..., :2].std(dim=0).mean()) > 1.0
    w = out["visibility"]
    assert 0.1 < float(w.min()) and float(w.max()) < 0.9 and float(w.std()) > 0.01


def test_freeze_encoder_by_config() -> None:
    from meshpose_mobile.train.config import TrainConfig
    from meshpose_mobile.train.loop import _build_model, _freeze_encoder

    config = TrainConfig(variant="meshpose_blaze", freeze_encoder=True)
    model = _build_model(config)
    _freeze_encoder(model, config)
    assert not any(p.requires_grad for p in model.backbone.encoder.parameters())
    assert all(p.requires_grad for p in model.backbone.neck.parameters())
    assert all(p.requires_grad for p in model.regression.parameters())
    tiny = TrainConfig(variant="meshpose_tiny", freeze_encoder=True)
    with pytest.raises(ConfigError, match="no imported encoder"):
        _freeze_encoder(_build_model(tiny), tiny)


@pytest.mark.slow
@pytest.mark.export
def test_meshpose_blaze_exports_everywhere_with_parity(tmp_path: Path) -> None:
    """`make export VARIANT=meshpose_blaze` as CI runs it: every target at its default precisions
    (CoreML fp16, ONNX fp32, TFLite fp32 and fp16; 108 s here), seeded heads, and every
    artifact passes parity and its static checks (CoreML: the MIL interpreter).

    CoreML fp16 failed here (6.7 px, budget 5) until `seeded.align_heads` started the regression
    where the heatmaps point; 8-bit weights still break the encoder (docs/design.md,
    meshpose_blaze), so `--precision all` is not part of this test; those budgets are re-measured
    when the heads are trained."""
    import json

    from click.testing import CliRunner

    from meshpose_export.cli.export_cli import main
    from meshpose_export.convert.pipeline import plan_jobs

    result = CliRunner().invoke(main, ["--variant", "meshpose_blaze", "--target", "all", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["variant"] == "meshpose_blaze"
    made = {(a["target"], a["precision"]) for a in summary["artifacts"]}
    assert made == {(j.target.name, j.precision) for j in plan_jobs("all", ())}
    assert {("coreml", "fp16"), ("onnx", "fp32"), ("tflite", "fp32"), ("tflite", "fp16")} <= made
    assert all(a["passed"] for a in summary["artifacts"]), summary["artifacts"]
    for a in summary["artifacts"]:
        sidecar = json.loads((tmp_path / f"{a['artifact']}.json").read_text())
        assert sidecar["crop"]["input_height"] == sidecar["crop"]["input_width"] == 256
        assert sidecar["input"]["normalization"]["std"] == [1.0, 1.0, 1.0]  # [0, 1] = pixel / 255
