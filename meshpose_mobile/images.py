"""Photos from disk as H x W x 3 uint8 RGB, whatever their pixel format.

Pillow's `convert("RGB")` clips 16-bit greyscale to white and turns float images black; here
every format is scaled by its real range instead: 16-bit by 65535, float images in 0..1 by 255,
other float images by their own min..max. Images too large to decode safely (a "decompression
bomb", or simply a 200-megapixel panorama) are refused with one line before any pixel is decoded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from meshpose_mobile.errors import MeshPoseError

# Pillow's own hard limit (2 x Image.MAX_IMAGE_PIXELS, about 179 MP): above it, the header alone
# decides. Below it a photo is read whole; the crop then reads only the pixels it needs.
MAX_PIXELS = 2 * 89_478_485


class ImageError(MeshPoseError):
    """An image file that cannot be read as a photo."""


def load_rgb(path: str | Path) -> np.ndarray:
    """H x W x 3 uint8 RGB, upright (EXIF orientation applied), or a one-line `ImageError`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image not found: {path}; pass an image file or a folder of images")
    try:
        with warnings.catch_warnings():
            # The size is checked below, against our limit, before decoding; Pillow's own check
            # would refuse without saying the size.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                im = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = limit
            with im:
                _check_size(path, im.size)
                im = ImageOps.exif_transpose(im)
                return to_rgb8(im)
    except Image.DecompressionBombError:
        raise ImageError(_too_big(path, None)) from None
    except UnidentifiedImageError:
        if path.suffix.lower() in (".tif", ".tiff"):
            return _load_tiff(path)
        raise ImageError(f"cannot read image {path} (not an image format Pillow knows); pass a JPEG or PNG") from None
    except MemoryError:
        raise ImageError(f"image {path} does not fit in memory; downscale it first") from None
    except (OSError, ValueError, SyntaxError) as err:
        if path.suffix.lower() in (".tif", ".tiff"):
            return _load_tiff(path)
        why = " ".join(str(err).split())[:100] or type(err).__name__
        raise ImageError(f"cannot read image {path} ({why}); pass a JPEG, PNG or other photo") from None


def _too_big(path: Path, size: tuple[int, int] | None) -> str:
    dims = f"{size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.0f} MP)" if size else "too large"
    return (
        f"image {path} is {dims}, above the {MAX_PIXELS / 1e6:.0f}-megapixel limit (a guard against "
        "decompression bombs); downscale it first, e.g. to 8000 pixels on the long side"
    )


def _check_size(path: Path, size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise ImageError(_too_big(path, size))


def to_rgb8(im) -> np.ndarray:
    """A PIL image of any mode -> H x W x 3 uint8, scaled by the format's real range."""
    mode = im.mode
    if mode == "RGB":
        return np.asarray(im)
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _grey_to_rgb8(np.asarray(im), mode)
    return np.asarray(im.convert("RGB"))


def _grey_to_rgb8(arr: np.ndarray, mode: str) -> np.ndarray:
    scaled = scale_to_uint8(arr, high_bit=mode.startswith("I;16"))
    return np.repeat(scaled[..., None], 3, axis=2)


def scale_to_uint8(arr: np.ndarray, high_bit: bool = False) -> np.ndarray:
    """Integer data by its bit depth (16-bit: /257), float data in 0..1 by 255, other float data
    by its own finite min..max (NaN reads 0)."""
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.integer):
        top = float(arr.max()) if arr.size else 0.0
        if high_bit or arr.dtype.itemsize == 2 or top > 255:
            full = 65535.0 if top <= 65535 else top
            return np.clip(np.rint(arr.astype(np.float32) * (255.0 / full)), 0, 255).astype(np.uint8)
        return np.clip(arr, 0, 255).astype(np.uint8)
    data = arr.astype(np.float32)
    finite = np.isfinite(data)
    if not finite.any():
        return np.zeros(data.shape, dtype=np.uint8)
    lo, hi = float(data[finite].min()), float(data[finite].max())
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    elif hi <= lo:
        hi = lo + 1.0
    out = (np.where(finite, data, lo) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _load_tiff(path: Path) -> np.ndarray:
    """Float or multi-channel TIFFs Pillow cannot open (e.g. RGB float32), through tifffile."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            shape = page.shape
            if int(np.prod(shape[:2])) > MAX_PIXELS:
                raise ImageError(_too_big(path, (int(shape[1]), int(shape[0]))))
            arr = page.asarray()
    except MeshPoseError:
        raise
    except Exception as err:
        why = " ".join(str(err).split())[:100] or type(err).__name__
        raise ImageError(f"cannot read TIFF {path} ({why}); save it as 8- or 16-bit PNG or JPEG") from None
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageError(f"TIFF {path} has shape {arr.shape}; pass a greyscale or RGB image")
    rgb = scale_to_uint8(arr[..., :3] if arr.shape[2] >= 3 else arr)
    return np.ascontiguousarray(np.broadcast_to(rgb, (*rgb.shape[:2], 3)) if rgb.shape[2] == 1 else rgb)
