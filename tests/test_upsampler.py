"""High-poly upsampler (method.md Sec. 6)."""

from __future__ import annotations

import json

import pytest
import torch

from meshpose_mobile.errors import ConfigError
from meshpose_mobile.upsampler import HighPolyUpsampler


def test_shapes_and_released_names() -> None:
    up = HighPolyUpsampler(518, 1723, 6890)
    names = {k: tuple(v.shape) for k, v in up.state_dict().items()}
    assert names == {
        "upsampling.weight": (1723, 518),
        "upsampling.bias": (1723,),
        "upsampling2.weight": (6890, 1723),
        "upsampling2.bias": (6890,),
    }
    mid, high = up.stages(torch.randn(2, 518, 3))
    assert mid.shape == (2, 1723, 3) and high.shape == (2, 6890, 3)


def test_per_axis_linear_maps() -> None:
    up = HighPolyUpsampler(4, 3, 5)
    low = torch.randn(1, 4, 3)
    expected = up.upsampling2(up.upsampling(low[0].t())).t()
    assert torch.allclose(up(low)[0], expected, atol=1e-6)


def test_centring_makes_translation_pass_through() -> None:
    """With centring, a translated input gives the translated output whenever the maps send the
    zero-centred shape to itself; here identity maps make that exact."""
    k = 6
    w = torch.zeros(k)
    w[:2] = 1.0
    up = HighPolyUpsampler(k, k, k, centre_weights=w)
    with torch.no_grad():
        for layer in (up.upsampling, up.upsampling2):
            layer.weight.copy_(torch.eye(k))
            layer.bias.zero_()
    low = torch.randn(1, k, 3)
    shift = torch.tensor([10.0, -4.0, 2.0])
    assert torch.allclose(up(low + shift), up(low) + shift, atol=1e-5)
    assert torch.allclose(up.centre(low)[0, 0], low[0, :2].mean(0), atol=1e-6)


def test_bad_centre_weights() -> None:
    with pytest.raises(ConfigError, match="entries"):
        HighPolyUpsampler(5, 4, 3, centre_weights=torch.ones(4))
    with pytest.raises(ConfigError, match="sum to 0"):
        HighPolyUpsampler(5, 4, 3, centre_weights=torch.zeros(5))


# ------------------------------------------------------------------------------ training


def test_upsampler_starts_as_the_barycentric_correspondence() -> None:
    import numpy as np

    from meshpose_mobile.topology import default_topology
    from meshpose_mobile.train.upsampler import init_upsampler

    topo = default_topology()
    up = init_upsampler(topo, None, seed=0)
    low = torch.randn(2, topo.num_vertices, 3, dtype=torch.float32) * 50 + 100
    np.testing.assert_allclose(up(low).detach().numpy(), topo.hires_from_lowpoly(low.numpy()), atol=1e-3)


def test_upsampler_training_beats_its_start_and_round_trips(tmp_path) -> None:
    from click.testing import CliRunner

    from meshpose_mobile.checkpoint import load_upsampler
    from meshpose_mobile.train.cli import train_upsampler_main

    res = CliRunner().invoke(
        train_upsampler_main,
        ["--out", str(tmp_path), "--steps", "40", "--train-size", "24", "--val-size", "8", "--lr", "1e-4"],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())["log"]
    assert metrics[0]["val_mm"] == pytest.approx(metrics[0]["baseline_mm"], rel=1e-4)
    # The objective: the high-poly mesh from noisy low-poly input.
    assert metrics[-1]["val_noisy_mm"] < metrics[0]["val_noisy_mm"]
    up = load_upsampler(tmp_path / "upsampler.pt")
    assert up.num_low == 615 and up.upsampling2.out_features == 13348
    res = CliRunner().invoke(train_upsampler_main, ["--out", str(tmp_path / "x"), "--noise", "0.9"])
    assert res.exit_code != 0 and res.output.startswith("error: upsampler config: noise=0.9")
