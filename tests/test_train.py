"""meshpose-train: config validation, CLI errors, exact resume, metrics, export of the result."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from benchmark_scripts import load_benchmark
from click.testing import CliRunner

from meshpose_mobile.errors import ConfigError, DataError
from meshpose_mobile.train.cli import train_main
from meshpose_mobile.train.config import TrainConfig, apply_override, read_config_file
from meshpose_mobile.train.data import batch_indices
from meshpose_mobile.train.loop import TrainInterrupted, lr_factor, read_metrics, train
from meshpose_mobile.train.metrics import procrustes_align

BASE = {
    "variant": "meshpose_tiny",
    "steps": 6,
    "batch_size": 4,
    "eval_every": 3,
    "ckpt_every": 2,
    "log_every": 1,
    "data": {"train_size": 12, "val_size": 6, "synth": {"num_points": 32}},
    "optim": {"warmup_steps": 2},
    "loss": {"silhouette": 0.0},
}


def small(**changes: object) -> TrainConfig:
    data = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        data = apply_override(data, f"{key}={json.dumps(value)}")
    return TrainConfig.from_dict(data)


def _evals(run: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "eval_s"} for r in read_metrics(run, "eval")]


# ------------------------------------------------------------------------------------ config


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("optim.lr", -1.0, "optim.lr=-1.0"),
        ("steps", 0, "steps=0"),
        ("variant", "meshpose_huge", "variant='meshpose_huge'"),
        ("optim.schedule", "linear", "optim.schedule='linear'"),
        ("device", "tpu", "device='tpu'"),
        ("data.train_size", -5, "data.train_size=-5"),
        ("loss.bary", -1.0, "bary"),
        ("data.synth", {"selfie_fraction": 3}, "selfie_fraction"),
        ("optim.momentum", "fast", "optim.momentum"),
        ("fake_quant", "int4", "fake_quant='int4'"),
    ],
)
def test_bad_values_are_one_line_errors(key: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        small(**{key: value})
    assert "\n" not in str(err.value)


def test_unknown_keys_and_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key optim\.learning_rate"):
        TrainConfig.from_dict({"optim": {"learning_rate": 1.0}})
    with pytest.raises(ConfigError, match="unknown key epochs"):
        TrainConfig.from_dict({"epochs": 3})
    with pytest.raises(ConfigError, match="config file not found"):
        read_config_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = = 3\n")
    with pytest.raises(ConfigError, match="does not parse"):
        read_config_file(bad)
    with pytest.raises(ConfigError, match="key=value"):
        apply_override({}, "optim.lr")


def test_shipped_configs_are_valid() -> None:
    root = Path(__file__).resolve().parents[1] / "configs"
    files = sorted(root.glob("*.toml"))
    assert files
    for path in files:
        TrainConfig.from_dict(read_config_file(path))


def test_round_trip_and_schedule() -> None:
    cfg = small(**{"optim.schedule": "cosine", "steps": 100, "optim.warmup_steps": 10})
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    f = [lr_factor(s, cfg) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(f[10:]))
    assert f[-1] == pytest.approx(cfg.optim.min_lr_ratio, abs=1e-3)


def test_batch_order_is_a_function_of_the_step() -> None:
    seen = np.concatenate([batch_indices(s, 4, 12, 0) for s in range(3)])
    assert sorted(seen.tolist()) == list(range(12))  # one epoch covers every sample once
    np.testing.assert_array_equal(batch_indices(7, 4, 12, 0), batch_indices(7, 4, 12, 0))
    assert not np.array_equal(batch_indices(3, 4, 12, 0), batch_indices(0, 4, 12, 0))


# ------------------------------------------------------------------------------------ metrics


def test_procrustes_recovers_a_similarity() -> None:
    g = torch.Generator().manual_seed(0)
    gt = torch.randn(2, 17, 3, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    pred = 2.5 * gt @ q.T + torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    np.testing.assert_allclose(procrustes_align(pred, gt).numpy(), gt.numpy(), atol=1e-9)


def test_perfect_prediction_scores_perfectly() -> None:
    from meshpose_mobile.registry import make_config
    from meshpose_mobile.synth import SyntheticBodies
    from meshpose_mobile.topology import default_topology
    from meshpose_mobile.train.data import Collate
    from meshpose_mobile.train.metrics import MetricSums, batch_metrics

    topo = default_topology()
    cfg = make_config("meshpose_tiny", topo)
    gen = SyntheticBodies(TrainConfig().data.synth_config(cfg.input_height, cfg.input_width), seed=0, topology=topo)
    batch = Collate(cfg, 8, silhouette=False)([gen[i] for i in range(3)])
    sums = MetricSums()
    outputs = {"vertices": batch["vertices"], "heatmaps": torch.zeros(3, topo.num_vertices, 16, 12)}
    batch_metrics(outputs, batch, topo, cfg, sums)
    m = sums.means()
    assert m["v2d_px"] == pytest.approx(0.0, abs=1e-6)
    assert m["pck"] == 1.0
    assert m["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3) and m["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)
    assert 0.0 <= m["part_acc"] <= 1.0


# ------------------------------------------------------------------------------------ runs


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "straight"
    train(small(), out)
    return out


def test_run_writes_its_folder_and_learns(straight_run: Path) -> None:
    from meshpose_mobile.checkpoint import load_checkpoint

    for name in ("config.json", "metrics.jsonl", "ckpt/last.pt", "model.pt", "model-best.pt"):
        assert (straight_run / name).is_file(), name
    evals = read_metrics(straight_run, "eval")
    assert [e["step"] for e in evals] == [0, 3, 6]
    for key in ("v2d_px", "pck", "part_acc", "uv_err", "mpjpe_mm", "pa_mpjpe_mm", "loss_bary"):
        assert math.isfinite(evals[-1][key]), key
    trains = read_metrics(straight_run, "train")
    assert [t["step"] for t in trains] == list(range(1, 7))
    model = load_checkpoint(straight_run / "model.pt", variant="meshpose_tiny")
    assert model.config.variant == "meshpose_tiny"


def test_crash_then_resume_gives_the_same_metrics(straight_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "crash"
    with pytest.raises(RuntimeError, match="injected"):
        train(small(), run, _fault_after=(5, RuntimeError))
    state = torch.load(run / "ckpt" / "last.pt", weights_only=True)
    assert state["step"] == 4  # the last periodic checkpoint; step 5 is lost and redone
    train(small(), run, resume=True)
    assert _evals(run) == _evals(straight_run)
    a = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(straight_run / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ctrl_c_saves_on_the_spot_and_resumes(straight_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "ctrlc"
    with pytest.raises(TrainInterrupted, match="--resume"):
        train(small(), run, _fault_after=(3, KeyboardInterrupt))
    assert torch.load(run / "ckpt" / "last.pt", weights_only=True)["step"] == 3
    train(small(), run, resume=True)
    assert _evals(run) == _evals(straight_run)


def test_resume_guards(straight_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="already holds a run"):
        train(small(), straight_run)
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(small(), tmp_path / "empty", resume=True)
    with pytest.raises(ConfigError, match=re.escape("optim.lr was 0.001 and is now 0.5")):
        train(small(**{"optim.lr": 0.5}), straight_run, resume=True)
    # A run started before a setting existed resumes when the setting is at its default, not otherwise.
    from meshpose_mobile.train.loop import _check_resume_config

    older = small().to_dict()
    del older["loss"]["weight_consistency"]
    _check_resume_config(older, small().to_dict(), straight_run)
    with pytest.raises(ConfigError, match=re.escape("loss.weight_consistency was 0.0 and is now 1.0")):
        _check_resume_config(older, small(**{"loss.weight_consistency": 1.0}).to_dict(), straight_run)


def test_missing_dataset_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="train dataset not found"):
        train(small(**{"data.train": str(tmp_path / "nowhere")}), tmp_path / "run")
    assert not (tmp_path / "run" / "ckpt").exists()


def test_trains_from_a_synth_folder_and_checks_its_size(tmp_path: Path) -> None:
    from meshpose_mobile.synth import SynthConfig, write_dataset

    write_dataset(tmp_path / "ds", 8, SynthConfig(height=64, width=48, num_points=32))
    res = train(small(**{"data.train": str(tmp_path / "ds"), "steps": 2}), tmp_path / "run")
    assert res["step"] == 2
    write_dataset(tmp_path / "big", 2, SynthConfig(height=96, width=72))
    with pytest.raises(DataError, match="--height 64 --width 48"):
        train(small(**{"data.train": str(tmp_path / "big")}), tmp_path / "run2")


def test_silhouette_term_trains(tmp_path: Path) -> None:
    res = train(small(**{"loss.silhouette": 1.0, "steps": 1, "batch_size": 2}), tmp_path / "run")
    terms = read_metrics(tmp_path / "run", "train")[0]
    assert math.isfinite(terms["silhouette"]) and res["step"] == 1


def test_heatmap_spread_term_trains(tmp_path: Path) -> None:
    for where in ("picture", "visible"):
        overrides = {"loss.heatmap_spread": 0.02, "loss.spread_vertices": where, "steps": 1, "batch_size": 2}
        res = train(small(**overrides), tmp_path / where)
        terms = read_metrics(tmp_path / where, "train")[0]
        assert math.isfinite(terms["heatmap_spread"]) and terms["heatmap_spread"] > 0.0 and res["step"] == 1


def test_consistency_term_is_the_mean_move_under_noise(tmp_path: Path) -> None:
    from meshpose_mobile.losses import LossWeights
    from meshpose_mobile.train.loop import _build_model, _forward

    res = train(small(**{"loss.consistency": 1.0, "steps": 1, "batch_size": 2}), tmp_path / "run")
    terms = read_metrics(tmp_path / "run", "train")[0]
    assert terms["consistency"] > 0 and math.isfinite(terms["consistency"]) and res["step"] == 1
    model = _build_model(small()).eval()
    image = torch.rand(2, 3, 64, 48) * 255
    torch.manual_seed(3)
    outputs, robust = _forward(model, image, LossWeights(consistency=1.0, consistency_noise=2))
    moved = robust["consistency"]
    assert outputs["vertices"].shape[0] == 2
    torch.manual_seed(3)
    noise = torch.randint(-2, 3, image.shape, dtype=image.dtype)
    with torch.no_grad():
        clean = model(image)["vertices"][..., :2]
        noisy = model((image + noise).clamp(0, 255))["vertices"][..., :2]
    assert moved is not None and torch.allclose(moved, (noisy - clean).norm(dim=-1).mean(), rtol=1e-3, atol=1e-4)
    assert _forward(model, image, LossWeights())[1] == {}
    with pytest.raises(ConfigError, match="consistency_noise"):
        LossWeights(consistency_noise=0)


def test_weight_consistency_is_the_move_under_rounding_sized_weight_noise(tmp_path: Path) -> None:
    from meshpose_mobile.losses import LossWeights
    from meshpose_mobile.train.fake_quant import rounding_noise
    from meshpose_mobile.train.loop import _build_model, _forward

    model = _build_model(small()).eval()
    image = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(2)) * 255
    # The noise stays within half a step of each output channel's grid and leaves the model alone.
    before = {k: v.clone() for k, v in model.state_dict().items()}
    noisy = rounding_noise(model, 127)
    conv = dict(model.named_parameters())["heatmap.weight"]
    step = conv.abs().flatten(1).amax(1).view(-1, 1, 1, 1) / 127
    diff = (noisy["heatmap.weight"] - conv).abs()
    assert bool((diff <= step / 2 + 1e-7).all()) and bool(diff.max() > step.min() / 8)
    assert "heatmap.bias" not in noisy and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    # Its move is what the network does with those weights, smaller for a finer grid, and the
    # gradient reaches the float weights.
    torch.manual_seed(0)
    coarse = _forward(model, image, LossWeights(weight_consistency=1.0, weight_noise_levels=7))[1]["weight_consistency"]
    torch.manual_seed(0)
    fine = _forward(model, image, LossWeights(weight_consistency=1.0, weight_noise_levels=32767))[1]
    moved = float(coarse.detach())
    assert math.isfinite(moved) and float(fine["weight_consistency"].detach()) < moved / 20
    coarse.backward()
    assert conv.grad is not None and bool(conv.grad.abs().sum() > 0)
    with pytest.raises(ConfigError, match="weight_noise_levels"):
        LossWeights(weight_noise_levels=0)
    # In a run, the term is logged beside the input-noise one.
    train(
        small(**{"loss.consistency": 1.0, "loss.weight_consistency": 0.5, "steps": 1, "batch_size": 2}), tmp_path / "r"
    )
    terms = read_metrics(tmp_path / "r", "train")[0]
    assert terms["weight_consistency"] > 0 and terms["consistency"] > 0


def test_move_top_averages_the_largest_moves_only() -> None:
    from meshpose_mobile.losses import LossWeights
    from meshpose_mobile.train.loop import _mean_move

    # Two crops of 100 vertices: one vertex jumps 30 px, the rest move 0.1 px. The mean over all
    # hides the jump (0.25 px); the largest 1 % (2 of 200 moves) sees it, and only its vertices
    # get a gradient.
    b = torch.zeros(2, 100, 3)
    a = b.clone()
    a[..., 0] = 0.1
    a[1, 7, :2] = torch.tensor([18.0, 24.0])
    a.requires_grad_(True)
    assert abs(_mean_move(a, b).item() - (199 * 0.1 + 30.0) / 200) < 1e-5
    top = _mean_move(a, b, 0.01)
    assert abs(top.item() - (30.0 + 0.1) / 2) < 1e-5
    top.backward()
    assert int((a.grad.abs().sum(-1) > 0).sum()) == 2 and float(a.grad[1, 7].abs().sum()) > 0
    # At least one move is always kept, and 1.0 is the plain mean.
    assert abs(float(_mean_move(a.detach(), b, 1e-9)) - 30.0) < 1e-5
    assert torch.equal(_mean_move(a.detach(), b, 1.0), _mean_move(a.detach(), b))
    for bad in (0, 0.0, 1.5, -0.1, float("nan"), True):
        with pytest.raises(ConfigError, match="move_top"):
            LossWeights(move_top=bad)


def test_activation_consistency_is_the_move_under_float16_sized_output_noise(tmp_path: Path) -> None:
    from meshpose_mobile.losses import LossWeights
    from meshpose_mobile.train.fake_quant import activation_noise
    from meshpose_mobile.train.loop import _build_model, _forward

    model = _build_model(small()).eval()
    image = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(3)) * 255
    with torch.no_grad():
        clean = model(image)["vertices"]
        # Inside the block each convolution's output is off by at most 2^-bits of itself, and not
        # exactly itself; after it (also after an error) the network is the clean one again.
        conv = model.heatmap
        seen: list[tuple[torch.Tensor, torch.Tensor]] = []

        def probe(_m: torch.nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            exact = torch.nn.functional.conv2d(args[0], conv.weight, conv.bias, conv.stride, conv.padding)
            seen.append((out, exact))

        with activation_noise(model, 4):
            handle = conv.register_forward_hook(probe)  # after the noise hook: sees its output
            model(image)
            handle.remove()
        noisy_out, exact = seen[0]
        rel = ((noisy_out - exact).abs() / exact.abs().clamp_min(1e-6))[exact.abs() > 1e-3]
        assert float(rel.max()) <= 2.0**-4 * (1 + 1e-4) and float(rel.max()) > 2.0**-6
        with pytest.raises(RuntimeError, match="inside"), activation_noise(model, 4):
            raise RuntimeError("inside")
        assert torch.equal(model(image)["vertices"], clean)
    # Its move is what the network does with that noise, far smaller for float16's 11 bits than for
    # 4, and the gradient reaches the weights.
    torch.manual_seed(0)
    coarse = _forward(model, image, LossWeights(activation_consistency=1.0, activation_noise_bits=4))[1]
    torch.manual_seed(0)
    fine = _forward(model, image, LossWeights(activation_consistency=1.0, activation_noise_bits=20))[1]
    moved = float(coarse["activation_consistency"].detach())
    assert math.isfinite(moved) and moved > 0
    assert float(fine["activation_consistency"].detach()) < moved / 20
    coarse["activation_consistency"].backward()
    assert model.heatmap.weight.grad is not None and bool(model.heatmap.weight.grad.abs().sum() > 0)
    with pytest.raises(ConfigError, match="activation_noise_bits"):
        LossWeights(activation_noise_bits=0)
    # In a run, the term is logged beside the input-noise one.
    train(
        small(**{"loss.consistency": 1.0, "loss.activation_consistency": 1.0, "steps": 1, "batch_size": 2}),
        tmp_path / "r",
    )
    terms = read_metrics(tmp_path / "r", "train")[0]
    assert terms["activation_consistency"] > 0 and terms["consistency"] > 0


def test_encoder_rate_scale_makes_a_second_group() -> None:
    from meshpose_mobile.train.loop import _build_model, _param_groups

    config = TrainConfig(variant="meshpose_blaze")
    model = _build_model(config)
    params = list(model.parameters())
    groups = _param_groups(model, params, 1e-3, 0.1)
    encoder = {id(p) for p in model.backbone.pretrained_module().parameters()}
    assert len(groups) == 2 and groups[1]["lr"] == pytest.approx(1e-4)
    assert {id(p) for p in groups[1]["params"]} == encoder
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(params)
    assert len(_param_groups(model, params, 1e-3, 1.0)) == 1
    with pytest.raises(ConfigError, match="encoder_lr_scale"):
        small(**{"optim.encoder_lr_scale": 2.0})


def test_feature_keep_charges_the_encoder_for_leaving_the_imported_maps(tmp_path: Path) -> None:
    """Zero on the imported weights, positive once the encoder moves, with a gradient into the
    encoder; only the first training pass after each term is read (not a weight-noise pass nor an
    evaluation); refused where nothing could move or nothing was imported."""
    from meshpose_mobile.losses import LossWeights
    from meshpose_mobile.train.feature_keep import FeatureKeep
    from meshpose_mobile.train.loop import _build_model, _forward

    model = _build_model(TrainConfig(variant="meshpose_blaze")).train()
    keep = FeatureKeep(model.backbone)
    image = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(0)) * 255
    model(image)
    assert float(keep.term().detach()) < 1e-10
    encoder = model.backbone.pretrained_module()
    conv = next(m for m in encoder.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        conv.weight.mul_(1.1)
    with torch.no_grad():
        model.eval()(image)  # an evaluation pass: not recorded
    model.train()
    _forward(model, image, LossWeights(weight_consistency=1.0))  # main pass, then a weight-noise pass
    moved = keep.term()
    assert 1e-4 < float(moved.detach()) < 1.0
    moved.backward()
    assert conv.weight.grad is not None and bool(conv.weight.grad.abs().sum() > 0)
    # The reference stays the imported network: its maps equal a fresh import's.
    ref = FeatureKeep(_build_model(TrainConfig(variant="meshpose_blaze")).backbone).reference
    for a, b in zip(keep.reference.state_dict().values(), ref.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    keep.close()
    # Beside int8 rounding: the reference is the imported network, not a rounded copy (built before
    # fake_quant attaches; a copy made after it could not take the imported weights: KeyError).
    run = small(variant="meshpose_blaze", fake_quant="int8", steps=1, batch_size=2, **{"loss.feature_keep": 1.0})
    train(run, tmp_path / "q")
    assert read_metrics(tmp_path / "q", "train")[0]["feature_keep"] >= 0
    with pytest.raises(ConfigError, match="freeze_encoder"):  # refused by the config, before any run
        small(variant="meshpose_blaze", freeze_encoder=True, **{"loss.feature_keep": 1.0})
    with pytest.raises(ConfigError, match="no imported encoder"):
        train(small(**{"loss.feature_keep": 1.0}), tmp_path / "b")
    with pytest.raises(ConfigError, match="feature_keep=-1"):
        small(**{"loss.feature_keep": -1.0})


def test_per_channel_rounding_is_the_8_bit_artifacts_and_survives_folding() -> None:
    """Each output channel on 255 levels with its largest weight exact; rounding twice changes
    nothing; and a per-output-channel factor (BatchNorm folded by the deployment graph) commutes
    with it, which is why rounding the unfolded weights in training rounds what the artifact stores."""
    from meshpose_mobile.train.fake_quant import round_per_channel

    w = torch.randn(6, 4, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    q = round_per_channel(w)
    scale = w.abs().flatten(1).amax(1) / 127
    steps = q / scale.view(-1, 1, 1, 1)
    assert torch.allclose(steps, steps.round(), atol=1e-9) and int(steps.abs().max().round()) == 127
    assert float((q - w).abs().div(scale.view(-1, 1, 1, 1)).max()) <= 0.5 + 1e-9
    assert torch.equal(q.abs().flatten(1).amax(1), w.abs().flatten(1).amax(1))
    assert torch.allclose(round_per_channel(q), q, rtol=0, atol=1e-12)
    fold = torch.tensor([0.3, -2.0, 5.0, 1e-3, -0.7, 40.0], dtype=torch.float64).view(-1, 1, 1, 1)
    assert torch.allclose(round_per_channel(q * fold), q * fold, rtol=1e-12, atol=1e-15)


def test_fake_quant_trains_the_rounded_network_and_writes_rounded_weights(tmp_path: Path) -> None:
    from torch.nn.utils import parametrize

    from meshpose_mobile.checkpoint import load_checkpoint
    from meshpose_mobile.train import fake_quant
    from meshpose_mobile.train.fake_quant import round_per_channel
    from meshpose_mobile.train.loop import _build_model

    # The forward pass sees rounded weights; the gradient reaches the float ones unchanged.
    model = _build_model(small()).eval()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d | torch.nn.Conv2d)]
    assert fake_quant.attach(model, "int8") == len(convs) > 0
    assert parametrize.is_parametrized(model.heatmap, "weight")
    snapped = _build_model(small()).eval()
    snapped.load_state_dict(fake_quant.rounded_state_dict(model))
    image = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(1)) * 255
    out = model(image)["vertices"]
    with torch.no_grad():
        assert torch.allclose(out, snapped(image)["vertices"], atol=1e-4)
    out.sum().backward()
    grad = model.heatmap.parametrizations.weight.original.grad
    assert grad is not None and bool(grad.abs().sum() > 0)
    plain = fake_quant.plain_state_dict(model)
    assert "heatmap.weight" in plain and not any("parametrizations" in k for k in plain)

    # A run writes checkpoints that load as usual and hold weights already on the 8-bit grid,
    # and it resumes from its own state (which keeps the float weights).
    run = tmp_path / "run"
    train(small(fake_quant="int8", steps=2, eval_every=2, ckpt_every=1), run)
    for name in ("model.pt", "model-best.pt"):
        loaded = load_checkpoint(run / name)
        convs = [m for m in loaded.modules() if isinstance(m, torch.nn.Conv1d | torch.nn.Conv2d)]
        assert convs and all(torch.allclose(round_per_channel(m.weight), m.weight, atol=1e-7) for m in convs)
    res = train(small(fake_quant="int8", steps=3, eval_every=2, ckpt_every=1), run, resume=True)
    assert res["step"] == 3


def test_fake_int8_is_tflites_activation_grid() -> None:
    from meshpose_mobile.train.fake_quant import fake_int8

    x = torch.linspace(-3.0, 9.0, 1001)
    y = fake_int8(x, -2.0, 6.0)
    step = 8.0 / 255
    # 256 levels over the range, zero exact, values outside clamped to the ends.
    assert len(torch.unique(y)) == 256
    assert fake_int8(torch.zeros(1), -2.0, 6.0).item() == 0.0
    inside = (x >= -2.0) & (x <= 6.0)
    assert float((y - x)[inside].abs().max()) <= step / 2 + 1e-6
    assert abs(float(y.min()) + 2.0) < step and abs(float(y.max()) - 6.0) < step
    # A range that excludes zero is widened to include it (TFLite's nudge): a ReLU6 output's grid.
    assert torch.equal(fake_int8(x, 0.5, 6.0), fake_int8(x, 0.0, 6.0))


def test_activation_points_follow_tflites_fused_ops() -> None:
    from torch import fx, nn

    from meshpose_mobile.train.fake_quant import activation_points

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)
            self.pw = nn.Conv2d(4, 4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a = torch.nn.functional.relu6(self.bn(self.conv(x)))  # conv + BN + ReLU6: one op
            b = self.pw(self.dw(a))  # two ops, two rounded outputs
            return torch.relu(a + b)  # add + ReLU: one op

    gm = fx.symbolic_trace(Block())
    names = [n.name for n in activation_points(gm)]
    assert names == ["x", "relu6", "dw", "pw", "relu"]


def test_int8_full_rounds_the_backbones_activations_and_keeps_the_export_float(tmp_path: Path) -> None:
    from meshpose_mobile.checkpoint import load_checkpoint
    from meshpose_mobile.train import fake_quant
    from meshpose_mobile.train.loop import _build_model

    torch.manual_seed(0)
    plain = _build_model(small()).eval()
    model = _build_model(small()).eval()
    model.load_state_dict(plain.state_dict())
    keys = set(plain.state_dict())
    assert fake_quant.attach(model, "int8_full") > 0
    traced = model.backbone.forward.__self__  # the graph module installed as the backbone's forward
    rounders = [m for m in traced.modules() if isinstance(m, fake_quant._RoundedActivation)]
    assert len(rounders) >= 3
    # No new state: the checkpoint keys are the plain model's, and the ranges are not saved.
    assert set(fake_quant.plain_state_dict(model)) == keys
    image = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(1)) * 255
    model.train()
    out = model(image)["vertices"]
    assert all(r.lo is not None and float(r.lo) <= float(r.hi) for r in rounders)
    out.sum().backward()
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    # Eval mode rounds with the ranges training saw, and the result is near, not equal to, float.
    model.eval()
    with torch.no_grad():
        rounded = model(image)["vertices"]
        again = model(image)["vertices"]
        snapped = _build_model(small()).eval()
        snapped.load_state_dict(fake_quant.rounded_state_dict(model))
        weights_only = snapped(image)["vertices"]
    assert torch.equal(rounded, again)
    assert 0 < float((rounded - weights_only).abs().max()) < 64
    # Deploying the model in training gives its checkpoint's graph (the rounded weights, once).
    with torch.no_grad():
        assert torch.allclose(model.deploy()(image[:1])[0], snapped.deploy()(image[:1])[0], atol=1e-4)
    # The deployment graph is traced from the class's forward, so it stays float (the export
    # calibrates and rounds its own activations); only the backbone's forward pass rounds them.
    acts = _build_model(small()).eval()
    acts.load_state_dict(plain.state_dict())
    assert fake_quant.attach_activations(acts.backbone) == len(rounders)
    with torch.no_grad():
        x = image[:1]
        assert float((acts(x)["vertices"] - plain(x)["vertices"]).abs().max()) > 0
        assert torch.allclose(acts.deploy()(x)[0], plain.deploy()(x)[0], atol=1e-5)

    run = tmp_path / "run"
    train(small(fake_quant="int8_full", steps=2, eval_every=2, ckpt_every=1), run)
    loaded = load_checkpoint(run / "model.pt")
    assert set(loaded.state_dict()) == keys
    assert train(small(fake_quant="int8_full", steps=3, eval_every=2, ckpt_every=1), run, resume=True)["step"] == 3


# ------------------------------------------------------------------------------------ CLI


def _cli(args: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(train_main, args)
    return res.exit_code, res.output


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    code, out = _cli(["--out", str(tmp_path / "r"), "--variant", "meshpose_tiny", "--lr", "-3"])
    assert code != 0 and out.strip().splitlines() == [
        "error: train config: optim.lr=-3.0 must be a finite number (0.0, 10.0]"
    ]
    code, out = _cli(["--out", str(tmp_path / "r"), "--train-data", str(tmp_path / "none")])
    assert code != 0 and out.startswith("error: train dataset not found") and "Traceback" not in out
    code, out = _cli(["--out", str(tmp_path / "r"), "--config", str(tmp_path / "none.toml")])
    assert code != 0 and out.startswith("error: config file not found")
    code, out = _cli(["--out", str(tmp_path / "r"), "--set", "optim.gamma=2"])
    assert code != 0 and "optim.gamma=2" in out


def test_print_config_needs_no_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`meshpose-train --config configs/blaze_cpu.toml --print-config` (docs/training.md) was refused
    for a missing --out, though printing writes nothing; a training run still needs one."""
    monkeypatch.chdir(tmp_path)
    config = Path(__file__).resolve().parents[1] / "configs" / "blaze_cpu.toml"
    code, out = _cli(["--config", str(config), "--print-config"])
    assert code == 0, out
    shown = json.loads(out)
    assert shown["variant"] == "meshpose_blaze" and shown["freeze_encoder"] is True
    assert shown["data"]["synth"]["appearance"] == "photo"
    code, out = _cli(["--variant", "meshpose_tiny", "--steps", "1"])
    assert code != 0 and out.strip().splitlines() == [
        "error: --out is required: pass the run folder, e.g. --out runs/my_run"
    ]
    code, out = _cli(["--variant", "meshpose_tiny", "--resume", "--print-config"])
    assert code != 0 and out.strip().splitlines() == ["error: --resume needs --out, the run folder to continue"]
    assert list(tmp_path.iterdir()) == []


def test_cli_trains_and_resumes(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(BASE))
    run = tmp_path / "r"
    code, out = _cli(["--config", str(cfg), "--out", str(run), "--steps", "2", "--no-progress"])
    assert code == 0, out
    assert "done: 2 steps" in out
    code, out = _cli(["--config", str(cfg), "--out", str(run), "--steps", "4", "--resume", "--no-progress"])
    assert code == 0, out
    assert read_metrics(run, "eval")[-1]["step"] == 4
    code, out = _cli(["--config", str(cfg), "--out", str(run), "--steps", "4", "--resume", "--no-progress"])
    assert code == 0 and "already finished 4 steps" in out
    assert [e["step"] for e in read_metrics(run, "eval")] == [0, 2, 3, 4]  # nothing re-logged
    code, out = _cli(["--config", str(cfg), "--out", str(run), "--print-config"])
    assert code == 0 and json.loads(out)["variant"] == "meshpose_tiny"


@pytest.mark.export
def test_trained_checkpoint_feeds_meshpose_export(straight_run: Path, tmp_path: Path) -> None:
    from meshpose_export.cli.export_cli import main as export_main

    res = CliRunner().invoke(
        export_main, ["--ckpt", str(straight_run / "model.pt"), "--target", "onnx", "--out", str(tmp_path / "a")]
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["artifacts"][0]["passed"] is True


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path: Path) -> None:
    """DistributedDataParallel over gloo on CPU: two ranks split each global batch."""
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({**BASE, "steps": 2, "eval_every": 2}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
        "-m", "meshpose_mobile.train", "--config", str(cfg), "--out", str(tmp_path / "ddp"), "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    evals = read_metrics(tmp_path / "ddp", "eval")
    assert [e["step"] for e in evals] == [0, 2]
    assert (tmp_path / "ddp" / "model.pt").is_file()


# ------------------------------------------------------------------------------------ DensePose-COCO


def _densepose_folder(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The DensePose fixture, random photos of its sizes, and pseudo-GT for one of its persons."""
    from PIL import Image

    from meshpose_mobile.densepose import save_pseudo_gt
    from meshpose_mobile.topology import default_topology

    src = Path(__file__).parent / "data" / "densepose_fixture.json"
    data = json.loads(src.read_text())
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for img in data["images"]:
        pixels = rng.integers(0, 255, (img["height"], img["width"], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / img["file_name"], format="PNG")
    ann = tmp_path / "dp.json"
    ann.write_text(json.dumps(data))
    topo = default_topology()
    verts = topo.template[None] * np.array([300.0, -300.0, 300.0]) + np.array([275.0, 240.0, 0.0])
    pseudo = tmp_path / "pseudo.npz"
    save_pseudo_gt(pseudo, [101], verts.astype(np.float32), weight=np.array([0.5]), topology=topo)
    return ann, images, pseudo


def test_trains_on_densepose_coco_with_pseudo_gt(tmp_path: Path) -> None:
    from meshpose_mobile.registry import make_config
    from meshpose_mobile.topology import default_topology
    from meshpose_mobile.train.data import Collate
    from meshpose_mobile.train.densepose_source import DensePoseSource

    ann, images, pseudo = _densepose_folder(tmp_path)
    topo = default_topology()
    cfg = make_config("meshpose_tiny", topo)
    src = DensePoseSource(ann, images, cfg, topo, pseudo_gt=pseudo)
    assert len(src) == 2  # the fixture's third person is a plain COCO one (no dp points)
    batch = Collate(cfg, 8)([src[i] for i in range(2)])
    assert batch["image"].shape == (2, 3, 64, 48)
    ids = [a.id for a in src.items]
    assert batch["vertices_mask"].tolist() == [0.5 if i == 101 else 0.0 for i in ids]  # pseudo-GT weight
    assert batch["dp_mask"].sum() > 0 and batch["joints_3d_mask"].sum() == 0
    # Points land where the crop contract puts them.
    a0 = src.items[0]
    _, affine = src.contract.crop(np.zeros((480, 640, 3), np.float32), a0.bbox)
    n = a0.num_points
    np.testing.assert_allclose(batch["dp_pixels"][0, :n].numpy(), src.contract.to_crop(a0.points, affine), atol=1e-4)
    # The part of each crop that shows the photo, as the crop's own border pixels say (0 there);
    # the second person's crop reaches past the top of its photo.
    for i, ann_i in enumerate(src.items):
        info = src.dataset.images[ann_i.image_id]
        crop, _ = src.contract.crop(np.full((info.height, info.width, 3), 255.0, np.float32), ann_i.bbox)
        ys, xs = np.nonzero(crop[..., 0] > 127)
        shown = (xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5)
        assert batch["picture_box"][i].tolist() == pytest.approx(shown, abs=0.51)
    assert batch["picture_box"][1, 1] > 0

    overrides = {"data.train": str(ann), "data.images": str(images), "data.pseudo_gt": str(pseudo)}
    overrides.update({"data.val": str(ann), "data.val_images": str(images), "data.val_pseudo_gt": str(pseudo)})
    overrides.update({"steps": 2, "batch_size": 2})
    res = train(small(**overrides), tmp_path / "run")
    assert res["step"] == 2
    for key in ("dp_part_acc", "dp_uv_err", "v2d_px", "loss_bary", "loss_vertex"):
        assert math.isfinite(res[key]), key
    assert "mpjpe_mm" not in res  # no 3D joints in these labels


def test_densepose_source_errors(tmp_path: Path) -> None:
    ann, images, _ = _densepose_folder(tmp_path)
    with pytest.raises(DataError, match=r"set data\.images"):
        train(small(**{"data.train": str(ann)}), tmp_path / "r1")
    with pytest.raises(DataError, match="image folder not found"):
        train(small(**{"data.train": str(ann), "data.images": str(tmp_path / "none")}), tmp_path / "r2")
    with pytest.raises(DataError, match="DensePose-COCO file not found"):
        train(small(**{"data.val": str(tmp_path / "x.json")}), tmp_path / "r3")
    (images / "000000000002.jpg").unlink()
    with pytest.raises(DataError, match=r"000000000002\.jpg .* not found"):
        train(small(**{"data.train": str(ann), "data.images": str(images)}), tmp_path / "r4")


def test_gain_calibration_picks_the_lowest_gain_within_tolerance(tiny_model, tmp_path: Path) -> None:
    """`choose_gain` scores every factor of the training gain on validation bodies, keeps the model's
    own gain, and picks the lowest one within the tolerance; `calibrate_decode.py --only gain` writes
    a copy that decodes with it and holds the same tensors (meshpose_mobile/train/calibrate.py)."""
    import copy

    from meshpose_mobile.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
    from meshpose_mobile.train.calibrate import choose_gain
    from meshpose_mobile.train.data import validation_bodies

    model = copy.deepcopy(tiny_model).eval()
    config = TrainConfig()
    bodies = validation_bodies(model, config, 4)
    base = model.config.gain
    free = choose_gain(model, bodies, config, factors=(1.0, 0.5, 0.25), tolerance=1e9)
    assert [g for g, _ in free.scores] == [base, base * 0.5, base * 0.25]
    assert free.gain == base * 0.25 and model.config.gain == base  # the model keeps its gain
    strict = choose_gain(model, bodies, config, factors=(1.0, 0.5, 0.25), tolerance=-1.0)
    assert strict.gain == base  # nothing is within a negative tolerance: the training gain stays
    scores = dict(free.scores)
    within = [g for g, v in free.scores if v <= scores[base] * 1.02]
    assert choose_gain(model, bodies, config, factors=(1.0, 0.5, 0.25), tolerance=0.02).gain == min(within)
    assert all(math.isfinite(v) and v > 0 for v in scores.values())
    # A fixed gain overrides the rule, is scored beside the factors (its score is the record's), and
    # the record says why and what the rule chose; a fixed gain without a reason is refused.
    fixed = choose_gain(model, bodies, config, factors=(1.0, 0.5), tolerance=1e9, fixed=base * 0.3, fixed_why="jitter")
    assert fixed.gain == base * 0.3 and fixed.rule_gain == base * 0.5 and len(fixed.scores) == 3
    record = fixed.to_dict()
    assert record["gain"] == base * 0.3 and "jitter" in record["rule"] and f"{base * 0.5:g}" in record["rule"]
    assert any(abs(e["gain"] - base * 0.3) < 1e-9 for e in record["scores"])
    assert len(choose_gain(model, bodies, config, factors=(1.0, 0.5), fixed=base * 0.5, fixed_why="x").scores) == 2
    for bad, why in ((0.0, "x"), (float("nan"), "x"), (2.0, " ")):
        with pytest.raises(ValueError, match="fixed gain"):
            choose_gain(model, bodies, config, fixed=bad, fixed_why=why)

    calibrate_decode = load_benchmark("calibrate_decode")

    src = save_checkpoint(tmp_path / "src.pt", model, extra={"note": "kept"})
    out = tmp_path / "gain.pt"
    threads = torch.get_num_threads()
    try:
        assert calibrate_decode.main(["--model", str(src), "--count", "4", "--only", "gain", "--out", str(out)]) == 0
        fixed_out = tmp_path / "fixed.pt"
        steady = ["--gain", str(base * 0.3), "--gain-why", "steadier"]
        assert (
            calibrate_decode.main(
                ["--model", str(src), "--count", "4", "--only", "gain", *steady, "--out", str(fixed_out)]
            )
            == 0
        )
        # a missing checkpoint, a folder as --out, a fixed gain without its reason or of 0: one line
        # and exit 2, before any scoring
        for args in (
            ["--model", str(tmp_path / "missing.pt")],
            ["--model", str(src), "--out", str(tmp_path)],
            ["--model", str(src), "--gain", "2"],
            ["--model", str(src), "--gain", "0", "--gain-why", "x"],
            ["--model", str(src), "--only", "fusion", *steady],
        ):
            with pytest.raises(SystemExit) as bad:
                calibrate_decode.main(args)
            assert bad.value.code == 2
    finally:
        torch.set_num_threads(threads)  # the script pins one thread for itself
    fixed_record = read_checkpoint(fixed_out)["extra"]["gain_calibration"]
    assert fixed_record["gain"] == base * 0.3 and "steadier" in fixed_record["rule"]
    assert load_checkpoint(fixed_out).config.gain == base * 0.3
    payload = read_checkpoint(out)
    assert payload["extra"]["note"] == "kept" and payload["extra"]["gain_calibration"]["validation_bodies"] == 4
    assert "fusion_calibration" not in payload["extra"]
    chosen = payload["extra"]["gain_calibration"]["gain"]
    calibrated = load_checkpoint(out)
    assert calibrated.config.gain == chosen and calibrated.config.fusion_shift == 0.0
    assert all(
        torch.equal(a, b) for a, b in zip(calibrated.state_dict().values(), model.state_dict().values(), strict=True)
    )


def test_fusion_shift_rule_and_its_copy(tiny_model, tmp_path: Path) -> None:
    """`choose_fusion_shift` scores each shift on validation bodies, keeps the model's own shift, and
    picks the lowest whole-mesh error among the shifts no worse on the in-crop vertices;
    `calibrate_decode.py` writes a copy with both numbers chosen (meshpose_mobile/train/calibrate.py)."""
    import copy

    from meshpose_mobile.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
    from meshpose_mobile.train.calibrate import FUSION_SHIFTS, choose_fusion_shift
    from meshpose_mobile.train.data import validation_bodies

    assert FUSION_SHIFTS[0] == 0.0 and list(FUSION_SHIFTS) == sorted(FUSION_SHIFTS)
    model = copy.deepcopy(tiny_model).eval()
    config = TrainConfig()
    bodies = validation_bodies(model, config, 4)
    choice = choose_fusion_shift(model, bodies, config, shifts=(0.0, 2.0, -2.0))
    assert [d for d, _, _ in choice.scores] == [0.0, 2.0, -2.0] and model.config.fusion_shift == 0.0
    allowed = [(a, d) for d, a, v in choice.scores if v <= choice.scores[0][2]]
    assert choice.shift == min(allowed)[1]
    # the shift moves only Eq. 7's weight: the heatmap positions, r and the visibility output stay
    shifted = copy.deepcopy(model)
    shifted.config = dataclasses.replace(model.config, fusion_shift=2.0)
    image = torch.rand(1, 3, model.config.input_height, model.config.input_width) * 255
    with torch.no_grad():
        a, b = model(image), shifted(image)
    for key in ("vertices_2d", "regressed", "visibility"):
        assert torch.equal(a[key], b[key]), key
    w = torch.sigmoid(a["visibility_logits"] + 2.0).unsqueeze(-1)
    torch.testing.assert_close(b["vertices"][..., :2], w * a["vertices_2d"] + (1 - w) * a["regressed"][..., :2])
    torch.testing.assert_close(b["vertices"][..., 2], a["vertices"][..., 2])

    calibrate_decode = load_benchmark("calibrate_decode")

    src = save_checkpoint(tmp_path / "src.pt", model)
    out = tmp_path / "cal.pt"
    threads = torch.get_num_threads()
    try:
        assert calibrate_decode.main(["--model", str(src), "--count", "4", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    extra = read_checkpoint(out)["extra"]
    calibrated = load_checkpoint(out)
    assert calibrated.config.fusion_shift == extra["fusion_calibration"]["fusion_shift"]
    assert calibrated.config.gain == extra["gain_calibration"]["gain"]
    assert len(extra["fusion_calibration"]["scores"]) == len(FUSION_SHIFTS)


def test_ship_blaze_calibrates_the_decoding_of_what_it_ships(tiny_model, tmp_path: Path) -> None:
    """benchmarks/ship_blaze.py re-chooses the fusion shift and the gain before writing the float16
    file, and its record (in the .pt and its JSON twin) keeps both; --gain-bodies 0 keeps them."""
    from meshpose_mobile.checkpoint import load_checkpoint, save_checkpoint

    ship_blaze = load_benchmark("ship_blaze")

    src = save_checkpoint(tmp_path / "src.pt", tiny_model)
    shipped = ship_blaze.ship(src, {"note": "test"}, tmp_path / "w" / "m.pt", gain_bodies=4)
    twin = json.loads(shipped.with_suffix(".json").read_text())
    record = twin["gain_calibration"]
    assert record["validation_bodies"] == 4 and len(record["scores"]) >= 2
    assert load_checkpoint(shipped).config.gain == record["gain"]
    assert load_checkpoint(shipped).config.fusion_shift == twin["fusion_calibration"]["fusion_shift"]
    kept = ship_blaze.ship(src, {"note": "test"}, tmp_path / "w" / "k.pt", gain_bodies=0)
    assert load_checkpoint(kept).config.gain == tiny_model.config.gain
    assert load_checkpoint(kept).config.fusion_shift == 0.0
    assert not {"gain_calibration", "fusion_calibration"} & set(json.loads(kept.with_suffix(".json").read_text()))
    # A fixed gain lands in the file and its record; its bad forms are one line and exit 2 before
    # any file is read or written.
    fixed = ship_blaze.ship(src, {}, tmp_path / "w" / "f.pt", gain_bodies=4, fixed_gain=1.5, fixed_gain_why="test")
    assert load_checkpoint(fixed).config.gain == 1.5
    assert "test" in json.loads(fixed.with_suffix(".json").read_text())["gain_calibration"]["rule"]
    common = ["ship_blaze.py", "--ckpt", str(tmp_path / "none.pt"), "--metrics", str(tmp_path / "none.jsonl")]
    for args in (
        ["--gain", "0", "--gain-why", "x"],
        ["--gain", "2"],
        ["--gain", "2", "--gain-why", "x", "--gain-bodies", "0"],
    ):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.argv", [*common, *args, "--out", str(tmp_path / "bad" / "m.pt")])
            with pytest.raises(SystemExit) as bad:
                ship_blaze.main()
        assert bad.value.code == 2
    assert not (tmp_path / "bad").exists()


def test_init_takes_decode_overrides_and_refuses_layer_changes(tmp_path) -> None:
    """`[model]` with `init`: a shipped file carries the decode chosen after training (gain, fusion
    shift), and a further stage trains at the training values; until stop 33 the overrides were
    dropped without a word. Ones that change a layer are refused in one line."""
    from meshpose_mobile.checkpoint import save_checkpoint
    from meshpose_mobile.train.loop import _build_model

    base = _build_model(small())
    ckpt = save_checkpoint(tmp_path / "init.pt", base)
    model = _build_model(small(init=str(ckpt), model={"gain": 3.5, "fusion_shift": 1.5}))
    assert (model.config.gain, model.config.fusion_shift) == (3.5, 1.5)
    for key, value in base.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    again = _build_model(small(init=str(ckpt)))
    assert again.config == base.config
    with pytest.raises(ConfigError, match=r"model overrides \(head_mid\) change the layers"):
        _build_model(small(init=str(ckpt), model={"head_mid": base.config.head_mid + 2}))


def test_gpu_next_script_runs_both_phases_and_packs_what_comes_back(tmp_path: Path) -> None:
    """benchmarks/gpu_next.sh is for a lent GPU's few minutes, where a broken script costs the whole
    loan: here both phases run one step of 2 on the CPU, phase 2 starts from phase 1's weights, and
    each phase's float16 weights come back loadable."""
    from meshpose_mobile.checkpoint import load_checkpoint

    root = Path(__file__).resolve().parents[1]
    back, run = tmp_path / "back", tmp_path / "run"
    env = {
        **os.environ,
        "OUT": str(back),
        "RUN": str(run),
        "MAIN_S": "5",
        "TAIL_S": "5",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    args = ["--device", "cpu", "--steps", "1", "--batch-size", "2", "--set", "data.val_size=2", "--hard-stop", "600"]
    subprocess.run(["bash", str(root / "benchmarks" / "gpu_next.sh"), *args], env=env, check=True, capture_output=True)
    tail = json.loads((run / "tail" / "config.json").read_text())
    assert tail["init"] == str(run / "main" / "model.pt") and tail["optim"]["lr"] == 5e-5
    assert tail["data"]["synth"]["arms_down_prob"] == 0.5 and tail["fake_quant"] == "int8"
    for phase in ("main", "tail"):
        parts = sorted((back / phase).glob(f"{phase}_fp16.pt.part*"))
        assert parts and (back / phase / f"{phase}.metrics.jsonl").is_file()
        blob = tmp_path / f"{phase}.pt"
        blob.write_bytes(b"".join(p.read_bytes() for p in parts))
        assert load_checkpoint(blob).config.variant == "meshpose_blaze"
