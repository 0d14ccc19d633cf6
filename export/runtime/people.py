"""People in photos and videos: detector -> crop -> model -> tracker -> One-Euro smoothing.

The reference pipeline of the apps. A photo: the person detector (`meshpose_export.runtime.detector`)
finds every person, each detector box goes through the crop contract to the model, one mesh per
person. A video: `VideoPipeline.process` runs per frame the rules of `meshpose_export.runtime.tracking`
(detect on the first frame, every `redetect_every` frames and when a track's visibility drops;
otherwise the next crop box comes from the previous frame's visible vertices), then smooths each
track's vertices with its own One-Euro filter (image pixels, `value_scale` = the track's box
height, so beta is in box heights per second). The tracker's boxes come from the raw (unsmoothed)
vertices: smoothing changes what is reported, never what is cropped.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from meshpose_export.runtime.detector import DETECTOR_FILE, DETECTOR_SOURCE, Detection, DetectorParams, PersonDetector
from meshpose_export.runtime.predict import Prediction, Predictor
from meshpose_export.runtime.tracking import (
    OneEuroFilter,
    OneEuroParams,
    PersonTracker,
    TrackerParams,
)

VIDEO_FORMAT = "meshpose-video"
VIDEO_VERSION = 1
PHOTO_FORMAT = "meshpose-prediction"
PHOTO_VERSION = 2  # version 1 held one mesh per photo at the top level; 2 has a "people" list
_IMAGE_KEYS = ("format", "format_version", "image", "image_size", "model")


def person_dict(pred: Prediction, predictor: Predictor, decimals: int = 4) -> dict[str, Any]:
    """The per-person fields of a prediction's JSON (box, crop affine, vertices, visibility)."""
    doc = pred.to_dict(predictor.info, decimals=decimals)
    return {k: v for k, v in doc.items() if k not in _IMAGE_KEYS}


def model_dict(predictor: Predictor) -> dict[str, Any]:
    return predictor.info.to_dict()


# --------------------------------------------------------------------------- photos


@dataclass(frozen=True, eq=False)
class PersonPrediction:
    prediction: Prediction
    detection: Detection | None  # None when the box was given

    def to_dict(self, predictor: Predictor, decimals: int = 4) -> dict[str, Any]:
        doc = person_dict(self.prediction, predictor, decimals)
        if self.detection is not None:
            doc["box_source"] = "detector"
            doc["score"] = round(self.detection.score, 6)
            doc["detection"] = self.detection.to_dict()
        return doc


def predict_people(
    predictor: Predictor,
    image: np.ndarray,
    detector: PersonDetector | None,
    box: tuple[float, float, float, float] | None = None,
) -> list[PersonPrediction]:
    """Every person the detector finds (best score first, at most its max_people), or the given box."""
    if box is not None or detector is None:
        return [PersonPrediction(predictor.predict(image, box), None)]
    return [PersonPrediction(predictor.predict(image, d.box), d) for d in detector(image)]


def photo_document(
    people: list[PersonPrediction],
    predictor: Predictor,
    image_path: str,
    image_size: tuple[int, int],
    detector: PersonDetector | None,
) -> dict[str, Any]:
    return {
        "format": PHOTO_FORMAT,
        "format_version": PHOTO_VERSION,
        "image": image_path,
        "image_size": list(image_size),
        "model": model_dict(predictor),
        "detector": detector_dict(detector) if detector is not None else None,
        "num_people": len(people),
        "people": [p.to_dict(predictor) for p in people],
    }


def detector_dict(detector: PersonDetector) -> dict[str, Any]:
    return {
        "model": str(detector.path),
        "source": DETECTOR_SOURCE,
        "input": [detector.input_size] * 2,
        **asdict(detector.params),
    }


# --------------------------------------------------------------------------- video


@dataclass(frozen=True, eq=False)
class TrackedPerson:
    track_id: int
    prediction: Prediction  # raw model output for this frame's crop box
    box_source: str  # "detector" or "vertices": where this frame's crop box came from
    score: float  # detector score of the detection that opened or last re-anchored the track
    xyz_lp: np.ndarray  # (K, 3) smoothed (= raw when smoothing is off)
    xyz_hp: np.ndarray | None

    def to_dict(self, predictor: Predictor, decimals: int = 4) -> dict[str, Any]:
        doc = person_dict(self.prediction, predictor, decimals)
        r = lambda a: np.round(np.asarray(a, dtype=np.float64), decimals).tolist()  # noqa: E731
        doc["track_id"] = self.track_id
        doc["box_source"] = self.box_source
        doc["score"] = round(self.score, 6)
        doc["xyz_lp"] = r(self.xyz_lp)  # the raw mesh is not repeated: the file would double
        if self.xyz_hp is not None:
            doc["xyz_hp"] = r(self.xyz_hp)
        return doc


@dataclass(eq=False)
class FrameTimings:
    detector_s: float = 0.0
    model_s: float = 0.0
    other_s: float = 0.0


@dataclass(frozen=True)
class VideoSettings:
    """Everything that decides the video output; written into the JSON lines header."""

    tracker: TrackerParams = field(default_factory=TrackerParams)
    detector: DetectorParams = field(default_factory=DetectorParams)
    one_euro: OneEuroParams = field(default_factory=OneEuroParams)
    smoothing: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracker": asdict(self.tracker),
            "detector": asdict(self.detector),
            "one_euro": {**asdict(self.one_euro), "enabled": self.smoothing, "value_scale": "track box height (px)"},
        }


def tracking_defaults() -> dict[str, Any]:
    """The video defaults every sidecar carries in its `tracking` section (the export pipeline
    passes them to `Sidecar.build`; meshpose-predict reads them back)."""
    return {
        **VideoSettings().to_dict(),
        "detector_model": {"file": DETECTOR_FILE, "source": DETECTOR_SOURCE, "input": [224, 224]},
        "rules": "meshpose_export/runtime/tracking.py module docstring",
    }


class VideoPipeline:
    """Per frame: (detect) -> crop -> model per track -> tracker update -> smoothing."""

    def __init__(self, predictor: Predictor, detector: PersonDetector, settings: VideoSettings) -> None:
        self.predictor = predictor
        self.detector = detector
        self.settings = settings
        self.tracker: PersonTracker | None = None
        self.filters: dict[int, tuple[OneEuroFilter, OneEuroFilter]] = {}
        self.timings = FrameTimings()
        self.detections_run = 0

    def process(self, image: np.ndarray, t: float) -> tuple[list[TrackedPerson], bool]:
        """One frame at time t (seconds) -> (tracked people in track id order, whether the detector ran)."""
        h, w = image.shape[:2]
        if self.tracker is None or self.tracker.image_size != (w, h):
            self.tracker = PersonTracker(self.settings.tracker, self.predictor.contract.aspect, (w, h))
            self.filters = {}
        tr = self.tracker
        t0 = time.perf_counter()
        detected = tr.begin_frame()
        if detected:
            dets = self.detector(image)
            tr.apply_detections([d.box for d in dets], [d.score for d in dets])
            self.detections_run += 1
        t1 = time.perf_counter()
        self.timings.detector_s += t1 - t0
        out = []
        model_s = 0.0
        for track in tr.active_tracks():
            box, source, score = track.box, track.box_source, track.score
            m0 = time.perf_counter()
            pred = self.predictor.predict(image, box)
            model_s += time.perf_counter() - m0
            tr.apply_mesh(track.id, pred.xyz_lp[:, :2], pred.vertex_vis_lp)
            xyz, hp = pred.xyz_lp, pred.xyz_hp
            if self.settings.smoothing:
                if track.id not in self.filters:
                    self.filters[track.id] = (
                        OneEuroFilter(self.settings.one_euro),
                        OneEuroFilter(self.settings.one_euro),
                    )
                f_lp, f_hp = self.filters[track.id]
                scale = max(float(box[3]), 1.0)
                xyz = f_lp(xyz, t, value_scale=scale)
                hp = f_hp(hp, t, value_scale=scale) if hp is not None else None
            out.append(TrackedPerson(track.id, pred, source, score, xyz, hp))
        tr.end_frame()
        alive = {t.id for t in tr.state.tracks}
        for tid in [k for k in self.filters if k not in alive]:
            del self.filters[tid]
        self.timings.model_s += model_s
        self.timings.other_s += time.perf_counter() - t1 - model_s
        return out, detected


# --------------------------------------------------------------------------- drawing

_PALETTE = ((255, 99, 71), (65, 170, 255), (50, 205, 50), (255, 215, 0), (218, 112, 214), (0, 206, 209))


def mesh_edges(faces: np.ndarray | None) -> np.ndarray | None:
    """(E, 2) unique undirected edges of a triangle list."""
    if faces is None or not len(faces):
        return None
    f = np.asarray(faces, dtype=np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    return np.unique(np.sort(e, axis=1), axis=0)


def draw_people(
    image: np.ndarray,
    people: list[tuple[int, tuple[float, float, float, float], np.ndarray, np.ndarray, str]],
    edges: np.ndarray | None,
    caption: str = "",
) -> np.ndarray:
    """Fast overlay for video frames and multi-person photos: per person (id, box, xyz (K, 3),
    visibility (K,), label), the mesh wireframe (visible edges bright, hidden ones dim) or the
    vertices, the crop box and the label, in the person's colour."""
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    draw = ImageDraw.Draw(canvas)
    for pid, box, xyz, vis, label in people:
        colour = _PALETTE[pid % len(_PALETTE)]
        dim = tuple(int(c * 0.45) for c in colour)
        xy = np.asarray(xyz, dtype=np.float64)[:, :2]
        seen = np.asarray(vis, dtype=np.float64) >= 0.5
        if edges is not None:
            both = seen[edges[:, 0]] & seen[edges[:, 1]]
            for group, c in ((edges[~both], dim), (edges[both], colour)):
                for a, b in group:
                    draw.line((xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1]), fill=c, width=1)
        else:
            for (x, y), s in zip(xy, seen, strict=True):
                draw.point((x, y), fill=colour if s else dim)
        x, y, w, h = box
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=2)
        if label:
            draw.text((x + 4, y + 4), label, fill=colour)
    if caption:
        draw.text((6, 6), caption, fill=(255, 255, 255))
    return np.asarray(canvas)
