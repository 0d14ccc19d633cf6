"""golden/one_euro.json and golden/tracker.json (export/runtime/tracking.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from meshpose_export.golden.common import (
    BOX,
    DECIMALS,
    _doc,
    _flat,
    _r,
)


def tracking_docs() -> dict[str, dict[str, Any]]:
    """one_euro.json and tracker.json, from meshpose_export.runtime.tracking (absent before issue 12 landed)."""
    try:
        import meshpose_export.runtime.tracking  # noqa: F401
    except ImportError:
        return {}
    return {"one_euro.json": one_euro_doc(), "tracker.json": tracker_doc()}


def one_euro_doc() -> dict[str, Any]:
    from meshpose_export.runtime.tracking import OneEuroFilter, OneEuroParams

    rng = np.random.default_rng(16)
    n, k, d = 24, 3, 2
    steady = np.cumsum(np.full(n, 1.0 / 30.0))
    jittery = np.cumsum(rng.uniform(0.02, 0.06, size=n))
    ramp = np.arange(n, dtype=np.float64)[:, None, None] * np.array([[[4.0, -2.0]]]) + np.zeros((n, k, d))
    noisy = ramp + rng.normal(scale=1.5, size=(n, k, d))
    step = np.where(np.arange(n)[:, None, None] < n // 2, 10.0, 60.0) + np.zeros((n, k, d))
    repeated_t = steady.copy()
    repeated_t[5] = repeated_t[4]  # not after the previous sample: ignored
    repeated_t[9] = repeated_t[8] - 0.01  # earlier: ignored
    specs = [
        ("constant_passes_through", OneEuroParams(1.0, 0.0, 1.0), 1.0, steady, np.full((n, k, d), 7.25)),
        ("noisy_ramp_no_beta", OneEuroParams(min_cutoff=1.0, beta=0.0, d_cutoff=1.0), 1.0, steady, noisy),
        ("noisy_ramp_beta", OneEuroParams(min_cutoff=0.5, beta=0.8, d_cutoff=1.0), 1.0, steady, noisy),
        ("step_fast_cutoff", OneEuroParams(min_cutoff=3.0, beta=0.05, d_cutoff=2.0), 1.0, steady, step),
        ("irregular_timestamps", OneEuroParams(min_cutoff=1.2, beta=0.3, d_cutoff=1.5), 1.0, jittery, noisy),
        ("value_scale_box_height", OneEuroParams(min_cutoff=1.0, beta=2.0, d_cutoff=1.0), 180.0, steady, noisy),
        ("stale_timestamps_ignored", OneEuroParams(min_cutoff=1.0, beta=0.5, d_cutoff=1.0), 1.0, repeated_t, noisy),
    ]
    cases = []
    for name, params, scale, ts, xs in specs:
        # The filter runs on the stored (rounded) inputs, so the expected values are exactly theirs.
        ts, xs = np.round(ts, DECIMALS), np.round(xs, DECIMALS)
        f = OneEuroFilter(params)
        out = np.stack([f(x, t, scale) for x, t in zip(xs, ts, strict=True)])
        cases.append(
            {
                "name": name,
                "params": {"min_cutoff": params.min_cutoff, "beta": params.beta, "d_cutoff": params.d_cutoff},
                "value_scale": scale,
                "shape": [k, d],
                "t": _flat(ts),
                "x": _r(xs.reshape(n, -1)),
                "expected": _r(out.reshape(n, -1), 9),
            }
        )
    invalid = []
    for bad in ({"min_cutoff": 0.0}, {"d_cutoff": -1.0}, {"beta": -0.1}):
        try:
            OneEuroParams(**bad)
        except ValueError:
            invalid.append(
                {"params": {**{"min_cutoff": 1.0, "beta": 0.0, "d_cutoff": 1.0}, **bad}, "error": "invalid_params"}
            )
    return _doc(
        "one_euro",
        "One-Euro smoothing of meshpose_export.runtime.tracking (OneEuroFilter), element-wise over a (K, D) array.",
        {
            "formulas": "see the docstring of export/runtime/tracking.py; timestamps in seconds",
            "x": "per sample, the (K, D) array flattened row-major; `shape` = [K, D]",
            "expected": "the filter's output after each sample (same layout); tolerance 1e-7",
            "value_scale": "divides the derivative (the app passes the person box height in pixels)",
            "stale": "a sample whose t is not after the previous accepted one returns the previous output",
        },
        cases,
        invalid=invalid,
    )


# A small body: K template points in a unit box (x right, y down), scaled into a person box.
_TEMPLATE = np.array(
    [[0.5, 0.0], [0.3, 0.2], [0.7, 0.2], [0.0, 0.4], [1.0, 0.4], [0.5, 0.5],
     [0.35, 0.7], [0.65, 0.7], [0.3, 1.0], [0.7, 1.0], [0.5, 0.3], [0.5, 0.85]]
)  # fmt: skip


def _person_mesh(box: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = box
    return np.stack([x + _TEMPLATE[:, 0] * w, y + _TEMPLATE[:, 1] * h], axis=1)


def _scenario_people(name: str, frame: int) -> list[dict[str, Any]]:
    """Where each person truly is in a frame, their visibility, and whether the detector sees them."""
    k = len(_TEMPLATE)
    full = np.full(k, 0.9)
    if name == "walk_right":
        return [{"box": (40.0 + 6.0 * frame, 60.0, 80.0, 200.0), "vis": full, "detected": True}]
    if name == "visibility_drop":
        vis = full.copy()
        if frame in (3, 4):
            vis = np.where(np.arange(k) < 3, 0.9, 0.1)  # occluded: too few visible vertices
        return [{"box": (100.0 + 2.0 * frame, 50.0, 90.0, 220.0), "vis": vis, "detected": True}]
    if name == "two_people_one_leaves":
        people = [{"box": (20.0, 40.0, 70.0, 180.0), "vis": full, "detected": True}]
        if frame < 3:
            people.append({"box": (200.0 + 5 * frame, 50.0, 75.0, 190.0), "vis": full, "detected": True})
        people.append({"box": (400.0, 45.0, 60.0, 150.0), "vis": full, "detected": True, "score": 0.4})
        return people
    if name == "duplicates_converge":
        a = (100.0, 50.0, 80.0, 200.0)
        b = (160.0 - 15.0 * min(frame, 4), 52.0, 80.0, 200.0)
        return [{"box": a, "vis": full, "detected": frame == 0}, {"box": b, "vis": full, "detected": frame == 0}]
    if name == "clipped_at_frame_edge":
        return [{"box": (-30.0 + 4.0 * frame, 300.0, 90.0, 260.0), "vis": full, "detected": True}]
    raise KeyError(name)


def tracker_doc() -> dict[str, Any]:
    from meshpose_export.runtime.tracking import PersonTracker, box_iou
    from meshpose_export.runtime.tracking import TrackerParams as _TrackerParams

    aspect = 0.75  # 256x192, the models' input
    # Every parameter spelled out: the vectors must not move when the module's defaults are tuned.
    base = dict(
        visibility_threshold=0.5,
        min_visible=6,
        min_mean_visibility=0.3,
        redetect_every=15,
        match_iou=0.3,
        duplicate_iou=0.7,
        max_missed=5,
        max_people=4,
        vertex_box_scale=1.0,
    )

    def TrackerParams(**over: Any):  # reads like the dataclass it builds
        return _TrackerParams(**{**base, **over})

    scenarios = [
        ("walk_right", TrackerParams(min_visible=6, redetect_every=3), None, 7),
        ("visibility_drop", TrackerParams(min_visible=6, redetect_every=0), None, 7),
        ("two_people_one_leaves", TrackerParams(min_visible=6, redetect_every=2, max_missed=1, max_people=2), None, 7),
        ("duplicates_converge", TrackerParams(min_visible=6, redetect_every=0, duplicate_iou=0.6), None, 6),
        ("clipped_at_frame_edge", TrackerParams(min_visible=6, redetect_every=4), (480, 640), 6),
    ]
    cases = []
    for name, params, image_size, n_frames in scenarios:
        tracker = PersonTracker(params, aspect, image_size)
        frames = []
        for f in range(n_frames):
            people = _scenario_people(name, f)
            rec: dict[str, Any] = {"frame": f, "needs_detection": tracker.begin_frame(), "detections": None}
            if rec["needs_detection"]:
                seen = [p for p in people if p["detected"]]
                boxes = [p["box"] for p in seen]
                scores = [p.get("score", 0.9 - 0.1 * i) for i, p in enumerate(seen)]
                tracker.apply_detections(boxes, scores)
                rec["detections"] = {"boxes": _r(boxes), "scores": _r(scores)}
            meshes = []
            for t in tracker.active_tracks():
                # The model's mesh for a track: the person its box overlaps most (ties: first listed).
                ious = [box_iou(t.box, p["box"]) for p in people]
                best = int(np.argmax(ious))
                if ious[best] <= 0:
                    continue
                xy = np.round(_person_mesh(people[best]["box"]), DECIMALS)
                vis = people[best]["vis"]
                box = tracker.apply_mesh(t.id, xy, vis)
                meshes.append(
                    {
                        "track_id": t.id,
                        "xy": _flat(xy),
                        "visibility": _flat(vis),
                        "next_box": None if box is None else _r(list(box)),
                    }
                )
            tracker.end_frame()
            rec["meshes"] = meshes
            rec["tracks_after"] = [
                {
                    "id": t.id,
                    "box": _r(list(t.box)),
                    "score": _r(t.score),
                    "age": t.age,
                    "missed": t.missed,
                    "flagged": t.flagged,
                    "box_source": t.box_source,
                }
                for t in tracker.state.tracks
            ]
            frames.append(rec)
        cases.append(
            {
                "name": name,
                "params": {k: getattr(params, k) for k in base},
                "aspect": aspect,
                "image_size": None if image_size is None else list(image_size),
                "frames": frames,
            }
        )
    return _doc(
        "tracker",
        "Person tracker of meshpose_export.runtime.tracking (PersonTracker), replayed frame by frame.",
        {
            "replay": "per frame: begin_frame() must return needs_detection; if it is true, apply_detections("
            "detections.boxes, detections.scores); then for each entry of meshes, in order, apply_mesh(track_id, "
            "xy, visibility) must return next_box (null = None); then end_frame(); the tracker's tracks must "
            "then equal tracks_after (in order)",
            "xy": "flat (K, 2) image pixels",
            "box": BOX,
            "image_size": "[width, height] the tracker clips vertex boxes to, or null",
            "tolerance": "1e-6 on boxes; exact on ids, counts, flags and sources",
        },
        cases,
    )
