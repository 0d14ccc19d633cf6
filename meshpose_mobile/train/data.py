"""Training data: sources (synthetic in memory, a `meshpose-synth` folder), the step-indexed batch
order that makes resuming exact, and the collate that turns samples into `LossTargets`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from meshpose_mobile.checkpoint_io import read_checkpoint
from meshpose_mobile.config import ModelConfig
from meshpose_mobile.errors import DataError
from meshpose_mobile.model import MeshPose
from meshpose_mobile.render import crop_mask_to_grid, mask_boundary_distance
from meshpose_mobile.synth import SynthConfig, SynthDiskDataset, SyntheticBodies
from meshpose_mobile.topology import Topology
from meshpose_mobile.train.config import TrainConfig

# Validation streams use a seed far from any training seed, so the two never share a sample.
VAL_SEED_OFFSET = 1_000_003


class SampleSource(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> dict[str, np.ndarray]: ...


class SyntheticSet:
    """Samples 0..size-1 of a synthetic stream, generated on first use and kept in memory."""

    def __init__(self, config: SynthConfig, seed: int, size: int, topology: Topology, cache: bool = True) -> None:
        self.gen = SyntheticBodies(config, seed, topology)
        self.size = size
        self.cache = cache
        self._cache: dict[int, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not self.cache:
            return self.gen.sample(index)
        if index not in self._cache:
            self._cache[index] = self.gen.sample(index)
        return self._cache[index]

    def fill(self) -> None:
        for i in range(self.size):
            self[i]


class ConcatSource:
    """Several sources as one (index ranges one after the other): mixed batches by `batch_indices`."""

    def __init__(self, *sources: SampleSource) -> None:
        self.sources = sources
        self.starts = np.cumsum([0, *(len(s) for s in sources)])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        which = int(np.searchsorted(self.starts, index, side="right")) - 1
        return self.sources[which][index - int(self.starts[which])]


def open_source(
    spec: str,
    *,
    synth: SynthConfig,
    seed: int,
    size: int,
    topology: Topology,
    model_config: ModelConfig,
    role: str,
    cache: bool = True,
    images: str = "",
    pseudo_gt: str = "",
) -> SampleSource:
    """'synthetic', a `meshpose-synth` folder (checked against the model's input size) or a
    DensePose-COCO ``.json`` (with its image folder and optional pseudo-GT ``.npz``)."""
    if spec == "synthetic":
        return SyntheticSet(synth, seed, size, topology, cache)
    path = Path(spec)
    if path.suffix == ".json":
        if not path.is_file():
            raise DataError(f"{role} DensePose-COCO file not found: {path}; fix data.{role_key(role)}")
        from meshpose_mobile.train.densepose_source import DensePoseSource

        if not images:
            raise DataError(
                f"{role} data {path} is a DensePose-COCO file; set data.{role_key(role, 'images')} to its image folder"
            )
        return DensePoseSource(path, images, model_config, topology, pseudo_gt=pseudo_gt or None)
    if not path.exists():
        raise DataError(
            f"{role} dataset not found: {path}; write one with meshpose-synth --out {path} or use 'synthetic'"
        )
    ds = SynthDiskDataset(path, topology)
    h, w = ds.config.height, ds.config.width
    if (h, w) != (model_config.input_height, model_config.input_width):
        raise DataError(
            f"{role} dataset {path} has {h}x{w} images but {model_config.variant} takes "
            f"{model_config.input_height}x{model_config.input_width}; regenerate it with "
            f"--height {model_config.input_height} --width {model_config.input_width}"
        )
    return ds


def role_key(role: str, field: str = "") -> str:
    """Config key of a role's setting: train -> train / images, validation -> val / val_images."""
    prefix = "val" if role == "validation" else ""
    if not field:
        return prefix or "train"
    return f"{prefix}_{field}" if prefix else field


def batch_indices(step: int, batch_size: int, num_samples: int, seed: int) -> np.ndarray:
    """Sample indices of global batch ``step``: epochs are seeded permutations, so any step's
    batch is known without replaying the ones before it (resume needs no sampler state)."""
    start = step * batch_size
    out = np.empty(batch_size, dtype=np.int64)
    filled = 0
    while filled < batch_size:
        epoch, offset = divmod(start + filled, num_samples)
        perm = np.random.default_rng([seed, epoch]).permutation(num_samples)
        take = min(batch_size - filled, num_samples - offset)
        out[filled : filled + take] = perm[offset : offset + take]
        filled += take
    return out


class StepBatches(torch.utils.data.Dataset):
    """Item ``s`` is this rank's share of global batch ``s``, collated (DataLoader workers prefetch it)."""

    def __init__(
        self,
        source: SampleSource,
        batch_size: int,
        seed: int,
        collate: Collate,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.source, self.batch_size, self.seed, self.collate = source, batch_size, seed, collate
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> dict[str, Tensor]:
        idx = batch_indices(step, self.batch_size, len(self.source), self.seed)[self.rank :: self.world]
        return self.collate([self.source[int(i)] for i in idx])


class Collate:
    """Samples -> the model input ``image`` (B, 3, H, W) 0..255 plus every `LossTargets` key and
    the evaluation labels (part, uv, dp_part, dp_uv, pixels_per_metre).

    Labels a sample lacks (a real photo has no 3D, a person may have no keypoints or mask) become
    zeros with a zero mask, so mixed batches train every term on the samples that have it.
    """

    def __init__(self, model_config: ModelConfig, silhouette_pad: int, silhouette: bool = True) -> None:
        self.config = model_config
        self.pad = silhouette_pad
        self.silhouette = silhouette

    def __call__(self, samples: Sequence[dict[str, np.ndarray]]) -> dict[str, Tensor]:
        cfg = self.config
        h, w = cfg.input_height, cfg.input_width
        k = cfg.num_vertices

        # DensePose points: synthetic bodies carry num_points, DensePose-COCO persons up to
        # MAX_POINTS; pad to the batch's longest (padding has dp_mask 0, a valid face 0 and bary 1,0,0).
        n_points = max((len(s["dp_mask"]) for s in samples if "dp_mask" in s), default=0)
        pad_fill = {"dp_bary": 1.0}

        def padded(key: str, value: np.ndarray) -> np.ndarray:
            if not key.startswith("dp_") or len(value) == n_points:
                return value
            out = np.zeros((n_points, *value.shape[1:]), value.dtype)
            if key in pad_fill:
                out[..., 0] = pad_fill[key]
            out[: len(value)] = value
            return out

        def stack(key: str, shape: tuple[int, ...] = (), dtype: Any = np.float32) -> Tensor:
            return torch.from_numpy(
                np.stack([padded(key, np.asarray(s[key])) if key in s else np.zeros(shape, dtype) for s in samples])
            )

        def weight(key: str, weight_key: str) -> Tensor:
            return torch.tensor(
                [float(s.get(weight_key, 1.0)) if key in s else 0.0 for s in samples], dtype=torch.float32
            )

        image = stack("image").permute(0, 3, 1, 2).float().contiguous()
        joints_3d = stack("joints_3d", (17, 3)).float()
        out: dict[str, Any] = {
            "image": image,
            "dp_pixels": stack("dp_pixels").float(),
            "dp_face": stack("dp_face").long(),
            "dp_bary": stack("dp_bary").float(),
            "dp_mask": stack("dp_mask").float(),
            "dp_part": stack("dp_part").long(),
            "dp_uv": stack("dp_uv").float(),
            "vertices": stack("vertices", (k, 3)).float(),
            "vertices_mask": weight("vertices", "vertices_weight"),
            "joints_2d": stack("joints_2d", (17, 2)).float(),
            "joints_2d_mask": stack("joints_2d_mask", (17,)).float(),
            "joints_3d": joints_3d,
            "joints_3d_mask": weight("joints_3d", "joints_3d_weight")[:, None].expand(-1, joints_3d.shape[1]).clone(),
            "part": stack("part", (h, w), np.uint8).long(),
            "uv": stack("uv", (h, w, 2), np.float16).float(),
            "pixels_per_metre": torch.tensor([float(s.get("pixels_per_metre", 1.0)) for s in samples]),
            # A sample that does not say shows the photo on its whole crop (datasets written before
            # the key, flat-look bodies).
            "picture_box": torch.tensor(
                np.stack(
                    [np.asarray(s.get("picture_box", (-0.5, -0.5, w - 0.5, h - 0.5)), np.float32) for s in samples]
                )
            ),
        }
        has_mask = torch.tensor([1.0 if "mask" in s else 0.0 for s in samples])
        mask = stack("mask", (h, w), np.uint8).float()
        out["foreground"] = crop_mask_to_grid(mask, cfg, 0)
        out["foreground_mask"] = has_mask
        if self.silhouette:
            grid = crop_mask_to_grid(mask, cfg, self.pad)
            out["silhouette"] = grid
            out["silhouette_mask"] = has_mask
            out["silhouette_phi"] = torch.stack(
                [torch.from_numpy(mask_boundary_distance(g.numpy())).float() for g in grid]
            )
        return out


def to_device(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def training_config(path: str | Path) -> TrainConfig:
    """The training config recorded in a checkpoint (a shipped file's or a run's), else the default."""
    extra = read_checkpoint(path).get("extra", {})
    record = extra.get("shipped") or extra.get("train") or {}
    return TrainConfig.from_dict(record["config"]) if "config" in record else TrainConfig()


def validation_bodies(model: MeshPose, config: TrainConfig, count: int) -> list[dict[str, Any]]:
    """The first `count` bodies of the trainer's validation stream, at the model's input size."""
    cfg = model.config
    synth = config.data.synth_config(cfg.input_height, cfg.input_width)
    source = SyntheticSet(synth, config.data.seed + VAL_SEED_OFFSET, count, model.topology)
    return [source[i] for i in range(count)]
