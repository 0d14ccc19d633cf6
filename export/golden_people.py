"""Golden vectors for the apps' ports of the person detector's decoding and the box helpers.

    python -m meshpose_export.golden_people OUT.json

Computed by the project's own code (meshpose_export.detector / .tracking) from seeded inputs, so
a Swift or Java port that reproduces these numbers (to ~1e-9; all float64) follows the same
rules: SSD anchors, detector decoding + weighted NMS + person boxes from raw output tensors,
IoU, clipping, greedy matching with ties, boxes from visible vertices. The One-Euro filter and
the tracker's frame-by-frame replays are in the project's golden/ set (one_euro.json,
tracker.json, written by scripts/make_golden.py); `one_euro` and `tracker` here are short
sequences of the same kind, kept so this file is self-contained.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_export.detector import DetectorParams, Letterbox, detections_from_outputs, ssd_anchors
from meshpose_export.tracking import (
    OneEuroFilter,
    OneEuroParams,
    PersonTracker,
    TrackerParams,
    box_from_vertices,
    box_iou,
    clip_box,
    greedy_match,
)

GOLDEN_FORMAT = "meshpose-golden-people"
GOLDEN_VERSION = 1


def _one_euro_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(12)
    cases = []
    for params, scale in ((OneEuroParams(), 200.0), (OneEuroParams(0.5, 0.3, 2.0), 1.0)):
        times = np.cumsum(rng.uniform(0.02, 0.05, size=12))
        times[6] = times[5]  # a repeated timestamp: ignored, previous output returned
        xs = np.cumsum(rng.normal(0, 3, size=(12, 3, 2)), axis=0) + 100
        f = OneEuroFilter(params)
        ys = [f(x, float(t), value_scale=scale) for x, t in zip(xs, times, strict=True)]
        cases.append(
            {
                "params": asdict(params),
                "value_scale": scale,
                "t": times.tolist(),
                "x": xs.tolist(),
                "expected": np.stack(ys).tolist(),
            }
        )
    return cases


def _box_cases() -> dict[str, Any]:
    a, b, c = (0.0, 0.0, 10.0, 10.0), (5.0, 0.0, 10.0, 10.0), (0.0, 0.0, 10.0, 10.0)
    tracks = [(0.0, 0.0, 10.0, 10.0), (8.0, 0.0, 10.0, 10.0), (0.0, 0.0, 10.0, 10.0)]
    dets = [(7.0, 0.0, 10.0, 10.0), (0.0, 0.0, 10.0, 10.0), (100.0, 100.0, 5.0, 5.0)]
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 300, size=(40, 2))
    vis = rng.uniform(0, 1, size=40)
    params = TrackerParams(min_visible=5)
    return {
        "iou": [{"a": list(a), "b": list(b), "expected": box_iou(a, b)}, {"a": list(a), "b": list(c), "expected": 1.0}],
        "clip": {
            "box": [-20.0, 10.0, 100.0, 400.0],
            "image_size": [64, 128],
            "expected": list(clip_box((-20.0, 10.0, 100.0, 400.0), 64, 128) or ()),
        },
        "greedy_match": {
            "tracks": tracks,
            "detections": dets,
            "min_iou": 0.3,
            "expected": [list(p) for p in greedy_match(tracks, dets, 0.3)],
        },
        "box_from_vertices": {
            "xy": xy.tolist(),
            "visibility": vis.tolist(),
            "params": asdict(params),
            "aspect": 0.75,
            "image_size": [250, 280],
            "expected": list(box_from_vertices(xy, vis, params, 0.75, (250, 280)) or ()),
        },
    }


def _tracker_case() -> dict[str, Any]:
    """Frames of detections and meshes -> per frame: detector ran, active ids and boxes."""
    params = TrackerParams(redetect_every=4, max_missed=1, max_people=2, min_visible=10)
    tr = PersonTracker(params, 0.75, (640, 480))
    k = 40
    u = np.linspace(-1, 1, k)
    frames = []
    for f in range(10):
        ran = tr.begin_frame()
        dets: list[list[float]] = []
        scores: list[float] = []
        if ran:
            dets = [[100.0 + 4 * f, 100.0, 90.0, 120.0]] + ([[400.0, 90.0, 90.0, 120.0]] if 2 <= f <= 5 else [])
            scores = [0.9, 0.8][: len(dets)]
            tr.apply_detections([tuple(d) for d in dets], scores)
        meshes = []
        for t in tr.active_tracks():
            cx, cy = t.box[0] + t.box[2] / 2 + 3.0, t.box[1] + t.box[3] / 2
            xy = np.stack([cx + 25 * np.sin(5 * u), cy + 55 * u], axis=1)
            vis = np.full(k, 0.1 if (t.id == 0 and f == 6) else 0.9)
            tr.apply_mesh(t.id, xy, vis)
            meshes.append({"track_id": t.id, "xy": xy.tolist(), "visibility": vis.tolist()})
        tr.end_frame()
        frames.append(
            {
                "detections": dets,
                "scores": scores,
                "meshes": meshes,
                "expected_detector_ran": ran,
                "expected_tracks": [
                    {"id": t.id, "box": list(t.box), "missed": t.missed, "flagged": t.flagged} for t in tr.state.tracks
                ],
            }
        )
    return {"params": asdict(params), "aspect": 0.75, "image_size": [640, 480], "frames": frames}


def _detector_case() -> dict[str, Any]:
    anchors = ssd_anchors()
    rng = np.random.default_rng(3)
    raw = rng.normal(0, 4, size=(2254, 12))
    logits = np.full((2254, 1), -8.0)
    # Two anchors of one cell that weighted NMS merges, a second person, one below the threshold.
    for i, s, box in (
        (1568 + 392 + 6 * 24, 3.0, [0.0, 0.0, 40.0, 40.0]),
        (1568 + 392 + 6 * 24 + 1, 2.0, [2.0, -1.0, 38.0, 42.0]),
        (400, 1.0, [1.0, 1.0, 20.0, 20.0]),
        (1700, -0.5, [0.0, 0.0, 30.0, 30.0]),
    ):
        logits[i] = s
        raw[i, :4] = box
        raw[i, 4:8] = [0.0, 20.0, 5.0, -50.0]
    lb = Letterbox.fit(640, 480, 224)
    params = DetectorParams()
    dets = detections_from_outputs(raw, logits, anchors, lb, params, 0.75)
    keep = sorted({0, 1, 2, 1567, 1568, 1959, 1960, 1961, 2253})
    return {
        "anchors_count": len(anchors),
        "anchors_sample": {str(i): anchors[i].tolist() for i in keep},
        "raw_boxes": raw.tolist(),
        "raw_scores": logits.tolist(),
        "letterbox": asdict(lb),
        "params": asdict(params),
        "aspect": 0.75,
        "expected": [
            {
                "score": d.score,
                "box": list(d.box),
                "keypoints": [list(k) for k in d.keypoints],
                "face_box": list(d.face_box),
            }
            for d in dets
        ],
    }


def golden() -> dict[str, Any]:
    return {
        "format": GOLDEN_FORMAT,
        "format_version": GOLDEN_VERSION,
        "source": "meshpose_export.tracking and meshpose_export.detector (float64)",
        "one_euro": _one_euro_cases(),
        "boxes": _box_cases(),
        "tracker": _tracker_case(),
        "detector": _detector_case(),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m meshpose_export.golden_people OUT.json", file=sys.stderr)
        return 2
    from meshpose_mobile.atomic import write_text_atomic

    out = write_text_atomic(Path(args[0]), json.dumps(golden()) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
