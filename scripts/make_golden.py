"""Write the golden test vectors in golden/ that the iOS (MeshPoseKit) and Android (core) tests read.

Every expected value comes from the project's own Python code: real sidecars written by
export/sidecar.py, the crop contract of meshpose_mobile/crop.py, export/runtime/frame_geometry.py, a real
exported ONNX model run by ONNX Runtime through the prediction engine, meshpose_export.runtime.tracking and
export/bench/schema.py. golden/README.md documents each file's schema.

    python scripts/make_golden.py            # rewrite golden/
    python scripts/make_golden.py --check    # exit 1 when golden/ is stale (tests/test_golden.py does this too)

Floats are rounded to a fixed number of decimals so that a regenerated file is byte-identical on
the same machine. Runtime outputs are the exception: decode.json stores them exactly (float32
decimals that read back to the very bits, float16 bit patterns), and its expected values are
decoded from those stored outputs, so they are checked exactly on any CPU; only the outputs
themselves are compared with a tolerance measured across CPU kernels (RUNTIME_TOLERANCE).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOLDEN_DIR = REPO / "golden"
GOLDEN_FORMAT = "meshpose-golden"
GOLDEN_VERSION = 1
DECIMALS = 6

# Error kinds the platform readers raise; the vectors name the kind each invalid case must raise.
SIDECAR_ERRORS = ("not_a_sidecar", "unsupported_version", "missing_field", "missing_output", "invalid_value")


class GoldenCaseError(Exception):
    """A case the reference rejects; `kind` is the error kind the platform code must report."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# --------------------------------------------------------------------------- helpers


def _r(value: Any, decimals: int | None = DECIMALS) -> Any:
    """Round floats (numpy or not) recursively (None: only make them plain floats); ints, bools,
    strings and None pass through."""
    if isinstance(value, dict):
        return {k: _r(v, decimals) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_r(v, decimals) for v in value]
    if isinstance(value, np.ndarray):
        return _r(value.tolist(), decimals)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value) if decimals is None else round(float(value), decimals)
        return 0.0 if v == 0 else v  # no "-0.0"
    return value


def _flat(a: np.ndarray) -> list[float]:
    return _r(np.asarray(a, dtype=np.float64).ravel())


def _doc(area: str, description: str, conventions: dict[str, str], cases: list[dict[str, Any]], **extra: Any):
    return {
        "format": GOLDEN_FORMAT,
        "format_version": GOLDEN_VERSION,
        "area": area,
        "generator": "scripts/make_golden.py",
        "description": description,
        "conventions": conventions,
        **extra,
        "cases": cases,
    }


PIXELS = "image pixels; pixel centres at integer coordinates, top-left pixel centre (0, 0) (meshpose_mobile/crop.py)"
BOX = "COCO xywh in image pixels: top-left corner x, y, width, height; the whole image is (-0.5, -0.5, W, H)"
MATRIX = "2x3 affine as rows [[a, b, tx], [c, d, ty]]: x' = a x + b y + tx, y' = c x + d y + ty"
FLAT = "arrays are flat, row-major (C order); `shape` gives the dimensions"


# --------------------------------------------------------------------------- sidecar


def sidecar_view(doc: Any) -> dict[str, Any]:
    """What an app reads from a sidecar, or GoldenCaseError(kind) naming what is wrong.

    The rules both platform readers implement: the format must be "meshpose-sidecar" with
    format_version 1; faces are optional (the released model publishes none); outputs are found
    by name; an output's dtype is its `dtype` field, else float16 for CoreML programs below fp32
    (their outputs are FLOAT16) and float32 otherwise; the crop border is one value or three
    (per RGB channel) and is always reported as three.
    """
    if not isinstance(doc, dict) or doc.get("format") != "meshpose-sidecar":
        raise GoldenCaseError("not_a_sidecar", "not a meshpose-sidecar JSON object")
    if doc.get("format_version") != 1:
        raise GoldenCaseError("unsupported_version", f"sidecar format_version {doc.get('format_version')!r} is not 1")

    def need(obj: Any, key: str, where: str) -> Any:
        if not isinstance(obj, dict) or key not in obj or obj[key] is None:
            raise GoldenCaseError("missing_field", f"sidecar has no {where}{key}")
        return obj[key]

    def positive_int(v: Any, what: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise GoldenCaseError("invalid_value", f"{what} must be a positive integer, got {v!r}")
        return v

    def number(v: Any, what: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise GoldenCaseError("invalid_value", f"{what} must be a finite number, got {v!r}")
        return float(v)

    inp, crop, mesh = need(doc, "input", ""), need(doc, "crop", ""), need(doc, "mesh", "")
    outputs = need(doc, "outputs", "")
    height = positive_int(need(inp, "height", "input."), "input.height")
    width = positive_int(need(inp, "width", "input."), "input.width")
    norm = need(inp, "normalization", "input.")
    mean = [number(v, "input.normalization.mean") for v in need(norm, "mean", "input.normalization.")]
    std = [number(v, "input.normalization.std") for v in need(norm, "std", "input.normalization.")]
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise GoldenCaseError("invalid_value", "input.normalization mean and std need 3 values, std > 0")
    crop_h = positive_int(need(crop, "input_height", "crop."), "crop.input_height")
    crop_w = positive_int(need(crop, "input_width", "crop."), "crop.input_width")
    if (crop_h, crop_w) != (height, width):
        raise GoldenCaseError("invalid_value", "crop size differs from the input size")
    box_scale = number(need(crop, "box_scale", "crop."), "crop.box_scale")
    if box_scale <= 0:
        raise GoldenCaseError("invalid_value", "crop.box_scale must be positive")
    border_raw = crop.get("border_value", 0.0)
    border = border_raw if isinstance(border_raw, list) else [border_raw] * 3
    if len(border) != 3:
        raise GoldenCaseError("invalid_value", "crop.border_value must be one number or three (R, G, B)")
    border = [number(v, "crop.border_value") for v in border]
    k = positive_int(need(mesh, "num_vertices", "mesh."), "mesh.num_vertices")
    if not isinstance(outputs, list):
        raise GoldenCaseError("invalid_value", "outputs must be a list")
    target, precision = str(doc.get("target", "")), str(doc.get("precision", ""))
    default_dtype = "float16" if target == "coreml" and precision != "fp32" else "float32"
    by_name: dict[str, dict[str, Any]] = {}
    for o in outputs:
        name = need(o, "name", "outputs[].")
        shape = need(o, "shape", f"outputs[{name}].")
        if not isinstance(shape, list) or not shape:
            raise GoldenCaseError("invalid_value", f"output {name} has no shape")
        shape = [positive_int(s, f"output {name} shape") for s in shape]
        dtype = o.get("dtype", default_dtype)
        if dtype not in ("float32", "float16"):
            raise GoldenCaseError("invalid_value", f"output {name} dtype {dtype!r} is not float32 or float16")
        by_name[name] = {"name": name, "shape": shape, "dtype": dtype}
    expected_shapes = {"vertices": [1, k, 3], "visibility": [1, k]}
    for name, shape in expected_shapes.items():
        if name not in by_name:
            raise GoldenCaseError("missing_output", f"sidecar lists no output named {name!r}")
        if by_name[name]["shape"] != shape:
            raise GoldenCaseError("invalid_value", f"output {name} shape {by_name[name]['shape']} is not {shape}")
    faces = mesh.get("faces")
    num_faces = None
    if faces is not None:
        arr = np.asarray(faces)
        if arr.ndim != 2 or arr.shape[1] != 3 or arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= k:
            raise GoldenCaseError("invalid_value", f"mesh.faces must be triangles of vertex indices below {k}")
        num_faces = int(arr.shape[0])
    return {
        "target": target,
        "precision": precision,
        "variant": str(doc.get("variant", "")),
        "input_name": str(need(inp, "name", "input.")),
        "input_height": height,
        "input_width": width,
        "color_order": str(inp.get("color_order", "RGB")),
        "mean": mean,
        "std": std,
        "normalization_in_model": norm.get("applied") == "inside the model",
        "crop": {"input_height": crop_h, "input_width": crop_w, "box_scale": box_scale, "border_value": border},
        "num_vertices": k,
        "num_faces": num_faces,
        "outputs": [by_name[o["name"]] for o in outputs],
    }


def _real_sidecars(work: Path) -> dict[str, dict[str, Any]]:
    """Sidecars that `meshpose-export`'s pipeline writes for the tiny model (ONNX fp32, CoreML fp16)."""
    from meshpose_export.convert.pipeline import Job, run_export
    from meshpose_export.targets.base import get_target
    from meshpose_mobile.seeded import seeded_model

    model = seeded_model("meshpose_tiny", seed=0)
    run_export(model, [Job(get_target("onnx"), "fp32"), Job(get_target("coreml"), "fp16")], work, log=lambda s: None)
    return {
        "onnx_fp32": json.loads((work / "meshpose_tiny_fp32.onnx.json").read_text()),
        "coreml_fp16": json.loads((work / "meshpose_tiny_fp16.mlpackage.json").read_text()),
    }


def _stable_sidecar(doc: dict[str, Any]) -> dict[str, Any]:
    # The parity number is measured on each run (ONNX Runtime / CoreML's simulator); a fixed value
    # keeps the file byte-stable. Nothing the apps read depends on it.
    out = json.loads(json.dumps(doc))
    out["parity"]["vertices_max_px"] = _r(out["parity"]["vertices_max_px"], 3)
    return out


def sidecar_cases(sidecars: dict[str, dict[str, Any]]) -> dict[str, Any]:
    fp32, fp16 = _stable_sidecar(sidecars["onnx_fp32"]), _stable_sidecar(sidecars["coreml_fp16"])

    def edit(base: dict[str, Any], fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        d = json.loads(json.dumps(base))
        fn(d)
        return d

    def no_faces(d):
        d["mesh"]["faces"] = None
        d["mesh"]["parts"] = None

    def per_channel(d):
        d["crop"]["border_value"] = [123.675, 116.28, 103.53]

    def small(d):  # the mesh lists are the same in every case: keep them in the first only
        d["mesh"]["faces"] = None
        d["mesh"]["parts"] = None

    valid = [
        ("tiny_onnx_fp32", "written by meshpose-export (ONNX fp32)", fp32),
        ("tiny_coreml_fp16", "written by meshpose-export (CoreML fp16: FLOAT16 outputs)", edit(fp16, small)),
        ("no_faces", "the released model publishes no faces: valid, drawn as points", edit(fp32, no_faces)),
        ("per_channel_border", "border_value as three numbers (R, G, B)", edit(edit(fp32, small), per_channel)),
        (
            "explicit_dtype",
            "an output's dtype field wins over the default",
            edit(edit(fp32, small), lambda d: d["outputs"][2].update(dtype="float16")),
        ),
        (
            "outputs_reordered",
            "outputs are found by name, not position",
            edit(edit(fp32, small), lambda d: d["outputs"].reverse()),
        ),
    ]
    base = edit(fp32, small)
    invalid = [
        ("not_an_object", "a JSON list", [base]),
        ("other_format", "another tool's JSON", edit(base, lambda d: d.update(format="meshpose-prediction"))),
        ("newer_version", "format_version 2", edit(base, lambda d: d.update(format_version=2))),
        ("no_crop", "crop section missing", edit(base, lambda d: d.pop("crop"))),
        ("no_box_scale", "crop.box_scale missing", edit(base, lambda d: d["crop"].pop("box_scale"))),
        (
            "no_vertices_output",
            "no output named vertices",
            edit(base, lambda d: d["outputs"].pop(0)),
        ),
        ("zero_height", "input.height 0", edit(base, lambda d: d["input"].update(height=0))),
        (
            "crop_size_mismatch",
            "crop size differs from the input size",
            edit(base, lambda d: d["crop"].update(input_width=64)),
        ),
        (
            "two_value_border",
            "border_value with two numbers",
            edit(base, lambda d: d["crop"].update(border_value=[0.0, 0.0])),
        ),
        (
            "vertex_count_mismatch",
            "vertices shape disagrees with mesh.num_vertices",
            edit(base, lambda d: d["mesh"].update(num_vertices=614)),
        ),
        (
            "face_index_out_of_range",
            "a face names vertex 615 of 615",
            edit(base, lambda d: d["mesh"].update(faces=[[0, 1, 615]])),
        ),
        (
            "unknown_dtype",
            "an output dtype other than float32 / float16",
            edit(base, lambda d: d["outputs"][0].update(dtype="int8")),
        ),
    ]
    cases = []
    for name, why, doc in valid:
        cases.append({"name": name, "description": why, "valid": True, "sidecar": doc, "expected": sidecar_view(doc)})
    for name, why, doc in invalid:
        try:
            sidecar_view(doc)
        except GoldenCaseError as err:
            cases.append({"name": name, "description": why, "valid": False, "sidecar": doc, "error": err.kind})
        else:  # pragma: no cover - a generator bug
            raise AssertionError(f"sidecar case {name} was expected to be rejected")
    return _doc(
        "sidecar",
        "Sidecar JSON files as meshpose-export writes them, and what a reader must make of them.",
        {
            "error": "invalid cases name the error kind: " + ", ".join(SIDECAR_ERRORS),
            "dtype": "an output's dtype field if present, else float16 for CoreML below fp32, else float32",
            "border_value": "reported as three numbers (R, G, B) whether the sidecar has one or three",
        },
        cases,
    )


# --------------------------------------------------------------------------- crop


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


# --------------------------------------------------------------------------- frame geometry


def geometry_cases() -> dict[str, Any]:
    from meshpose_export.runtime import frame_geometry as fg
    from meshpose_mobile.errors import MeshPoseError

    rotation_cases = []
    for bw, bh in [(6, 4), (640, 480)]:
        pts = np.array([[0.0, 0.0], [bw - 1, 0.0], [0.0, bh - 1], [bw - 1, bh - 1], [1.25, 2.5], [-0.5, -0.5]])
        for rot in fg.ROTATIONS:
            m = fg.buffer_to_upright_matrix(bw, bh, rot)
            up = fg.buffer_to_upright(pts, bw, bh, rot)
            assert np.allclose(fg.upright_to_buffer(up, bw, bh, rot), pts)
            box = (1.0, 0.5, 2.5, 1.5)
            rotation_cases.append(
                {
                    "buffer_size": [bw, bh],
                    "rotation": rot,
                    "upright_size": list(fg.upright_size(bw, bh, rot)),
                    "buffer_to_upright": _r(m),
                    "buffer_points": _flat(pts),
                    "upright_points": _flat(up),
                    "buffer_box": list(box),
                    "upright_box": _r(list(fg.box_buffer_to_upright(box, bw, bh, rot))),
                }
            )
    view_cases = []
    for iw, ih, vw, vh in [(480, 640, 390, 844), (480, 640, 844, 390), (640, 480, 390, 844), (4, 3, 8, 3)]:
        pts = np.array([[0.0, 0.0], [iw - 1, ih - 1], [-0.5, -0.5], [iw - 0.5, ih - 0.5], [iw / 3, ih / 5]])
        for mode in fg.VIEW_MODES:
            for mirrored in (False, True):
                m = fg.image_to_view_matrix(iw, ih, vw, vh, mode, mirrored)
                view = fg.image_to_view(pts, iw, ih, vw, vh, mode, mirrored)
                assert np.allclose(fg.view_to_image(view, iw, ih, vw, vh, mode, mirrored), pts)
                view_cases.append(
                    {
                        "image_size": [iw, ih],
                        "view_size": [vw, vh],
                        "mode": mode,
                        "mirrored": mirrored,
                        "image_to_view": _r(m),
                        "image_points": _flat(pts),
                        "view_points": _flat(view),
                    }
                )
    buffer_view_cases = []
    for rot in fg.ROTATIONS:
        for mirrored in (False, True):
            bw, bh, vw, vh = 640, 480, 390, 844
            pts = np.array([[0.0, 0.0], [639.0, 479.0], [100.5, 50.25]])
            m = fg.buffer_to_view_matrix(bw, bh, rot, vw, vh, "fill", mirrored)
            buffer_view_cases.append(
                {
                    "buffer_size": [bw, bh],
                    "rotation": rot,
                    "view_size": [vw, vh],
                    "mode": "fill",
                    "mirrored": mirrored,
                    "buffer_to_view": _r(m),
                    "buffer_points": _flat(pts),
                    "view_points": _flat(fg.apply_affine(m, pts)),
                }
            )
    box_cases = []
    for kind, fn in [
        ("vision_bottom_left", fg.vision_box_to_pixels),
        ("normalized_top_left", fg.normalized_box_to_pixels),
    ]:
        norm_boxes = [
            ((0.0, 0.0, 1.0, 1.0), (480, 640)),
            ((0.25, 0.1, 0.5, 0.6), (480, 640)),
            ((0.3, 0.7, 0.2, 0.25), (7, 5)),
        ]
        for box, (w, h) in norm_boxes:
            box_cases.append(
                {"kind": kind, "image_size": [w, h], "box": list(box), "pixel_box": _r(list(fn(box, w, h)))}
            )
    for rect in [(0.0, 0.0, 480.0, 640.0), (10.0, 20.5, 110.0, 300.0)]:
        box_cases.append({"kind": "edge_rect", "rect": list(rect), "pixel_box": _r(list(fg.edge_rect_to_box(*rect)))})
    orientation_cases = []
    for rot in fg.ROTATIONS:
        for mirrored in (False, True):
            bw, bh = 6, 4
            pts = np.array([[0.0, 0.0], [bw - 1, 0.0], [0.0, bh - 1], [1.25, 2.5], [-0.5, -0.5]])
            m = fg.buffer_to_upright_matrix(bw, bh, rot, mirrored)
            orientation_cases.append(
                {
                    "buffer_size": [bw, bh],
                    "rotation": rot,
                    "mirrored": mirrored,
                    "exif": fg.exif_orientation(rot, mirrored),
                    "upright_size": list(fg.upright_size(bw, bh, rot)),
                    "buffer_to_upright": _r(m),
                    "buffer_points": _flat(pts),
                    "upright_points": _flat(fg.apply_affine(m, pts)),
                }
            )
    camera_cases = []
    for platform in fg.PLATFORMS:
        for camera in fg.CAMERAS:
            for holding in fg.HOLDINGS:
                rot, mirrored = fg.camera_orientation(platform, camera, holding)
                bw, bh = (1280, 720) if platform == "ios" else (640, 480)
                pts = np.array([[0.0, 0.0], [bw - 1, 0.0], [0.0, bh - 1], [100.5, 50.25]])
                m = fg.buffer_to_upright_matrix(bw, bh, rot, mirrored)
                vw, vh = (390, 844) if holding.startswith("portrait") else (844, 390)
                uw, uh = fg.upright_size(bw, bh, rot)
                view = fg.image_to_view_matrix(uw, uh, vw, vh, "fill", fg.view_mirrored(camera))
                camera_cases.append(
                    {
                        "platform": platform,
                        "camera": camera,
                        "holding": holding,
                        "rotation_degrees": fg.camerax_rotation_degrees(camera, holding)
                        if platform == "android"
                        else None,
                        "rotation": rot,
                        "mirrored": mirrored,
                        "exif": fg.exif_orientation(rot, mirrored),
                        "view_mirrored": fg.view_mirrored(camera),
                        "buffer_size": [bw, bh],
                        "upright_size": [uw, uh],
                        "buffer_to_upright": _r(m),
                        "buffer_points": _flat(pts),
                        "upright_points": _flat(fg.apply_affine(m, pts)),
                        "view_size": [vw, vh],
                        "buffer_to_view": _r(fg.compose(view, m)),
                    }
                )
    locked_cases = []  # orientation lock: the UI stays in `interface`, the phone is held as `holding`
    for camera in fg.CAMERAS:
        for holding, interface in [
            ("landscape_left", "portrait"),
            ("landscape_right", "portrait"),
            ("portrait_upside_down", "portrait"),
            ("portrait", "portrait"),
            ("portrait", "landscape_left"),
        ]:
            bw, bh, vw, vh = 1280, 720, 390, 844
            rot, mirrored = fg.camera_orientation("ios", camera, holding)
            display, _ = fg.camera_orientation("ios", camera, interface)
            uw, uh = fg.upright_size(bw, bh, rot)
            pts = np.array([[0.0, 0.0], [uw - 1, 0.0], [0.0, uh - 1], [100.5, 50.25]])
            m = fg.upright_to_view_matrix(bw, bh, rot, display, vw, vh, "fill", fg.view_mirrored(camera), mirrored)
            locked_cases.append(
                {
                    "camera": camera,
                    "holding": holding,
                    "interface": interface,
                    "buffer_size": [bw, bh],
                    "rotation": rot,
                    "display_rotation": display,
                    "view_size": [vw, vh],
                    "view_mirrored": fg.view_mirrored(camera),
                    "upright_to_view": _r(m),
                    "upright_points": _flat(pts),
                    "view_points": _flat(fg.apply_affine(m, pts)),
                }
            )
    gravity_cases = []
    s45 = float(np.sqrt(0.5))
    for g, previous in [
        ((0.0, -1.0, 0.0), "landscape_left"),
        ((0.0, 1.0, 0.0), "portrait"),
        ((-1.0, 0.0, 0.0), "portrait"),
        ((1.0, 0.0, 0.0), "portrait"),
        ((0.05, -0.2, -0.97), "landscape_right"),  # nearly flat on a table: keep
        ((-s45, -s45, 0.0), "portrait"),  # exactly between: keep
        ((-s45, -s45, 0.0), "landscape_left"),
        ((-0.766, -0.643, 0.0), "portrait"),  # 50 degrees: within the hysteresis, keep
        ((-0.866, -0.5, 0.0), "portrait"),  # 60 degrees: turn
        ((0.7, 0.6, -0.3), "portrait"),
    ]:
        gravity_cases.append(
            {"gravity": list(g), "previous": previous, "holding": fg.holding_from_gravity(*g, previous)}
        )
    # Android under orientation lock (or an activity fixed to portrait): the app sets ImageAnalysis's
    # target rotation from how the phone is held (OrientationEventListener -> holding ->
    # `target_rotation`), so CameraX turns frames by `rotation_degrees`; the preview keeps the
    # display's rotation (`display_rotation_degrees`, CameraInfo.getSensorRotationDegrees of it).
    android_locked_cases = []
    for camera in fg.CAMERAS:
        for holding, interface in [
            ("landscape_left", "portrait"),
            ("landscape_right", "portrait"),
            ("portrait_upside_down", "portrait"),
            ("portrait", "portrait"),
            ("portrait", "landscape_left"),
            ("landscape_left", "landscape_right"),
        ]:
            bw, bh, vw, vh = 640, 480, 412, 915
            if not interface.startswith("portrait"):
                vw, vh = vh, vw
            rot = fg.camerax_rotation_degrees(camera, holding)
            assert fg.camera_orientation("android", camera, holding) == (rot, False)
            display = fg.camerax_rotation_degrees(camera, interface)
            uw, uh = fg.upright_size(bw, bh, rot)
            pts = np.array([[0.0, 0.0], [uw - 1, 0.0], [0.0, uh - 1], [100.5, 50.25]])
            m = fg.upright_to_view_matrix(bw, bh, rot, display, vw, vh, "fill", fg.view_mirrored(camera), False)
            android_locked_cases.append(
                {
                    "camera": camera,
                    "holding": holding,
                    "interface": interface,
                    "target_rotation": fg.target_rotation(holding),
                    "display_target_rotation": fg.target_rotation(interface),
                    "buffer_size": [bw, bh],
                    "rotation_degrees": rot,
                    "display_rotation_degrees": display,
                    "view_size": [vw, vh],
                    "view_mirrored": fg.view_mirrored(camera),
                    "upright_to_view": _r(m),
                    "upright_points": _flat(pts),
                    "view_points": _flat(fg.apply_affine(m, pts)),
                }
            )
    orientation_event_cases = []
    for degrees, previous in [
        (0, "landscape_left"),
        (180, "portrait"),
        (90, "portrait"),  # turned clockwise: home edge on the left
        (270, "portrait"),
        (359, "landscape_right"),
        (fg.ORIENTATION_UNKNOWN, "landscape_right"),  # lying flat: keep
        (45, "portrait"),  # exactly between: keep
        (45, "landscape_right"),
        (55, "portrait"),  # the hysteresis' edge: keep
        (56, "portrait"),  # one degree past it: turn
        (304, "portrait"),
        (305, "portrait"),
        (134, "landscape_right"),
        (226, "portrait_upside_down"),
    ]:
        holding = fg.holding_from_orientation_degrees(degrees, previous)
        orientation_event_cases.append(
            {
                "orientation": degrees,
                "previous": previous,
                "holding": holding,
                "target_rotation": fg.target_rotation(holding),
            }
        )
    errors = []
    for rot in (45, -90, 360):
        try:
            fg.buffer_to_upright_matrix(640, 480, rot)
        except MeshPoseError:
            errors.append(
                {"call": "buffer_to_upright", "buffer_size": [640, 480], "rotation": rot, "error": "invalid_rotation"}
            )
    for size in ([0, 480], [640, -1]):
        try:
            fg.image_to_view_matrix(480, 640, size[0], size[1])
        except MeshPoseError:
            errors.append(
                {"call": "image_to_view", "image_size": [480, 640], "view_size": size, "error": "invalid_size"}
            )
    return _doc(
        "geometry",
        "Frame geometry of export/runtime/frame_geometry.py: sensor buffer -> upright image (rotation), upright "
        "image -> view (aspect fill / fit, front-camera mirroring), detector boxes -> COCO pixel boxes.",
        {
            "pixels": PIXELS + "; the same in the buffer and the upright image",
            "rotation": "clockwise degrees that turn the buffer upright (Android ImageInfo.rotationDegrees)",
            "view": "continuous coordinates, (0, 0) = the view's top-left corner; image centred and scaled "
            "uniformly: fill = max(vw/w, vh/h), fit = min(...)",
            "mirrored": "the view flipped horizontally about its centre after placing the image (front camera); "
            "the model always sees the unmirrored upright image",
            "box": BOX,
            "vision_bottom_left": "normalised x, y, w, h, origin bottom-left, y = bottom edge (Vision)",
            "normalized_top_left": "normalised x, y, w, h, origin top-left (MediaPipe relative boxes)",
            "edge_rect": "left, top, right, bottom in edge coordinates (0 = the image's left edge; RectF)",
            "matrix": MATRIX,
            "points": "flat (N, 2) x, y",
            "orientations": "buffer -> upright with a mirror: turn clockwise by `rotation`, then, if `mirrored`, "
            "flip the upright image horizontally; `exif` is the EXIF / CGImagePropertyOrientation raw value (1-8) "
            "of that buffer",
            "cameras": "export/runtime/frame_geometry.py camera_orientation: what turns a frame of `camera` upright "
            "and true "
            "(never a mirror image) with the phone held as `holding` (UIDeviceOrientation names: landscape_left = "
            "home edge on the right = Surface.ROTATION_90); ios: CameraSource's unmirrored connection; android: the "
            "frame's ImageInfo.rotationDegrees (`rotation_degrees`, CameraX, sensor orientation 90 back / 270 front) "
            "with no mirror; `view_mirrored`: the preview is a mirror view (front camera); `buffer_to_view`: fill mode",
            "locked": "orientation lock (ios): the model's image is turned for how the phone is held (`rotation`), the "
            "screen shows the frame turned for the interface (`display_rotation`); `upright_to_view` takes the model's "
            "upright pixels to the view (fill mode), export/runtime/frame_geometry.py upright_to_view_matrix",
            "gravity": "CoreMotion gravity (x right edge, y top edge, z out of the screen, in g) and the previous "
            "holding -> holding (export/runtime/frame_geometry.py holding_from_gravity)",
            "android_locked": "orientation lock (android): ImageAnalysis's target rotation follows how the phone is "
            "held (`target_rotation`, Surface.ROTATION_* 0-3), so CameraX turns frames by `rotation_degrees`; the "
            "preview keeps the display's (`display_target_rotation`, `display_rotation_degrees`); `upright_to_view` "
            "takes the model's upright pixels to the view (fill mode), "
            "export/runtime/frame_geometry.py upright_to_view_matrix",
            "orientation_events": "OrientationEventListener degrees (-1 = ORIENTATION_UNKNOWN, lying flat) and the "
            "previous holding -> holding (export/runtime/frame_geometry.py holding_from_orientation_degrees) and the "
            "ImageAnalysis target rotation for it (Surface.ROTATION_*, target_rotation)",
        },
        [],
        orientations=orientation_cases,
        cameras=camera_cases,
        locked=locked_cases,
        gravity=gravity_cases,
        android_locked=android_locked_cases,
        orientation_events=orientation_event_cases,
        rotations=rotation_cases,
        views=view_cases,
        buffer_to_view=buffer_view_cases,
        boxes=box_cases,
        errors=errors,
    )


# --------------------------------------------------------------------------- decode

# Named outputs are written in this order, not the sidecar's: a reader that takes outputs by
# position instead of by name fails these cases.
DECODE_OUTPUT_ORDER = ("vertices_2d", "visibility", "vertices")


def _output_entry(value: Any) -> dict[str, Any]:
    """One named output as stored, exactly: float32 values as the shortest decimals that read back
    (decimal -> float32) to the very bits the runtime returned, in `data`; float16 values (a Core ML
    fp16 program's FLOAT16 MLMultiArray) as their IEEE binary16 bit patterns in `bits`."""
    a = np.asarray(value)
    if a.dtype == np.float16:
        return {"shape": list(a.shape), "dtype": "float16", "bits": a.view(np.uint16).ravel().tolist()}
    flat = np.asarray(a, dtype=np.float32).ravel()
    data = [_r(float(np.format_float_positional(v, unique=True, trim="-")), None) for v in flat]
    # Exact, or the expected values would be decoded from other numbers than the stored ones.
    assert np.array_equal(np.asarray(data, dtype=np.float64).astype(np.float32), flat)
    return {"shape": list(a.shape), "dtype": "float32", "data": data}


def output_array(entry: dict[str, Any]) -> np.ndarray:
    """A stored output back as the runtime returned it (float32 or float16)."""
    if entry["dtype"] == "float16":
        return np.asarray(entry["bits"], dtype=np.uint16).view(np.float16).reshape(entry["shape"])
    return np.asarray(entry["data"], dtype=np.float64).astype(np.float32).reshape(entry["shape"])


def _float16_runner(runner: Callable[[np.ndarray], dict[str, Any]]) -> Callable[[np.ndarray], dict[str, Any]]:
    """`runner` with every output rounded to float16 (round to nearest even), the dtype in which
    a Core ML ML program converted at fp16 returns its outputs."""

    def run(x: np.ndarray) -> dict[str, Any]:
        return {n: np.asarray(v, dtype=np.float32).astype(np.float16) for n, v in runner(x).items()}

    return run


def decode_expected(case: dict[str, Any]) -> dict[str, Any]:
    """A decode case's `expected`, from the case alone: the prediction engine (Predictor.predict)
    run with a runner that returns the case's stored outputs. Nothing here depends on a runtime's
    CPU kernels, so the stored expected values must match this exactly on any machine."""
    from meshpose_export.runtime.predict import ModelInfo, Predictor
    from meshpose_mobile.crop import CropContract

    outs = {name: output_array(entry) for name, entry in case["outputs"].items()}
    c = case["contract"]
    contract = CropContract(c["input_height"], c["input_width"], box_scale=c["box_scale"])
    info = ModelInfo("golden", case["name"], "", "", int(case["num_vertices"]), "")
    width, height = case["image_size"]
    # The image only feeds the crop, which the replayed outputs ignore; its size bounds the box.
    pred = Predictor(lambda x: outs, contract, info).predict(np.zeros((height, width, 3), np.uint8), tuple(case["box"]))
    return {
        "affine": _r(pred.affine),
        "crop_to_image_scale": _r(pred.scale),
        "image_vertices": _flat(pred.xyz_lp),
        "visibility": _flat(pred.vertex_vis_lp),
    }


def _decode_case(
    name: str, description: str, runtime: str, sidecar: dict[str, Any], predictor, photo
) -> dict[str, Any]:
    image = photo.load()
    crop, _ = predictor.contract.crop(image, photo.box)
    outs = predictor.runner(np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32))
    stored = {n: _output_entry(outs[n]) for n in DECODE_OUTPUT_ORDER}
    case = {
        "name": name,
        "description": description,
        "runtime": runtime,
        "sidecar_outputs": [
            {"name": o["name"], "shape": o["shape"], "dtype": stored[o["name"]]["dtype"]} for o in sidecar["outputs"]
        ],
        "num_vertices": int(sidecar["mesh"]["num_vertices"]),
        "contract": {
            "input_height": predictor.contract.input_height,
            "input_width": predictor.contract.input_width,
            "box_scale": predictor.contract.box_scale,
        },
        "image_size": [int(image.shape[1]), int(image.shape[0])],
        "box": list(photo.box),
        "outputs": stored,
    }
    case["expected"] = decode_expected(case)
    # The stored outputs are the very arrays the prediction engine decodes on this photo.
    pred = predictor.predict(image, photo.box)
    assert np.array_equal(_flat(pred.xyz_lp), case["expected"]["image_vertices"])
    return case


def decode_cases(work: Path) -> dict[str, Any]:
    from meshpose_export.reference import reference_artifact
    from meshpose_export.runtime.predict import ModelInfo, Predictor
    from meshpose_mobile.crop import CropContract
    from meshpose_mobile.samples import SAMPLE_PHOTOS
    from meshpose_mobile.seeded import seeded_model

    onnx_path = work / "meshpose_tiny_fp32.onnx"
    sidecar = json.loads((work / "meshpose_tiny_fp32.onnx.json").read_text())
    tiny = Predictor.load(onnx_path)
    cases = [
        _decode_case(
            f"tiny_onnx_fp32_{photo.name}",
            "meshpose_tiny (seed 0) exported to ONNX by meshpose-export, run by ONNX Runtime on the photo crop",
            "onnxruntime",
            sidecar,
            tiny,
            photo,
        )
        for photo in SAMPLE_PHOTOS
    ]
    # The same ONNX outputs as a Core ML fp16 program returns them (FLOAT16): the mesh Python decodes
    # from those float16 values is the expected one, so the platforms' half-float path is held to 0.01 px.
    tiny16 = Predictor(_float16_runner(tiny.runner), tiny.contract, tiny.info)
    cases.append(
        _decode_case(
            f"tiny_onnx_float16_{SAMPLE_PHOTOS[0].name}",
            "meshpose_tiny (seed 0) ONNX Runtime outputs on the photo crop rounded to float16, as a Core ML fp16 "
            "ML program returns them (MLMultiArray FLOAT16); the mesh is decoded from the float16 values",
            "onnxruntime",
            sidecar,
            tiny16,
            SAMPLE_PHOTOS[0],
        )
    )
    xs = seeded_model("meshpose_xs", seed=0)
    cfg = xs.config
    graph = xs.deploy()
    xs_sidecar = {
        "outputs": [{"name": o.name, "shape": list(o.shape)} for o in graph.output_specs],
        "mesh": {"num_vertices": cfg.num_vertices},
    }
    info = ModelInfo("pytorch", "seeded", cfg.variant, "fp32", cfg.num_vertices, "seed 0")
    xs_pred = Predictor(reference_artifact(graph), CropContract(cfg.input_height, cfg.input_width), info)
    cases.append(
        _decode_case(
            "xs_deploy_fp32_astronaut",
            "meshpose_xs (seed 0), its PyTorch deployment graph (the graph every artifact is made from), "
            "on the astronaut crop at 256x192",
            "torch",
            xs_sidecar,
            xs_pred,
            SAMPLE_PHOTOS[0],
        )
    )
    return _doc(
        "decode",
        "Named model outputs of real photo crops -> image-space vertices and visibility, as the prediction "
        "engine (meshpose_mobile/predict.py) decodes them. Compare to 0.01 px.",
        {
            "pixels": PIXELS,
            "box": BOX,
            "outputs": "by output name (written in another order than the sidecar lists them); " + FLAT,
            "dtype": "float32: `data` holds the values (decimals that read back to the runtime's float32 bits); "
            "float16: `bits` holds each value's IEEE 754 binary16 bit "
            "pattern (0..65535, what a FLOAT16 MLMultiArray stores), decode them as half floats",
            "vertices": "output `vertices` (1, K, 3): crop pixels x, y and relative depth z",
            "image_vertices": "(K, 3): x, y through the inverse of `affine`; z times crop_to_image_scale",
            "matrix": MATRIX + "; `affine` maps image pixels to crop pixels",
            "tolerance": "0.01 px on image_vertices; 1e-6 on visibility",
            "runtime": "what produced `outputs` (onnxruntime, torch); expected is decoded from the stored outputs, so "
            "it does not depend on that runtime's CPU kernels",
        },
        cases,
    )


# --------------------------------------------------------------------------- bench


def _v1_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("scope", "stages_ms")}


def bench_cases() -> dict[str, Any]:
    from meshpose_export.bench.schema import Machine, Row, results_dict, validate, write_json_atomic
    from meshpose_export.bench.timing import p90
    from meshpose_mobile.errors import MeshPoseError

    sample_sets = {
        "odd": [12.5, 10.0, 11.0, 30.0, 10.5],
        "even": [8.0, 9.0, 7.5, 8.5],
        "single": [42.0],
        "ten_with_outlier": [5.0, 5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 5.7, 5.8, 50.0],
        "twenty": [float(v) for v in range(20, 0, -1)],
    }
    stats_cases = []
    for name, samples in sample_sets.items():
        median = statistics.median(samples)
        stats_cases.append(
            {
                "name": name,
                "samples_ms": samples,
                "expected": _r(
                    {
                        "median_ms": median,
                        "p90_ms": p90(samples),
                        "min_ms": min(samples),
                        "fps": 1000.0 / median,
                        "runs": len(samples),
                    }
                ),
            }
        )
    machine = Machine(
        name="android-pixel-8-golden",
        cpu="Google Tensor G3",
        cores=9,
        os="Android 14",
        runtimes={"litert": "1.0.1"},
        note="golden vector: fixed values, not a measurement",
    )
    s = stats_cases[0]["expected"]
    p = stats_cases[1]["expected"]
    rows = [
        Row(
            model="meshpose_xs",
            runtime="litert-android",
            precision="fp16",
            threads=4,
            compute="gpu",
            artifact="meshpose_xs_fp16.tflite",
            input_shape=(1, 256, 192, 3),
            vertices=615,
            latency_median_ms=s["median_ms"],
            latency_p90_ms=s["p90_ms"],
            latency_min_ms=s["min_ms"],
            fps=s["fps"],
            runs=s["runs"],
            warmup=2,
            peak_rss_mb=180.5,
            artifact_bytes=7340032,
            load_seconds=0.85,
            note="model only",
        ),
        Row(
            model="meshpose_xs",
            runtime="litert-android",
            precision="fp16",
            threads=None,
            status="failed",
            compute="npu",
            artifact="meshpose_xs_fp16.tflite",
            note="NNAPI delegate failed: fell back to CPU (recorded, not measured)",
        ),
        Row(
            model="meshpose_xs",
            runtime="litert-android",
            precision="fp16",
            threads=None,
            compute="gpu",
            artifact="meshpose_xs_fp16.tflite",
            input_shape=(1, 256, 192, 3),
            vertices=615,
            latency_median_ms=p["median_ms"],
            latency_p90_ms=p["p90_ms"],
            latency_min_ms=p["min_ms"],
            fps=p["fps"],
            runs=p["runs"],
            warmup=2,
            peak_rss_mb=201.25,
            scope="pipeline",
            stages_ms={"detect": 0.0, "preprocess": 1.25, "inference": 6.5, "postprocess": 0.375, "render": None},
            note="whole pipeline",
        ),
    ]
    doc = results_dict(machine, rows, peak={})
    validate(doc)
    # The exact bytes the desktop writes for this document: a writer that matches them byte for byte
    # (MeshPoseKit's) makes phone and desktop files diff cleanly.
    with tempfile.TemporaryDirectory(prefix="meshpose-golden-bench-") as tmp:
        write_json_atomic(Path(tmp) / "results.json", doc)
        text = (Path(tmp) / "results.json").read_text()
    assert json.loads(text) == _r(doc)
    validate(_r({**doc, "schema_version": 1, "rows": [_v1_row(r) for r in doc["rows"][:2]]}))
    invalid = []
    bad_docs = {
        "wrong_schema": {**doc, "schema": "other"},
        "newer_version": {**doc, "schema_version": 99},
        "no_machine_name": {**doc, "machine": {**doc["machine"], "name": ""}},
        "unknown_status": {**doc, "rows": [{**doc["rows"][0], "status": "great"}]},
        "measured_without_latency": {**doc, "rows": [{**doc["rows"][0], "latency_median_ms": None}]},
        "unknown_row_field": {**doc, "rows": [{**doc["rows"][0], "speed": 1.0}]},
        "unknown_scope": {**doc, "rows": [{**doc["rows"][0], "scope": "frame"}]},
        "unknown_stage": {**doc, "rows": [{**doc["rows"][2], "stages_ms": {"paint": 1.0}}]},
        "negative_stage": {**doc, "rows": [{**doc["rows"][2], "stages_ms": {"render": -1.0}}]},
        "null_status": {**doc, "rows": [{**doc["rows"][0], "status": None}]},
        "null_scope": {**doc, "rows": [{**doc["rows"][0], "scope": None}]},
        "row_without_model": {**doc, "rows": [{k: v for k, v in doc["rows"][0].items() if k != "model"}]},
        "row_not_an_object": {**doc, "rows": [3]},
    }
    for name, bad in bad_docs.items():
        try:
            validate(bad)
        except MeshPoseError:
            invalid.append({"name": name, "document": bad, "error": "invalid_results"})
        else:  # pragma: no cover - a generator bug
            raise AssertionError(f"bench case {name} was expected to be rejected")
    return _doc(
        "bench",
        "Benchmark statistics (export/bench/timing.py) and the meshpose-bench results JSON "
        "(export/bench/schema.py) that every platform writes.",
        {
            "median": "statistics.median: the mean of the two middle samples for an even count",
            "p90": "nearest rank: sorted[min(n - 1, ceil(0.9 n) - 1)], an observed sample",
            "fps": "1000 / median_ms",
            "document": "results JSON: compare parsed objects (key order and whitespace are free); "
            "null means not measured; expected_text is the file schema.py writes (json.dumps indent=2 and a newline)",
            "schema_version": "writers write 2; readers take 1 and 2 (v1 rows have no scope / stages_ms: model rows)",
            "scope": "model: the model call alone; pipeline: a whole frame, stages_ms = median ms per stage of "
            "detect, preprocess, inference, postprocess, render (null: not part of the run)",
        },
        stats_cases,
        document_case={
            "machine": _r(doc["machine"]),
            "rows": _r(doc["rows"]),
            "expected": _r(doc),
            "expected_text": text,
        },
        # A version 1 file (before scope and stages_ms) still reads; its rows are model rows.
        valid_v1=_r({**doc, "schema_version": 1, "rows": [_v1_row(r) for r in doc["rows"][:2]]}),
        invalid=invalid,
    )


# --------------------------------------------------------------------------- tracking


def tracking_docs() -> dict[str, dict[str, Any]]:
    """one_euro.json and tracker.json, from meshpose_export.runtime.tracking (absent before issue 12 landed)."""
    try:
        import meshpose_export.runtime.tracking  # noqa: F401
    except ImportError:
        return {}
    return {"one_euro.json": one_euro_doc(), "tracker.json": tracker_doc()}


def one_euro_doc() -> dict[str, Any]:
    from meshpose_export.runtime.tracking import OneEuroFilter, OneEuroParams

    rng = np.random.default_rng(16)
    n, k, d = 24, 3, 2
    steady = np.cumsum(np.full(n, 1.0 / 30.0))
    jittery = np.cumsum(rng.uniform(0.02, 0.06, size=n))
    ramp = np.arange(n, dtype=np.float64)[:, None, None] * np.array([[[4.0, -2.0]]]) + np.zeros((n, k, d))
    noisy = ramp + rng.normal(scale=1.5, size=(n, k, d))
    step = np.where(np.arange(n)[:, None, None] < n // 2, 10.0, 60.0) + np.zeros((n, k, d))
    repeated_t = steady.copy()
    repeated_t[5] = repeated_t[4]  # not after the previous sample: ignored
    repeated_t[9] = repeated_t[8] - 0.01  # earlier: ignored
    specs = [
        ("constant_passes_through", OneEuroParams(1.0, 0.0, 1.0), 1.0, steady, np.full((n, k, d), 7.25)),
        ("noisy_ramp_no_beta", OneEuroParams(min_cutoff=1.0, beta=0.0, d_cutoff=1.0), 1.0, steady, noisy),
        ("noisy_ramp_beta", OneEuroParams(min_cutoff=0.5, beta=0.8, d_cutoff=1.0), 1.0, steady, noisy),
        ("step_fast_cutoff", OneEuroParams(min_cutoff=3.0, beta=0.05, d_cutoff=2.0), 1.0, steady, step),
        ("irregular_timestamps", OneEuroParams(min_cutoff=1.2, beta=0.3, d_cutoff=1.5), 1.0, jittery, noisy),
        ("value_scale_box_height", OneEuroParams(min_cutoff=1.0, beta=2.0, d_cutoff=1.0), 180.0, steady, noisy),
        ("stale_timestamps_ignored", OneEuroParams(min_cutoff=1.0, beta=0.5, d_cutoff=1.0), 1.0, repeated_t, noisy),
    ]
    cases = []
    for name, params, scale, ts, xs in specs:
        # The filter runs on the stored (rounded) inputs, so the expected values are exactly theirs.
        ts, xs = np.round(ts, DECIMALS), np.round(xs, DECIMALS)
        f = OneEuroFilter(params)
        out = np.stack([f(x, t, scale) for x, t in zip(xs, ts, strict=True)])
        cases.append(
            {
                "name": name,
                "params": {"min_cutoff": params.min_cutoff, "beta": params.beta, "d_cutoff": params.d_cutoff},
                "value_scale": scale,
                "shape": [k, d],
                "t": _flat(ts),
                "x": _r(xs.reshape(n, -1)),
                "expected": _r(out.reshape(n, -1), 9),
            }
        )
    invalid = []
    for bad in ({"min_cutoff": 0.0}, {"d_cutoff": -1.0}, {"beta": -0.1}):
        try:
            OneEuroParams(**bad)
        except ValueError:
            invalid.append(
                {"params": {**{"min_cutoff": 1.0, "beta": 0.0, "d_cutoff": 1.0}, **bad}, "error": "invalid_params"}
            )
    return _doc(
        "one_euro",
        "One-Euro smoothing of meshpose_export.runtime.tracking (OneEuroFilter), element-wise over a (K, D) array.",
        {
            "formulas": "see the docstring of export/runtime/tracking.py; timestamps in seconds",
            "x": "per sample, the (K, D) array flattened row-major; `shape` = [K, D]",
            "expected": "the filter's output after each sample (same layout); tolerance 1e-7",
            "value_scale": "divides the derivative (the app passes the person box height in pixels)",
            "stale": "a sample whose t is not after the previous accepted one returns the previous output",
        },
        cases,
        invalid=invalid,
    )


# A small body: K template points in a unit box (x right, y down), scaled into a person box.
_TEMPLATE = np.array(
    [[0.5, 0.0], [0.3, 0.2], [0.7, 0.2], [0.0, 0.4], [1.0, 0.4], [0.5, 0.5],
     [0.35, 0.7], [0.65, 0.7], [0.3, 1.0], [0.7, 1.0], [0.5, 0.3], [0.5, 0.85]]
)  # fmt: skip


def _person_mesh(box: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = box
    return np.stack([x + _TEMPLATE[:, 0] * w, y + _TEMPLATE[:, 1] * h], axis=1)


def _scenario_people(name: str, frame: int) -> list[dict[str, Any]]:
    """Where each person truly is in a frame, their visibility, and whether the detector sees them."""
    k = len(_TEMPLATE)
    full = np.full(k, 0.9)
    if name == "walk_right":
        return [{"box": (40.0 + 6.0 * frame, 60.0, 80.0, 200.0), "vis": full, "detected": True}]
    if name == "visibility_drop":
        vis = full.copy()
        if frame in (3, 4):
            vis = np.where(np.arange(k) < 3, 0.9, 0.1)  # occluded: too few visible vertices
        return [{"box": (100.0 + 2.0 * frame, 50.0, 90.0, 220.0), "vis": vis, "detected": True}]
    if name == "two_people_one_leaves":
        people = [{"box": (20.0, 40.0, 70.0, 180.0), "vis": full, "detected": True}]
        if frame < 3:
            people.append({"box": (200.0 + 5 * frame, 50.0, 75.0, 190.0), "vis": full, "detected": True})
        people.append({"box": (400.0, 45.0, 60.0, 150.0), "vis": full, "detected": True, "score": 0.4})
        return people
    if name == "duplicates_converge":
        a = (100.0, 50.0, 80.0, 200.0)
        b = (160.0 - 15.0 * min(frame, 4), 52.0, 80.0, 200.0)
        return [{"box": a, "vis": full, "detected": frame == 0}, {"box": b, "vis": full, "detected": frame == 0}]
    if name == "clipped_at_frame_edge":
        return [{"box": (-30.0 + 4.0 * frame, 300.0, 90.0, 260.0), "vis": full, "detected": True}]
    raise KeyError(name)


def tracker_doc() -> dict[str, Any]:
    from meshpose_export.runtime.tracking import PersonTracker, box_iou
    from meshpose_export.runtime.tracking import TrackerParams as _TrackerParams

    aspect = 0.75  # 256x192, the models' input
    # Every parameter spelled out: the vectors must not move when the module's defaults are tuned.
    base = dict(
        visibility_threshold=0.5,
        min_visible=6,
        min_mean_visibility=0.3,
        redetect_every=15,
        match_iou=0.3,
        duplicate_iou=0.7,
        max_missed=5,
        max_people=4,
        vertex_box_scale=1.0,
    )

    def TrackerParams(**over: Any):  # reads like the dataclass it builds
        return _TrackerParams(**{**base, **over})

    scenarios = [
        ("walk_right", TrackerParams(min_visible=6, redetect_every=3), None, 7),
        ("visibility_drop", TrackerParams(min_visible=6, redetect_every=0), None, 7),
        ("two_people_one_leaves", TrackerParams(min_visible=6, redetect_every=2, max_missed=1, max_people=2), None, 7),
        ("duplicates_converge", TrackerParams(min_visible=6, redetect_every=0, duplicate_iou=0.6), None, 6),
        ("clipped_at_frame_edge", TrackerParams(min_visible=6, redetect_every=4), (480, 640), 6),
    ]
    cases = []
    for name, params, image_size, n_frames in scenarios:
        tracker = PersonTracker(params, aspect, image_size)
        frames = []
        for f in range(n_frames):
            people = _scenario_people(name, f)
            rec: dict[str, Any] = {"frame": f, "needs_detection": tracker.begin_frame(), "detections": None}
            if rec["needs_detection"]:
                seen = [p for p in people if p["detected"]]
                boxes = [p["box"] for p in seen]
                scores = [p.get("score", 0.9 - 0.1 * i) for i, p in enumerate(seen)]
                tracker.apply_detections(boxes, scores)
                rec["detections"] = {"boxes": _r(boxes), "scores": _r(scores)}
            meshes = []
            for t in tracker.active_tracks():
                # The model's mesh for a track: the person its box overlaps most (ties: first listed).
                ious = [box_iou(t.box, p["box"]) for p in people]
                best = int(np.argmax(ious))
                if ious[best] <= 0:
                    continue
                xy = np.round(_person_mesh(people[best]["box"]), DECIMALS)
                vis = people[best]["vis"]
                box = tracker.apply_mesh(t.id, xy, vis)
                meshes.append(
                    {
                        "track_id": t.id,
                        "xy": _flat(xy),
                        "visibility": _flat(vis),
                        "next_box": None if box is None else _r(list(box)),
                    }
                )
            tracker.end_frame()
            rec["meshes"] = meshes
            rec["tracks_after"] = [
                {
                    "id": t.id,
                    "box": _r(list(t.box)),
                    "score": _r(t.score),
                    "age": t.age,
                    "missed": t.missed,
                    "flagged": t.flagged,
                    "box_source": t.box_source,
                }
                for t in tracker.state.tracks
            ]
            frames.append(rec)
        cases.append(
            {
                "name": name,
                "params": {k: getattr(params, k) for k in base},
                "aspect": aspect,
                "image_size": None if image_size is None else list(image_size),
                "frames": frames,
            }
        )
    return _doc(
        "tracker",
        "Person tracker of meshpose_export.runtime.tracking (PersonTracker), replayed frame by frame.",
        {
            "replay": "per frame: begin_frame() must return needs_detection; if it is true, apply_detections("
            "detections.boxes, detections.scores); then for each entry of meshes, in order, apply_mesh(track_id, "
            "xy, visibility) must return next_box (null = None); then end_frame(); the tracker's tracks must "
            "then equal tracks_after (in order)",
            "xy": "flat (K, 2) image pixels",
            "box": BOX,
            "image_size": "[width, height] the tracker clips vertex boxes to, or null",
            "tolerance": "1e-6 on boxes; exact on ids, counts, flags and sources",
        },
        cases,
    )


# --------------------------------------------------------------------------- delegation


def delegation_doc() -> dict[str, Any]:
    """golden/delegation.json: LiteRT's delegation log lines -> what ran (meshpose_export.bench.delegation)."""
    from meshpose_export.bench.delegation import report

    gpu = "TfLiteGpuDelegateV2"
    xnn = "TfLiteXNNPackDelegate"
    nn = "TfLiteNnapiDelegate"

    def line(nodes: int, total: int | None, name: str, parts: int, tail: str = " for subgraph 0.") -> str:
        of = f" out of {total}" if total is not None else ""
        return f"Replacing {nodes}{of} node(s) with delegate ({name}) node, yielding {parts} partitions{tail}"

    logcat = "12-04 14:55:01.123  4321  4340 I tflite  : "
    scenarios: list[tuple[str, str, list[str] | None]] = [
        ("gpu took every node", "gpu", [line(125, 125, gpu, 1)]),
        ("gpu took some: the rest on the CPU's kernels", "gpu", [line(118, 125, gpu, 2)]),
        ("gpu took some, XNNPACK the rest", "gpu", [line(118, 125, gpu, 2), line(7, 9, xnn, 2)]),
        ("gpu, XNNPACK and the CPU", "gpu", [line(118, 125, gpu, 2), line(5, 9, xnn, 1)]),
        (
            "npu without a driver took nothing (no line), only unrelated lines",
            "npu",
            ["Initialized TensorFlow Lite runtime.", "Created TensorFlow Lite delegate for NNAPI."],
        ),
        ("npu took nothing, XNNPACK everything", "npu", [line(125, 125, xnn, 1)]),
        ("npu took every node", "npu", [line(125, 125, nn, 1)]),
        ("xnnpack, 'whole graph' wording", "xnnpack", [line(125, 125, xnn, 1, " for the whole graph.")]),
        ("xnnpack took some", "xnnpack", [line(120, 125, xnn, 3)]),
        ("xnnpack asked for, none took", "xnnpack", []),
        ("cpu: no delegate", "cpu", ["Initialized TensorFlow Lite runtime."]),
        ("cpu asked for, XNNPACK applied anyway", "cpu", [line(125, 125, xnn, 1)]),
        ("old wording without the total", "gpu", [line(40, None, gpu, 1, ".")]),
        ("log not readable", "gpu", None),
        ("log not readable, cpu", "cpu", None),
        (
            "other subgraphs are not the model's graph",
            "gpu",
            [line(3, 3, gpu, 1, " for subgraph 1."), line(125, 125, gpu, 1)],
        ),
        (
            "logcat threadtime prefix",
            "gpu",
            [logcat + line(100, 125, gpu, 1), logcat + "Created TensorFlow Lite delegate for GPU."],
        ),
        ("an unknown delegate keeps its name", "gpu", [line(125, 125, "TfLiteHexagonDelegate", 1)]),
    ]
    cases = []
    for name, requested, lines in scenarios:
        r = report(requested, lines)
        cases.append(
            {
                "name": name,
                "requested": requested,
                "log": lines,
                "expected": {
                    "label": r["label"],
                    "status": r["status"],
                    "total_nodes": r["total_nodes"],
                    "cpu_nodes": r["cpu_nodes"],
                    # pairs, not an object: the order (log order) is part of the answer
                    "delegated": [[c, n] for c, n in r["delegated"].items()],
                    "summary": r["summary"],
                },
            }
        )
    return _doc(
        "delegation",
        "LiteRT's log lines of one interpreter's creation -> which delegate took how many nodes and the run's label "
        "(meshpose_export.bench.delegation.report; the Android core's DelegateReport must agree exactly)",
        {
            "log": "the runtime's lines (tag tflite), or null when the log could not be read",
            "label": "the run's compute: delegates that took nodes, requested first, '+cpu' when nodes stayed on "
            "the CPU's own kernels; 'cpu' when none took any; requested + '?' when unverified",
            "status": "full | partial | none | unknown_total | unverified",
            "delegated": "[compute, nodes] in log order, subgraph 0 only",
        },
        cases,
    )


# --------------------------------------------------------------------------- driver


def build_all() -> dict[str, Any]:
    """Every golden file, in memory: {file name: JSON document}."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="meshpose-golden-") as tmp:
        work = Path(tmp)
        sidecars = _real_sidecars(work)
        docs = {
            "sidecar.json": sidecar_cases(sidecars),
            "crop.json": crop_cases(),
            "geometry.json": geometry_cases(),
            "decode.json": decode_cases(work),
            "bench.json": bench_cases(),
        }
    for name, doc in tracking_docs().items():
        docs[name] = doc
    docs["delegation.json"] = delegation_doc()
    return {name: _r(doc, None) for name, doc in docs.items()}


def dumps(doc: Any) -> str:
    """JSON with one line per array of numbers: readable diffs, small files."""

    def enc(v: Any, ind: str) -> str:
        if isinstance(v, dict):
            if not v:
                return "{}"
            inner = ind + "  "
            items = [f"{inner}{json.dumps(k)}: {enc(x, inner)}" for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + ind + "}"
        if isinstance(v, list):
            if all(not isinstance(x, (dict, list)) for x in v):
                return json.dumps(v, allow_nan=False)
            inner = ind + "  "
            return "[\n" + ",\n".join(inner + enc(x, inner) for x in v) + "\n" + ind + "]"
        return json.dumps(v, allow_nan=False)

    return enc(doc, "") + "\n"


def write_all(out_dir: Path = GOLDEN_DIR) -> list[Path]:
    from meshpose_mobile.atomic import write_text_atomic

    docs = build_all()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in docs.items():
        path = out_dir / name
        write_text_atomic(path, dumps(doc))
        written.append(path)
    return written


# How far a runtime's outputs may move between CPUs before decode.json counts as stale, in the
# outputs' own units: crop pixels for `vertices` and `vertices_2d`, probability for `visibility`.
# Ten times the largest spread benchmarks/runtime_spread.py measured (docs/design.md, "Golden files
# across CPUs"; AMD EPYC with AVX-512, 2 cores). ONNX Runtime: 5.8e-5 crop px between the file
# written on the earlier CI machine and this one (4.3e-4 image px), 5.7e-5 with graph optimisations
# off vs all (1 or 2 threads alike; LiteRT built-in vs XNNPACK kernels: 5.1e-5); visibility 1.2e-7.
# PyTorch (the xs case): 6.7e-4 crop px with ATEN_CPU_CAPABILITY=default (no SIMD, as far from
# AVX-512 as an ARM build's kernels), 5.8e-4 with oneDNN limited to SSE4.1, 4.1e-4 on 2 threads
# vs 1; visibility 1.8e-7. The issue's Intel Xeon moved one decoded vertex 1.3e-4 image px
# against the committed file; docs/toolchain.md measured 1.3e-4 px between AMD and Intel.
RUNTIME_TOLERANCE: dict[str, dict[str, float]] = {
    "onnxruntime": {"vertices": 6e-4, "vertices_2d": 6e-4, "visibility": 2e-6},
    "torch": {"vertices": 7e-3, "vertices_2d": 7e-3, "visibility": 2e-6},
}
# decode.json's expected values are rounded to DECIMALS from a decoding in float64 whose last bits
# may differ (OpenBLAS kernels: 1.1e-13 px measured), so "exact" is one unit of the last decimal.
EXACT = 1.5 * 10.0**-DECIMALS


def decode_difference(disk: dict[str, Any], fresh: dict[str, Any]) -> str:
    """'' when the decode.json on disk still holds, else where it first fails: everything but the
    runtime outputs as first_difference at 1e-4; the stored outputs within RUNTIME_TOLERANCE of
    the outputs a fresh run gives (float16 ones also one half-float step: a value that close to a
    rounding boundary may round to the neighbour); `expected` exactly what the prediction engine
    decodes from the stored outputs (decode_expected), whatever the CPU."""

    def rest(doc: dict[str, Any]) -> dict[str, Any]:
        cases = [{k: v for k, v in c.items() if k not in ("outputs", "expected")} for c in doc.get("cases", [])]
        return {**doc, "cases": cases}

    diff = first_difference(rest(disk), rest(fresh), 1e-4)
    if diff:
        return diff
    for i, (a, b) in enumerate(zip(disk["cases"], fresh["cases"], strict=True)):
        where = f"$.cases[{i}]"
        if a["outputs"].keys() != b["outputs"].keys():
            return f"{where}.outputs: names {sorted(a['outputs'])} != {sorted(b['outputs'])}"
        tolerance = RUNTIME_TOLERANCE.get(a["runtime"])
        if tolerance is None:
            return f"{where}.runtime: no measured tolerance for {a['runtime']!r} (add it to RUNTIME_TOLERANCE)"
        for name, entry in a["outputs"].items():
            other = b["outputs"][name]
            if (entry["shape"], entry["dtype"]) != (other["shape"], other["dtype"]):
                got, want = (entry["shape"], entry["dtype"]), (other["shape"], other["dtype"])
                return f"{where}.outputs.{name}: shape, dtype {got} != {want}"
            x, y = output_array(entry).ravel(), output_array(other).ravel()
            limit = np.full(x.shape, tolerance[name])
            if entry["dtype"] == "float16":
                limit += np.maximum(np.spacing(x), np.spacing(y)).astype(np.float64)
            over = np.flatnonzero(np.abs(x.astype(np.float64) - y.astype(np.float64)) > limit)
            if over.size:
                j = int(over[0])
                return (
                    f"{where}.outputs.{name}[{j}]: {x[j]} != {y[j]} (beyond {a['runtime']}'s tolerance {limit[j]:.3g})"
                )
        diff = first_difference(a["expected"], decode_expected(a), EXACT, f"{where}.expected", relative=False)
        if diff:
            return f"{diff} (not what the stored outputs decode to)"
    return ""


# The sidecar cases carry the export's parity number (parity.vertices_max_px, rounded to 3
# decimals): a measurement of a runtime against PyTorch on this CPU, which no app reads. It may
# move by PARITY_TOLERANCE_PX: ten times the largest change benchmarks/runtime_spread.py measured
# under PyTorch's and OpenBLAS's kernel switches (1.4e-5 px: SIMD-free ATEN with oneDNN at SSE4.1;
# 1.2e-5 px on 2 threads; 0 with OpenBLAS at Prescott), plus one step of the 3-decimal rounding.
PARITY_TOLERANCE_PX = 1.2e-3


def sidecar_difference(disk: dict[str, Any], fresh: dict[str, Any], tol: float = 1e-4) -> str:
    """first_difference of two sidecar.json documents, except that each case's measured parity
    number may move by PARITY_TOLERANCE_PX (its pass / fail status may not)."""

    def split(doc: dict[str, Any]) -> tuple[dict[str, Any], list[float | None]]:
        doc = json.loads(json.dumps(doc))
        measured = []
        for case in doc.get("cases", []):
            parity = case["sidecar"].get("parity") if isinstance(case.get("sidecar"), dict) else None
            measured.append(parity.pop("vertices_max_px", None) if isinstance(parity, dict) else None)
        return doc, measured

    (a, pa), (b, pb) = split(disk), split(fresh)
    diff = first_difference(a, b, tol)
    if diff:
        return diff
    for i, (x, y) in enumerate(zip(pa, pb, strict=True)):
        if (x is None) != (y is None) or (x is not None and abs(x - y) > PARITY_TOLERANCE_PX):
            return f"$.cases[{i}].sidecar.parity.vertices_max_px: {x} != {y} (beyond {PARITY_TOLERANCE_PX} px)"
    return ""


def stale_files(docs: dict[str, Any], out_dir: Path = GOLDEN_DIR, tol: float = 1e-4) -> list[str]:
    """Names of golden files that are missing or differ from `docs` beyond `tol` (floats; runtime
    outputs in decode.json beyond RUNTIME_TOLERANCE, sidecar parity numbers see sidecar_difference)."""
    stale = []
    for name, doc in docs.items():
        path = out_dir / name
        if not path.is_file():
            stale.append(f"{name} (missing)")
            continue
        disk = json.loads(path.read_text())
        if name == "decode.json":
            diff = decode_difference(disk, doc)
        elif name == "sidecar.json":
            diff = sidecar_difference(disk, doc, tol)
        else:
            diff = first_difference(disk, doc, tol)
        if diff:
            stale.append(f"{name} ({diff})")
    return stale


def first_difference(a: Any, b: Any, tol: float, where: str = "$", relative: bool = True) -> str:
    """'' when equal (floats within tol, absolute or relative; only absolute when not `relative`),
    else where they first differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where}: keys {sorted(set(a) ^ set(b))}"
        for k in a:
            d = first_difference(a[k], b[k], tol, f"{where}.{k}", relative)
            if d:
                return d
        return ""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, tol, f"{where}[{i}]", relative)
            if d:
                return d
        return ""
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if abs(a - b) <= (tol * max(1.0, abs(a), abs(b)) if relative else tol):
            return ""
        return f"{where}: {a} != {b}"
    return "" if a == b else f"{where}: {a!r} != {b!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with golden/ instead of writing it")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(build_all())
        for s in stale:
            print(f"stale: golden/{s}", file=sys.stderr)
        if stale:
            print(
                "error: golden vectors are stale; run python scripts/make_golden.py and commit golden/", file=sys.stderr
            )
            return 1
        print("golden vectors are up to date")
        return 0
    for path in write_all():
        print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
