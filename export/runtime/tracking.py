"""Person tracking and One-Euro smoothing for video: the reference the iOS and Android apps port.

Pure NumPy, float64, no torch. Every rule below is written so that a Swift or Java port gives the
same numbers and the same decisions: element-wise arithmetic only, sums taken left to right in
index order (`_seq_sum`), ties broken by index, no dict or set iteration.

One-Euro filter (Casiez et al., CHI 2012), element-wise over a (K, D) array, timestamps in seconds:

    first sample:        x_hat = x, dx_hat = 0                          (passes through unchanged)
    dt                 = t - t_prev                                     (t_prev: last accepted sample)
    alpha(cutoff, dt)  = 1 / (1 + tau / dt),  tau = 1 / (2 * pi * cutoff)
    dx                 = (x - x_hat_prev) / dt / value_scale
    dx_hat             = alpha(d_cutoff, dt) * dx + (1 - alpha(d_cutoff, dt)) * dx_hat_prev
    cutoff             = min_cutoff + beta * |dx_hat|                   (per element)
    x_hat              = alpha(cutoff, dt) * x + (1 - alpha(cutoff, dt)) * x_hat_prev

`value_scale` (default 1) makes beta independent of the image size: the video pipeline passes the
person box height in pixels, so |dx_hat| is in box heights per second. A sample whose timestamp
is not after the previous one (dt <= 0) is ignored: the previous x_hat is returned and the state
is unchanged.

Tracker, per frame (`PersonTracker`):

1. `needs_detection()` is true on the first frame, when no track is alive, when `redetect_every`
   frames have passed since the last detection, or when a track was flagged at the end of the
   previous frame (its visible-vertex count < `min_visible`, or its mean visibility <
   `min_mean_visibility`, or it is lost).
2. On a detection frame, `apply_detections(boxes, scores)` matches detections to alive tracks
   greedily by IoU (`greedy_match`): pairs with IoU >= `match_iou`, highest IoU first, ties by
   lower track index then lower detection index. A matched track is found again (missed = 0); it
   takes the detection box if it was flagged, else keeps its own vertex box (steadier: the box
   keeps coming from the same source). An unmatched track counts a missed frame and is lost; a
   lost track is dropped once missed > `max_missed`. Unmatched detections open new tracks, highest
   score first (ties by index), while fewer than `max_people` tracks are alive; ids count up from 0
   and are never reused.
3. The caller runs the model on `active_tracks()` (alive, not lost) in track order and hands each
   result to `apply_mesh(track_id, xy, visibility)`: the next box is `box_from_vertices` of the
   vertices with visibility >= `visibility_threshold`: their bounding box, clipped to the frame
   (`clip_box`, when the tracker knows the frame size), grown on its smaller side to the model's
   aspect (w / h = input_width / input_height) and scaled by `vertex_box_scale`, i.e. the same
   kind of box the detector hands over (`aspect_box`). The crop contract then applies
   its own `box_scale`, as for any person box.
4. `end_frame()` flags tracks for re-detection and, of two active tracks whose boxes overlap with
   IoU > `duplicate_iou`, drops the one with the higher id (two tracks that converged on one person).
   A track with no mesh this frame (lost) keeps its last box.

Boxes are COCO xywh (top-left corner, width, height) in image pixels, as everywhere in the project.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]


# --------------------------------------------------------------------------- One-Euro filter


@dataclass(frozen=True)
class OneEuroParams:
    """min_cutoff (Hz): smoothing at rest (lower = smoother, more lag at low speed); beta: how fast the
    cutoff rises with speed (higher = less lag when moving); d_cutoff (Hz): cutoff of the derivative.

    The defaults assume `value_scale` = person box height in pixels (speed in box heights per
    second) at about 30 FPS: on synthetic sequences with ground truth they halve the jitter or
    better with under one frame of lag (docs/design.md, "People in photos and videos";
    `python benchmarks/smoothing.py`)."""

    min_cutoff: float = 1.0
    beta: float = 12.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_cutoff) and self.min_cutoff > 0):
            raise ValueError(f"One-Euro min_cutoff must be a positive number of Hz, got {self.min_cutoff}")
        if not (math.isfinite(self.d_cutoff) and self.d_cutoff > 0):
            raise ValueError(f"One-Euro d_cutoff must be a positive number of Hz, got {self.d_cutoff}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"One-Euro beta must be zero or positive, got {self.beta}")


@dataclass(frozen=True, eq=False)
class OneEuroState:
    """Filter memory after the last accepted sample."""

    t: float
    x_hat: np.ndarray  # (K, D) float64
    dx_hat: np.ndarray  # (K, D) float64


def smoothing_alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    """alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi cutoff)."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


def one_euro_step(
    params: OneEuroParams,
    state: OneEuroState | None,
    x: np.ndarray,
    t: float,
    value_scale: float = 1.0,
) -> tuple[np.ndarray, OneEuroState]:
    """One sample through the filter: (x_hat, new state). `state` None = first sample."""
    x = np.asarray(x, dtype=np.float64)
    if state is None:
        return x.copy(), OneEuroState(float(t), x.copy(), np.zeros_like(x))
    if state.x_hat.shape != x.shape:
        raise ValueError(f"One-Euro sample shape {x.shape} differs from the filter's {state.x_hat.shape}")
    dt = float(t) - state.t
    if not dt > 0:
        return state.x_hat.copy(), state
    a_d = smoothing_alpha(params.d_cutoff, dt)
    dx = (x - state.x_hat) / dt / float(value_scale)
    dx_hat = a_d * dx + (1.0 - a_d) * state.dx_hat
    cutoff = params.min_cutoff + params.beta * np.abs(dx_hat)
    a = smoothing_alpha(cutoff, dt)
    x_hat = a * x + (1.0 - a) * state.x_hat
    return x_hat, OneEuroState(float(t), x_hat, dx_hat)


class OneEuroFilter:
    """`one_euro_step` with its state kept; `reset()` when the tracked person changes."""

    def __init__(self, params: OneEuroParams) -> None:
        self.params = params
        self.state: OneEuroState | None = None

    def __call__(self, x: np.ndarray, t: float, value_scale: float = 1.0) -> np.ndarray:
        out, self.state = one_euro_step(self.params, self.state, x, t, value_scale)
        return out

    def reset(self) -> None:
        self.state = None


# --------------------------------------------------------------------------- boxes


def aspect_box(cx: float, cy: float, w: float, h: float, aspect: float, scale: float = 1.0) -> Box:
    """Box centred at (cx, cy): the smaller side grown to w / h = aspect, then both sides times scale."""
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    w, h = w * scale, h * scale
    return (cx - w / 2.0, cy - h / 2.0, w, h)


def clip_box(box: Box, image_width: int, image_height: int) -> Box | None:
    """The part of an xywh box inside the image (-0.5 .. size - 0.5: pixel centres at integers);
    None when nothing is left."""
    x0, y0 = max(box[0], -0.5), max(box[1], -0.5)
    x1, y1 = min(box[0] + box[2], image_width - 0.5), min(box[1] + box[3], image_height - 0.5)
    if not (x1 > x0 and y1 > y0):
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two xywh boxes; 0 when either is empty."""
    ax1, ay1 = a[0] + a[2], a[1] + a[3]
    bx1, by1 = b[0] + b[2], b[1] + b[3]
    iw = min(ax1, bx1) - max(a[0], b[0])
    ih = min(ay1, by1) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def greedy_match(track_boxes: list[Box], det_boxes: list[Box], min_iou: float) -> list[tuple[int, int]]:
    """(track index, detection index) pairs: IoU >= min_iou, highest IoU first, ties by lower track
    index then lower detection index; each track and detection used at most once. Sorted by track."""
    pairs = []
    for ti, tb in enumerate(track_boxes):
        for di, db in enumerate(det_boxes):
            v = box_iou(tb, db)
            if v >= min_iou:
                pairs.append((-v, ti, di))
    pairs.sort()
    used_t: list[bool] = [False] * len(track_boxes)
    used_d: list[bool] = [False] * len(det_boxes)
    out = []
    for _, ti, di in pairs:
        if not used_t[ti] and not used_d[di]:
            used_t[ti] = used_d[di] = True
            out.append((ti, di))
    out.sort()
    return out


def _seq_sum(values: np.ndarray) -> float:
    """Left-to-right float64 sum (what a plain loop in Swift or Java gives); np.sum is pairwise."""
    v = np.asarray(values, dtype=np.float64).ravel()
    return float(np.cumsum(v)[-1]) if v.size else 0.0


# --------------------------------------------------------------------------- tracker


@dataclass(frozen=True)
class TrackerParams:
    visibility_threshold: float = 0.5  # a vertex counts as visible at or above this
    min_visible: int = 30  # fewer visible vertices: the track is flagged for re-detection
    min_mean_visibility: float = 0.3  # lower mean over all vertices: flagged for re-detection
    redetect_every: int = 15  # frames between detections while everything tracks well (0 = never)
    match_iou: float = 0.3  # detection <-> track match
    duplicate_iou: float = 0.7  # two tracks overlapping more are one person: the younger is dropped
    max_missed: int = 5  # a lost track is dropped after this many frames without a match
    max_people: int = 4
    vertex_box_scale: float = 1.0  # the visible-vertex box is already tight around the body

    def __post_init__(self) -> None:
        checks = [
            (0.0 <= self.visibility_threshold <= 1.0, "visibility_threshold must lie in [0, 1]"),
            (self.min_visible >= 2, "min_visible must be at least 2 vertices"),
            (0.0 <= self.min_mean_visibility <= 1.0, "min_mean_visibility must lie in [0, 1]"),
            (self.redetect_every >= 0, "redetect_every must be 0 (never) or a number of frames"),
            (0.0 < self.match_iou <= 1.0, "match_iou must lie in (0, 1]"),
            (0.0 < self.duplicate_iou <= 1.0, "duplicate_iou must lie in (0, 1]"),
            (self.max_missed >= 0, "max_missed must be zero or positive"),
            (self.max_people >= 1, "max_people must be at least 1"),
            (self.vertex_box_scale > 0, "vertex_box_scale must be positive"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"tracker: {msg}")


def box_from_vertices(
    xy: np.ndarray,
    visibility: np.ndarray,
    params: TrackerParams,
    aspect: float,
    image_size: tuple[int, int] | None = None,
) -> Box | None:
    """Next crop box from (K, >=2) image-pixel vertices: the bounding box of those with visibility >=
    threshold, clipped to the image when `image_size` (width, height) is given, made the model's
    aspect and scaled by vertex_box_scale. None with fewer than `min_visible` visible vertices or a
    degenerate (zero-width or zero-height) box."""
    xy = np.asarray(xy, dtype=np.float64)
    vis = np.asarray(visibility, dtype=np.float64).reshape(-1)
    keep = vis >= params.visibility_threshold
    if int(keep.sum()) < params.min_visible:
        return None
    pts = xy[keep, :2]
    x0, y0 = float(pts[:, 0].min()), float(pts[:, 1].min())
    x1, y1 = float(pts[:, 0].max()), float(pts[:, 1].max())
    if not (x1 > x0 and y1 > y0 and math.isfinite(x1 - x0) and math.isfinite(y1 - y0)):
        return None
    tight: Box | None = (x0, y0, x1 - x0, y1 - y0)
    if image_size is not None:
        tight = clip_box(tight, image_size[0], image_size[1])
        if tight is None:
            return None
    x, y, w, h = tight
    return aspect_box(x + w / 2.0, y + h / 2.0, w, h, aspect, params.vertex_box_scale)


def tracking_quality(visibility: np.ndarray, params: TrackerParams) -> tuple[int, float]:
    """(visible vertex count, mean visibility) with the sequential-sum rule."""
    vis = np.asarray(visibility, dtype=np.float64).reshape(-1)
    return int((vis >= params.visibility_threshold).sum()), _seq_sum(vis) / max(len(vis), 1)


@dataclass(eq=False)
class Track:
    id: int
    box: Box
    score: float  # score of the detection that opened or last re-anchored the track
    age: int = 0  # frames since the track was opened
    missed: int = 0  # consecutive detection frames without a match (> 0: lost)
    flagged: bool = False  # asks for a detection on the next frame
    has_mesh: bool = False  # a mesh was applied this frame
    box_source: str = "detector"  # "detector" or "vertices": where the current box came from


@dataclass(eq=False)
class TrackerState:
    tracks: list[Track] = field(default_factory=list)  # ordered by id
    next_id: int = 0
    frame: int = -1
    last_detection_frame: int = -1


class PersonTracker:
    """Explicit-state tracker; see the module docstring for the rules, in order."""

    def __init__(self, params: TrackerParams, aspect: float, image_size: tuple[int, int] | None = None) -> None:
        if not (aspect > 0 and math.isfinite(aspect)):
            raise ValueError(f"tracker: the model aspect must be positive, got {aspect}")
        self.params = params
        self.aspect = float(aspect)
        self.image_size = image_size  # (width, height): vertex boxes are clipped to the frame
        self.state = TrackerState()

    def begin_frame(self) -> bool:
        """Advance to the next frame; returns whether the detector must run on it."""
        s = self.state
        s.frame += 1
        for t in s.tracks:
            t.has_mesh = False
        return self.needs_detection()

    def needs_detection(self) -> bool:
        s, p = self.state, self.params
        if not s.tracks or s.last_detection_frame < 0:
            return True
        if p.redetect_every > 0 and s.frame - s.last_detection_frame >= p.redetect_every:
            return True
        return any(t.flagged or t.missed > 0 for t in s.tracks)

    def apply_detections(self, boxes: list[Box], scores: list[float]) -> None:
        s, p = self.state, self.params
        if len(boxes) != len(scores):
            raise ValueError("tracker: one score per detection box")
        s.last_detection_frame = s.frame
        matches = greedy_match([t.box for t in s.tracks], list(boxes), p.match_iou)
        matched_t = [False] * len(s.tracks)
        matched_d = [False] * len(boxes)
        for ti, di in matches:
            t = s.tracks[ti]
            matched_t[ti] = matched_d[di] = True
            if t.flagged or t.missed > 0:
                t.box, t.score, t.box_source = tuple(float(v) for v in boxes[di]), float(scores[di]), "detector"
            t.missed = 0
            t.flagged = False
        kept = []
        for ti, t in enumerate(s.tracks):
            if not matched_t[ti]:
                t.missed += 1
            if t.missed <= p.max_missed:
                kept.append(t)
        s.tracks = kept
        order = sorted(range(len(boxes)), key=lambda i: (-float(scores[i]), i))
        for di in order:
            if matched_d[di] or len(s.tracks) >= p.max_people:
                continue
            s.tracks.append(Track(s.next_id, tuple(float(v) for v in boxes[di]), float(scores[di])))
            s.next_id += 1

    def active_tracks(self) -> list[Track]:
        """Tracks to run the model on this frame, in id order."""
        return [t for t in self.state.tracks if t.missed == 0]

    def apply_mesh(self, track_id: int, xy: np.ndarray, visibility: np.ndarray) -> Box | None:
        """The model's vertices for a track this frame -> its next box (None: keeps the old box, flagged)."""
        t = self._get(track_id)
        t.has_mesh = True
        count, mean = tracking_quality(visibility, self.params)
        box = box_from_vertices(xy, visibility, self.params, self.aspect, self.image_size)
        t.flagged = box is None or count < self.params.min_visible or mean < self.params.min_mean_visibility
        if box is not None:
            t.box, t.box_source = box, "vertices"
        return box

    def end_frame(self) -> None:
        s, p = self.state, self.params
        for t in s.tracks:
            t.age += 1
        active = [t for t in s.tracks if t.missed == 0]
        drop_ids: list[int] = []
        for i, a in enumerate(active):
            for b in active[i + 1 :]:
                if a.id in drop_ids or b.id in drop_ids:
                    continue
                if box_iou(a.box, b.box) > p.duplicate_iou:
                    drop_ids.append(max(a.id, b.id))
        s.tracks = [t for t in s.tracks if t.id not in drop_ids]

    def _get(self, track_id: int) -> Track:
        for t in self.state.tracks:
            if t.id == track_id:
                return t
        raise KeyError(f"tracker: no track with id {track_id}")
