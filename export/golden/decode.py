"""golden/decode.json: named runtime outputs -> image-space mesh (the prediction engine)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_export.golden.common import (
    BOX,
    FLAT,
    MATRIX,
    PIXELS,
    _doc,
    _flat,
    _r,
)

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
