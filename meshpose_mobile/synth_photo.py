"""The photo-like appearance of synthetic bodies (``SynthConfig.appearance = "photo"``).

Everything here is drawn from the sample's own generator, so a sample stays a pure function of
``(seed, index)``. What it adds over the flat look (docs/training.md, "Photo-like bodies"):

- backgrounds cropped, flipped and scaled from real photographs without people that installed
  wheels ship (`BACKGROUND_PHOTOS`; photos of people are kept for judging models, never training);
- clothes: a top, trousers / shorts / a skirt, legwear, shoes and hair, each a region of the body
  found in the rest pose (so sleeve, hem and hairline edges are crisp whatever the pose), with
  colours from garment, skin and hair palettes, woven-looking patterns in rest-pose 3D (no UV
  seams) and volume: clothed vertices move out along the posed normals;
- shading under a key, a fill and sometimes a rim light whose ambient takes the background's colour;
- occluders textured with another photo;
- the camera: defocus or motion blur, colour jitter, grayscale, signal-dependent sensor noise, JPEG.

Labels never see the clothes: mask, parts, UVs and DensePose points come from the body itself
(the mesh the model predicts), so they stay exactly consistent with the vertex labels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from meshpose_mobile.errors import DataError

# ------------------------------------------------------------------------------------ backgrounds


@dataclass(frozen=True)
class BackgroundPhoto:
    """One photograph shipped inside an installed package: ``package``'s folder / ``path``."""

    name: str
    package: str
    path: str
    what: str

    def file(self) -> Path:
        spec = find_spec(self.package)
        if spec is None or spec.origin is None:
            raise DataError(
                f"photo backgrounds need the {self.package!r} package (for {self.path}); run `make setup` or "
                f"pip install -r requirements.txt, or use appearance='flat'"
            )
        return Path(spec.origin).parent / self.path


# Photographs without people only: skimage's astronaut and camera, matplotlib's grace_hopper,
# skimage's lfw_subset (faces) and no_time_for_that (a person) are evaluation material
# (samples.py) and never backgrounds. Drawings, diagrams and microscope/medical images are left
# out because no camera would see them behind a person.
BACKGROUND_PHOTOS: tuple[BackgroundPhoto, ...] = (
    BackgroundPhoto("coffee", "skimage", "data/coffee.png", "a cup of coffee on a wooden table"),
    BackgroundPhoto("chelsea", "skimage", "data/chelsea.png", "a cat's face"),
    BackgroundPhoto("rocket", "skimage", "data/rocket.jpg", "a rocket on its launch pad at dusk"),
    BackgroundPhoto("motorcycle_left", "skimage", "data/motorcycle_left.png", "a motorcycle in a garage"),
    BackgroundPhoto("motorcycle_right", "skimage", "data/motorcycle_right.png", "the same garage, other eye"),
    BackgroundPhoto("brick", "skimage", "data/brick.png", "a brick wall (grey)"),
    BackgroundPhoto("grass", "skimage", "data/grass.png", "grass (grey)"),
    BackgroundPhoto("gravel", "skimage", "data/gravel.png", "gravel (grey)"),
    BackgroundPhoto("coins", "skimage", "data/coins.png", "coins on a table (grey)"),
    BackgroundPhoto("text", "skimage", "data/text.png", "handwriting on paper (grey)"),
    BackgroundPhoto("page", "skimage", "data/page.png", "a printed page (grey)"),
    BackgroundPhoto("clock", "skimage", "data/clock_motion.png", "a wall clock, motion-blurred (grey)"),
    BackgroundPhoto("china", "sklearn", "datasets/images/china.jpg", "a pagoda above a lake"),
    BackgroundPhoto("flower", "sklearn", "datasets/images/flower.jpg", "a dahlia among leaves"),
)
# Photos are kept at most this size a side (larger ones are shrunk once when loaded): crops are
# zoomed in at least 1x, so the crop never sees more detail than a 384x288 input can hold.
_PHOTO_MAX_SIDE = 640


@dataclass(frozen=True)
class _Photo:
    pixels: np.ndarray  # (h, w, 3) float32, 0..255
    gray: bool


@cache
def photo_library() -> tuple[_Photo, ...]:
    """The decoded `BACKGROUND_PHOTOS`, loaded once per process (each worker loads its own)."""
    from PIL import Image

    out = []
    for photo in BACKGROUND_PHOTOS:
        path = photo.file()
        try:
            with Image.open(path) as im:
                im.load()
                gray = im.mode in ("L", "I", "I;16", "1")
                im = im.convert("RGB")
                scale = _PHOTO_MAX_SIDE / max(im.size)
                if scale < 1:
                    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
                pixels = np.asarray(im, dtype=np.float32)
        except OSError as err:
            raise DataError(
                f"background photo {path} cannot be read ({err}); reinstall {photo.package} or use appearance='flat'"
            ) from None
        out.append(_Photo(pixels, gray))
    return tuple(out)


def _bilinear(src: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """src (h, w, C) sampled at the grid ys (H,) x xs (W,) of source pixel centres -> (H, W, C)."""
    h, w = src.shape[:2]
    ys = np.clip(ys, 0, h - 1)
    xs = np.clip(xs, 0, w - 1)
    y0 = np.minimum(ys.astype(np.int64), h - 2)
    x0 = np.minimum(xs.astype(np.int64), w - 2)
    fy = (ys - y0).astype(np.float32)[:, None, None]
    fx = (xs - x0).astype(np.float32)[None, :, None]
    top = src[y0][:, x0] * (1 - fx) + src[y0][:, x0 + 1] * fx
    bottom = src[y0 + 1][:, x0] * (1 - fx) + src[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


@dataclass(frozen=True)
class PhotoCrop:
    """Where a background came from: the photo, the window (photo pixels) and the flip."""

    photo: int
    top: float
    left: float
    step: float  # photo pixels per crop pixel (<= 1: zoomed in)
    flip: bool


def draw_photo_crop(rng: np.random.Generator, height: int, width: int) -> PhotoCrop:
    lib = photo_library()
    k = int(rng.integers(len(lib)))
    ph, pw = lib[k].pixels.shape[:2]
    # The largest window of the crop's aspect that fits, shrunk by a zoom of 1-2.5x.
    step = min((ph - 1) / height, (pw - 1) / width) / rng.uniform(1.0, 2.5)
    top = rng.uniform(0, ph - 1 - step * height)
    left = rng.uniform(0, pw - 1 - step * width)
    return PhotoCrop(k, float(top), float(left), float(step), bool(rng.random() < 0.5))


def render_photo_crop(crop: PhotoCrop, height: int, width: int) -> np.ndarray:
    """The crop's pixels (H, W, 3) float32 0..255, exactly what the window shows (no tint)."""
    src = photo_library()[crop.photo].pixels
    ys = crop.top + crop.step * (np.arange(height) + 0.5) - 0.5
    xs = crop.left + crop.step * (np.arange(width) + 0.5) - 0.5
    if crop.flip:
        xs = xs[::-1]
    return _bilinear(src, ys.astype(np.float64), xs.astype(np.float64))


def background(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, PhotoCrop]:
    """A photo background (H, W, 3) float32: a random window of a random photo, grey photos tinted,
    exposure varied, sometimes out of focus (the camera focused on the person)."""
    crop = draw_photo_crop(rng, height, width)
    image = render_photo_crop(crop, height, width)
    if photo_library()[crop.photo].gray and rng.random() < 0.8:
        tint = rng.uniform(0.55, 1.0, size=3).astype(np.float32)
        image = image * (tint / tint.max())
    image = image * np.float32(rng.uniform(0.6, 1.25))
    if rng.random() < 0.5:
        image = gaussian_blur(image, rng.uniform(0.5, 2.5) * min(height, width) / 192)
    return np.ascontiguousarray(image), crop


# ------------------------------------------------------------------------------------ photo edges

# The widest band one side of a crop can lose to the photo's edge. The crop contract (crop.py) squares
# the person box and scales it by 1.1, so a box that touches the frame leaves a band of about 5 % of
# the crop beyond it, and a tall box near a side edge (a person at the frame's edge, a close-up in a
# portrait frame) leaves up to a third of the crop's width: 0.29 for a box of aspect 0.4 at the edge.
PHOTO_EDGE_MAX = 0.35


def photo_edge_band(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W) bool: the part of a crop that lies beyond the photo's edge, one side (two adjacent
    sides one time in three) each PHOTO_EDGE_MAX or less of the crop. What the contract fills with
    its border value there is what an app's crop of a person cut by its camera frame shows."""
    band = np.zeros((height, width), dtype=bool)
    first = int(rng.integers(4))
    sides = [first] if rng.random() >= 1 / 3 else [first, (first + int(rng.choice((1, 3)))) % 4]
    for side in sides:
        frac = rng.uniform(0.02, PHOTO_EDGE_MAX)
        n = max(1, round(frac * (height if side in (0, 2) else width)))
        if side == 0:
            band[:n] = True
        elif side == 1:
            band[:, width - n :] = True
        elif side == 2:
            band[height - n :] = True
        else:
            band[:, :n] = True
    return band


def picture_box(band: np.ndarray) -> np.ndarray:
    """(4,) float32 x0, y0, x1, y1 in crop pixels (edges at -0.5 and size - 0.5): the rectangle of a
    crop that is not `band` (`photo_edge_band` cuts whole rows and columns, so the rest is one)."""
    ys, xs = np.nonzero(~band)
    if ys.size == 0:
        return np.array([-0.5, -0.5, -0.5, -0.5], np.float32)
    return np.array([xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5], np.float32)


# ------------------------------------------------------------------------------------ filters


def _blur_axis(image: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    r = len(kernel) // 2
    pad = [(0, 0)] * image.ndim
    pad[axis] = (r, r)
    padded = np.pad(image, pad, mode="edge")
    n = image.shape[axis]
    out = np.zeros_like(image)
    window = [slice(None)] * image.ndim
    for i, k in enumerate(kernel):
        window[axis] = slice(i, i + n)
        out += np.float32(k) * padded[tuple(window)]
    return out


def _box_axis(image: np.ndarray, width: int, axis: int) -> np.ndarray:
    """Running mean of `width` (odd) samples along `axis` by cumulative sums (edges repeated)."""
    r = width // 2
    pad = [(0, 0)] * image.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(image, pad, mode="edge"), axis=axis, dtype=np.float32)
    n = image.shape[axis]
    hi = np.take(c, np.arange(width, width + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return (hi - lo) / np.float32(width)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian of `sigma` pixels over the first two axes (edges repeated).

    From sigma 2.5 on, three running means of the odd width nearest sqrt(4 sigma^2 + 1) (the same
    spread, within 17 %) stand in for the kernel: their cost does not grow with sigma."""
    if sigma < 0.2:
        return image
    if sigma >= 2.5:
        width = 2 * round((float(np.sqrt(4 * sigma * sigma + 1)) - 1) / 2) + 1
        out = image.astype(np.float32)
        for axis in (0, 1):
            for _ in range(3):
                out = _box_axis(out, width, axis)
        return out
    r = max(1, int(np.ceil(2.5 * sigma)))
    x = np.arange(-r, r + 1)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    return _blur_axis(_blur_axis(image, k, 0), k, 1)


def motion_blur(image: np.ndarray, length: int, axis: int) -> np.ndarray:
    if length < 2:
        return image
    return _blur_axis(image, np.full(length | 1, 1.0 / (length | 1)), axis)


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """a moved by (dy, dx) pixels, zeros coming in."""
    out = np.zeros_like(a)
    h, w = a.shape[:2]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = a[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def soft_shadow(rng: np.random.Generator, cover: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1]: the body's outline blurred and moved down and sideways, as a wall or
    floor close behind a person shows it."""
    h, w = cover.shape
    blur = rng.uniform(2.0, 6.0) * min(h, w) / 192
    dy, dx = int(rng.uniform(0.0, 0.06) * h), int(rng.uniform(-0.08, 0.08) * w)
    return _shift(gaussian_blur(cover.astype(np.float32)[..., None], blur)[..., 0], dy, dx)


def soften_edges(image: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """Blend the pixels on the body's outline with their neighbours: a camera integrates light
    over each pixel, so a person's edge is never a one-sample staircase."""
    p = np.pad(cover, 1, mode="edge")
    edge = (cover != p[:-2, 1:-1]) | (cover != p[2:, 1:-1]) | (cover != p[1:-1, :-2]) | (cover != p[1:-1, 2:])
    if not edge.any():
        return image
    q = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
    ys, xs = np.nonzero(edge)
    around = q[ys, xs + 1] + q[ys + 2, xs + 1] + q[ys + 1, xs] + q[ys + 1, xs + 2]
    image[ys, xs] = 0.5 * image[ys, xs] + 0.125 * around
    return image


# ------------------------------------------------------------------------------------ camera


@dataclass(frozen=True)
class CameraEffects:
    """What the camera does to a picture; `draw_effects` documents the ranges (tested)."""

    blur_sigma: float  # Gaussian defocus, pixels (0: none)
    motion: int  # motion blur length, pixels (0: none)
    motion_axis: int
    gains: tuple[float, float, float]  # white balance, per channel
    brightness: float
    contrast: float
    saturation: float
    gamma: float
    grayscale: bool
    shot_noise: float  # variance per unit of signal (0..255 scale)
    read_noise: float  # standard deviation, 0..255 units
    jpeg_quality: int  # 0: no JPEG


# Ranges of `draw_effects`, at a 192-px short side (blur lengths scale with the crop). The read
# noise's standard deviation comes from `SynthConfig.noise_range`, as in the flat look.
EFFECT_RANGES = {
    "blur_sigma": (0.0, 1.3),
    "motion": (0, 7),
    "gains": (0.85, 1.15),
    "brightness": (0.7, 1.3),
    "contrast": (0.7, 1.3),
    "saturation": (0.5, 1.4),
    "gamma": (0.8, 1.25),
    "shot_noise": (0.0, 0.5),
    "jpeg_quality": (30, 95),
}


def draw_effects(rng: np.random.Generator, height: int, width: int, noise_range: tuple[float, float]) -> CameraEffects:
    px = min(height, width) / 192
    r = EFFECT_RANGES
    blur = rng.uniform(0.3, r["blur_sigma"][1]) * px if rng.random() < 0.5 else 0.0
    motion = int(rng.integers(2, r["motion"][1] + 1) * px) if rng.random() < 0.1 else 0
    gains = tuple(float(g) for g in rng.uniform(*r["gains"], size=3))
    return CameraEffects(
        blur_sigma=float(blur),
        motion=motion,
        motion_axis=int(rng.integers(2)),
        gains=gains,  # type: ignore[arg-type]
        brightness=float(rng.uniform(*r["brightness"])),
        contrast=float(rng.uniform(*r["contrast"])),
        saturation=float(rng.uniform(*r["saturation"])),
        gamma=float(rng.uniform(*r["gamma"])),
        grayscale=bool(rng.random() < 0.1),
        shot_noise=float(rng.uniform(*r["shot_noise"])),
        read_noise=float(rng.uniform(*noise_range)),
        jpeg_quality=int(rng.integers(r["jpeg_quality"][0], r["jpeg_quality"][1] + 1)) if rng.random() < 0.7 else 0,
    )


def apply_effects(image: np.ndarray, fx: CameraEffects, rng: np.random.Generator) -> np.ndarray:
    """image (H, W, 3) float 0..255 -> uint8, through optics, colour processing, sensor and codec."""
    image = gaussian_blur(image.astype(np.float32), fx.blur_sigma)
    image = motion_blur(image, fx.motion, fx.motion_axis)
    image = image * np.asarray(fx.gains, np.float32) * np.float32(fx.brightness)
    luma = image @ np.array([0.299, 0.587, 0.114], np.float32)
    image = luma[..., None] + np.float32(fx.saturation) * (image - luma[..., None])
    mean = np.float32(luma.mean())
    image = mean + np.float32(fx.contrast) * (image - mean)
    image = 255.0 * (np.clip(image, 0, 255) / 255.0) ** np.float32(fx.gamma)
    if fx.grayscale:
        image = np.repeat((image @ np.array([0.299, 0.587, 0.114], np.float32))[..., None], 3, axis=-1)
    sigma = np.sqrt(fx.shot_noise * image + fx.read_noise**2)
    image = image + sigma * rng.standard_normal(image.shape, dtype=np.float32)
    out = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if fx.jpeg_quality:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=fx.jpeg_quality)
        buf.seek(0)
        with Image.open(buf) as im:
            out = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    return out


# ------------------------------------------------------------------------------------ clothes

# Regions of the body surface, decided in the rest pose.
SKIN, TOP, BOTTOM, LEGWEAR, SHOES, HAIR = range(6)
_TORSO_PARTS = (1, 2)
_ARM_PARTS = tuple(range(15, 23))
_HAND_PARTS = (3, 4)
_LEG_PARTS = tuple(range(7, 15))
_FOOT_PARTS = (5, 6)
_HEAD_PARTS = (23, 24)

# Skin tones from very light to very dark (sRGB), jittered per body.
_SKIN_TONES = np.array(
    [
        [255, 224, 196],
        [241, 194, 167],
        [224, 172, 138],
        [198, 145, 110],
        [170, 118, 84],
        [141, 92, 62],
        [110, 70, 45],
        [80, 52, 36],
    ],
    np.float32,
)
_HAIR_COLOURS = np.array(
    [[20, 16, 14], [45, 30, 22], [75, 50, 32], [120, 85, 50], [190, 150, 95], [150, 70, 35], [160, 160, 158]],
    np.float32,
)
# Common garment colours: black, white, greys, navy, denim, khaki, brown, olive, red, burgundy,
# pink, yellow, green, sky blue, orange, purple.
_GARMENT_COLOURS = np.array(
    [
        [25, 25, 28],
        [235, 235, 230],
        [128, 128, 130],
        [70, 72, 78],
        [30, 40, 75],
        [65, 90, 130],
        [190, 170, 130],
        [110, 75, 50],
        [85, 95, 55],
        [180, 35, 40],
        [110, 30, 45],
        [230, 150, 170],
        [230, 200, 70],
        [40, 120, 70],
        [130, 180, 220],
        [220, 120, 40],
        [95, 60, 130],
    ],
    np.float32,
)


def _garment_colour(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.7:
        base = _GARMENT_COLOURS[int(rng.integers(len(_GARMENT_COLOURS)))]
        return np.clip(base * rng.uniform(0.85, 1.15) + rng.normal(0, 8, 3), 5, 250).astype(np.float32)
    return rng.uniform(15, 240, size=3).astype(np.float32)


@dataclass(frozen=True)
class PhotoRig:
    """Rest-pose landmarks the clothes are cut along, from the topology's skeleton."""

    shoulders: np.ndarray  # (2, 3) right (-x), left (+x)
    wrists: np.ndarray  # (2, 3)
    hip_y: float
    ankle_y: float
    neck_y: float
    head: np.ndarray  # (3,) head joint
    eyes: np.ndarray  # (2, 3) rest positions on the face's surface
    mouth: np.ndarray  # (3,)

    @classmethod
    def build(cls, template: np.ndarray, parts: np.ndarray, names: list[str], joints: np.ndarray) -> PhotoRig:
        j = {n: joints[i] for i, n in enumerate(names)}
        head = j["head"]
        hv = template[np.isin(parts, _HEAD_PARTS)]
        top, chin = float(hv[:, 1].max()), float(hv[:, 1].min())
        # Eyes half way from the crown to the chin, mouth at five sixths: a face's proportions.
        eye_y, mouth_y = top - 0.5 * (top - chin), top - 0.82 * (top - chin)

        def front_at(x: float, y: float) -> np.ndarray:
            near = hv[np.argsort((hv[:, 0] - x) ** 2 + (hv[:, 1] - y) ** 2)[:4]]
            return np.array([x, y, near[:, 2].max()])

        eyes = np.stack([front_at(-0.032, eye_y), front_at(0.032, eye_y)])
        return cls(
            shoulders=np.stack([j["right_shoulder"], j["left_shoulder"]]),
            wrists=np.stack([j["right_wrist"], j["left_wrist"]]),
            hip_y=float((j["left_hip"][1] + j["right_hip"][1]) / 2),
            ankle_y=float((j["left_ankle"][1] + j["right_ankle"][1]) / 2),
            neck_y=float(j["neck"][1]),
            head=head,
            eyes=eyes,
            mouth=front_at(0.0, mouth_y),
        )


@dataclass(frozen=True)
class Outfit:
    """One body's clothes and hair: where each garment ends (rest pose) and how it looks."""

    skin: np.ndarray
    colours: np.ndarray  # (6, 3) per region; SKIN's is the skin
    second: np.ndarray  # (6, 3) pattern colours
    pattern: tuple[int, ...]  # per region: 0 solid, 1 h-stripes, 2 v-stripes, 3 checks, 4 print, 5 denim
    freq: tuple[float, ...]  # per region, cycles per metre
    sleeve: float  # arm coordinate where the top ends (0 shoulder, 1 wrist)
    neckline: float  # metres below the neck the front opens
    hem_y: float  # rest height where top meets bottom
    bottom_end: float  # leg coordinate where trousers / shorts / skirt end (0 hip, 1 ankle)
    skirt: bool
    legwear_skin: bool
    shoe_top: float  # leg coordinate where shoes begin
    hair: int  # 0 bald, 1 short, 2 long
    hair_front_y: float
    hair_long_y: float
    thickness: np.ndarray  # (6,) metres along the normal per region
    flare: float  # extra metres at the skirt's hem
    face: bool  # draw eyes, brows and mouth
    seed: int  # pattern noise lattice offset


def draw_outfit(rng: np.random.Generator, rig: PhotoRig) -> Outfit:
    tone = _SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))]
    skin = np.clip(tone * rng.uniform(0.9, 1.08) + rng.normal(0, 5, 3), 10, 255).astype(np.float32)
    colours = np.stack([skin, *(_garment_colour(rng) for _ in range(4)), np.zeros(3, np.float32)])
    colours[HAIR] = _HAIR_COLOURS[int(rng.integers(len(_HAIR_COLOURS)))] * rng.uniform(0.85, 1.15)
    if rng.random() < 0.6:  # shoes are mostly dark or white
        colours[SHOES] = [[30, 28, 26], [235, 235, 235], [90, 60, 40]][int(rng.integers(3))]
    kind = rng.random()
    skirt = kind < 0.25
    bottom_end = rng.uniform(0.3, 0.8) if skirt else (rng.uniform(0.25, 0.5) if kind < 0.45 else rng.uniform(0.88, 1.0))
    legwear_skin = rng.random() < 0.7
    if not legwear_skin:
        colours[LEGWEAR] = [[25, 25, 25], [60, 45, 40], [200, 170, 150]][int(rng.integers(3))]
    else:
        colours[LEGWEAR] = skin
    second = np.stack([_garment_colour(rng) for _ in range(6)])
    pattern = [0] * 6
    freq = [0.0] * 6
    for region in (TOP, BOTTOM):
        p = rng.random()
        pattern[region] = 0 if p < 0.45 else 1 if p < 0.6 else 2 if p < 0.67 else 3 if p < 0.8 else 4
        if region == BOTTOM and not skirt and rng.random() < 0.35:
            pattern[region] = 5  # denim
            colours[BOTTOM] = np.clip(np.array([55, 75, 115]) * rng.uniform(0.6, 1.3), 0, 255)
        freq[region] = float(rng.uniform(8, 40))
    hair = int(rng.choice(3, p=[0.08, 0.55, 0.37]))
    thickness = np.zeros(6, np.float32)
    thickness[TOP] = rng.uniform(0.004, 0.035)
    thickness[BOTTOM] = rng.uniform(0.003, 0.025)
    thickness[SHOES] = rng.uniform(0.004, 0.012)
    thickness[HAIR] = rng.uniform(0.005, 0.025) if hair else 0.0
    return Outfit(
        skin=skin,
        colours=colours.astype(np.float32),
        second=second,
        pattern=tuple(pattern),
        freq=tuple(freq),
        sleeve=float(rng.choice([0.08, 0.3, 0.55, 1.0], p=[0.12, 0.38, 0.1, 0.4])),
        neckline=float(rng.uniform(0.0, 0.08)),
        hem_y=float(rig.hip_y + rng.uniform(-0.08, 0.1)),
        bottom_end=float(bottom_end),
        skirt=skirt,
        legwear_skin=legwear_skin,
        shoe_top=float(rng.uniform(0.93, 1.0)),
        hair=hair,
        hair_front_y=float(rig.head[1] + rng.uniform(0.08, 0.115)),
        hair_long_y=float(rig.neck_y - rng.uniform(0.0, 0.18)),
        thickness=thickness,
        flare=float(rng.uniform(0.0, 0.07)) if skirt else 0.0,
        face=bool(rng.random() < 0.9),
        seed=int(rng.integers(1 << 30)),
    )


def _arm_coordinate(r: np.ndarray, rig: PhotoRig) -> np.ndarray:
    side = (r[:, 0] > 0).astype(np.int64)
    s, w = rig.shoulders[side], rig.wrists[side]
    d = w - s
    return ((r - s) * d).sum(-1) / (d * d).sum(-1)


def _leg_coordinate(r: np.ndarray, rig: PhotoRig) -> np.ndarray:
    return (rig.hip_y - r[:, 1]) / (rig.hip_y - rig.ankle_y)


def regions(r: np.ndarray, part: np.ndarray, outfit: Outfit, rig: PhotoRig) -> np.ndarray:
    """Region (SKIN .. HAIR) of rest-pose points r (N, 3) on body parts `part` (N,)."""
    out = np.full(len(r), SKIN, np.int64)
    torso = np.isin(part, _TORSO_PARTS)
    arm = np.isin(part, _ARM_PARTS)
    leg = np.isin(part, _LEG_PARTS)
    foot = np.isin(part, _FOOT_PARTS)
    head = np.isin(part, _HEAD_PARTS)
    y, z = r[:, 1], r[:, 2]
    t_arm = _arm_coordinate(r, rig)
    t_leg = _leg_coordinate(r, rig)
    # The front of the neckline opens lower than the back.
    front = np.clip((z - rig.head[2] + 0.02) / 0.06, 0, 1)
    neck_open = y > rig.neck_y - 0.035 - outfit.neckline * front
    out[torso & ~neck_open] = TOP
    out[arm & (t_arm <= outfit.sleeve)] = TOP
    out[(torso | leg) & (y < outfit.hem_y) & (t_leg <= outfit.bottom_end)] = BOTTOM
    out[leg & (y >= outfit.hem_y)] = TOP
    out[leg & (t_leg > outfit.bottom_end)] = LEGWEAR
    out[foot | ((leg | foot) & (t_leg > outfit.shoe_top))] = SHOES
    if outfit.hair:
        # Hairline: low at the back, at the ears on the sides, the forehead at the front.
        rel = z - rig.head[2]
        back_y = rig.head[1] - 0.06 if outfit.hair == 2 else rig.head[1] - 0.02
        line = np.interp(rel, [-0.06, 0.0, 0.07], [back_y, rig.head[1] + 0.05, outfit.hair_front_y])
        out[head & (y > line)] = HAIR
        if outfit.hair == 2:  # over the upper back, between the shoulder blades
            out[(head | torso) & (z < rig.head[2] - 0.03) & (y > outfit.hair_long_y) & (np.abs(r[:, 0]) < 0.1)] = HAIR
    return out


def vertex_offsets(region: np.ndarray, r: np.ndarray, outfit: Outfit, rig: PhotoRig) -> np.ndarray:
    """Metres each vertex moves out along its normal: loose clothes and hair have volume."""
    thick = outfit.thickness[region].astype(np.float64)
    if outfit.skirt:
        t = np.clip(_leg_coordinate(r, rig) / max(outfit.bottom_end, 1e-6), 0, 1)
        thick = thick + (region == BOTTOM) * outfit.flare * t
    return thick


def _lattice_noise(p: np.ndarray, seed: int) -> np.ndarray:
    """Value noise in [0, 1] at points p (N, 3) in lattice units, from an integer hash (the same
    bits on every CPU)."""
    i = np.floor(p).astype(np.int64)
    f = p - i
    f = f * f * (3 - 2 * f)
    out = np.zeros(len(p))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                h = (
                    (i[:, 0] + dx).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                    ^ (i[:, 1] + dy).astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
                    ^ (i[:, 2] + dz).astype(np.uint64) * np.uint64(0x165667B19E3779F9)
                    ^ np.uint64(seed)
                )
                h ^= h >> np.uint64(29)
                h *= np.uint64(0xBF58476D1CE4E5B9)
                h ^= h >> np.uint64(32)
                v = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
                w = (
                    (f[:, 0] if dx else 1 - f[:, 0])
                    * (f[:, 1] if dy else 1 - f[:, 1])
                    * (f[:, 2] if dz else 1 - f[:, 2])
                )
                out += w * v
    return out


def albedo(r: np.ndarray, region: np.ndarray, outfit: Outfit, rig: PhotoRig) -> np.ndarray:
    """Surface colour (N, 3) float32 0..255 at rest-pose points r of the given regions."""
    col = outfit.colours[region].astype(np.float64)
    for reg in (TOP, BOTTOM):
        sel = region == reg
        if not sel.any() or outfit.pattern[reg] == 0:
            continue
        p, f, kind = r[sel], outfit.freq[reg], outfit.pattern[reg]
        if kind == 1:
            m = (np.mod(p[:, 1] * f, 1.0) < 0.5).astype(np.float64)
        elif kind == 2:
            m = (np.mod(p[:, 0] * f + 0.25 * p[:, 2] * f, 1.0) < 0.3).astype(np.float64)
        elif kind == 3:
            m = 0.5 * (np.mod(p[:, 0] * f, 1.0) < 0.5) + 0.5 * (np.mod(p[:, 1] * f, 1.0) < 0.5)
        elif kind == 4:
            m = (_lattice_noise(p * f * 0.7, outfit.seed + reg) > 0.6).astype(np.float64)
        else:  # denim: fine twill noise and faded, lighter patches
            n = _lattice_noise(p * 250.0, outfit.seed + reg)
            fade = _lattice_noise(p * 8.0, outfit.seed + 7)
            col[sel] *= (0.85 + 0.3 * n + 0.35 * np.clip(fade - 0.5, 0, 1))[:, None]
            continue
        col[sel] = col[sel] * (1 - m[:, None]) + outfit.second[reg] * m[:, None]
    cloth = np.isin(region, (TOP, BOTTOM, SHOES)) | ((region == LEGWEAR) & (not outfit.legwear_skin))
    if cloth.any():  # weave and folds
        n = _lattice_noise(r[cloth] * 300.0, outfit.seed + 11)
        col[cloth] *= (0.94 + 0.12 * n)[:, None]
    hair = region == HAIR
    if hair.any():  # strands: fine noise stretched along the vertical
        n = _lattice_noise(r[hair] * np.array([400.0, 40.0, 400.0]), outfit.seed + 13)
        col[hair] *= (0.7 + 0.6 * n)[:, None]
    if outfit.face:
        face = (region == SKIN) & (r[:, 2] > rig.head[2] + 0.03) & (np.abs(r[:, 1] - rig.eyes[0, 1]) < 0.09)
        if face.any():
            p = r[face]
            dark = np.zeros(len(p))
            for eye in rig.eyes:
                dark = np.maximum(dark, ((p[:, 0] - eye[0]) / 0.014) ** 2 + ((p[:, 1] - eye[1]) / 0.008) ** 2 <= 1)
                brow = ((p[:, 0] - eye[0]) / 0.018) ** 2 + ((p[:, 1] - eye[1] - 0.02) / 0.004) ** 2 <= 1
                dark = np.maximum(dark, 0.7 * brow)
            lips = ((p[:, 0] - rig.mouth[0]) / 0.024) ** 2 + ((p[:, 1] - rig.mouth[1]) / 0.006) ** 2 <= 1
            c = col[face]
            c = c * (1 - 0.75 * dark[:, None])
            c = np.where(lips[:, None], c * np.array([0.8, 0.55, 0.55]), c)
            col[face] = c
    return col.astype(np.float32)


# ------------------------------------------------------------------------------------ lights


@dataclass(frozen=True)
class Lights:
    key: np.ndarray  # (3,) unit, towards the light, world axes (+z towards the camera)
    fill: np.ndarray
    rim: np.ndarray
    key_rgb: np.ndarray  # (3,) intensities
    fill_rgb: np.ndarray
    rim_rgb: np.ndarray
    ambient_rgb: np.ndarray


def draw_lights(rng: np.random.Generator, environment: np.ndarray) -> Lights:
    """A key light from the camera's side (above more often than below), a weaker fill from the
    other side, sometimes a rim light from behind; the ambient takes the background's mean colour."""

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v)

    key = unit(np.array([rng.uniform(-1, 1), rng.uniform(-0.3, 1.0), rng.uniform(0.2, 1.0)]))
    fill = unit(np.array([-key[0] + rng.normal(0, 0.2), rng.uniform(-0.2, 0.5), rng.uniform(0.3, 1.0)]))
    rim = unit(np.array([rng.uniform(-1, 1), rng.uniform(0, 1), -rng.uniform(0.3, 1.0)]))
    warm = rng.uniform(-0.12, 0.12)
    colour = np.array([1 + warm, 1.0, 1 - warm])
    env = environment / max(float(environment.mean()), 1.0)
    env = 0.5 + 0.5 * np.clip(env, 0.3, 2.0)
    return Lights(
        key=key,
        fill=fill,
        rim=rim,
        key_rgb=colour * rng.uniform(0.55, 0.95),
        fill_rgb=colour * rng.uniform(0.08, 0.3),
        rim_rgb=colour * (rng.uniform(0.2, 0.6) if rng.random() < 0.3 else 0.0),
        ambient_rgb=env * rng.uniform(0.2, 0.4),
    )


def shade(normals: np.ndarray, lights: Lights) -> np.ndarray:
    """Per-point RGB irradiance (N, 3) from unit normals (N, 3) in world axes."""
    out = np.broadcast_to(lights.ambient_rgb, normals.shape).astype(np.float64)
    for d, c in ((lights.key, lights.key_rgb), (lights.fill, lights.fill_rgb), (lights.rim, lights.rim_rgb)):
        out = out + np.clip(normals @ d, 0, 1)[:, None] * c
    return out
