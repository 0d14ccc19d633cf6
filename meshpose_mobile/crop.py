"""The crop contract: how a person box becomes the network's input crop, and how outputs go back.

Same numbers as the released model (official-checkpoint.md, "Input"), for any input size H x W:
the box centre c is grown on its smaller side to aspect W/H, both sides are scaled by
`box_scale`, and the three-point affine maps c -> (W/2, H/2), c + (0, h/2) -> (W/2, H),
c + (w/2, 0) -> (W, H/2); bilinear sampling, constant border: pixels outside the photo read a
per-channel RGB value (0 for our models; the authors' demo fills (127.5, 0, 0), which the
released model's import sets through `ModelConfig.crop_border`). Pixel centres have integer
coordinates in both images. Back to the image: (x, y) through the inverse affine, z times
sqrt(|det|) of the inverse 2x2 (= box width / W). The same fields go into every export sidecar,
so the iOS and Android apps crop exactly like this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from meshpose_mobile.config import Border, as_border
from meshpose_mobile.errors import ConfigError

if TYPE_CHECKING:
    from meshpose_mobile.config import ModelConfig

# How much context around the person box the crop takes (the released model's value).
DEFAULT_BOX_SCALE = 1.1


@dataclass(frozen=True)
class CropContract:
    input_height: int
    input_width: int
    box_scale: float = DEFAULT_BOX_SCALE
    # RGB 0..255 read outside the photo; a single number means the same for all three channels.
    border_value: Border = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        for name in ("input_height", "input_width"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"crop contract: {name}={value!r} must be a positive integer")
        scale = self.box_scale
        if isinstance(scale, bool) or not isinstance(scale, int | float | np.floating) or not 0 < scale < np.inf:
            raise ConfigError(
                f"box scale {scale!r} must be a finite number > 0 ({DEFAULT_BOX_SCALE} is the usual value)"
            )
        object.__setattr__(self, "border_value", as_border(self.border_value))

    @classmethod
    def for_config(cls, cfg: ModelConfig, box_scale: float | None = None) -> CropContract:
        """The contract of a model: its input size, its border fill (`ModelConfig.crop_border`), and
        `box_scale` (default `DEFAULT_BOX_SCALE`)."""
        return cls(
            cfg.input_height,
            cfg.input_width,
            box_scale=DEFAULT_BOX_SCALE if box_scale is None else box_scale,
            border_value=cfg.crop_border,
        )

    @property
    def aspect(self) -> float:
        return self.input_width / self.input_height

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "border_value": list(self.border_value),
            "aspect": self.aspect,
            "interpolation": "bilinear",
            "border": "constant: pixels outside the image read border_value (R, G, B, 0..255)",
            "pixel_centres": "integer coordinates, top-left pixel centre at (0, 0)",
            "box_format": "x, y, w, h (COCO: top-left corner, width, height) in image pixels",
            "rule": (
                "c = box centre; grow the smaller side to aspect w/h = input_width/input_height; scale w, h by "
                "box_scale; affine maps c -> (W/2, H/2), c + (0, h/2) -> (W/2, H), c + (w/2, 0) -> (W, H/2)"
            ),
            "back_to_image": "x, y through the inverse affine; z times box width / input_width",
        }

    def box_affine(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """2x3 matrix mapping image pixels to crop pixels for a COCO xywh box."""
        x, y, w, h = (float(v) for v in box)
        if not (np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
            raise ConfigError(f"person box {box} must have finite x, y and positive width and height")
        cx, cy = x + w / 2.0, y + h / 2.0
        if w > self.aspect * h:
            h = w / self.aspect
        else:
            w = h * self.aspect
        w, h = w * self.box_scale, h * self.box_scale
        src = np.array([[cx, cy], [cx, cy + h / 2.0], [cx + w / 2.0, cy]])
        W, H = float(self.input_width), float(self.input_height)
        dst = np.array([[W / 2, H / 2], [W / 2, H], [W, H / 2]])
        return _affine_from_points(src, dst)

    def crop(self, image: np.ndarray, box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        """HxWx3 image -> (crop (H_in, W_in, 3) float32 in the image's value range, affine)."""
        affine = self.box_affine(box)
        return self.crop_affine(image, affine), affine

    def crop_affine(self, image: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """The crop any 2x3 affine (image -> crop pixels) defines, at this contract's size and
        border value: `crop` for a rotated region too."""
        inv = invert_affine(affine)
        ys, xs = np.mgrid[0 : self.input_height, 0 : self.input_width].astype(np.float64)
        sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
        sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
        return bilinear_sample(image, sx, sy, self.border_value)

    def picture_box(self, affine: np.ndarray, image_height: int, image_width: int) -> np.ndarray:
        """(4,) float32 x0, y0, x1, y1: the part of the crop an axis-aligned affine (`box_affine`)
        fills from the image, in crop pixels (edges at -0.5 and size - 0.5, as the image's own);
        the rest reads ``border_value``. Empty (x1 <= x0 or y1 <= y0) when the crop misses the image."""
        if abs(affine[0, 1]) > 1e-9 or abs(affine[1, 0]) > 1e-9:
            raise ConfigError("picture_box needs an axis-aligned affine (box_affine); a rotated crop has no box")
        corners = self.to_crop(np.array([[-0.5, -0.5], [image_width - 0.5, image_height - 0.5]]), affine)
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        x0, y0 = max(lo[0], -0.5), max(lo[1], -0.5)
        x1, y1 = min(hi[0], self.input_width - 0.5), min(hi[1], self.input_height - 0.5)
        return np.array([x0, y0, max(x1, x0), max(y1, y0)], np.float32)

    def to_image(self, points: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """(..., 2 or 3) crop-pixel points -> image pixels (z scaled by box width / input width)."""
        inv = invert_affine(affine)
        out = np.array(points, dtype=np.float64, copy=True)
        xy = out[..., :2] @ inv[:, :2].T + inv[:, 2]
        out[..., :2] = xy
        if out.shape[-1] == 3:
            out[..., 2] *= np.sqrt(abs(np.linalg.det(inv[:, :2])))
        return out

    def to_crop(self, points: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """Inverse of `to_image`."""
        out = np.array(points, dtype=np.float64, copy=True)
        out[..., :2] = out[..., :2] @ affine[:, :2].T + affine[:, 2]
        if out.shape[-1] == 3:
            out[..., 2] *= np.sqrt(abs(np.linalg.det(affine[:, :2])))
        return out


def _affine_from_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    a = np.concatenate([src, np.ones((3, 1))], axis=1)
    return np.linalg.solve(a, dst).T


def invert_affine(m: np.ndarray) -> np.ndarray:
    lin = np.linalg.inv(m[:, :2])
    return np.concatenate([lin, -lin @ m[:, 2:]], axis=1)


def bilinear_sample(image: np.ndarray, sx: np.ndarray, sy: np.ndarray, border: Any) -> np.ndarray:
    """Sample an HxWxC image at float pixel positions; outside the image reads `border` (one value,
    or one per channel).

    Reads only the four neighbours of each sample (no padded or float copy of the whole photo),
    so a 100-megapixel photo costs the size of the crop; results are those of sampling the photo
    surrounded by a one-pixel frame of `border`.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    h, w, c = img.shape
    fill = np.broadcast_to(np.asarray(border, dtype=np.float32).reshape(-1), (c,))
    # Coordinates in the bordered image (frame of one pixel): beyond it only the border is read.
    px = np.clip(sx + 1.0, 0.0, w + 1.0)
    py = np.clip(sy + 1.0, 0.0, h + 1.0)
    x0 = np.clip(np.floor(px).astype(np.int64), 0, w)
    y0 = np.clip(np.floor(py).astype(np.int64), 0, h)
    fx = (px - x0)[..., None].astype(np.float32)
    fy = (py - y0)[..., None].astype(np.float32)

    def read(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (yy >= 1) & (yy <= h) & (xx >= 1) & (xx <= w)
        vals = img[np.clip(yy - 1, 0, h - 1), np.clip(xx - 1, 0, w - 1)].astype(np.float32)
        return np.where(inside[..., None], vals, fill)

    top = read(y0, x0) * (1 - fx) + read(y0, x0 + 1) * fx
    bottom = read(y0 + 1, x0) * (1 - fx) + read(y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bottom * fy
