"""Real-photo evaluation with no human labels: a model's mesh against BlazePose GHUM full.

**Rule: these photos judge a model; they are never used to train or tune one.** Nothing in
`meshpose_mobile` (training, synthetic data) reads them, and no hyper-parameter, threshold or
checkpoint choice is taken from these numbers; a change made to raise them would turn this
evaluation into a training set of nine people.

People in real photos that installed packages ship (`PHOTOS`): scikit-image's astronaut and
cameraman, matplotlib's Grace Hopper, and OpenCV's sample data from Debian's `opencv-doc` package
(Messi, two people in a basketball frame, three pedestrians in a frame of `vtest.avi`), which
`make realphotos` extracts into the checkout's `models/photos/`. Each person has a box drawn by hand
on that exact image (COCO xywh, image pixels), stored here; `boxes="detector"` evaluates whoever
the person detector finds instead.

Photos a user brings (`user_photos`: files or folders, boxes from a JSON file or else the person
detector) join or replace that set. The packaged people are mostly upright, so an average body
already agrees with BlazePose at PCK@0.2 0.67 (docs/training.md, "A picture-blind baseline"); a set
with sitting, bending or lying people is what tells models apart there. `baseline` states every
model's numbers above one column's, for instance such a picture-blind mesh.

Per person, one data path (`meshpose_export.runtime.predict.Predictor`: checkpoint or any artifact ->
crop contract -> model -> image pixels) gives the mesh. BlazePose GHUM full (LiteRT interpreter)
sees its own region by default (`peer_crop="mediapipe"`): the one MediaPipe's pose landmarker makes
from the pose detector's detection of that person (`mediapipe_roi`), which holds the whole body
and pads beyond the photo. Where no detection matches the box, and with `peer_crop="model"`, it sees
the model's crop region (box grown to the model's aspect and scaled by its box scale) padded to a
square with zeros; on a waist-up person that tight square makes it draw a shrunken whole body
inside the crop. Either way the crop is 256 x 256, RGB in [0, 1], and its landmarks (crop pixels,
pixel corners at integers) and its segmentation (logits, sigmoid > 0.5) go back to the photo
through the same affine. Then, in image pixels:

- joints: the topology's COCO regressor applied to the mesh's vertices against BlazePose's 17
  COCO-mapped landmarks (`BLAZEPOSE_COCO`): PCK@0.1 and PCK@0.2 and the mean error, all as a
  fraction of the longer side of the person box; also PCK@0.1 over the joints BlazePose itself
  marks visible (visibility > 0.5), since on upper-body photos it also guesses the legs;
- silhouette: every face of the mesh filled in 2-D against BlazePose's mask, IoU over the photo
  (outside its crop BlazePose says nothing, read as background);
- per joint: each joint's distance, and its PCK over every person and where BlazePose sees it.

BlazePose is a peer, not ground truth: agreeing with it is the measure, and its own mistakes on
these photos count against every model alike (see the pictures).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_export.litert import litert_interpreter
from meshpose_export.runtime.peer import PEER_FILE, find_peer, missing_peer
from meshpose_export.runtime.predict import Prediction, Predictor
from meshpose_mobile.crop import CropContract
from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.topology import Topology

Box = tuple[float, float, float, float]
REPORT_FORMAT = "meshpose-realphoto"
REPORT_VERSION = 1
RULE = "real photos judge a model and are never used to train or tune it"

# BlazePose's 33 (of 39) landmark indices of COCO's 17 keypoints, in COCO order.
BLAZEPOSE_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
COCO_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
COCO_SKELETON = (
    (0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
)  # fmt: skip
PEER_INPUT = 256
PCK_THRESHOLDS = (0.1, 0.2)
VISIBLE = 0.5
# BlazePose's pose flag (its own probability that a pose is present) at which MediaPipe's pose
# landmarker keeps a result: its default min_pose_presence_confidence, 0.5. Below it BlazePose
# itself disowns its landmarks (the cameraman 0.48; Grace Hopper 0.45 on meshpose_xs's crop),
# so the report adds, per model, means over the people it is sure of on that model's crop. The
# threshold is MediaPipe's, fixed before any model was scored on it; the all-people means stay
# the headline numbers.
PEER_SURE = 0.5

# BlazePose's own region of interest, as MediaPipe's pose landmark graph makes it from the pose
# detector (pose_detection_to_roi, Apache-2.0): a square centred on the mid-hip keypoint whose side
# is the full-body circle's diameter times 1.25, rotated so that the hip -> circle-point direction
# points up. The landmark model was trained on such crops: fed a tight upper-body square instead
# it draws a shrunken whole body inside it (hips at the chest, ankles at the crop's bottom edge on
# the astronaut; docs/design.md, "Real photos without labels").
ROI_SCALE = 1.25
ROI_TARGET_ANGLE = math.pi / 2
# A detection stands for a stored person box when their IoU reaches this (the detector's person
# box and the hand-drawn one frame the same person differently: 0.35-0.80 on the packaged people).
ROI_MATCH_IOU = 0.3
PEER_CROPS = ("mediapipe", "model")

# Debian 12's opencv-doc: its sample data (Debian keeps only DFSG-free files; Lena was removed).
OPENCV_DOC_VERSION = "4.6.0+dfsg-12"
OPENCV_DOC_DATA = "usr/share/doc/opencv-doc/examples/data"
PHOTO_DIR_HINT = "run `make realphotos` (extracts them from Debian's opencv-doc) or pass --photo-dir"


class RealPhotoError(MeshPoseError):
    """A photo, the peer model or an option the real-photo evaluation cannot use."""


@dataclass(frozen=True)
class RealPhoto:
    """One photo and the people in it. `kind`: where it comes from ("skimage", "matplotlib",
    "opencv-doc" file, "opencv-doc-video" frame, or "file": a photo of the user's); `ref`: the name
    there (for "file", its absolute path); `frame`: video frame index; `boxes` may be empty for a
    user's photo (the person detector then finds the people)."""

    name: str
    source: str
    kind: str
    ref: str
    boxes: tuple[Box, ...]
    sha256: str = ""
    frame: int = 0

    @property
    def shipped_in_venv(self) -> bool:
        return self.kind in ("skimage", "matplotlib")

    def locate(self, photo_dirs: Sequence[Path]) -> Path | None:
        if self.shipped_in_venv:
            return None
        if self.kind == "file":
            return Path(self.ref) if Path(self.ref).is_file() else None
        for folder in photo_dirs:
            if (Path(folder) / self.ref).is_file():
                return Path(folder) / self.ref
        return None

    def load(self, photo_dirs: Sequence[Path] = ()) -> np.ndarray:
        """H x W x 3 uint8 RGB."""
        if self.kind == "skimage":
            import skimage.data

            img = np.asarray(getattr(skimage.data, self.ref)())
            return np.ascontiguousarray(np.stack([img] * 3, axis=-1) if img.ndim == 2 else img[..., :3])
        if self.kind == "matplotlib":
            import matplotlib.cbook
            from PIL import Image

            with matplotlib.cbook.get_sample_data(self.ref) as f:
                return np.asarray(Image.open(f).convert("RGB"))
        if self.kind == "file":
            from meshpose_mobile.images import ImageError, load_rgb

            try:
                return load_rgb(self.ref)
            except ImageError as err:
                raise RealPhotoError(str(err)) from None
        path = self.locate(photo_dirs)
        if path is None:
            looked = ", ".join(str(d) for d in photo_dirs) or "nowhere"
            raise RealPhotoError(f"photo {self.ref} ({self.name}) not found in {looked}; {PHOTO_DIR_HINT}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if self.sha256 and digest != self.sha256:
            raise RealPhotoError(
                f"{path} is not the file this evaluation's boxes were drawn on (SHA-256 {digest[:12]}, expected "
                f"{self.sha256[:12]}); {PHOTO_DIR_HINT}"
            )
        if self.kind == "opencv-doc-video":
            import av

            with av.open(str(path)) as container:
                for i, frame in enumerate(container.decode(video=0)):
                    if i == self.frame:
                        return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
            raise RealPhotoError(f"{path} has fewer than {self.frame + 1} frames; {PHOTO_DIR_HINT}")
        from meshpose_mobile.images import load_rgb

        return load_rgb(path)


_OPENCV = f"Debian opencv-doc {OPENCV_DOC_VERSION}: /{OPENCV_DOC_DATA}/"
PHOTOS: tuple[RealPhoto, ...] = (
    RealPhoto(
        "astronaut",
        "scikit-image 0.26: skimage.data.astronaut() (Eileen Collins, NASA, public domain)",
        "skimage",
        "astronaut",
        ((20.0, 10.0, 350.0, 502.0),),
    ),
    RealPhoto(
        "grace_hopper",
        "matplotlib 3.11: cbook.get_sample_data('grace_hopper.jpg') (US Navy, public domain)",
        "matplotlib",
        "grace_hopper.jpg",
        ((10.0, 20.0, 500.0, 580.0),),
    ),
    RealPhoto(
        "cameraman",
        "scikit-image 0.26: skimage.data.camera() (greyscale, shown as RGB)",
        "skimage",
        "camera",
        ((0.0, 65.0, 335.0, 447.0),),
    ),
    RealPhoto(
        "messi",
        _OPENCV + "messi5.jpg",
        "opencv-doc",
        "messi5.jpg",
        ((68.0, 60.0, 392.0, 277.0),),
        "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9",
    ),
    RealPhoto(
        "basketball",
        _OPENCV + "basketball1.png (greyscale)",
        "opencv-doc",
        "basketball1.png",
        ((35.0, 78.0, 125.0, 402.0), (430.0, 20.0, 210.0, 460.0)),
        "ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6",
    ),
    RealPhoto(
        "pedestrians",
        _OPENCV + "vtest.avi, frame 600",
        "opencv-doc-video",
        "vtest.avi",
        ((283.0, 430.0, 50.0, 146.0), (452.0, 300.0, 55.0, 118.0), (640.0, 303.0, 32.0, 110.0)),
        "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
        frame=600,
    ),
)


def photo_dirs(extra: Path | None = None) -> list[Path]:
    """Where the opencv-doc files are looked for: --photo-dir, the checkout's models/photos
    (`make realphotos`), then the installed Debian package itself."""
    from meshpose_mobile.paths import checkout_root

    dirs = [] if extra is None else [Path(extra)]
    root = checkout_root()
    if root is not None:
        dirs.append(root / "models" / "photos")
    dirs.append(Path("/") / OPENCV_DOC_DATA)
    return dirs


def select_photos(names: Sequence[str] | None) -> list[RealPhoto]:
    if not names:
        return list(PHOTOS)
    known = {p.name: p for p in PHOTOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RealPhotoError(f"unknown photo {unknown[0]!r} in --photos; choose from {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)]


def user_photos(paths: Sequence[Path], box_file: Path | None = None, taken: Sequence[str] = ()) -> list[RealPhoto]:
    """Photos a user brings: each path a photo or a folder of photos (its images, not recursive,
    sorted). `box_file`: JSON `{"<file name, or the path as passed>": [[x, y, w, h], ...]}` (COCO
    xywh, image pixels); a photo it does not name gets the person detector's boxes. Each photo is
    named by its file stem, made unique against `taken` and the others (pictures are `<name>.png`)."""
    from meshpose_export.runtime.predict import list_images

    files: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        for found in list_images(path):
            if found.resolve() not in seen:
                seen.add(found.resolve())
                files.append(found)
    boxes = _box_file(box_file, files) if box_file is not None else {}
    used = set(taken)
    out = []
    for f in files:
        name, n = f.stem, 2
        while name in used:
            name, n = f"{f.stem}-{n}", n + 1
        used.add(name)
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        # Named relative to the working folder where it is inside it: no machine's paths in docs/.
        shown = f.resolve().relative_to(Path.cwd()) if f.resolve().is_relative_to(Path.cwd()) else f.resolve()
        out.append(RealPhoto(name, f"your photo: {shown}", "file", str(f.resolve()), boxes.get(f, ()), digest))
    return out


def _box_file(path: Path, files: Sequence[Path]) -> dict[Path, tuple[Box, ...]]:
    hint = 'pass a JSON object {"photo.jpg": [[x, y, w, h], ...]} (top-left corner, width, height, image pixels)'
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RealPhotoError(f"--box-file {path} not found; {hint}") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        why = " ".join(str(err).split())[:80] or type(err).__name__
        raise RealPhotoError(f"cannot read --box-file {path} ({why}); {hint}") from None
    if not isinstance(doc, dict):
        raise RealPhotoError(f"--box-file {path} holds a {type(doc).__name__}, not an object; {hint}")
    out: dict[Path, tuple[Box, ...]] = {}
    for key, value in doc.items():
        # A key is a file name, or a path as passed (relative to the working folder, or absolute).
        matches = [f for f in files if key == f.name or Path(key).resolve() == f.resolve()]
        if not matches:
            raise RealPhotoError(f"--box-file names {key!r}, which is not among the --image photos; {hint}")
        if len(matches) > 1:
            raise RealPhotoError(
                f"--box-file key {key!r} names {len(matches)} --image photos ({matches[0]}, {matches[1]}); "
                "key them by path"
            )
        boxes = []
        for box in value if isinstance(value, list) else [None]:
            try:
                x, y, w, h = (float(v) for v in box)  # type: ignore[union-attr]
                ok = bool(np.isfinite([x, y, w, h]).all()) and w >= 1.0 and h >= 1.0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise RealPhotoError(
                    f"--box-file {key!r}: {box!r} is not a box of four finite numbers with width and height "
                    f">= 1; {hint}"
                )
            boxes.append((x, y, w, h))
        if not boxes:
            raise RealPhotoError(f"--box-file {key!r} lists no box; drop the key to let the detector find people")
        out[matches[0]] = tuple(boxes)
    return out


# --------------------------------------------------------------------------- metrics (pure)


def pck(pred: np.ndarray, ref: np.ndarray, size: float, threshold: float, mask: np.ndarray | None = None) -> float:
    """Share of joints within `threshold * size` of the reference (all joints, or those in `mask`);
    nan when no joint counts."""
    d = np.linalg.norm(np.asarray(pred, np.float64)[..., :2] - np.asarray(ref, np.float64)[..., :2], axis=-1)
    if mask is not None:
        d = d[np.asarray(mask, bool)]
    return float(np.mean(d <= threshold * size)) if d.size else math.nan


def mean_error(pred: np.ndarray, ref: np.ndarray, size: float) -> float:
    """Mean joint distance as a fraction of `size`."""
    d = np.linalg.norm(np.asarray(pred, np.float64)[..., :2] - np.asarray(ref, np.float64)[..., :2], axis=-1)
    return float(d.mean() / size)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks; 1 when both are empty (they agree)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def mask_cover(a: np.ndarray, b: np.ndarray) -> float:
    """The share of mask `a` that mask `b` covers; nan when `a` is empty. IoU alone cannot say
    whether a mesh spills past the person or misses part of it; this, taken both ways, can."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    n = int(np.count_nonzero(a))
    return math.nan if n == 0 else float(np.count_nonzero(a & b) / n)


def mask_split(mesh: np.ndarray, target: np.ndarray) -> tuple[float, float, float]:
    """IoU of a mesh's silhouette with a target mask, the share of the mesh inside the target and
    the share of the target the mesh covers: what the real-photo report and the synthetic
    benchmark both read."""
    return mask_iou(mesh, target), mask_cover(mesh, target), mask_cover(target, mesh)


def fill_faces(xy: np.ndarray, faces: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W) bool: every triangle of the mesh filled in 2-D (pixel centres at integers)."""
    from PIL import Image, ImageDraw

    canvas = Image.new("1", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(canvas)
    pts = np.asarray(xy, np.float64)[:, :2]
    for tri in np.asarray(faces, np.int64):
        corners = pts[tri]
        if np.isfinite(corners).all():
            draw.polygon([(float(x), float(y)) for x, y in corners], fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)


def crop_mask_to_image(
    prob: np.ndarray, affine: np.ndarray, width: int, height: int, threshold: float = 0.5
) -> np.ndarray:
    """A crop-pixel probability map -> (H, W) bool in the photo: each photo pixel reads the crop
    bilinearly at its image -> crop position; outside the crop reads 0 (no person)."""
    from meshpose_mobile.crop import bilinear_sample

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    cx = affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2]
    cy = affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2]
    return bilinear_sample(np.asarray(prob, np.float32), cx, cy, 0.0)[..., 0] > threshold


def peer_box(prediction: Prediction, contract: CropContract) -> Box:
    """The model's crop region (image pixels) padded to a square on its shorter side: same centre,
    side = the region's longer side; with box scale 1 this is the peer's crop box."""
    inv_w = contract.input_width * prediction.scale
    inv_h = contract.input_height * prediction.scale
    side = max(inv_w, inv_h)
    # The crop contract puts the box centre at (W/2, H/2) in pixel-centre coordinates.
    centre = contract.to_image(np.array([[contract.input_width / 2.0, contract.input_height / 2.0]]), prediction.affine)
    cx, cy = float(centre[0, 0]), float(centre[0, 1])
    return (cx - side / 2.0, cy - side / 2.0, side, side)


def mediapipe_roi(hip: Sequence[float], circle: Sequence[float], size: int = PEER_INPUT) -> tuple[np.ndarray, float]:
    """The pose detector's mid-hip and full-body circle keypoints (image pixels) -> (2x3 affine
    from image pixels to the landmark model's crop pixels, pixel centres at integers; rotation in
    radians, clockwise in the image): MediaPipe's region for BlazePose (`ROI_SCALE`)."""
    hx, hy = float(hip[0]), float(hip[1])
    dx, dy = float(circle[0]) - hx, float(circle[1]) - hy
    side = 2.0 * math.hypot(dx, dy) * ROI_SCALE
    if not (side > 0 and math.isfinite(side)):
        raise RealPhotoError(f"pose detector keypoints {hip}, {circle} give no region; pass --peer-crop model")
    rotation = (ROI_TARGET_ANGLE - math.atan2(-dy, dx) + math.pi) % (2 * math.pi) - math.pi
    c, sn = math.cos(rotation), math.sin(rotation)
    lin = (size / side) * np.array([[c, sn], [-sn, c]])
    offset = np.array([size / 2.0 - 0.5, size / 2.0 - 0.5]) - lin @ np.array([hx, hy])
    return np.concatenate([lin, offset[:, None]], axis=1), rotation


def crop_corners(affine: np.ndarray, size: int = PEER_INPUT) -> np.ndarray:
    """(4, 2) image pixels of a crop's outer corners, clockwise from top-left."""
    from meshpose_mobile.crop import invert_affine

    inv = invert_affine(affine)
    px = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [size - 0.5, size - 0.5], [-0.5, size - 0.5]])
    return px @ inv[:, :2].T + inv[:, 2]


def match_detection(box: Box, detections: Sequence[Any]) -> Any | None:
    """The detection whose person box overlaps `box` most, if by at least `ROI_MATCH_IOU`."""
    from meshpose_export.runtime.tracking import box_iou

    scored = [(box_iou(d.box, box), d) for d in detections]
    best = max(scored, key=lambda t: t[0], default=None)
    return best[1] if best is not None and best[0] >= ROI_MATCH_IOU else None


# --------------------------------------------------------------------------- the peer


@dataclass(frozen=True, eq=False)
class PeerResult:
    landmarks: np.ndarray  # (39, 2) image pixels
    visibility: np.ndarray  # (39,) sigmoid
    pose_flag: float
    mask: np.ndarray  # (H, W) bool, image frame
    box: Box  # the axis-aligned bounds of its crop, image pixels
    corners: np.ndarray  # (4, 2) its crop's corners (rotated crops), image pixels
    crop: str = "model crop, squared"  # which region BlazePose saw

    @property
    def coco(self) -> np.ndarray:
        return self.landmarks[list(BLAZEPOSE_COCO)]

    @property
    def coco_visible(self) -> np.ndarray:
        return self.visibility[list(BLAZEPOSE_COCO)] > VISIBLE


class BlazePoseFull:
    """MediaPipe's pose_landmark_full.tflite on the LiteRT interpreter (mediapipe is never imported)."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None) -> None:
        if path is None:
            found = find_peer()
            if found is None:
                raise RealPhotoError(f"{missing_peer()}, or pass --peer")
            path = found
        self.path = Path(path)
        if not self.path.is_file():
            raise RealPhotoError(f"peer model not found: {self.path} (--peer); pass MediaPipe's {PEER_FILE}")
        try:
            self.interp = litert_interpreter(self.path, threads)
            self.interp.allocate_tensors()
        except Exception as err:  # the runtime's own error types on a damaged file
            why = " ".join(str(err).split())[:120] or type(err).__name__
            raise RealPhotoError(f"cannot load peer model {self.path} ({why}); pass MediaPipe's {PEER_FILE}") from None
        (inp,) = self.interp.get_input_details()
        self._inp = inp["index"]
        by_shape = {tuple(int(v) for v in d["shape"]): d["index"] for d in self.interp.get_output_details()}
        shape = tuple(int(v) for v in inp["shape"])
        want = [(1, 195), (1, 1), (1, PEER_INPUT, PEER_INPUT, 1)]
        if shape != (1, PEER_INPUT, PEER_INPUT, 3) or any(w not in by_shape for w in want):
            raise RealPhotoError(
                f"{self.path} is not BlazePose GHUM full (input {shape}); pass MediaPipe's {PEER_FILE}"
            )
        self._lm, self._flag, self._seg = (by_shape[w] for w in want)
        self.contract = CropContract(PEER_INPUT, PEER_INPUT, box_scale=1.0, border_value=(0.0, 0.0, 0.0))

    def run_crop(self, crop01: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """(256, 256, 3) RGB in [0, 1] -> ((39, 5) landmarks in crop pixels + logits, pose flag,
        (256, 256) segmentation probability)."""
        self.interp.set_tensor(self._inp, np.ascontiguousarray(crop01[None], dtype=np.float32))
        self.interp.invoke()
        lm = np.array(self.interp.get_tensor(self._lm), dtype=np.float64).reshape(39, 5)
        flag = float(np.asarray(self.interp.get_tensor(self._flag)).reshape(-1)[0])
        seg = np.array(self.interp.get_tensor(self._seg), dtype=np.float64).reshape(PEER_INPUT, PEER_INPUT)
        return lm, flag, 1.0 / (1.0 + np.exp(-np.clip(seg, -60.0, 60.0)))

    def __call__(self, image: np.ndarray, box: Box) -> PeerResult:
        """BlazePose on an axis-aligned square box (the model's crop region, squared)."""
        return self.on_affine(image, self.contract.box_affine(box), box=box)

    def on_roi(self, image: np.ndarray, detection: Any) -> PeerResult:
        """BlazePose on MediaPipe's own region for a pose detection (`mediapipe_roi`)."""
        affine, rotation = mediapipe_roi(detection.keypoints[0], detection.keypoints[1])
        crop = f"MediaPipe's region (detector {detection.score:.2f}, rotated {math.degrees(rotation):.1f} deg)"
        return self.on_affine(image, affine, crop)

    def on_affine(
        self, image: np.ndarray, affine: np.ndarray, crop_name: str = "model crop, squared", box: Box | None = None
    ) -> PeerResult:
        """BlazePose on the crop `affine` (image -> crop pixels) defines; `box`: its region, if
        axis-aligned (else the bounds of its corners)."""
        h, w = image.shape[:2]
        lm, flag, prob = self.run_crop(self.contract.crop_affine(image, affine) / 255.0)
        # Its landmarks put pixel corners at integers; the crop contract puts pixel centres there.
        xy = self.contract.to_image(lm[:, :2] - 0.5, affine)
        vis = 1.0 / (1.0 + np.exp(-np.clip(lm[:, 3], -60.0, 60.0)))
        corners = crop_corners(affine)
        if box is None:
            lo, hi = corners.min(axis=0), corners.max(axis=0)
            box = (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
        return PeerResult(xy, vis, flag, crop_mask_to_image(prob, affine, w, h), box, corners, crop_name)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, eq=False)
class PersonResult:
    photo: str
    person: int
    box: Box
    box_source: str
    model: str
    joints: np.ndarray  # (17, 2) the mesh's COCO joints, image pixels
    silhouette: np.ndarray | None  # (H, W) bool
    prediction: Prediction
    metrics: dict[str, float]


def joint_errors(joints: np.ndarray, peer: PeerResult, box: Box) -> list[float]:
    """Each COCO joint's distance to BlazePose's, as a fraction of the box's longer side."""
    d = np.linalg.norm(np.asarray(joints, np.float64)[:, :2] - peer.coco[:, :2], axis=-1)
    return [round(float(v), 4) for v in d / max(float(box[2]), float(box[3]))]


def per_joint(rows: list[dict[str, Any]], labels: Sequence[str]) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per model and COCO joint, the share of people within each PCK threshold, over every person
    and over those where BlazePose marks the joint visible (how many: `visible_people`): which
    joints a model earns, read beside a baseline's. A joint BlazePose does not see is its guess,
    for instance legs below an upper-body crop, where an average body agrees with it best."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for label in labels:
        mine = [r["models"][label] for r in rows if label in r["models"]]
        errs = np.array([m["joint_err"] for m in mine], np.float64)
        seen = np.array([m["joint_visible"] for m in mine], bool)
        out[label] = {}
        for j, name in enumerate(COCO_NAMES):
            entry: dict[str, float | None] = {
                f"pck@{t:g}": _num(float(np.mean(errs[:, j] <= t))) for t in PCK_THRESHOLDS
            }
            for t in PCK_THRESHOLDS:
                hits = errs[seen[:, j], j] <= t
                entry[f"pck@{t:g}_visible"] = _num(float(hits.mean())) if hits.size else None
            entry["visible_people"] = int(seen[:, j].sum())
            out[label][name] = entry
    return out


def person_metrics(joints: np.ndarray, peer: PeerResult, box: Box, silhouette: np.ndarray | None) -> dict[str, float]:
    size = max(float(box[2]), float(box[3]))
    ref = peer.coco
    out = {f"pck@{t:g}": pck(joints, ref, size, t) for t in PCK_THRESHOLDS}
    out["mean_err"] = mean_error(joints, ref, size)
    for t in PCK_THRESHOLDS:
        out[f"pck@{t:g}_visible"] = pck(joints, ref, size, t, peer.coco_visible)
    out["visible_joints"] = float(np.count_nonzero(peer.coco_visible))
    split = (math.nan,) * 3 if silhouette is None else mask_split(silhouette, peer.mask)
    out["iou"], out["mesh_in_seg"], out["seg_in_mesh"] = split
    # On the model's crop (--peer-crop model, or no detection matched) the peer's flag is per model.
    out["peer_pose_flag"] = float(peer.pose_flag)
    return out


class Evaluator:
    """One model against the peer on given people; `coco` and `faces` come from the topology."""

    def __init__(self, predictor: Predictor, topology: Topology, label: str, positions: str = "fused") -> None:
        if topology.coco_regressor is None:
            raise RealPhotoError(
                f"topology {topology.name!r} has no COCO regressor, so the mesh has no joints to compare; "
                "pass --topology with one (the default topology has it)"
            )
        self.predictor = predictor
        self.regressor = np.asarray(topology.coco_regressor, np.float64)
        self.faces = topology.faces if topology.faces is not None else predictor.faces
        self.label = label
        self.positions = positions

    def person(
        self, image: np.ndarray, photo: str, person: int, box: Box, box_source: str, peer: BlazePoseFull,
        peer_cache: dict[tuple[str, int], PeerResult], fixed: PeerResult | None = None,
    ) -> PersonResult:  # fmt: skip
        """`fixed`: the peer's result on its own region (the same for every model); else the peer
        runs on this model's crop region, squared."""
        pred = self.predictor.predict(image, box, positions=self.positions)
        key = (photo, person)
        if fixed is not None:
            cached = peer_cache[key] = fixed
        else:
            square = peer_box(pred, self.predictor.contract)
            cached = peer_cache.get(key)
            if cached is None or not np.allclose(cached.box, square, atol=1e-6):
                cached = peer_cache[key] = peer(image, square)
        h, w = image.shape[:2]
        joints = self.regressor @ pred.xyz_lp[:, :2]
        sil = None if self.faces is None else fill_faces(pred.xyz_lp[:, :2], self.faces, w, h)
        metrics = person_metrics(joints, cached, box, sil)
        return PersonResult(photo, person, box, box_source, self.label, joints, sil, pred, metrics)


def photo_people(photo: RealPhoto, detections: Sequence[Any] | None, detect_all: bool = True) -> list[tuple[Box, str]]:
    """The stored boxes, unless `detect_all` or the photo has none: then the detections' (the
    person detector's on this photo; None when it did not run)."""
    if photo.boxes and not (detect_all and detections is not None):
        source = "your --box-file" if photo.kind == "file" else "stored (hand-drawn)"
        return [(b, source) for b in photo.boxes]
    if detections is None:
        raise RealPhotoError(
            f"{photo.name} has no stored person box; list its boxes in --box-file or let the person detector find "
            "people (--boxes detector)"
        )
    return [(tuple(float(v) for v in d.box), f"detector {d.score:.2f}") for d in detections]  # type: ignore[misc]


def summarise(rows: list[dict[str, Any]], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    keys = (
        "pck@0.1", "pck@0.2", "mean_err", "iou", "mesh_in_seg", "seg_in_mesh",
        *(f"pck@{t:g}_visible" for t in PCK_THRESHOLDS),
    )  # fmt: skip
    out = {}
    for label in labels:
        mine = [r["models"][label] for r in rows if label in r["models"]]
        out[label] = {}
        for k in keys:
            values = [math.nan if m.get(k) is None else float(m[k]) for m in mine]
            out[label][k] = float(np.nanmean(values)) if any(math.isfinite(v) for v in values) else math.nan
        out[label]["people"] = len(mine)
    return out


def peer_sure_summary(rows: list[dict[str, Any]], labels: Sequence[str]) -> dict[str, Any]:
    """`summarise` per model over the people whose BlazePose pose flag, on that model's crop,
    reaches `PEER_SURE` (`people` in each model's summary says how many)."""
    summary: dict[str, dict[str, Any]] = {}
    for label in labels:
        sure = [
            {**r, "models": {label: r["models"][label]}}
            for r in rows
            if label in r["models"] and (r["models"][label].get("peer_pose_flag") or 0.0) >= PEER_SURE
        ]
        summary[label] = {k: _num(v) for k, v in summarise(sure, [label])[label].items()}
    return {"pose_flag_at_least": PEER_SURE, "summary": summary}


def _peer_crop_note(report: dict[str, Any]) -> str:
    rows = report.get("rows", [])
    if report.get("reference", {}).get("peer_crop") != "mediapipe":
        return "BlazePose saw each model's crop region, squared (--peer-crop model)."
    own = sum(1 for r in rows if str(r.get("peer_crop", "")).startswith("MediaPipe"))
    return (
        f"BlazePose saw its own region, as MediaPipe's pose landmarker makes it from the pose detector, for {own} of "
        f"{len(rows)} people; for the rest (no detection matched the box) each model's crop region, squared."
    )


def markdown_table(report: dict[str, Any]) -> str:
    labels = [m["label"] for m in report["models"]]
    head = "| photo | person | box (x, y, w, h) | BlazePose pose flag (per model) |"
    rule = "|---|---:|---|---:|"
    for label in labels:
        head += f" {label} PCK@0.1 | PCK@0.2 | mean err | IoU |"
        rule += "---:|---:|---:|---:|"

    def f(v: float) -> str:
        return "n/a" if v is None or not math.isfinite(v) else f"{v:.2f}"

    lines = [head, rule]
    for r in report["rows"]:
        flags = " / ".join(f(r["models"].get(label, {}).get("peer_pose_flag")) for label in labels)
        line = f"| {r['photo']} | {r['person']} | {', '.join(f'{v:g}' for v in r['box'])} | {flags} |"
        for label in labels:
            m = r["models"].get(label)
            line += (
                " n/a | n/a | n/a | n/a |"
                if m is None
                else (f" {f(m['pck@0.1'])} | {f(m['pck@0.2'])} | {f(m['mean_err'])} | {f(m['iou'])} |")
            )
        lines.append(line)
    mean = f"| **mean** | {report['num_people']} | | |"
    for label in labels:
        s = report["summary"][label]
        mean += f" **{f(s['pck@0.1'])}** | **{f(s['pck@0.2'])}** | **{f(s['mean_err'])}** | **{f(s['iou'])}** |"
    lines.append(mean)
    seen = f"| mean over the joints BlazePose sees (> {VISIBLE:g}) | {report['num_people']} | | |"
    for label in labels:
        s = report["summary"][label]
        seen += f" {f(s.get('pck@0.1_visible'))} | {f(s.get('pck@0.2_visible'))} | | |"
    lines.append(seen)
    sure = report.get("peer_sure")
    if sure is not None:
        people = " / ".join(str(int(sure["summary"].get(label, {}).get("people") or 0)) for label in labels)
        mean = f"| mean where BlazePose is sure | {people} | | >= {sure['pose_flag_at_least']:g} |"
        for label in labels:
            s = sure["summary"].get(label, {})
            mean += "".join(f" {f(s.get(k))} |" for k in ("pck@0.1", "pck@0.2", "mean_err", "iou"))
        lines.append(mean)
    above = report.get("above_baseline")
    if above is not None:

        def signed(v: float | None) -> str:
            return "n/a" if v is None or not math.isfinite(v) else f"{v:+.2f}"

        line = f"| above {above['label']} (its mean subtracted) | {report['num_people']} | | |"
        for label in labels:
            d = above["models"].get(label, {})
            line += "".join(f" {signed(d.get(k))} |" for k in ("pck@0.1", "pck@0.2", "mean_err", "iou"))
        lines.append(line)
    joint_lines: list[str] = []
    joints = report.get("per_joint")
    if joints:
        joint_lines += [
            "",
            "Per joint: the share of people within 0.1 / 0.2 of the box (PCK@0.1 / PCK@0.2), over every person and "
            "over the people where BlazePose marks the joint visible (> 0.5; how many: seen by BlazePose, per model's "
            "crop). Where BlazePose does not see a joint (legs below an upper-body crop) its landmark is a guess.",
            "",
        ]
        joint_lines.append(
            "| joint |" + "".join(f" {label} | {label}, where seen | seen by BlazePose |" for label in labels)
        )
        joint_lines.append("|---|" + "---:|---:|---:|" * len(labels))
        for name in COCO_NAMES:
            cells = [joints.get(label, {}).get(name, {}) for label in labels]
            joint_lines.append(
                f"| {name} |"
                + "".join(
                    f" {f(c.get('pck@0.1'))} / {f(c.get('pck@0.2'))} | {f(c.get('pck@0.1_visible'))} / "
                    f"{f(c.get('pck@0.2_visible'))} | {c.get('visible_people', 'n/a')} |"
                    for c in cells
                )
            )
    notes = [
        "",
        "Against BlazePose GHUM full (no human labels): PCK and mean error of the mesh's 17 COCO "
        "joints as a fraction of the person box's longer side; IoU of the mesh's filled faces with BlazePose's "
        "segmentation (> 0.5), in image pixels.",
        _peer_crop_note(report),
        f"BlazePose pose flag: its own probability that a pose is present; the second mean keeps the people where "
        f"it is at least {PEER_SURE:g}, MediaPipe's default min_pose_presence_confidence (below it BlazePose itself "
        "disowns its landmarks).",
        f"Rule: {RULE}.",
    ]
    heatmap_only = [m["label"] for m in report.get("models", []) if m.get("positions") == "heatmap"]
    if heatmap_only:
        notes.append(
            "Heatmap positions only (" + ", ".join(heatmap_only) + "): every vertex at its VertexPose heatmap "
            "estimate instead of Eq. 7's fusion with the regressed position, a diagnostic; apps and artifacts "
            "use the fused positions."
        )
    split = [
        f"{label} {f(report['summary'][label].get('mesh_in_seg'))} / {f(report['summary'][label].get('seg_in_mesh'))}"
        for label in labels
    ]
    notes.append(
        "Silhouette split (mean over people), the share of the mesh inside BlazePose's segmentation / of the "
        "segmentation inside the mesh (IoU falls through the first where the mesh spills, through the second where "
        "it misses clothes, hair or a limb): " + ", ".join(split) + "."
    )
    pictures = [f"[{e['name']}]({e['picture']})" for e in report.get("photos", []) if e.get("picture")]
    if pictures:
        notes.append("Pictures: " + ", ".join(pictures) + ".")
    if above is not None:
        notes.append(
            f"Above {above['label']}: each model's mean minus {above['label']}'s (mean error: {above['label']}'s minus "
            "the model's), so above zero is better in every column; against a picture-blind mesh "
            "(benchmarks/blind_baseline.py), PCK@0.1 above it is what a model earns by looking at the person."
        )
    users = [e for e in report.get("photos", []) if str(e.get("source", "")).startswith("your photo")]
    if users:
        notes.append(f"{len(users)} photo(s) of your own: " + ", ".join(e["name"] for e in users) + ".")
    if report.get("skipped"):
        notes.append("Skipped (not found here): " + ", ".join(s["photo"] for s in report["skipped"]) + ".")
    return "\n".join(lines + notes + joint_lines) + "\n"


# --------------------------------------------------------------------------- pictures


def render_photo(
    image: np.ndarray, people: list[tuple[PeerResult, list[PersonResult]]], labels: Sequence[str], title: str
) -> bytes:
    """PNG: BlazePose (segmentation + landmarks) on the left, one panel per model (filled mesh,
    its COCO joints, BlazePose's joints as white crosses), zoomed on the photo's people."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    h, w = image.shape[:2]
    x0 = max(0.0, min(p.box[0] for p, _ in people))
    y0 = max(0.0, min(p.box[1] for p, _ in people))
    x1 = min(w - 1.0, max(p.box[0] + p.box[2] for p, _ in people))
    y1 = min(h - 1.0, max(p.box[1] + p.box[3] for p, _ in people))
    aspect = (x1 - x0 + 1) / max(1.0, y1 - y0 + 1)
    panels = 1 + len(labels)
    fig = Figure(figsize=(panels * 4.0 * max(0.6, min(aspect, 2.0)) + 0.4, 5.4), dpi=90)
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]

    def base(ax: Any, text: str) -> None:
        ax.imshow(image, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
        ax.set_xlim(x0 - 0.5, x1 + 0.5)
        ax.set_ylim(y1 + 0.5, y0 - 0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(text, fontsize=7)

    def skeleton(ax: Any, pts: np.ndarray, colour: str, lw: float = 1.5) -> None:
        for a, b in COCO_SKELETON:
            ax.plot(pts[[a, b], 0], pts[[a, b], 1], "-", color=colour, lw=lw)
        ax.plot(pts[:, 0], pts[:, 1], "o", color=colour, ms=2.5)

    from matplotlib.patches import Rectangle

    def box_patch(ax: Any, box: Box, colour: str) -> None:
        ax.add_patch(Rectangle((box[0], box[1]), box[2], box[3], fill=False, ec=colour, ls="--", lw=0.8))

    base(axes[0], "BlazePose GHUM full: segmentation > 0.5 (cyan),\n17 COCO landmarks, the crop it saw (dashed)")
    for peer, _ in people:
        overlay = np.zeros((h, w, 4), np.float32)
        overlay[peer.mask] = (0.0, 0.9, 1.0, 0.45)
        axes[0].imshow(overlay, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
        skeleton(axes[0], peer.coco, "yellow")
        ring = np.vstack([peer.corners, peer.corners[:1]])
        axes[0].plot(ring[:, 0], ring[:, 1], "--", color="white", lw=0.8)
    for ax, label in zip(axes[1:], labels, strict=True):
        scores = []
        base(ax, "")
        for peer, results in people:
            for res in results:
                if res.model != label:
                    continue
                if res.silhouette is not None:
                    overlay = np.zeros((h, w, 4), np.float32)
                    overlay[res.silhouette] = (1.0, 0.0, 0.85, 0.4)
                    ax.imshow(overlay, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
                skeleton(ax, res.joints, "orangered")
                ax.plot(peer.coco[:, 0], peer.coco[:, 1], "x", color="white", ms=4, mew=1.2)
                box_patch(ax, res.box, "white")
                m = res.metrics
                scores.append(f"#{res.person}: PCK@0.1 {m['pck@0.1']:.2f}, @0.2 {m['pck@0.2']:.2f}, IoU {m['iou']:.2f}")
        ax.set_title(f"{label}: mesh faces (magenta), COCO joints (red),\nBlazePose joints (x), person box (dashed)\n"
                     + "\n".join(scores), fontsize=7)  # fmt: skip
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.95))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    # 256 colours (about a third of the bytes): these pictures live in docs/.
    from PIL import Image

    buf.seek(0)
    with Image.open(buf) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --------------------------------------------------------------------------- the whole run


@dataclass(frozen=True)
class ModelSpec:
    label: str
    predictor: Predictor
    topology: Topology
    positions: str = "fused"  # predict.POSITIONS: "heatmap" scores the heatmap estimate alone


def evaluate(
    models: Sequence[ModelSpec],
    photos: Sequence[RealPhoto],
    peer: BlazePoseFull,
    *,
    dirs: Sequence[Path] = (),
    detector: Callable | None = None,
    detect_all: bool | None = None,
    pictures: Path | None = None,
    explicit: bool = False,
    baseline: str | None = None,
    peer_crop: str = "model",
    progress: Callable[[str], None] = lambda s: None,
) -> tuple[dict[str, Any], dict[Path, bytes]]:
    """Every person of every photo through every model and the peer -> (report, {png path: bytes}).

    `detector` finds the people of every photo when `detect_all` (the default when one is given),
    else only of photos without stored boxes. `baseline`: the label whose means every model's are
    stated above. `peer_crop`: "mediapipe" runs BlazePose on MediaPipe's region from `detector`'s
    matching detection (`match_detection`; the model's crop where none matches), "model" on each
    model's crop region, squared. A photo outside the venv that is not found is skipped (listed in
    the report) unless `explicit` (the user named it), then it is an error; a photo of the user's is
    never skipped."""
    if peer_crop not in PEER_CROPS:
        raise RealPhotoError(f"peer crop {peer_crop!r}; choose from {', '.join(PEER_CROPS)}")
    if peer_crop == "mediapipe" and detector is None:
        raise RealPhotoError("--peer-crop mediapipe needs the pose detector; pass --detector or --peer-crop model")
    if detect_all is None:
        detect_all = detector is not None
    labels = [m.label for m in models]
    if baseline is not None and baseline not in labels:
        raise RealPhotoError(f"--baseline {baseline!r} is not a model label; choose from {', '.join(labels)}")
    evaluators = [Evaluator(m.predictor, m.topology, m.label, m.positions) for m in models]
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    used: list[dict[str, Any]] = []
    files: dict[Path, bytes] = {}
    for photo in photos:
        try:
            image = photo.load(dirs)
        except RealPhotoError as err:
            if explicit or photo.shipped_in_venv or photo.kind == "file":
                raise
            skipped.append({"photo": photo.name, "source": photo.source, "why": str(err)})
            progress(f"warning: skipped {photo.name}: {err}")
            continue
        # One detector pass per photo serves both the people's boxes and BlazePose's regions.
        wanted = detect_all or peer_crop == "mediapipe" or not photo.boxes
        detections = detector(image) if detector is not None and wanted else None
        people = photo_people(photo, detections, detect_all)
        if not people:
            progress(f"warning: the person detector found nobody in {photo.name}; list its boxes in --box-file")
        cache: dict[tuple[str, int], PeerResult] = {}
        drawn: list[tuple[PeerResult, list[PersonResult]]] = []
        for i, (box, source) in enumerate(people):
            found = match_detection(box, detections or []) if peer_crop == "mediapipe" else None
            fixed = peer.on_roi(image, found) if found is not None else None
            results = [ev.person(image, photo.name, i, box, source, peer, cache, fixed) for ev in evaluators]
            peer_res = cache[(photo.name, i)]
            drawn.append((peer_res, results))
            rows.append(
                {
                    "photo": photo.name,
                    "person": i,
                    "box": [round(float(v), 2) for v in box],
                    "box_source": source,
                    "peer_crop": peer_res.crop
                    if fixed is not None or peer_crop == "model"
                    else "model crop, squared (no pose detection matched this box)",
                    "peer_crop_box": [round(float(v), 2) for v in peer_res.box],
                    "peer_pose_flag": round(peer_res.pose_flag, 4),
                    "models": {
                        r.model: {
                            **{k: _num(v) for k, v in r.metrics.items()},
                            "joint_err": joint_errors(r.joints, peer_res, box),
                            "joint_visible": [bool(v) for v in peer_res.coco_visible],
                        }
                        for r in results
                    },
                }
            )
        entry: dict[str, Any] = {"name": photo.name, "source": photo.source, "size": [image.shape[1], image.shape[0]]}
        entry["people"] = len(people)
        if photo.sha256:
            entry["sha256"] = photo.sha256
        if pictures is not None and drawn:
            path = pictures / f"{photo.name}.png"
            files[path] = render_photo(image, drawn, [m.label for m in models], f"{photo.name}: {photo.source}")
            entry["picture"] = str(path)
        used.append(entry)
        progress(f"{photo.name}: {len(people)} person(s)")
    if not rows:
        raise RealPhotoError(f"no person was evaluated (photos found: {len(used)}); {PHOTO_DIR_HINT}")
    detected = any(r["box_source"].startswith("detector") for r in rows)
    box_mode = "detector" if detect_all else ("stored, detector where none" if detected else "stored")
    report = {
        "format": REPORT_FORMAT,
        "format_version": REPORT_VERSION,
        "rule": RULE,
        "reference": {
            "model": "BlazePose GHUM full (mediapipe 0.10.21 pose_landmark_full.tflite), LiteRT interpreter",
            "crop": (
                "MediaPipe's region from the pose detector's matching detection (mid-hip centre, full-body circle "
                f"diameter x {ROI_SCALE:g}, rotated upright), else the model's crop region padded to a square"
                if peer_crop == "mediapipe"
                else "the model's crop region padded to a square"
            )
            + " (zeros beyond the photo), 256x256 RGB in [0, 1]",
            "peer_crop": peer_crop,
            "coco_indices": list(BLAZEPOSE_COCO),
            "segmentation_threshold": 0.5,
        },
        "metrics": {
            "pck@t": "share of the 17 COCO joints within t * (longer side of the person box) of BlazePose's",
            "mean_err": "mean joint distance / longer side of the person box",
            "pck@t_visible": "PCK@t over the joints BlazePose marks visible (> 0.5): not those it places "
            "beyond the photo's edge or behind the body, where its landmarks are a guess as much as ours",
            "iou": "mesh faces filled in 2-D vs BlazePose segmentation > 0.5, image pixels",
            "mesh_in_seg": "share of the mesh's filled faces inside BlazePose's segmentation (below 1: the mesh "
            "spills past the person)",
            "seg_in_mesh": "share of BlazePose's segmentation inside the mesh's filled faces (below 1: the mesh misses "
            "part of the person: clothes, hair, a limb)",
            "joint_err": "per row and model, each COCO joint's distance / longer side of the person box",
            "joint_visible": "per row and model, whether BlazePose marks each COCO joint visible (> 0.5)",
            "per_joint": "per model and COCO joint, the share of people within each PCK threshold; _visible: "
            "over the people where BlazePose marks the joint visible (visible_people of them)",
        },
        "models": [
            {"label": m.label, **m.predictor.info.to_dict(), "topology": m.topology.name, "positions": m.positions}
            for m in models
        ],
        "photos": used,
        "skipped": skipped,
        "num_people": len(rows),
        "box_mode": box_mode,
        "rows": rows,
        "summary": {k: {kk: _num(vv) for kk, vv in v.items()} for k, v in summarise(rows, labels).items()},
        "peer_sure": peer_sure_summary(rows, labels),
        "per_joint": per_joint(rows, labels),
    }
    if baseline is not None:
        report["above_baseline"] = above_baseline(report["summary"], baseline)
    return report, files


def above_baseline(summary: dict[str, dict[str, Any]], baseline: str) -> dict[str, Any]:
    """Each model's mean PCK and IoU minus the baseline's (mean error: the baseline's minus the
    model's, so that above zero is better everywhere)."""
    base = summary[baseline]
    out: dict[str, Any] = {"label": baseline, "models": {}}
    for label, s in summary.items():
        diff = {}
        for k in ("pck@0.1", "pck@0.2", "pck@0.1_visible", "pck@0.2_visible", "iou", "mean_err"):
            a, b = s.get(k), base.get(k)
            ok = a is not None and b is not None and math.isfinite(a) and math.isfinite(b)
            diff[k] = _num((b - a) if k == "mean_err" else (a - b)) if ok else None
        out["models"][label] = diff
    return out


def _num(v: float) -> float | None:
    v = float(v)
    return round(v, 4) if math.isfinite(v) else None


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1) + "\n"
