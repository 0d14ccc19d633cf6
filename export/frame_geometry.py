"""Frame geometry of the phone apps: camera buffer -> upright image -> view, and detector boxes.

The Python reference that the golden vectors (scripts/make_golden.py) are written from; the iOS
MeshPoseKit and the Android core implement the same functions and are tested against them.

Conventions (the same as meshpose_mobile/crop.py):

- Image pixels: pixel centres have integer coordinates, the top-left pixel's centre is (0, 0), so
  an image W pixels wide spans x in [-0.5, W - 0.5]. Points are floats; nothing is rounded.
- The buffer is the frame as the sensor delivers it (often landscape). `rotation` is the clockwise
  angle, in degrees (0, 90, 180, 270), that turns the buffer upright: Android's
  `ImageInfo.rotationDegrees`; on iOS the angle that the CGImagePropertyOrientation of the frame
  stands for. The model always sees the upright image, never a mirrored one: a subject's left arm
  stays its left arm.
- Mirroring belongs to the view only (front cameras show a selfie view): `mirrored=True` flips the
  view horizontally about its centre, after the image has been placed in it.
- View coordinates are continuous with (0, 0) at the view's top-left corner (UIKit points, Android
  view pixels): corners, not pixel centres. The upright image is scaled uniformly and centred:
  "fill" covers the view and crops the overflow (aspect-fill, PreviewView FILL_CENTER,
  AVLayerVideoGravity.resizeAspectFill), "fit" shows all of it with bars (aspect-fit, FIT_CENTER).
- Boxes are COCO xywh in image pixels (top-left corner, width, height), as the crop contract takes
  them. Normalised boxes cover the image's extent: 0 is the left/top image edge (pixel -0.5), 1 the
  right/bottom one. Vision's normalised rects have their origin at the bottom-left; MediaPipe's and
  most others' at the top-left.
"""

from __future__ import annotations

import numpy as np

from meshpose_mobile.errors import ConfigError

ROTATIONS = (0, 90, 180, 270)
VIEW_MODES = ("fill", "fit")


def _check_rotation(rotation: int) -> int:
    r = int(rotation)
    if r not in ROTATIONS or r != rotation:
        raise ConfigError(f"rotation {rotation!r} must be one of {', '.join(map(str, ROTATIONS))} degrees clockwise")
    return r


def _check_size(width: float, height: float, what: str) -> tuple[float, float]:
    if not (np.isfinite([width, height]).all() and width > 0 and height > 0):
        raise ConfigError(f"{what} size {width}x{height} must be positive")
    return float(width), float(height)


def upright_size(buffer_width: int, buffer_height: int, rotation: int) -> tuple[int, int]:
    """(width, height) of the upright image: a quarter turn swaps the buffer's sides."""
    r = _check_rotation(rotation)
    _check_size(buffer_width, buffer_height, "buffer")
    return (buffer_height, buffer_width) if r in (90, 270) else (buffer_width, buffer_height)


def buffer_to_upright_matrix(buffer_width: int, buffer_height: int, rotation: int) -> np.ndarray:
    """2x3 affine taking buffer pixels to upright-image pixels (a clockwise turn by `rotation`)."""
    r = _check_rotation(rotation)
    wb, hb = _check_size(buffer_width, buffer_height, "buffer")
    # Pixel centres: the last column's centre is at W - 1, so a flip is x -> (W - 1) - x.
    if r == 0:
        m = [[1, 0, 0], [0, 1, 0]]
    elif r == 90:  # the buffer's bottom-left pixel becomes the top-left one
        m = [[0, -1, hb - 1], [1, 0, 0]]
    elif r == 180:
        m = [[-1, 0, wb - 1], [0, -1, hb - 1]]
    else:  # 270: the buffer's top-right pixel becomes the top-left one
        m = [[0, 1, 0], [-1, 0, wb - 1]]
    return np.array(m, dtype=np.float64)


def invert_affine(m: np.ndarray) -> np.ndarray:
    lin = np.linalg.inv(np.asarray(m, dtype=np.float64)[:, :2])
    return np.concatenate([lin, -lin @ np.asarray(m, dtype=np.float64)[:, 2:]], axis=1)


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(..., 2) points through a 2x3 affine."""
    p = np.asarray(points, dtype=np.float64)
    return p @ np.asarray(m, dtype=np.float64)[:, :2].T + np.asarray(m, dtype=np.float64)[:, 2]


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The 2x3 affine that applies `first`, then `second`."""
    a = np.asarray(second, dtype=np.float64)
    b = np.asarray(first, dtype=np.float64)
    return np.concatenate([a[:, :2] @ b[:, :2], (a[:, :2] @ b[:, 2:]) + a[:, 2:]], axis=1)


def buffer_to_upright(points: np.ndarray, buffer_width: int, buffer_height: int, rotation: int) -> np.ndarray:
    return apply_affine(buffer_to_upright_matrix(buffer_width, buffer_height, rotation), points)


def upright_to_buffer(points: np.ndarray, buffer_width: int, buffer_height: int, rotation: int) -> np.ndarray:
    return apply_affine(invert_affine(buffer_to_upright_matrix(buffer_width, buffer_height, rotation)), points)


def image_to_view_matrix(
    image_width: float,
    image_height: float,
    view_width: float,
    view_height: float,
    mode: str = "fill",
    mirrored: bool = False,
) -> np.ndarray:
    """2x3 affine taking upright-image pixels to view coordinates (see the module docstring)."""
    if mode not in VIEW_MODES:
        raise ConfigError(f"view mode {mode!r} must be one of {', '.join(VIEW_MODES)}")
    w, h = _check_size(image_width, image_height, "image")
    vw, vh = _check_size(view_width, view_height, "view")
    s = max(vw / w, vh / h) if mode == "fill" else min(vw / w, vh / h)
    ox, oy = (vw - s * w) / 2.0, (vh - s * h) / 2.0
    # The image's left edge is pixel -0.5: pixel x sits at ox + s * (x + 0.5) in the view.
    m = np.array([[s, 0.0, ox + 0.5 * s], [0.0, s, oy + 0.5 * s]])
    if mirrored:
        m = compose(np.array([[-1.0, 0.0, vw], [0.0, 1.0, 0.0]]), m)
    return m


def image_to_view(
    points: np.ndarray,
    image_width: float,
    image_height: float,
    view_width: float,
    view_height: float,
    mode: str = "fill",
    mirrored: bool = False,
) -> np.ndarray:
    return apply_affine(
        image_to_view_matrix(image_width, image_height, view_width, view_height, mode, mirrored), points
    )


def view_to_image(
    points: np.ndarray,
    image_width: float,
    image_height: float,
    view_width: float,
    view_height: float,
    mode: str = "fill",
    mirrored: bool = False,
) -> np.ndarray:
    m = image_to_view_matrix(image_width, image_height, view_width, view_height, mode, mirrored)
    return apply_affine(invert_affine(m), points)


def buffer_to_view_matrix(
    buffer_width: int,
    buffer_height: int,
    rotation: int,
    view_width: float,
    view_height: float,
    mode: str = "fill",
    mirrored: bool = False,
) -> np.ndarray:
    """Buffer pixels straight to the view: rotate upright, place, then mirror (front camera)."""
    w, h = upright_size(buffer_width, buffer_height, rotation)
    return compose(
        image_to_view_matrix(w, h, view_width, view_height, mode, mirrored),
        buffer_to_upright_matrix(buffer_width, buffer_height, rotation),
    )


def vision_box_to_pixels(
    box: tuple[float, float, float, float], image_width: float, image_height: float
) -> tuple[float, float, float, float]:
    """Vision's normalised rect (x, y, w, h; origin bottom-left, y = bottom edge) -> COCO xywh pixels."""
    x, y, bw, bh = (float(v) for v in box)
    w, h = _check_size(image_width, image_height, "image")
    return (x * w - 0.5, (1.0 - y - bh) * h - 0.5, bw * w, bh * h)


def normalized_box_to_pixels(
    box: tuple[float, float, float, float], image_width: float, image_height: float
) -> tuple[float, float, float, float]:
    """Top-left-origin normalised xywh (MediaPipe's relative boxes) -> COCO xywh pixels."""
    x, y, bw, bh = (float(v) for v in box)
    w, h = _check_size(image_width, image_height, "image")
    return (x * w - 0.5, y * h - 0.5, bw * w, bh * h)


def edge_rect_to_box(left: float, top: float, right: float, bottom: float) -> tuple[float, float, float, float]:
    """A rect in edge coordinates (0 = the image's left edge; Android RectF from MediaPipe's
    detectors, CGRect in image pixels) -> COCO xywh in pixel-centre coordinates."""
    return (float(left) - 0.5, float(top) - 0.5, float(right) - float(left), float(bottom) - float(top))


def box_buffer_to_upright(
    box: tuple[float, float, float, float], buffer_width: int, buffer_height: int, rotation: int
) -> tuple[float, float, float, float]:
    """A COCO box found on the buffer -> the same region's box on the upright image."""
    x, y, bw, bh = (float(v) for v in box)
    # The box's corners are points in the same pixel-centre space (the whole buffer is
    # (-0.5, -0.5, W, H)); a quarter turn keeps boxes axis-aligned, so turn the corners and bound them.
    corners = np.array([[x, y], [x + bw, y], [x, y + bh], [x + bw, y + bh]])
    turned = apply_affine(buffer_to_upright_matrix(buffer_width, buffer_height, rotation), corners)
    lo, hi = turned.min(axis=0), turned.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
