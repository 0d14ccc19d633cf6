"""benchmarks/blind_baseline.py: a model copy whose mesh ignores the picture (the real-photo floor)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from benchmark_scripts import load_benchmark

from meshpose_mobile.checkpoint import load_checkpoint
from meshpose_mobile.weights import shipped_path


def test_mean_body_averages_the_chosen_framing_with_depth_centred() -> None:
    blind = load_benchmark("blind_baseline")
    a = {"vertices": np.array([[0.0, 0.0, 1.0], [2.0, 4.0, 3.0]]), "framing": 0}  # full
    b = {"vertices": np.array([[4.0, 8.0, 0.0], [6.0, 8.0, 10.0]]), "framing": 1}  # selfie
    mean, n = blind.mean_body([a, b], "full")
    assert n == 1
    np.testing.assert_allclose(mean, [[0.0, 0.0, -1.0], [2.0, 4.0, 1.0]])
    mean, n = blind.mean_body([a, b], "all")
    assert n == 2
    np.testing.assert_allclose(mean, [[2.0, 4.0, -3.0], [4.0, 6.0, 3.0]])
    with pytest.raises(SystemExit, match="framed 'cut'"):
        blind.mean_body([a, b], "cut")


def test_blind_copy_puts_every_vertex_at_the_mean_whatever_the_picture() -> None:
    blind = load_benchmark("blind_baseline")
    model = load_checkpoint(shipped_path("meshpose_blaze")).float().eval()
    cfg = model.config
    rng = np.random.default_rng(0)
    # A mean inside the decodable range (bins 1/64 of it): x in the crop, y above its bottom.
    mean = np.stack(
        [
            rng.uniform(20, cfg.input_width - 20, 615),
            rng.uniform(20, cfg.input_height - 20, 615),
            rng.normal(0, 30, 615),
        ],
        axis=-1,
    )[: model.topology.num_vertices]
    blind.make_blind(model, mean)
    with torch.no_grad():
        outs = [model(torch.rand(1, 3, cfg.input_height, cfg.input_width) * 255) for _ in range(2)]
    for out in outs:
        np.testing.assert_allclose(out["vertices"][0, :, :2].numpy(), mean[:, :2], atol=0.05)
        assert float(out["visibility"].max()) < 1e-20
    torch.testing.assert_close(outs[0]["vertices"], outs[1]["vertices"])
