"""Checkpoints: ours (config + topology + weights in one file) and the authors' released layout.

Ours is a plain dict loadable with ``torch.load(weights_only=True)``: no pickled classes, so a
checkpoint from anywhere can be opened safely. It carries the `ModelConfig` and the whole
topology, so a model rebuilds from the file alone and a mismatch with what the user asked for is
caught before any conversion starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from meshpose_mobile.atomic import torch_save_atomic
from meshpose_mobile.checkpoint_io import read_checkpoint
from meshpose_mobile.config import ModelConfig
from meshpose_mobile.errors import CheckpointError, MeshPoseError
from meshpose_mobile.model import MeshPose
from meshpose_mobile.official import convert_official_state_dict
from meshpose_mobile.registry import create_model, list_variants
from meshpose_mobile.released import (
    RELEASED_VERTICES,
    UPSAMPLER_KEY,
    ReleasedConstants,
    as_constants,
    is_released_layout,
    is_released_upsampler,
    load_released_upsampler,
    with_seams,
)
from meshpose_mobile.topology import Topology
from meshpose_mobile.upsampler import UPSAMPLER_FORMAT, HighPolyUpsampler, upsampler_from_payload

__all__ = ["load_checkpoint", "load_upsampler", "read_checkpoint", "save_checkpoint"]

FORMAT = "meshpose-mobile"
FORMAT_VERSION = 1
RELEASED_CROP_BORDER = (127.5, 0.0, 0.0)


def _topology_payload(topology: Topology) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in topology.to_arrays().items():
        if key == "name":
            out[key] = str(value)
        elif key == "num_vertices":
            out[key] = int(value)
        elif key == "joint_names":
            out[key] = [str(v) for v in value]
        else:
            out[key] = torch.from_numpy(np.ascontiguousarray(value))
    return out


def _topology_from_payload(payload: dict[str, Any]) -> Topology:
    arrays = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in payload.items()}
    return Topology.from_arrays(arrays)


def save_checkpoint(
    path: str | Path,
    model: MeshPose,
    extra: dict[str, Any] | None = None,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write atomically (temp file + rename) so an interrupted save never leaves a broken file.
    `state_dict` replaces the model's own (the shipped float16 copy, `weights.save_shipped`)."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "topology": _topology_payload(model.topology),
        "topology_hash": model.topology.hash,
        "state_dict": model.state_dict() if state_dict is None else state_dict,
        "extra": extra or {},
    }
    return torch_save_atomic(payload, path)


def load_checkpoint(
    path: str | Path,
    *,
    variant: str | None = None,
    topology: Topology | None = None,
    released_constants: ReleasedConstants | str | Path | None = None,
    flag: str = "--ckpt",
    strict_constants: bool = False,
) -> MeshPose:
    """A model from our checkpoint or from the authors' released one (`meshpose_hrnet32`).

    `variant` and `topology`, when given, are what the user expects; a checkpoint that holds
    something else is refused with a message saying which is which. `released_constants` (the
    user's JSON, see `meshpose_mobile.released`) adds the released seam pairs to an imported
    released checkpoint; our checkpoints carry their seams in their topology and ignore it, or,
    with `strict_constants`, refuse it (a user who passes them expects them to be used).
    """
    data = read_checkpoint(path, flag)
    if data.get("format") == FORMAT:
        if strict_constants and released_constants is not None:
            raise CheckpointError(
                f"--released-constants applies to the authors' released checkpoint, but {flag} {path} is a "
                "MeshPose Mobile checkpoint (its seams travel in its topology); drop --released-constants"
            )
        return _load_ours(path, data, variant, topology)
    if is_released_layout(data):
        return _load_released(path, data["model"]["root"], variant, topology, released_constants)
    if is_released_upsampler(data):
        raise CheckpointError(
            f"{flag} {path} is the released upsampler (ckpt['model']['{UPSAMPLER_KEY}']), not the main "
            f"model; pass it as --upsampler and the file with ckpt['model']['root'] as {flag}"
        )
    if data.get("format") == "meshpose-train-state":
        model_pt = Path(path).parent.parent / "model.pt"
        raise CheckpointError(
            f"{flag} {path} is meshpose-train's training state (for --resume), not a model checkpoint; "
            f"pass the run's weights {model_pt} (or model-best.pt) to {flag}"
        )
    if data.get("format") == "meshpose-upsampler":
        raise CheckpointError(
            f"{flag} {path} is an upsampler (meshpose-train-upsampler), not a model checkpoint; pass it as "
            f"--upsampler and a model checkpoint (model.pt of a meshpose-train run) to {flag}"
        )
    keys = ", ".join(sorted(map(str, data))[:5])
    raise CheckpointError(
        f"checkpoint {path} is neither a MeshPose Mobile checkpoint nor the released MeshPose layout "
        f"(top-level keys: {keys}); save it with meshpose_mobile.checkpoint.save_checkpoint"
    )


def _load_ours(path: str | Path, data: dict[str, Any], variant: str | None, topology: Topology | None) -> MeshPose:
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {version}; this toolkit reads {FORMAT_VERSION}")
    try:
        config = ModelConfig.from_dict(data["config"])
        topo = _topology_from_payload(data["topology"])
        state = data["state_dict"]
    except KeyError as err:
        raise CheckpointError(f"checkpoint {path} lacks its {err.args[0]!r} entry; re-save it") from None
    except (AttributeError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} has a damaged config or topology ({err}); re-save it") from None
    except MeshPoseError as err:
        raise CheckpointError(f"checkpoint {path}: {err}") from None
    known = [v.name for v in list_variants()]
    if config.variant not in known:
        # The variant name travels into every artifact's sidecar and the apps' labels: a name no
        # variant has means an edited file or another toolkit's, not something to export as is.
        raise CheckpointError(
            f"checkpoint {path} names variant {config.variant!r}, which this toolkit does not have (known: "
            f"{', '.join(known)}); the file was edited or made by another version: re-save it with save_checkpoint"
        )
    if variant is not None and variant != config.variant:
        raise CheckpointError(
            f"checkpoint {path} holds {config.variant}, not {variant}; drop --variant or pass a {variant} checkpoint"
        )
    if topology is not None and topology.hash != topo.hash:
        raise CheckpointError(
            f"checkpoint {path} was trained on topology {topo.name!r} ({topo.num_vertices} vertices, hash "
            f"{topo.hash[:12]}), not {topology.name!r} ({topology.num_vertices}, {topology.hash[:12]}); "
            "drop --topology or pass the matching one"
        )
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"checkpoint {path} has no weights (its state_dict is {type(state).__name__}, not a dict of tensors); "
            "re-save it with save_checkpoint"
        )
    model = MeshPose(config, topo)
    own = model.state_dict()
    for key, value in state.items():
        if key in own and tuple(value.shape) != tuple(own[key].shape):
            raise CheckpointError(
                f"checkpoint {path}: {key} has shape {tuple(value.shape)} but {config.variant} needs "
                f"{tuple(own[key].shape)}; the file is damaged or was edited, re-save it"
            )
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        what = f"missing {missing[:2]}" if missing else f"unexpected {unexpected[:2]}"
        raise CheckpointError(f"checkpoint {path} does not fit {config.variant} ({what}); it may be corrupt")
    return model.eval()


def _load_released(
    path: str | Path,
    state: dict[str, Any],
    variant: str | None,
    topology: Topology | None,
    released_constants: ReleasedConstants | str | Path | None = None,
) -> MeshPose:
    if variant not in (None, "meshpose_hrnet32"):
        raise CheckpointError(
            f"checkpoint {path} is the released HRNet-W32 model; it loads as meshpose_hrnet32, not {variant}"
        )
    heat = state.get("model.model.1.head_layers.SP_MESHPOSE.weight")
    k = int(heat.shape[0]) if isinstance(heat, torch.Tensor) else RELEASED_VERTICES
    if topology is None:
        topology = Topology.minimal(k, f"released-{k}")
    elif topology.num_vertices != k:
        raise CheckpointError(
            f"checkpoint {path} predicts {k} vertices but topology {topology.name!r} has "
            f"{topology.num_vertices}; pass a {k}-vertex topology"
        )
    constants = as_constants(released_constants, k)
    # The authors' demo fills the crop outside the photo with (127.5, 0, 0) RGB; the imported
    # model carries it, so every contract made for it (export sidecars, predict) crops the same.
    overrides: dict[str, Any] = {"crop_border": RELEASED_CROP_BORDER}
    if constants is not None and constants.seam_pairs is not None:
        topology = with_seams(topology, constants)
        overrides["seam_average"] = True
    model = create_model("meshpose_hrnet32", topology, **overrides)
    model.load_state_dict(convert_official_state_dict(state, model), strict=True)
    return model.eval()


def load_upsampler(
    path: str | Path, released_constants: ReleasedConstants | str | Path | None = None, flag: str = "--upsampler"
) -> HighPolyUpsampler:
    """Ours (`save_upsampler`, e.g. from meshpose-train-upsampler) or the authors' released file."""
    data = read_checkpoint(path, flag)
    if data.get("format") in (FORMAT, "meshpose-train-state") or is_released_layout(data):
        raise CheckpointError(
            f"{flag} {path} is a model checkpoint or training state, not an upsampler; pass it as the model and "
            f"the upsampler.pt of meshpose-train-upsampler (or the authors' upsampler) to {flag}"
        )
    if data.get("format") != UPSAMPLER_FORMAT:
        return load_released_upsampler(path, released_constants, flag=flag)
    return upsampler_from_payload(data, path)
