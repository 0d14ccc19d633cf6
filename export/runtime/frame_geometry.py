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
- A buffer may also need a mirror to be upright (a capture connection that mirrors, or a sensor read
  out mirror-wise): `buffer_to_upright_matrix(..., mirrored=True)` turns the buffer clockwise by
  `rotation`, then flips the upright image horizontally. Together these are the eight EXIF /
  CGImagePropertyOrientation cases (`exif_orientation`).
- Which (rotation, mirrored) a camera frame needs, for each camera and way of holding the phone, is
  `camera_orientation`: derived here from where each sensor's buffer axes point on the phone and
  from how a camera that faces the user sees the phone's roll (see its docstring), never typed in
  as a table, so the golden cases are not the apps' constants repeated.
- Mirroring for the selfie look belongs to the view only (front cameras show a mirror view):
  `mirrored=True` in the view functions flips the view horizontally about its centre, after the
  image has been placed in it.
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


def buffer_to_upright_matrix(
    buffer_width: int, buffer_height: int, rotation: int, mirrored: bool = False
) -> np.ndarray:
    """2x3 affine taking buffer pixels to upright-image pixels: a clockwise turn by `rotation`, then,
    if `mirrored`, a horizontal flip of the upright image."""
    r = _check_rotation(rotation)
    wb, hb = _check_size(buffer_width, buffer_height, "buffer")
    if mirrored:
        uw = upright_size(buffer_width, buffer_height, r)[0]
        return compose(np.array([[-1.0, 0.0, uw - 1.0], [0.0, 1.0, 0.0]]), buffer_to_upright_matrix(wb, hb, r))
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


def upright_to_view_matrix(
    buffer_width: int,
    buffer_height: int,
    rotation: int,
    display_rotation: int,
    view_width: float,
    view_height: float,
    mode: str = "fill",
    view_mirrored: bool = False,
    mirrored: bool = False,
) -> np.ndarray:
    """The model's upright pixels -> the view, when the screen shows the frame turned by
    `display_rotation` (the interface's orientation) while the model's image was turned by
    `rotation` (how the phone is held): the two differ under orientation lock, where the model
    must still see the person upright and the screen keeps showing the frame as the UI stands."""
    to_model = buffer_to_upright_matrix(buffer_width, buffer_height, rotation, mirrored)
    to_display = buffer_to_upright_matrix(buffer_width, buffer_height, display_rotation)
    dw, dh = upright_size(buffer_width, buffer_height, display_rotation)
    view = image_to_view_matrix(dw, dh, view_width, view_height, mode, view_mirrored)
    return compose(view, compose(to_display, invert_affine(to_model)))


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


# --------------------------------------------------------------------------- cameras and holdings

CAMERAS = ("back", "front")
PLATFORMS = ("ios", "android")
# How the phone is held, named as UIDeviceOrientation names it. landscape_left: turned a quarter
# counter-clockwise as its user sees it, the home (bottom) edge on the right; Android's display
# rotation is then Surface.ROTATION_90. landscape_right: the other way, Surface.ROTATION_270.
HOLDINGS = ("portrait", "portrait_upside_down", "landscape_left", "landscape_right")
DISPLAY_ROTATION = {"portrait": 0, "landscape_left": 90, "portrait_upside_down": 180, "landscape_right": 270}

# Directions on the phone's face as its user sees it in portrait: x to the right edge, y to the
# bottom (home) edge. The world's "up" on the face for each holding:
_UP = {"portrait": (0, -1), "portrait_upside_down": (0, 1), "landscape_left": (1, 0), "landscape_right": (-1, 0)}

# Where each sensor's buffer axes (+x along a row, +y down the columns) point on the phone's face;
# the one fact per camera that is read off the hardware, everything else follows from it.
# - iOS back: the buffer is upright with the home edge on the right (AVFoundation's native
#   landscapeRight): +x towards the home edge, +y towards the left edge.
# - iOS front, with the data output's connection unmirrored (CameraSource sets it so): the buffer
#   is a true image, not a mirror image, upright with the home edge on the left. Evidence, since
#   no iPhone runs here: an unmirrored data output records front video "as others see you"; the
#   widely copied Vision / ML Kit table (.leftMirrored in portrait, .downMirrored in
#   landscape_left, ...) turns as a mirror view does (see `camera_orientation`), i.e. it is this
#   mapping plus a deliberate mirror, so that results line up with the mirrored preview.
# - Android: SENSOR_ORIENTATION 90 (back) and 270 (front), the values of nearly all phones; the
#   app itself never relies on them, it reads ImageInfo.rotationDegrees from every frame.
_BUFFER_AXES = {
    ("ios", "back"): ((0, 1), (-1, 0)),
    ("ios", "front"): ((0, 1), (1, 0)),
    ("android", "back"): ((0, 1), (-1, 0)),
    ("android", "front"): ((0, -1), (-1, 0)),
}
SENSOR_ORIENTATION = {"back": 90, "front": 270}


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise ConfigError(f"{what} {value!r} must be one of {', '.join(choices)}")
    return value


def camera_orientation(platform: str, camera: str, holding: str) -> tuple[int, bool]:
    """(rotation, mirrored) that turns a `camera` frame upright and true (never a mirror image: a
    subject's left arm stays its left arm) when the phone is held as `holding`.

    The upright true image's axes on the phone's face: +x is the subject's right as a photo shows it
    (the world's right for the back camera; for the front camera, which faces the user, the user's
    left), +y is the world's down. A camera facing the user sees the phone's roll reversed; that is
    why the front camera's rotation runs the other way round the holdings. The buffer's axes come
    from `_BUFFER_AXES`; the (rotation, mirrored) whose matrix has the same linear part is the answer.
    """
    _check_choice(platform, PLATFORMS, "platform")
    _check_choice(camera, CAMERAS, "camera")
    _check_choice(holding, HOLDINGS, "holding")
    up = np.array(_UP[holding], dtype=np.float64)
    world_right = np.array([-up[1], up[0]])  # up turned a quarter clockwise on the face
    u_dir = world_right if camera == "back" else -world_right
    v_dir = -up
    bx, by = (np.array(a, dtype=np.float64) for a in _BUFFER_AXES[(platform, camera)])
    linear = np.array([[bx @ u_dir, by @ u_dir], [bx @ v_dir, by @ v_dir]])
    for rotation in ROTATIONS:
        for mirrored in (False, True):
            if np.array_equal(buffer_to_upright_matrix(6, 4, rotation, mirrored)[:, :2], linear):
                return rotation, mirrored
    raise AssertionError(f"no orientation for {platform} {camera} {holding}")  # unreachable: D4 is closed


def camerax_rotation_degrees(camera: str, holding: str) -> int:
    """ImageInfo.rotationDegrees as CameraX computes it (CameraOrientationUtil.getRelativeImageRotation)
    for the usual sensor orientations: a check on `camera_orientation`'s Android answers."""
    _check_choice(camera, CAMERAS, "camera")
    d = DISPLAY_ROTATION[_check_choice(holding, HOLDINGS, "holding")]
    s = SENSOR_ORIENTATION[camera]
    return (s - d) % 360 if camera == "back" else (s + d) % 360


# EXIF / CGImagePropertyOrientation raw values (Vision's and Core Image's orientation argument).
_EXIF = {(0, False): 1, (0, True): 2, (180, False): 3, (180, True): 4, (90, True): 5, (90, False): 6, (270, True): 7}
_EXIF[(270, False)] = 8


def exif_orientation(rotation: int, mirrored: bool) -> int:
    """The EXIF orientation (1-8) of a buffer that `buffer_to_upright_matrix(rotation, mirrored)` turns
    upright: 6 (.right) is a quarter turn clockwise, 5 (.leftMirrored) a transpose."""
    return _EXIF[(_check_rotation(rotation), bool(mirrored))]


# The view of either camera: the front camera's preview is a mirror view (what users expect of a
# selfie camera); the model never sees it.
def view_mirrored(camera: str) -> bool:
    return _check_choice(camera, CAMERAS, "camera") == "front"


# CoreMotion's gravity in the phone's axes (x to the right edge, y to the top edge, z out of the
# screen, in g) -> holding. Orientation lock stops UIDevice orientation updates, gravity does not.
_GRAVITY_CENTRE = {"portrait": 0.0, "landscape_right": 90.0, "portrait_upside_down": 180.0, "landscape_left": 270.0}
GRAVITY_MIN_TILT = 0.5  # g in the screen's plane: below it (within 30 degrees of flat) keep the last holding
GRAVITY_HYSTERESIS_DEG = 10.0  # stay in a holding until 55 degrees away from it: no flicker at 45


def _holding_from_angle(angle: float, previous: str) -> str:
    """The holding whose gravity direction on the screen is nearest `angle` (degrees, clockwise from
    the bottom edge as its user sees it); `previous` stays within 45 + GRAVITY_HYSTERESIS_DEG."""
    angle = float(angle) % 360.0

    def distance(h: str) -> float:
        d = abs(angle - _GRAVITY_CENTRE[h]) % 360.0
        return min(d, 360.0 - d)

    if distance(previous) <= 45.0 + GRAVITY_HYSTERESIS_DEG:
        return previous
    return min(HOLDINGS, key=distance)


def holding_from_gravity(gx: float, gy: float, gz: float, previous: str) -> str:
    """How the phone is held, from the gravity vector; `previous` is kept while the phone lies
    nearly flat and within 45 + GRAVITY_HYSTERESIS_DEG degrees of its own direction."""
    _check_choice(previous, HOLDINGS, "holding")
    if not np.isfinite([gx, gy, gz]).all():
        return previous
    if float(np.hypot(gx, gy)) < GRAVITY_MIN_TILT:
        return previous
    return _holding_from_angle(float(np.degrees(np.arctan2(gx, -gy))), previous)


# Android: OrientationEventListener.onOrientationChanged(degrees) reports the same angle from the
# accelerometer (its source: 90 - atan2(-Y, X) with X, Y the negated accelerometer readings, i.e.
# gravity in these very axes, which is atan2(gx, -gy) above), or ORIENTATION_UNKNOWN (-1) when the
# phone lies within about 27 degrees of flat. Like UIDevice's orientation under lock, the display's
# rotation stops following the phone when the UI is locked or the activity is fixed to portrait;
# the listener does not.
ORIENTATION_UNKNOWN = -1


def holding_from_orientation_degrees(orientation: int, previous: str) -> str:
    """How the phone is held, from OrientationEventListener's degrees (0 = natural orientation, 90 =
    turned a quarter clockwise as its user sees it), with the same hysteresis as gravity; a negative
    value (ORIENTATION_UNKNOWN: lying flat) keeps `previous`."""
    _check_choice(previous, HOLDINGS, "holding")
    if not float(orientation).is_integer():
        raise ConfigError(f"orientation {orientation!r} must be whole degrees (OrientationEventListener's int)")
    if orientation < 0:
        return previous
    return _holding_from_angle(float(orientation), previous)


def target_rotation(holding: str) -> int:
    """The Surface.ROTATION_* constant (0-3) to give ImageAnalysis.setTargetRotation for `holding`:
    CameraX then delivers frames whose rotationDegrees turn them upright for how the phone is held
    (`camerax_rotation_degrees`), whatever the display does."""
    return DISPLAY_ROTATION[_check_choice(holding, HOLDINGS, "holding")] // 90
