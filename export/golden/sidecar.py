"""golden/sidecar.json: sidecars as meshpose-export writes them, and what a reader makes of them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_export.golden.common import (
    SIDECAR_ERRORS,
    GoldenCaseError,
    _doc,
    _r,
)


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
