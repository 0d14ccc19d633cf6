"""golden/crop.json: the crop contract (meshpose_mobile/crop.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from meshpose_export.golden.common import (
    BOX,
    MATRIX,
    PIXELS,
    _doc,
    _flat,
    _r,
)


def _image(name: str) -> np.ndarray:
    """Small synthetic HxWx3 images whose every pixel differs, so a wrong sample shows."""
    sizes = {"grad_5x7": (5, 7), "one_pixel": (1, 1), "tiny_2x3": (2, 3)}
    h, w = sizes[name]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([10.0 * xs + 3.0 * ys + 1.0, 200.0 - 7.0 * ys - 2.0 * xs, 40.0 + 5.0 * xs * ys], axis=-1)


def crop_with_border(contract, image: np.ndarray, box, border: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The contract's crop with a per-channel border (one crop per channel where the contract
    takes a single border value)."""
    from dataclasses import replace

    try:
        full = replace(contract, border_value=tuple(border))
        return full.crop(image, box)
    except (TypeError, ValueError):
        pass
    chans, affine = [], None
    for c in range(3):
        one = replace(contract, border_value=float(border[c]))
        crop, affine = one.crop(image[..., c : c + 1], box)
        chans.append(crop[..., 0])
    return np.stack(chans, axis=-1), affine


def crop_cases() -> dict[str, Any]:
    from meshpose_mobile.crop import CropContract, invert_affine
    from meshpose_mobile.errors import MeshPoseError

    small = CropContract(8, 6, box_scale=1.1)
    wide = CropContract(5, 4, box_scale=1.25)
    tiny_model = CropContract(64, 48, box_scale=1.1)
    images = {n: _image(n) for n in ("grad_5x7", "one_pixel", "tiny_2x3")}
    specs = [
        ("inside", small, "grad_5x7", (1.0, 0.5, 4.0, 3.0), [0.0, 0.0, 0.0]),
        ("whole_image", small, "grad_5x7", (-0.5, -0.5, 7.0, 5.0), [0.0, 0.0, 0.0]),
        ("partly_outside_left_top", small, "grad_5x7", (-3.0, -2.0, 5.0, 4.0), [123.675, 116.28, 103.53]),
        ("partly_outside_right_bottom", wide, "grad_5x7", (4.5, 3.0, 6.0, 2.0), [255.0, 0.0, 128.0]),
        ("wide_box", wide, "grad_5x7", (0.0, 1.5, 6.0, 1.0), [0.0, 0.0, 0.0]),
        ("tall_box", small, "grad_5x7", (2.25, -0.25, 1.5, 4.5), [9.0, 9.0, 9.0]),
        ("one_pixel_image", small, "one_pixel", (-0.5, -0.5, 1.0, 1.0), [0.0, 64.0, 255.0]),
        ("tiny_image_big_box", wide, "tiny_2x3", (-2.0, -3.0, 7.0, 8.0), [1.0, 2.0, 3.0]),
        ("subpixel_box", small, "grad_5x7", (2.3, 1.7, 0.8, 0.6), [0.0, 0.0, 0.0]),
        ("model_size_affine_only", tiny_model, "grad_5x7", (20.0, 10.0, 350.0, 502.0), [0.0, 0.0, 0.0]),
    ]
    probe = np.array([[0.0, 0.0, 0.0], [2.5, 3.5, 1.0], [-1.0, 7.0, -2.5], [5.0, 7.0, 4.0]])
    cases = []
    for name, contract, img_name, box, border in specs:
        affine = contract.box_affine(box)
        inv = invert_affine(affine)
        img = images[img_name]
        h, w = contract.input_height, contract.input_width
        crop = None
        if h * w <= 64:
            crop, a2 = crop_with_border(contract, img, box, border)
            assert np.allclose(a2, affine)
        case = {
            "name": name,
            "contract": {"input_height": h, "input_width": w, "box_scale": contract.box_scale, "border_value": border},
            "image": img_name,
            "box": list(box),
            "expected": {
                "affine": _r(affine),
                "inverse": _r(inv),
                "crop_to_image_scale": _r(float(np.sqrt(abs(np.linalg.det(inv[:, :2]))))),
                "crop_pixels": None if crop is None else {"shape": [h, w, 3], "data": _flat(crop)},
                "crop_points": _flat(probe),
                "image_points": _flat(contract.to_image(probe, affine)),
            },
        }
        cases.append(case)
    bad_boxes = [
        ("zero_width", (1.0, 1.0, 0.0, 2.0), [1.0, 1.0, 0.0, 2.0]),
        ("negative_height", (1.0, 1.0, 2.0, -1.0), [1.0, 1.0, 2.0, -1.0]),
        ("not_finite", (float("nan"), 0.0, 1.0, 1.0), ["NaN", 0.0, 1.0, 1.0]),
    ]
    for name, box, stored in bad_boxes:
        try:
            small.box_affine(box)
        except MeshPoseError:
            err = {"name": name, "contract": cases[0]["contract"], "image": "grad_5x7", "box": stored}
            cases.append({**err, "error": "invalid_box"})
        else:  # pragma: no cover - a generator bug
            raise AssertionError(f"crop case {name} was expected to be rejected")
    return _doc(
        "crop",
        "The crop contract of meshpose_mobile/crop.py: box -> affine -> crop pixels (bilinear, constant "
        "per-channel border) and crop points back to image pixels.",
        {
            "pixels": PIXELS,
            "box": BOX,
            "matrix": MATRIX + "; `affine` maps image pixels to crop pixels, `inverse` back",
            "crop_pixels": "HxWx3 float, row-major, channels last (R, G, B), in the image's value range",
            "points": "(N, 3) x, y, z; x, y through `inverse`, z times crop_to_image_scale",
            "images": "HxWx3 images keyed by name, row-major channels last",
            "box_nan": 'a box value "NaN" stands for a not-a-number float',
        },
        cases,
        images={n: {"shape": list(v.shape), "data": _flat(v)} for n, v in images.items()},
    )
