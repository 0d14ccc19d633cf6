"""Person detector: MediaPipe's BlazePose pose detector, decoded here, run on LiteRT.

The model is `mediapipe/modules/pose_detection/pose_detection.tflite` from the mediapipe 0.10.21
wheel (Apache-2.0). `meshpose-models fetch` unzips it into the user cache (`make setup` into the
checkout's `models/`), where `paths.find_model_file` finds it; mediapipe is never imported and
nothing is downloaded at run time.

Model contract (read from the file: input (1, 224, 224, 3) float32, outputs (1, 2254, 12) and
(1, 2254, 1)), with the decoding options of MediaPipe's pose detection graph:

- Input: the photo letterboxed into 224 x 224 (aspect kept, centred, black bars), RGB scaled to
  [-1, 1] (value / 127.5 - 1).
- Anchors: SSD anchors with fixed size 1, offset 0.5, strides 8, 16, 32, 32, 32 on the 224 input;
  consecutive layers of one stride share a grid, each layer adds two anchors per cell (aspect 1 and
  the interpolated scale), so 28*28*2 + 14*14*2 + 7*7*6 = 2254 anchors (`ssd_anchors`).
- Per anchor 12 numbers: box centre x, y and size w, h, then 4 keypoints (x, y), all in input
  pixels relative to the anchor centre: value / 224 + anchor (positions), value / 224 (sizes).
  The box is the face; keypoint 0 is the mid-hip centre, 1 a point whose distance from it is the
  radius of a circle around the whole body, 2 the mid-shoulder centre, 3 the upper-body circle point.
- Score: sigmoid(clip(logit, -100, 100)), kept at >= `min_score`.
- Weighted non-maximum suppression (`weighted_nms`): the best remaining detection and every one
  overlapping it with IoU > `nms_iou` form a cluster whose box and keypoints are the score-weighted
  mean; the cluster takes the best score. Ties in score go to the lower anchor index.
- Person box for our crop contract (`person_box`): centred on the hip centre, height
  2 * radius * `height_scale`, width = height * model aspect (`tracking.aspect_box`), clipped to
  the photo (`tracking.clip_box`) and grown to the aspect again: the visible person, the kind of
  box the tracker makes from visible vertices; the crop contract then applies its `box_scale`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshpose_export.litert import litert_interpreter
from meshpose_export.runtime.tracking import Box, aspect_box, box_iou, clip_box
from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.paths import FETCH_COMMAND, ModelNotFoundError, find_model_file

DETECTOR_FILE = "pose_detection.tflite"
DETECTOR_SOURCE = "mediapipe 0.10.21 wheel: mediapipe/modules/pose_detection/pose_detection.tflite (Apache-2.0)"
DETECTOR_ENV = "MESHPOSE_DETECTOR"


class DetectorError(MeshPoseError):
    """The detector model is missing or unusable."""


@dataclass(frozen=True)
class SsdAnchorOptions:
    input_height: int = 224
    input_width: int = 224
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    anchors_per_layer: int = 2  # aspect ratio 1.0 plus the interpolated scale, both of size 1 (fixed)


@dataclass(frozen=True)
class DetectorParams:
    min_score: float = 0.5
    nms_iou: float = 0.3
    max_people: int = 4
    # Body height as a multiple of the alignment circle's diameter; measured on synthetic people
    # with known boxes (docs/design.md, "Person detector").
    height_scale: float = 0.93

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"detector min_score must lie in [0, 1], got {self.min_score}")
        if not 0.0 < self.nms_iou <= 1.0:
            raise ValueError(f"detector nms_iou must lie in (0, 1], got {self.nms_iou}")
        if self.max_people < 1:
            raise ValueError(f"detector max_people must be at least 1, got {self.max_people}")
        if not self.height_scale > 0:
            raise ValueError(f"detector height_scale must be positive, got {self.height_scale}")


@dataclass(frozen=True)
class Detection:
    score: float
    face_box: Box  # xywh, image pixels
    keypoints: tuple[tuple[float, float], ...]  # 4 x (x, y), image pixels
    box: Box  # person box for the crop contract, image pixels

    def to_dict(self, decimals: int = 3) -> dict:
        return {
            "score": round(self.score, 6),
            "box": [round(v, decimals) for v in self.box],
            "face_box": [round(v, decimals) for v in self.face_box],
            "keypoints": [[round(v, decimals) for v in kp] for kp in self.keypoints],
        }


# --------------------------------------------------------------------------- pure decoding


def ssd_anchors(opts: SsdAnchorOptions = SsdAnchorOptions()) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1], in the order of the model's outputs: per stride group, rows
    (y) then columns (x), then the anchors of the cell."""
    out = []
    i = 0
    n = len(opts.strides)
    while i < n:
        stride = opts.strides[i]
        per_cell = 0
        while i < n and opts.strides[i] == stride:
            per_cell += opts.anchors_per_layer
            i += 1
        fh = math.ceil(opts.input_height / stride)
        fw = math.ceil(opts.input_width / stride)
        for y in range(fh):
            for x in range(fw):
                c = ((x + opts.anchor_offset_x) / fw, (y + opts.anchor_offset_y) / fh)
                out.extend([c] * per_cell)
    return np.asarray(out, dtype=np.float64)


def sigmoid_scores(logits: np.ndarray, clip: float = 100.0) -> np.ndarray:
    z = np.clip(np.asarray(logits, dtype=np.float64).reshape(-1), -clip, clip)
    return 1.0 / (1.0 + np.exp(-z))


def decode_raw(raw: np.ndarray, anchors: np.ndarray, input_size: tuple[int, int] = (224, 224)) -> np.ndarray:
    """(N, 12) raw regressors -> (N, 12) normalised [0, 1] input coordinates: box cx, cy, w, h, then
    4 keypoints (x, y)."""
    h_in, w_in = input_size
    raw = np.asarray(raw, dtype=np.float64).reshape(len(anchors), -1)
    out = raw.copy()
    ax, ay = anchors[:, 0], anchors[:, 1]
    out[:, 0] = raw[:, 0] / w_in + ax
    out[:, 1] = raw[:, 1] / h_in + ay
    out[:, 2] = raw[:, 2] / w_in
    out[:, 3] = raw[:, 3] / h_in
    out[:, 4::2] = raw[:, 4::2] / w_in + ax[:, None]
    out[:, 5::2] = raw[:, 5::2] / h_in + ay[:, None]
    return out


def _xywh(decoded_row: np.ndarray) -> Box:
    cx, cy, w, h = (float(v) for v in decoded_row[:4])
    return (cx - w / 2.0, cy - h / 2.0, w, h)


def weighted_nms(
    decoded: np.ndarray, scores: np.ndarray, iou_threshold: float, max_out: int
) -> list[tuple[float, np.ndarray]]:
    """Candidates (already score-filtered) -> up to max_out (score, decoded row) clusters."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    remaining = list(order)
    out: list[tuple[float, np.ndarray]] = []
    while remaining and len(out) < max_out:
        best = remaining[0]
        best_box = _xywh(decoded[best])
        cluster, rest = [], []
        for i in remaining:
            (cluster if i == best or box_iou(best_box, _xywh(decoded[i])) > iou_threshold else rest).append(i)
        w_sum = 0.0
        acc = np.zeros(decoded.shape[1], dtype=np.float64)
        for i in cluster:  # in score order: the same sum order in every port
            acc = acc + float(scores[i]) * decoded[i]
            w_sum += float(scores[i])
        out.append((float(scores[best]), acc / w_sum))
        remaining = rest
    return out


@dataclass(frozen=True)
class Letterbox:
    """Where the photo sits in the square detector input: scaled to `content` input pixels (the
    longer side fills the input, sides rounded to whole pixels), centred with whole-pixel offsets."""

    image_width: int
    image_height: int
    input_size: int
    content_width: int
    content_height: int
    offset_x: int
    offset_y: int

    @classmethod
    def fit(cls, image_width: int, image_height: int, input_size: int = 224) -> Letterbox:
        s = input_size / max(image_width, image_height)
        cw = min(input_size, max(1, round(image_width * s)))
        ch = min(input_size, max(1, round(image_height * s)))
        return cls(image_width, image_height, input_size, cw, ch, (input_size - cw) // 2, (input_size - ch) // 2)

    def to_image(self, xn: np.ndarray, yn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised input coordinates -> photo pixels (pixel centres at integers)."""
        sx = self.content_width / self.image_width
        sy = self.content_height / self.image_height
        x = (np.asarray(xn, dtype=np.float64) * self.input_size - self.offset_x) / sx - 0.5
        y = (np.asarray(yn, dtype=np.float64) * self.input_size - self.offset_y) / sy - 0.5
        return x, y

    def size_to_image(self, wn: float, hn: float) -> tuple[float, float]:
        return (
            float(wn) * self.input_size * self.image_width / self.content_width,
            float(hn) * self.input_size * self.image_height / self.content_height,
        )


def person_box(
    hip: tuple[float, float],
    circle: tuple[float, float],
    aspect: float,
    height_scale: float,
    image_size: tuple[int, int] | None = None,
) -> Box | None:
    """The alignment keypoints (image pixels) -> a person box of the model's aspect: centred on the
    hip, height 2 * radius * height_scale, width aspect * height, clipped to the image (the visible
    part, like the tracker's visible-vertex box), then grown to the aspect again. None when the box
    misses the image or the radius is zero."""
    r = math.hypot(circle[0] - hip[0], circle[1] - hip[1])
    h = 2.0 * r * height_scale
    if not (h > 0 and math.isfinite(h)):
        return None
    box: Box | None = aspect_box(hip[0], hip[1], h * aspect, h, aspect)
    if image_size is not None:
        box = clip_box(box, image_size[0], image_size[1])
        if box is None:
            return None
        box = aspect_box(box[0] + box[2] / 2.0, box[1] + box[3] / 2.0, box[2], box[3], aspect)
    return box


def detections_from_outputs(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    letterbox: Letterbox,
    params: DetectorParams,
    aspect: float,
) -> list[Detection]:
    """The model's two outputs -> detections in image pixels, best first."""
    scores = sigmoid_scores(raw_scores)
    keep = np.nonzero(scores >= params.min_score)[0]
    if keep.size == 0:
        return []
    decoded = decode_raw(np.asarray(raw_boxes).reshape(len(anchors), -1)[keep], anchors[keep])
    clusters = weighted_nms(decoded, scores[keep], params.nms_iou, params.max_people)
    out = []
    for score, row in clusters:
        cx, cy = letterbox.to_image(row[0], row[1])
        fw, fh = letterbox.size_to_image(row[2], row[3])
        face = (float(cx) - fw / 2.0, float(cy) - fh / 2.0, fw, fh)
        kx, ky = letterbox.to_image(row[4::2], row[5::2])
        kps = tuple((float(x), float(y)) for x, y in zip(kx, ky, strict=True))
        box = person_box(kps[0], kps[1], aspect, params.height_scale, (letterbox.image_width, letterbox.image_height))
        if box is not None:
            out.append(Detection(score, face, kps, box))
    return out


# --------------------------------------------------------------------------- runtime


def find_detector(path: str | Path | None = None) -> Path:
    """--detector, else $MESHPOSE_DETECTOR, else the copy `meshpose-models fetch` or `make setup` unzipped
    (`paths.find_model_file`: $MESHPOSE_MODELS, the user cache, the checkout's models/)."""
    flag = "--detector"
    if path is None and os.environ.get(DETECTOR_ENV):
        path, flag = os.environ[DETECTOR_ENV], f"${DETECTOR_ENV}"
    if path is None:
        try:
            return find_model_file(DETECTOR_FILE)
        except ModelNotFoundError as err:
            raise DetectorError(f"{err}, or pass --box x,y,w,h") from None
    if Path(path).is_file():
        return Path(path)
    raise DetectorError(
        f"person detector not found at {path} ({flag}); pass MediaPipe's {DETECTOR_FILE}, or unset it and run "
        f"`{FETCH_COMMAND}`, or pass --box x,y,w,h"
    )


class PersonDetector:
    """photo (H, W, 3) RGB -> list[Detection], best first."""

    def __init__(
        self,
        path: str | Path | None = None,
        params: DetectorParams | None = None,
        aspect: float = 0.75,
        threads: int | None = None,
    ) -> None:
        self.path = find_detector(path)
        self.params = params or DetectorParams()
        self.aspect = float(aspect)
        try:
            self.interp = litert_interpreter(self.path, threads)
            self.interp.allocate_tensors()
        except Exception as err:  # the runtime raises its own types on a damaged file
            why = " ".join(str(err).split())[:120] or type(err).__name__
            raise DetectorError(
                f"cannot load person detector {self.path} ({why}); pass MediaPipe's {DETECTOR_FILE} to --detector "
                f"or run `{FETCH_COMMAND} --force`"
            ) from None
        (inp,) = self.interp.get_input_details()
        shape = tuple(int(v) for v in inp["shape"])
        outs = {tuple(int(v) for v in d["shape"])[-1]: d["index"] for d in self.interp.get_output_details()}
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3 or set(outs) != {12, 1}:
            raise DetectorError(
                f"{self.path} is not MediaPipe's pose detector (input {shape}); run `{FETCH_COMMAND} --force`"
            )
        self.input_size = shape[1]
        self._inp = inp["index"]
        self._boxes, self._scores = outs[12], outs[1]
        self.anchors = ssd_anchors(SsdAnchorOptions(self.input_size, self.input_size))

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Photo -> (1, S, S, 3) float32 in [-1, 1], letterboxed with black bars."""
        from PIL import Image

        img = np.asarray(image)
        lb = Letterbox.fit(img.shape[1], img.shape[0], self.input_size)
        # PIL's bilinear filter widens its support when shrinking (no aliasing from large photos).
        pil = Image.fromarray(np.ascontiguousarray(np.clip(img, 0, 255), dtype=np.uint8))
        small = np.asarray(pil.resize((lb.content_width, lb.content_height), Image.BILINEAR))
        canvas = np.zeros((self.input_size, self.input_size, 3), dtype=np.uint8)
        canvas[lb.offset_y : lb.offset_y + lb.content_height, lb.offset_x : lb.offset_x + lb.content_width] = small
        return (canvas.astype(np.float32) / 127.5 - 1.0)[None], lb

    def __call__(self, image: np.ndarray) -> list[Detection]:
        tensor, lb = self.preprocess(image)
        self.interp.set_tensor(self._inp, tensor)
        self.interp.invoke()
        raw_boxes = self.interp.get_tensor(self._boxes)[0]
        raw_scores = self.interp.get_tensor(self._scores)[0]
        return detections_from_outputs(raw_boxes, raw_scores, self.anchors, lb, self.params, self.aspect)
