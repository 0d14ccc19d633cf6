"""The authors' released MeshPose files: their decoding constants (user input) and their upsampler.

Two numbers the released model needs live in the authors' code, not in their checkpoints: the 22
seam pairs averaged after fusion and the 16 weighted vertices whose centre the upsampler works
around (../shared/docs/official-checkpoint.md). Their code is under a non-commercial licence, so
this toolkit ships neither; a user who holds it writes them into a small JSON file
(docs/released-model.md) and passes it here. Only the counts come from the facts; every value is
the user's.

Schema (all keys optional, unknown keys refused so that typos do not pass silently)::

    {"comment": "free text",
     "seam_pairs": [[i, j], ...],                       # 22 pairs of low-poly vertex indices
     "centre": {"vertices": [v, ...], "weights": [w, ...]}}  # 16 indices, 16 weights

`to_released_layout` / `released_upsampler_layout` write our modules in the authors' file layout:
the inverse of the import, for round-trip tests and for checking a pipeline before the real
weights arrive.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from meshpose_mobile.checkpoint_io import read_checkpoint
from meshpose_mobile.config import ModelConfig
from meshpose_mobile.errors import CheckpointError, ConfigError
from meshpose_mobile.official import official_constant_shapes, official_key_map
from meshpose_mobile.topology import Topology
from meshpose_mobile.upsampler import HighPolyUpsampler

# Low-poly vertices of the released model (its heatmap head's channels).
RELEASED_VERTICES = 518
NUM_SEAM_PAIRS = 22
NUM_CENTRE_VERTICES = 16
UPSAMPLER_KEY = "VERTEX_UPSAMPLE"
_UPSAMPLER_ENTRIES = ("upsampling.weight", "upsampling.bias", "upsampling2.weight", "upsampling2.bias")
_TOP_KEYS = ("comment", "seam_pairs", "centre")
_DOC = "docs/released-model.md"


@dataclass(frozen=True, eq=False)
class ReleasedConstants:
    """What the user's JSON holds, validated; either part may be absent until it is needed."""

    source: str
    seam_pairs: np.ndarray | None = None  # (22, 2) int64
    centre_vertices: np.ndarray | None = None  # (16,) int64
    centre_weights: np.ndarray | None = None  # (16,) float64

    def require_seams(self) -> np.ndarray:
        if self.seam_pairs is None:
            raise ConfigError(
                f"released constants {self.source} have no 'seam_pairs'; add the {NUM_SEAM_PAIRS} pairs ({_DOC})"
            )
        return self.seam_pairs

    def centre_vector(self, num_vertices: int) -> np.ndarray:
        """(num_vertices,) weights, zero outside the centre vertices: HighPolyUpsampler's form."""
        if self.centre_vertices is None or self.centre_weights is None:
            raise ConfigError(
                f"released constants {self.source} have no 'centre'; the released upsampler needs its "
                f"{NUM_CENTRE_VERTICES} centre vertices and weights ({_DOC})"
            )
        _check_range(self.source, "centre.vertices", self.centre_vertices, num_vertices)
        out = np.zeros(num_vertices, dtype=np.float64)
        out[self.centre_vertices] = self.centre_weights
        return out


def _fail(source: str, what: str) -> ConfigError:
    return ConfigError(f"released constants {source}: {what} ({_DOC})")


def _int_list(source: str, field: str, value: Any) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _fail(source, f"{field} must be a list of integer vertex indices")
    return value


def _check_range(source: str, field: str, indices: np.ndarray, num_vertices: int) -> None:
    if indices.size and (indices.min() < 0 or indices.max() >= num_vertices):
        bad = int(indices.min() if indices.min() < 0 else indices.max())
        raise _fail(source, f"{field} index {bad} is out of range 0..{num_vertices - 1}")


def parse_released_constants(
    data: Any, source: str = "<json>", num_vertices: int = RELEASED_VERTICES
) -> ReleasedConstants:
    """Validate the JSON object; every problem is one ConfigError line naming the field."""
    if not isinstance(data, dict):
        raise _fail(source, f"the top level must be an object with {', '.join(_TOP_KEYS)}")
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise _fail(source, f"unknown key(s) {', '.join(map(repr, unknown))}; valid: {', '.join(_TOP_KEYS)}")
    if "seam_pairs" not in data and "centre" not in data:
        raise _fail(source, "neither 'seam_pairs' nor 'centre' is given")

    seams = None
    if "seam_pairs" in data:
        raw = data["seam_pairs"]
        if not isinstance(raw, list) or not all(isinstance(p, list) and len(p) == 2 for p in raw):
            raise _fail(source, "seam_pairs must be a list of [i, j] pairs")
        flat = _int_list(source, "seam_pairs", [v for p in raw for v in p])
        if len(raw) != NUM_SEAM_PAIRS:
            raise _fail(source, f"seam_pairs has {len(raw)} pairs; the released model has {NUM_SEAM_PAIRS}")
        seams = np.asarray(flat, dtype=np.int64).reshape(-1, 2)
        _check_range(source, "seam_pairs", seams, num_vertices)
        same = np.flatnonzero(seams[:, 0] == seams[:, 1])
        if same.size:
            raise _fail(source, f"seam pair {int(same[0])} joins vertex {int(seams[same[0], 0])} to itself")
        # Every pair is averaged in one step (one averaging matrix), which equals pair-by-pair
        # replacement only when the pairs share no vertex; refuse rather than differ silently.
        values, counts = np.unique(seams, return_counts=True)
        if (counts > 1).any():
            v = int(values[counts > 1][0])
            raise _fail(source, f"vertex {v} appears in more than one seam pair; each vertex may be in one pair")

    vertices = weights = None
    if "centre" in data:
        centre = data["centre"]
        if not isinstance(centre, dict) or set(centre) != {"vertices", "weights"}:
            raise _fail(source, "centre must be an object with exactly 'vertices' and 'weights'")
        vertices = np.asarray(_int_list(source, "centre.vertices", centre["vertices"]), dtype=np.int64)
        raw_w = centre["weights"]
        if not isinstance(raw_w, list) or not all(
            isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) for w in raw_w
        ):
            raise _fail(source, "centre.weights must be a list of finite numbers")
        weights = np.asarray(raw_w, dtype=np.float64)
        if len(vertices) != NUM_CENTRE_VERTICES or len(weights) != NUM_CENTRE_VERTICES:
            raise _fail(
                source,
                f"centre has {len(vertices)} vertices and {len(weights)} weights; "
                f"the released upsampler uses {NUM_CENTRE_VERTICES} of each",
            )
        _check_range(source, "centre.vertices", vertices, num_vertices)
        if len(np.unique(vertices)) != len(vertices):
            raise _fail(source, "centre.vertices lists a vertex twice; merge its weights")
        if abs(float(weights.sum())) < 1e-8:
            raise _fail(source, "centre.weights sum to 0; a centre needs weights with a non-zero sum")
    return ReleasedConstants(source, seams, vertices, weights)


def load_released_constants(path: str | Path, num_vertices: int = RELEASED_VERTICES) -> ReleasedConstants:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"released constants file not found: {path}; pass the JSON described in {_DOC}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(
            f"released constants {path} is not a UTF-8 JSON file; write it as described in {_DOC}"
        ) from None
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"released constants {path} is not valid JSON (line {err.lineno} column {err.colno}: {err.msg}); fix it"
        ) from None
    return parse_released_constants(data, str(path), num_vertices)


def as_constants(value: ReleasedConstants | str | Path | None, num_vertices: int) -> ReleasedConstants | None:
    if value is None or isinstance(value, ReleasedConstants):
        return value
    return load_released_constants(value, num_vertices)


# --------------------------------------------------------------------------- main checkpoint


def with_seams(topology: Topology, constants: ReleasedConstants) -> Topology:
    """The topology with the user's seam pairs (replacing any it had)."""
    pairs = constants.require_seams()
    _check_range(constants.source, "seam_pairs", pairs, topology.num_vertices)
    return Topology.from_arrays({**topology.to_arrays(), "seam_pairs": pairs})


def to_released_layout(model: torch.nn.Module) -> dict[str, Any]:
    """A `meshpose_hrnet32` model as the authors' main checkpoint dict (``ckpt['model']['root']``)."""
    mapping = official_key_map(model)
    ours = model.state_dict()
    state: dict[str, Tensor] = {theirs: ours[name].detach().clone() for name, theirs in mapping.items()}
    cfg: ModelConfig = model.config
    # Decoding constants our config derives; the import checks only their shapes.
    for name, shape in official_constant_shapes(model).items():
        if len(shape) == 1:
            state[name] = torch.arange(shape[0], dtype=torch.float32)
        else:
            rows, cols = torch.meshgrid(
                torch.arange(cfg.heatmap_height, dtype=torch.float32),
                torch.arange(cfg.heatmap_width, dtype=torch.float32),
                indexing="ij",
            )
            state[name] = torch.stack([cols, rows], dim=-1)
    return {"model": {"root": state}}


# --------------------------------------------------------------------------- upsampler


def is_released_layout(data: dict[str, Any]) -> bool:
    """The authors' main checkpoint: ``ckpt['model']['root']``."""
    model = data.get("model")
    return isinstance(model, dict) and isinstance(model.get("root"), dict)


def is_released_upsampler(data: dict[str, Any]) -> bool:
    model = data.get("model")
    return isinstance(model, dict) and isinstance(model.get(UPSAMPLER_KEY), dict)


def released_upsampler_layout(upsampler: HighPolyUpsampler) -> dict[str, Any]:
    """Our upsampler as the authors' upsampler file dict (``ckpt['model']['VERTEX_UPSAMPLE']``)."""
    state = upsampler.state_dict()
    return {"model": {UPSAMPLER_KEY: {k: state[k].detach().clone() for k in _UPSAMPLER_ENTRIES}}}


def load_released_upsampler(
    path: str | Path, constants: ReleasedConstants | str | Path | None, flag: str = "--upsampler"
) -> HighPolyUpsampler:
    """The authors' upsampler file -> HighPolyUpsampler(518, 1723, 6890, centre weights).

    Sizes come from the file's shapes (checked against each other); the centre comes from the
    user's constants, without which the released upsampler would map uncentred meshes. The
    centre weights are used exactly as given, as the authors' code does: they do not sum to 1,
    and normalising them moved every high-poly vertex by up to 0.14 crop px (issue 11).
    """
    path = Path(path)
    data = read_checkpoint(path, flag)
    if not is_released_upsampler(data):
        if is_released_layout(data):
            raise CheckpointError(
                f"{path} is the released main checkpoint, not its upsampler; pass it as the model "
                f"and the file with ckpt['model']['{UPSAMPLER_KEY}'] as the upsampler"
            )
        keys = ", ".join(sorted(map(str, data))[:5])
        raise CheckpointError(
            f"upsampler {path} is not the released upsampler layout ckpt['model']['{UPSAMPLER_KEY}'] "
            f"(top-level keys: {keys}); pass the authors' upsampler file"
        )
    state = data["model"][UPSAMPLER_KEY]
    missing = [k for k in _UPSAMPLER_ENTRIES if not isinstance(state.get(k), Tensor)]
    unused = sorted(set(state) - set(_UPSAMPLER_ENTRIES))
    if missing or unused:
        what = f"missing {missing[0]}" if missing else f"unexpected {unused[0]}"
        raise CheckpointError(f"upsampler {path} does not have the released upsampler's entries ({what})")
    w1, b1, w2, b2 = (state[k] for k in _UPSAMPLER_ENTRIES)
    if not (w1.ndim == 2 and w2.ndim == 2 and b1.shape == (w1.shape[0],) and b2.shape == (w2.shape[0],)):
        raise CheckpointError(f"upsampler {path} has inconsistent shapes {tuple(w1.shape)}, {tuple(w2.shape)}")
    if w2.shape[1] != w1.shape[0]:
        raise CheckpointError(
            f"upsampler {path}: upsampling2 takes {w2.shape[1]} vertices but upsampling gives {w1.shape[0]}"
        )
    num_mid, num_low = (int(s) for s in w1.shape)
    num_high = int(w2.shape[0])
    constants = as_constants(constants, num_low)
    if constants is None:
        raise ConfigError(
            "the released upsampler needs its centre weights; pass the released constants JSON with a "
            f"'centre' entry ({_DOC})"
        )
    centre = torch.from_numpy(constants.centre_vector(num_low)).float()
    upsampler = HighPolyUpsampler(num_low, num_mid, num_high, centre, normalize_centre=False)
    upsampler.load_state_dict({**{k: v.float() for k, v in state.items()}, "centre_weights": upsampler.centre_weights})
    return upsampler.eval()
