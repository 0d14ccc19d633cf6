"""Trained weights that ship inside the package, and how exports choose between them and seeded ones.

A shipped file is an ordinary checkpoint (`meshpose_mobile.checkpoint`) whose floating-point
tensors are stored as float16 to keep the repository and the wheel small (meshpose_blaze: 12 MB,
meshpose_xs: 43 MB);
`load_checkpoint` casts them back into the float32 model. Its ``extra`` entry carries the training
config, the validation metrics and the command that reproduced it, so a user can see what the
weights are. `meshpose-export` uses the shipped file of a variant by default and seeded weights
(`meshpose_mobile.seeded`) with ``--seeded`` or for variants without shipped weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from meshpose_mobile.atomic import write_text_atomic
from meshpose_mobile.checkpoint import load_checkpoint, save_checkpoint
from meshpose_mobile.checkpoint_io import read_checkpoint
from meshpose_mobile.errors import CheckpointError
from meshpose_mobile.model import MeshPose
from meshpose_mobile.seeded import seeded_model
from meshpose_mobile.topology import Topology

WEIGHTS_DIR = Path(__file__).resolve().parent / "data" / "weights"
# Variant -> file name in WEIGHTS_DIR. A variant without an entry (or whose file is absent from this
# install) falls back to seeded weights, and the export says so.
SHIPPED = {"meshpose_blaze": "meshpose_blaze_synth.pt", "meshpose_xs": "meshpose_xs_synth.pt"}


@dataclass(frozen=True)
class Weights:
    """A model plus the one-line description that goes into sidecars, summaries and logs."""

    model: MeshPose
    note: str
    source: str  # "shipped", "seeded" or "checkpoint"
    path: Path | None = None  # the file the weights came from (None: seeded)


def shipped_path(variant: str, weights_dir: Path | None = None) -> Path | None:
    """The shipped weights file of `variant`, or None when it has none in this install."""
    name = SHIPPED.get(variant)
    if name is None:
        return None
    path = (weights_dir or WEIGHTS_DIR) / name
    return path if path.is_file() else None


def shipped_info(path: str | Path) -> dict[str, Any]:
    """The ``extra["shipped"]`` record of a shipped file (training config, metrics, command)."""
    data = read_checkpoint(path)
    info = data.get("extra", {}).get("shipped")
    if not isinstance(info, dict):
        raise CheckpointError(
            f"{path} is not a shipped-weights file (no extra.shipped record); write it with save_shipped"
        )
    return info


def describe(info: dict[str, Any], path: Path) -> str:
    metrics = info.get("metrics", {})
    parts = [f"shipped trained weights {path.name}", str(info.get("trained_on", "trained"))]
    if "step" in info:
        parts.append(f"step {info['step']}")
    shipped = _as_shipped(info)
    if shipped:
        parts.append(shipped)
    elif "v2d_px" in metrics:
        parts.append(f"val 2-D vertex error {metrics['v2d_px']:.1f} px")
    return "; ".join(parts)


def shipped_validation(info: dict[str, Any]) -> dict[str, Any] | None:
    """The validation score of the file as it decodes (its calibrated gain and shift), where the
    record has it: the trainer's last evaluation (`metrics`) ran at the training gain and shift,
    which a calibrated file no longer uses."""
    gained = info.get("gain_calibration", {})
    score = next((s for s in gained.get("scores", []) if s.get("gain") == gained.get("gain")), None)
    return score if score is not None and "v2d_px" in score else None


def _as_shipped(info: dict[str, Any]) -> str:
    score = shipped_validation(info)
    if score is None:
        return ""
    gained = info["gain_calibration"]
    shift = info.get("fusion_calibration", {}).get("fusion_shift")
    decode = f"gain {gained['gain']:g}" + (f", fusion shift {shift:g}" if shift is not None else "")
    return f"val 2-D vertex error {score['v2d_px']:.1f} px ({gained.get('validation_bodies', '?')} bodies, {decode})"


def choose_weights(
    variant: str,
    *,
    seeded: bool = False,
    seed: int = 0,
    topology: Topology | None = None,
    weights_dir: Path | None = None,
) -> Weights:
    """What an export uses without ``--ckpt``: the variant's shipped weights unless `seeded` is set
    or none ship; then seeded, untrained weights (which prove a conversion, not an accuracy)."""
    path = None if seeded else shipped_path(variant, weights_dir)
    if path is not None:
        info = shipped_info(path)
        model = load_checkpoint(path, variant=variant, topology=topology)
        return Weights(model, describe(info, path), "shipped", path)
    why = "--seeded" if seeded else f"no shipped weights for {variant}"
    model = seeded_model(variant, seed=seed, topology=topology)
    return Weights(model, f"seeded untrained weights (seed {seed}; {why})", "seeded")


def save_shipped(model: MeshPose, path: str | Path, info: dict[str, Any]) -> Path:
    """Write `model` as a shipped file: float tensors as float16, `info` under extra["shipped"];
    beside it `<name>.json`, the same record with the file's SHA-256 and size, readable without torch.

    The float16 rounding moves the weights, so evaluate the written file (`load_checkpoint`), not
    the float32 model it came from.
    """
    if not fp16_range_ok(model):
        raise CheckpointError("a weight or statistic of this model overflows float16; it cannot ship as float16")
    path = save_checkpoint(path, model, extra={"shipped": info}, state_dict=half_state(model.state_dict()))
    raw = path.read_bytes()
    twin = {
        "file": path.name,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "bytes": len(raw),
        "note": "what is inside the .pt's extra.shipped record, for reading without torch",
        **info,
    }
    write_text_atomic(path.with_suffix(".json"), json.dumps(twin, indent=1) + "\n")
    return path


def half_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Float tensors as float16, the rest as they are: how shipped weights are stored."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def fp16_range_ok(model: MeshPose) -> bool:
    """True when every float tensor fits float16 (a BN running variance above 65504 would not)."""
    return all(bool(torch.isfinite(v.half()).all()) for v in model.state_dict().values() if v.is_floating_point())
