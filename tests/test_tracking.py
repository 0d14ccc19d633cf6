"""Tracker and One-Euro filter: the rules of meshpose_export.runtime.tracking, checked one by one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meshpose_export.runtime.tracking import (
    OneEuroFilter,
    OneEuroParams,
    PersonTracker,
    TrackerParams,
    aspect_box,
    box_from_vertices,
    box_iou,
    greedy_match,
    one_euro_step,
    smoothing_alpha,
    tracking_quality,
)

# --------------------------------------------------------------------------- One-Euro


def _reference_scalar(params: OneEuroParams, xs: list[float], ts: list[float]) -> list[float]:
    """The formulas of the module docstring, written out for one scalar with plain floats."""
    out, x_prev, dx_prev, t_prev = [], None, 0.0, None
    for x, t in zip(xs, ts, strict=True):
        if x_prev is None:
            x_prev, t_prev = x, t
            out.append(x)
            continue
        dt = t - t_prev
        a_d = 1.0 / (1.0 + (1.0 / (2 * math.pi * params.d_cutoff)) / dt)
        dx_prev = a_d * ((x - x_prev) / dt) + (1 - a_d) * dx_prev
        cutoff = params.min_cutoff + params.beta * abs(dx_prev)
        a = 1.0 / (1.0 + (1.0 / (2 * math.pi * cutoff)) / dt)
        x_prev = a * x + (1 - a) * x_prev
        t_prev = t
        out.append(x_prev)
    return out


def test_one_euro_matches_scalar_formulas_elementwise():
    rng = np.random.default_rng(0)
    params = OneEuroParams(min_cutoff=1.5, beta=0.3, d_cutoff=2.0)
    ts = list(np.cumsum(rng.uniform(0.02, 0.05, size=20)))
    xs = rng.normal(size=(20, 4, 3)) * 10
    f = OneEuroFilter(params)
    got = np.stack([f(x, t) for x, t in zip(xs, ts, strict=True)])
    for k in range(4):
        for d in range(3):
            ref = _reference_scalar(params, list(xs[:, k, d]), ts)
            np.testing.assert_allclose(got[:, k, d], ref, rtol=0, atol=1e-12)


def test_one_euro_first_sample_passes_through_and_constant_stays():
    f = OneEuroFilter(OneEuroParams(min_cutoff=0.5, beta=1.0))
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(f(x, 0.0), x)
    for i in range(1, 5):
        np.testing.assert_allclose(f(x, i / 30), x, atol=1e-12)


def test_one_euro_alpha_and_value_scale():
    # alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi f): at f = 1 / (2 pi dt), tau = dt, alpha = 1/2.
    dt = 1 / 30
    assert float(smoothing_alpha(1 / (2 * math.pi * dt), dt)) == pytest.approx(0.5)
    p = OneEuroParams(min_cutoff=1.0, beta=2.0, d_cutoff=1.0)
    _, s = one_euro_step(p, None, np.zeros((1, 1)), 0.0)
    y1, s1 = one_euro_step(p, s, np.full((1, 1), 100.0), dt, value_scale=100.0)
    y2, _ = one_euro_step(p, s, np.full((1, 1), 1.0), dt, value_scale=1.0)
    # Scaling values and value_scale together scales the output: beta sees the same speed.
    np.testing.assert_allclose(y1, 100.0 * y2, rtol=1e-12)
    a_d = 1 / (1 + (1 / (2 * math.pi)) / dt)
    np.testing.assert_allclose(s1.dx_hat, a_d * 30.0, rtol=1e-12)


def test_one_euro_ignores_non_increasing_timestamps():
    p = OneEuroParams()
    y0, s0 = one_euro_step(p, None, np.ones((2, 2)), 1.0)
    y1, s1 = one_euro_step(p, s0, np.full((2, 2), 5.0), 1.0)
    assert s1 is s0
    np.testing.assert_array_equal(y1, y0)
    with pytest.raises(ValueError, match="shape"):
        one_euro_step(p, s0, np.ones((3, 2)), 2.0)


def test_one_euro_beta_reduces_lag_on_a_ramp():
    ts = np.arange(60) / 30
    ramp = (ts * 100.0)[:, None, None]
    lags = []
    for beta in (0.0, 1.0):
        f = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=beta))
        y = np.array([f(x, t)[0, 0] for x, t in zip(ramp, ts, strict=True)])
        lags.append(float(ramp[-1, 0, 0] - y[-1]))
    assert lags[1] < 0.25 * lags[0]


@pytest.mark.parametrize("kw", [{"min_cutoff": 0.0}, {"d_cutoff": -1.0}, {"beta": -0.1}, {"min_cutoff": math.nan}])
def test_one_euro_params_validated(kw):
    with pytest.raises(ValueError):
        OneEuroParams(**kw)


# --------------------------------------------------------------------------- boxes and matching


def test_aspect_box_and_iou():
    assert aspect_box(50, 50, 20, 40, aspect=1.0) == (30.0, 30.0, 40.0, 40.0)
    assert aspect_box(50, 50, 20, 40, aspect=0.75, scale=2.0) == (20.0, 10.0, 60.0, 80.0)
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0
    assert box_iou((0, 0, 0, 10), (0, 0, 10, 10)) == 0.0


def test_greedy_match_highest_iou_first_and_deterministic_ties():
    tracks = [(0, 0, 10, 10), (8, 0, 10, 10)]
    dets = [(7, 0, 10, 10), (100, 100, 5, 5)]
    # Track 1 overlaps det 0 more than track 0 does: it wins; track 0 stays unmatched.
    assert greedy_match(tracks, dets, 0.1) == [(1, 0)]
    # Equal IoU: the lower track index wins, then the lower detection index.
    tied = [(0, 0, 10, 10), (0, 0, 10, 10)]
    assert greedy_match(tied, [(0, 0, 10, 10)], 0.5) == [(0, 0)]
    assert greedy_match([(0, 0, 10, 10)], tied, 0.5) == [(0, 0)]
    assert greedy_match(tied, tied, 0.5) == [(0, 0), (1, 1)]
    assert greedy_match(tracks, [], 0.3) == []
    assert greedy_match([], dets, 0.3) == []


def test_box_from_vertices_uses_visible_vertices_only():
    p = TrackerParams(min_visible=3, visibility_threshold=0.5)
    xy = np.array([[10.0, 10.0], [30.0, 50.0], [20.0, 30.0], [500.0, 500.0]])
    vis = np.array([0.9, 0.5, 0.7, 0.49])
    box = box_from_vertices(xy, vis, p, aspect=1.0)
    assert box == aspect_box(20.0, 30.0, 20.0, 40.0, 1.0)
    assert box_from_vertices(xy, np.array([0.9, 0.9, 0.1, 0.1]), p, 1.0) is None  # too few visible
    assert box_from_vertices(np.zeros((4, 2)), np.ones(4), p, 1.0) is None  # degenerate spread
    count, mean = tracking_quality(vis, p)
    assert count == 3 and mean == pytest.approx((0.9 + 0.5 + 0.7 + 0.49) / 4, abs=1e-15)


# --------------------------------------------------------------------------- tracker


def _body(cx: float, cy: float, k: int = 40, vis: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """A fake mesh: k vertices spread over a 40 x 100 body centred at (cx, cy)."""
    u = np.linspace(-1, 1, k)
    xy = np.stack([cx + 20 * np.sin(7 * u), cy + 50 * u], axis=1)
    return xy, np.full(k, vis)


def test_tracker_follows_vertices_and_redetects_every_n():
    p = TrackerParams(redetect_every=3, min_visible=10)
    tr = PersonTracker(p, aspect=0.75)
    detect_frames = []
    for f in range(7):
        if tr.begin_frame():
            detect_frames.append(f)
            tr.apply_detections([aspect_box(100 + 5 * f, 100, 40, 100, 0.75)], [0.9])
        (t,) = tr.active_tracks()
        assert t.id == 0
        box = tr.apply_mesh(t.id, *_body(100 + 5 * f, 100))
        assert box is not None and t.box == box and t.box_source == "vertices"
        tr.end_frame()
    assert detect_frames == [0, 3, 6]
    assert tr.state.next_id == 1


def test_tracker_low_visibility_flags_redetection_and_takes_the_detection_box():
    p = TrackerParams(redetect_every=0, min_visible=10, min_mean_visibility=0.3)
    tr = PersonTracker(p, aspect=1.0)
    assert tr.begin_frame()
    tr.apply_detections([(50, 50, 100, 100)], [0.8])
    tr.apply_mesh(0, *_body(100, 100, vis=0.2))  # almost nothing visible
    tr.end_frame()
    assert tr.state.tracks[0].flagged and tr.state.tracks[0].box == (50, 50, 100, 100)
    assert tr.begin_frame()  # flagged -> detector runs
    tr.apply_detections([(60, 50, 100, 100)], [0.7])
    t = tr.state.tracks[0]
    assert t.id == 0 and not t.flagged and t.box == (60.0, 50.0, 100.0, 100.0) and t.box_source == "detector"
    tr.apply_mesh(0, *_body(110, 100))
    tr.end_frame()
    assert not tr.begin_frame()  # redetect_every = 0 and all is well: no detection


def test_tracker_matched_healthy_track_keeps_its_vertex_box():
    tr = PersonTracker(TrackerParams(redetect_every=1, min_visible=10), aspect=1.0)
    tr.begin_frame()
    tr.apply_detections([(50, 50, 100, 100)], [0.8])
    own = tr.apply_mesh(0, *_body(100, 100))
    tr.end_frame()
    assert tr.begin_frame()
    tr.apply_detections([(55, 50, 100, 100)], [0.9])
    assert tr.state.tracks[0].box == own


def test_tracker_new_people_missed_and_dropped():
    p = TrackerParams(redetect_every=1, max_missed=2, max_people=2, min_visible=10)
    tr = PersonTracker(p, aspect=1.0)
    a, b, c = (0, 0, 50, 50), (200, 0, 50, 50), (400, 0, 50, 50)
    tr.begin_frame()
    tr.apply_detections([a, b, c], [0.5, 0.9, 0.7])  # max_people = 2: the two best open tracks
    assert [(t.id, t.box) for t in tr.state.tracks] == [(0, b), (1, c)]
    tr.end_frame()
    for f in range(3):  # person at c leaves: missed 1, 2 (lost, kept), 3 (> max_missed: dropped)
        tr.begin_frame()
        tr.apply_detections([b], [0.9])
        assert [t.id for t in tr.active_tracks()] == [0]
        tr.end_frame()
        assert [t.id for t in tr.state.tracks] == ([0, 1] if f < 2 else [0])
    tr.begin_frame()
    tr.apply_detections([b, a], [0.9, 0.5])  # someone new: next id, never reused
    assert [t.id for t in tr.state.tracks] == [0, 2]


def test_tracker_lost_track_found_again_keeps_its_id():
    tr = PersonTracker(TrackerParams(redetect_every=0, max_missed=3, min_visible=10), aspect=1.0)
    tr.begin_frame()
    tr.apply_detections([(0, 0, 50, 50)], [0.9])
    tr.end_frame()
    assert not tr.begin_frame()
    tr.end_frame()
    tr.state.last_detection_frame = -1  # force the next frame to detect
    assert tr.begin_frame()
    tr.apply_detections([], [])
    assert tr.active_tracks() == [] and tr.state.tracks[0].missed == 1
    tr.end_frame()
    assert tr.begin_frame()  # a lost track keeps the detector running
    tr.apply_detections([(2, 0, 50, 50)], [0.9])
    assert [t.id for t in tr.active_tracks()] == [0]


def test_tracker_duplicates_merge_into_the_older_track():
    tr = PersonTracker(TrackerParams(redetect_every=1, min_visible=10, match_iou=0.9), aspect=1.0)
    tr.begin_frame()
    tr.apply_detections([(0, 0, 100, 100), (30, 0, 100, 100)], [0.9, 0.8])
    tr.apply_mesh(0, *_body(60, 50))
    tr.apply_mesh(1, *_body(61, 50))  # both crops converge on one person
    tr.end_frame()
    assert [t.id for t in tr.state.tracks] == [0]


def test_tracker_params_validated():
    with pytest.raises(ValueError, match="max_people"):
        TrackerParams(max_people=0)
    with pytest.raises(ValueError, match="aspect"):
        PersonTracker(TrackerParams(), aspect=0.0)
