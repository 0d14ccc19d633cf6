"""benchmarks/sensitivity.py: the one-grey-level sensitivity measure (issue 22) on cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from benchmark_scripts import load_benchmark


class _PixelProbe(torch.nn.Module):
    """Vertex 0 sits at x = (pixel (0, 0) of channel 0) * 3, vertex 1 never moves: known moves."""

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor]:
        v = torch.zeros(1, 2, 3)
        v[0, 0, 0] = image[0, 0, 0, 0] * 3.0
        return (v,)


def test_moves_are_the_noise_through_a_known_graph() -> None:
    sens = load_benchmark("sensitivity")
    images = np.full((2, 3, 4, 4), 128.0, dtype=np.float32)
    images[1, 0, 0, 0] = 255.0  # clipped from above: it can only move down
    moves = sens.grey_level_moves(_PixelProbe(), images, trials=20, seed=1)
    assert moves.shape == (2, 20, 2)
    assert set(np.unique(moves[:, :, 0])) == {0.0, 3.0}  # one grey level -> 3 px, or none
    assert np.all(moves[:, :, 1] == 0.0)
    again = sens.grey_level_moves(_PixelProbe(), images, trials=20, seed=1)
    np.testing.assert_array_equal(moves, again)  # seeded
    s = sens.summarise(moves)
    assert s["max_px"] == 3.0 and s["inputs"] == 2 and s["trials"] == 20
    assert s["max_px"] >= s["p999_px"] >= s["p99_px"] >= s["mean_px"] > 0.0
    # Both inputs move vertex 0 by 3 px in some draw: over 2.5 px, not over the 5 px aim.
    assert s["inputs_over"] == 0 and s["over_px"] == 5.0
    assert sens.summarise(moves, over_px=2.5)["inputs_over"] == 2
    # One input's worst draw is the count's unit, not its draws: 1 of 2 over 4 px.
    tail = moves.copy()
    tail[1, :5, 1] = 4.5
    assert sens.summarise(tail, over_px=4.0)["inputs_over"] == 1


def test_measures_a_deployment_graph_on_photo_and_synthetic_crops() -> None:
    from meshpose_mobile.seeded import seeded_model

    sens = load_benchmark("sensitivity")
    model = seeded_model("meshpose_tiny")
    graph = model.deploy().eval()
    photos, names = sens.photo_crops(model.config)
    assert photos.shape[1:] == (3, 64, 48) and len(names) == len(photos) == 4
    assert np.array_equal(photos, np.rint(photos)) and photos.min() >= 0 and photos.max() <= 255
    synth = sens.synthetic_crops(model.config, model.topology, 2, "photo")
    assert synth.shape == (2, 3, 64, 48)
    moves = sens.grey_level_moves(graph, np.concatenate([photos[:1], synth]), trials=2)
    assert moves.shape == (3, 2, model.config.num_vertices)
    s = sens.summarise(moves)
    assert np.isfinite(s["max_px"]) and s["max_px"] > 0.0  # a real network does respond


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "0"], "at least 1"),
        (["--photo-trials", "0"], "at least 1"),
        (["--synthetic", "-1"], "at least 0"),
        (["--over", "0"], "above 0 px"),
        (["--over", "nan"], "above 0 px"),
        (["--gain", "0"], "above 0"),
        (["--fusion-shift", "inf"], "finite"),
    ],
)
def test_bad_counts_are_one_line_and_exit_2(args: list[str], message: str, monkeypatch, capsys) -> None:
    sens = load_benchmark("sensitivity")
    monkeypatch.setattr("sys.argv", ["sensitivity.py", "--model", "meshpose_tiny", *args])
    with pytest.raises(SystemExit) as bad:
        sens.main()
    assert bad.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in err and "Traceback" not in err


def test_where_over_counts_regions_per_vertex_and_inputs_per_framing() -> None:
    sens = load_benchmark("sensitivity")
    # 3 inputs x 2 draws x 4 vertices: a hand vertex (part 3), a foot (5), two head vertices (23, 24).
    parts = np.array([3, 5, 23, 24])
    moves = np.zeros((3, 2, 4))
    moves[0, 1, 0] = 6.0  # input 0: the hand, in its second draw
    moves[1, 0, 0] = 9.0  # input 1: the hand and one head vertex
    moves[1, 1, 2] = 5.5
    moves[2, :, 1] = 4.0  # input 2: under the 5 px line
    where = sens.where_over(moves, parts, ["full", "selfie", "full"], 5.0)
    regions = where["pairs_per_vertex_by_region"]
    assert regions["hands"] == 2.0 and regions["feet"] == 0.0 and regions["head"] == 0.5
    assert regions["torso"] == 0.0  # no vertex of the region: 0, not a division by zero
    assert where["inputs_over_by_framing"] == {"full": "1 of 2", "selfie": "1 of 1"}
    assert where["framings"] == ["full", "selfie", "full"]
    assert "pairs_per_vertex_by_region" not in sens.where_over(moves, None, ["full"] * 3, 5.0)


def test_spread_of_movers_splits_the_pairs_at_the_line() -> None:
    sens = load_benchmark("sensitivity")
    moves = np.zeros((2, 3, 2))
    moves[0, 2, 1] = 7.0  # input 0, vertex 1 moves past 5 px in one draw
    spread = np.array([[10.0, 60.0], [20.0, 30.0]])
    s = sens.spread_of_movers(moves, spread, 5.0)
    assert s["spread_px_movers"] == 60.0 and s["spread_px_rest"] == 20.0 and s["spread_px_mean"] == 30.0
    assert sens.spread_of_movers(moves, spread, 8.0)["spread_px_movers"] is None


def test_decode_spread_is_the_training_term_at_the_models_gain() -> None:
    from meshpose_mobile.decode import grid_rows
    from meshpose_mobile.losses import heatmap_spread
    from meshpose_mobile.seeded import seeded_model
    from meshpose_mobile.train.calibrate import with_gain

    sens = load_benchmark("sensitivity")
    model = seeded_model("meshpose_tiny").eval()
    images = sens.synthetic_crops(model.config, model.topology, 2, "photo")
    spread = sens.decode_spread(model, images)
    assert spread.shape == (2, model.config.num_vertices) and np.all(spread >= 0.0)
    with torch.no_grad():
        scores = model(torch.from_numpy(images[1:2]))["heatmaps"]
    ones = torch.ones(scores.shape[:2])
    expected = heatmap_spread(scores, model.config.gain, grid_rows(model.config), ones, reduction="none")
    np.testing.assert_allclose(spread[1], expected[0].numpy(), rtol=1e-5)
    # A lower gain widens every distribution: the spread follows the gain the model decodes with.
    assert sens.decode_spread(with_gain(model, model.config.gain / 4), images).mean() > spread.mean()
