"""Measurements of the video pipeline against synthetic ground truth: jitter, lag, detector recall.

Jitter is the RMS (over vertices, both image axes and frames) of the frame-to-frame motion error,
((p_t - p_t-1) - (g_t - g_t-1)): zero for a perfect track, sqrt(2) * sigma for white noise of
sigma pixels per axis. Lag is the shift s (frames, searched in steps of 0.05) that minimises the
RMS of p_t - g(t - s), g linearly interpolated between frames: how far behind the truth the
smoothed track runs. Both skip the first `warmup` frames, where a filter is still settling.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from meshpose_export.runtime.tracking import OneEuroFilter, OneEuroParams, aspect_box, box_iou, greedy_match


def jitter(pred: np.ndarray, gt: np.ndarray, warmup: int = 0) -> float:
    """pred, gt (T, K, 2) -> RMS frame-to-frame motion error, pixels."""
    d = np.diff(pred[warmup:], axis=0) - np.diff(gt[warmup:], axis=0)
    return float(np.sqrt(np.mean(d**2)))


def lag_frames(pred: np.ndarray, gt: np.ndarray, warmup: int = 0, max_lag: float = 6.0, step: float = 0.05) -> float:
    t = np.arange(len(gt), dtype=np.float64)
    first = max(warmup, int(np.ceil(max_lag)))
    best, best_err = 0.0, np.inf
    for s in np.arange(0.0, max_lag + 1e-9, step):
        src = t[first:] - s
        i0 = np.floor(src).astype(np.int64)
        frac = (src - i0)[:, None, None]
        g = gt[i0] * (1 - frac) + gt[np.minimum(i0 + 1, len(gt) - 1)] * frac
        err = float(np.mean((pred[first:] - g) ** 2))
        if err < best_err:
            best, best_err = float(s), err
    return best


@dataclass(frozen=True)
class SmoothingResult:
    noise_px: float
    params: dict[str, float]
    jitter_raw: float
    jitter_smoothed: float
    lag_raw: float
    lag_smoothed: float
    rmse_raw: float
    rmse_smoothed: float

    @property
    def jitter_ratio(self) -> float:
        return self.jitter_smoothed / self.jitter_raw

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "jitter_ratio": self.jitter_ratio}


def smoothing_experiment(
    gt: np.ndarray,
    box_heights: np.ndarray,
    fps: float,
    noise_px: float,
    params: OneEuroParams,
    seed: int = 0,
    warmup: int = 10,
) -> SmoothingResult:
    """gt (T, K, 2) true vertices; the 'model output' is gt + N(0, noise_px^2) per axis, filtered
    exactly as the video pipeline does (value_scale = box height)."""
    rng = np.random.default_rng(seed)
    noisy = gt + rng.normal(0.0, noise_px, size=gt.shape)
    f = OneEuroFilter(params)
    smoothed = np.stack(
        [f(x, i / fps, value_scale=float(h)) for i, (x, h) in enumerate(zip(noisy, box_heights, strict=True))]
    )
    return SmoothingResult(
        noise_px=noise_px,
        params=asdict(params),
        jitter_raw=jitter(noisy, gt, warmup),
        jitter_smoothed=jitter(smoothed, gt, warmup),
        lag_raw=lag_frames(noisy, gt, warmup),
        lag_smoothed=lag_frames(smoothed, gt, warmup),
        rmse_raw=float(np.sqrt(np.mean((noisy[warmup:] - gt[warmup:]) ** 2))),
        rmse_smoothed=float(np.sqrt(np.mean((smoothed[warmup:] - gt[warmup:]) ** 2))),
    )


@dataclass(frozen=True)
class RecallResult:
    people: int
    found: int
    false_positives: int
    mean_iou: float  # over found people
    iou_threshold: float

    @property
    def recall(self) -> float:
        return self.found / self.people if self.people else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recall": self.recall}


def detection_recall(
    pairs: list[tuple[list[tuple[float, float, float, float]], list[tuple[float, float, float, float]]]],
    aspect: float,
    iou_threshold: float = 0.5,
) -> RecallResult:
    """pairs of (true visible-person boxes, detector boxes) per image. True boxes are made the model's
    aspect first, as the crop contract does with any box; matching is `tracking.greedy_match`."""
    people = found = fp = 0
    ious: list[float] = []
    for gt_boxes, det_boxes in pairs:
        gts = [aspect_box(b[0] + b[2] / 2, b[1] + b[3] / 2, b[2], b[3], aspect) for b in gt_boxes]
        matches = greedy_match(gts, list(det_boxes), iou_threshold)
        people += len(gts)
        found += len(matches)
        fp += len(det_boxes) - len(matches)
        ious += [box_iou(gts[g], det_boxes[d]) for g, d in matches]
    return RecallResult(people, found, fp, float(np.mean(ious)) if ious else 0.0, iou_threshold)


def composite_recall(
    detector: Any,
    num_images: int,
    num_people: int,
    width: int = 640,
    height: int = 480,
    distance_range: tuple[float, float] = (2.0, 3.0),
    seed: int = 0,
    min_visible: float = 0.3,
    iou_threshold: float = 0.5,
) -> RecallResult:
    """The detector on synthetic multi-person photos (`SyntheticScene` first frames, no camera pan)
    whose visible-person boxes are known. People with fewer than `min_visible` of their vertices
    visible (hidden behind another, or out of frame) are not counted."""
    from meshpose_mobile.synth_video import SceneConfig, SyntheticScene

    pairs = []
    for i in range(num_images):
        cfg = SceneConfig(
            width=width, height=height, num_people=num_people, camera_pan=0.0, distance_range=distance_range
        )
        frame = SyntheticScene(cfg, seed=seed * 1000 + i).frame(0)
        gts = [p["box"] for p in frame["people"] if p["box"] is not None and p["visible"].mean() >= min_visible]
        pairs.append((gts, [d.box for d in detector(frame["image"])]))
    return detection_recall(pairs, detector.aspect, iou_threshold)
