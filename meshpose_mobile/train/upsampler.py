"""`meshpose-train-upsampler`: the low- to high-poly upsampler (method.md Sec. 6, paper App. C.2.3).

Pairs come from the synthetic generator: the same posed, shaped and photographed body as low-poly
vertices and as the high-poly mesh skinned on its own (so the targets hold the high-poly detail
the barycentric correspondence alone cannot give). Inputs get Gaussian noise (a fraction of the
body's height, per vertex and axis) as in the paper, so the upsampler tolerates the network's
errors instead of copying them into the dense mesh. Every pair is also scaled by a random factor
about its centre: the maps see crop pixels of any image size, and their biases would otherwise tie
them to one scale.

The upsampler starts as the barycentric correspondence (`Topology.hires_from_lowpoly`), which is
also the baseline every figure is compared with.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from meshpose_mobile.atomic import write_text_atomic
from meshpose_mobile.errors import ConfigError, DataError
from meshpose_mobile.machine import available_memory
from meshpose_mobile.paths import require_free
from meshpose_mobile.synth import SynthConfig, SyntheticBodies
from meshpose_mobile.topology import Topology, default_topology
from meshpose_mobile.upsampler import HighPolyUpsampler, save_upsampler

# Rendered size of the synthetic pairs: only their geometry is used, so the image is kept small;
# the scale augmentation then spreads the meshes over the sizes real crops have.
_RENDER = (128, 96)
_SCALE_RANGE = (0.5, 8.0)


@dataclass(frozen=True)
class UpsamplerTrainConfig:
    steps: int = 3000
    batch_size: int = 32
    # Small: the maps start at the correspondence and every weight feeds hundreds of vertices.
    lr: float = 1e-4
    noise: float = 0.01
    # Noise of the fixed noisy validation set, independent of the training noise so runs with
    # and without augmentation are scored on the same inputs.
    eval_noise: float = 0.01
    train_size: int = 2048
    val_size: int = 256
    mid: int | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "train_size", "val_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"upsampler config: {name}={value!r} must be a positive integer")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"upsampler config: seed={self.seed!r} must be an integer >= 0")
        if self.mid is not None and (not isinstance(self.mid, int) or self.mid <= 0):
            raise ConfigError(f"upsampler config: mid={self.mid!r} must be a positive integer or unset")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"upsampler config: lr={self.lr!r} must be a positive number")
        for name in ("noise", "eval_noise"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value < 0.5):
                raise ConfigError(f"upsampler config: {name}={value!r} must be in [0, 0.5) (fraction of body height)")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"upsampler config: device={self.device!r} must be cpu, cuda or cuda:N")


def correspondence_matrix(topology: Topology) -> np.ndarray:
    """(N, K) matrix of `Topology.hires_from_lowpoly`."""
    assert topology.faces is not None and topology.hires_face_index is not None and topology.hires_bary is not None
    n = len(topology.hires_face_index)
    mat = np.zeros((n, topology.num_vertices), dtype=np.float64)
    corners = topology.faces[topology.hires_face_index]
    for c in range(3):
        np.add.at(mat, (np.arange(n), corners[:, c]), topology.hires_bary[:, c])
    return mat


def init_upsampler(topology: Topology, mid: int | None, seed: int) -> HighPolyUpsampler:
    """An upsampler whose product of maps is exactly the barycentric correspondence.

    The extra middle rows get small random weights and the columns reading them start at zero:
    the output is unchanged, yet both blocks get gradients (two all-zero blocks never would)."""
    if topology.hires_face_index is None:
        raise DataError(f"topology {topology.name!r} has no high-poly mesh; the upsampler needs one (use 'default')")
    k = topology.num_vertices
    mid = mid or 2 * k
    if mid < k:
        raise ConfigError(f"upsampler mid={mid} is below the {k} low-poly vertices; use mid >= {k}")
    corr = torch.from_numpy(correspondence_matrix(topology)).float()
    up = HighPolyUpsampler(k, mid, corr.shape[0], torch.ones(k))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w1 = torch.randn(mid, k, generator=g) / math.sqrt(k)
        w1[:k] = torch.eye(k)
        w2 = torch.zeros(corr.shape[0], mid)
        w2[:, :k] = corr
        up.upsampling.weight.copy_(w1)
        up.upsampling.bias.zero_()
        up.upsampling2.weight.copy_(w2)
        up.upsampling2.bias.zero_()
    return up


def _require_pair_memory(config: UpsamplerTrainConfig, topo: Topology) -> None:
    """The pairs are kept in memory (float32 low- and high-poly xyz, twice while stacked, and the
    validation set's augmented copies): refuse before generating what cannot fit."""
    n = len(topo.hires_face_index) if topo.hires_face_index is not None else 0
    per_pair = (topo.num_vertices + n) * 3 * 4
    need = 2 * config.train_size * per_pair + 5 * config.val_size * per_pair
    free = available_memory()
    if free is not None and need > free:
        raise ConfigError(
            f"upsampler config: {config.train_size} + {config.val_size} pairs need about {need / 1e9:.1f} GB of "
            f"memory but {free / 1e9:.1f} GB is available; pass a smaller --train-size/--val-size"
        )


def _pairs(gen: SyntheticBodies, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    low, high, ppm = [], [], []
    for i in range(size):
        s = gen.sample(i)
        low.append(s["vertices"])
        high.append(s["hires_vertices"])
        ppm.append(s["pixels_per_metre"])
    return (torch.from_numpy(np.stack(low)), torch.from_numpy(np.stack(high)), torch.from_numpy(np.stack(ppm)))


def _augment(
    low: torch.Tensor, high: torch.Tensor, ppm: torch.Tensor, noise: float, g: torch.Generator, scale: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    centre = low.mean(1, keepdim=True)
    factor = (
        torch.exp(torch.empty(low.shape[0], 1, 1).uniform_(*map(math.log, _SCALE_RANGE), generator=g))
        if scale
        else torch.ones(low.shape[0], 1, 1)
    )
    low_s = (low - centre) * factor + centre
    high_s = (high - centre) * factor + centre
    height = low_s[..., 1].amax(1) - low_s[..., 1].amin(1)
    noisy = low_s + torch.randn(low_s.shape, generator=g) * (noise * height)[:, None, None]
    return noisy, high_s, ppm * factor[:, 0, 0], low_s


def _error_mm(pred: torch.Tensor, high: torch.Tensor, ppm: torch.Tensor) -> float:
    return float(((pred - high).norm(dim=-1).mean(1) / ppm * 1000.0).mean())


def train_upsampler(
    config: UpsamplerTrainConfig, out: str | Path, *, progress: bool = False, echo: Any = None
) -> dict[str, float]:
    say = echo or (lambda _m: None)
    out = Path(out)
    topo = default_topology()
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={config.device} but this torch has no CUDA device; use --device cpu")
    out.mkdir(parents=True, exist_ok=True)
    if topo.hires_face_index is not None:
        # upsampler.pt: two float32 maps (K x mid, mid x N), written beside any previous one.
        k, n = topo.num_vertices, len(topo.hires_face_index)
        mid = config.mid or 2 * k
        require_free(out, 2 * 4 * (k * mid + mid * n) + (1 << 20))
    synth = SynthConfig(height=_RENDER[0], width=_RENDER[1], num_points=1, with_hires=True, occluder_prob=0.0)
    _require_pair_memory(config, topo)
    say(f"generating {config.train_size} + {config.val_size} posed pairs")
    train_low, train_high, train_ppm = _pairs(SyntheticBodies(synth, config.seed, topo), config.train_size)
    val_low, val_high, val_ppm = _pairs(SyntheticBodies(synth, config.seed + 1_000_003, topo), config.val_size)
    g_val = torch.Generator().manual_seed(12345)
    v_noisy, v_high, v_ppm, v_clean = _augment(val_low, val_high, val_ppm, config.eval_noise, g_val)

    up = init_upsampler(topo, config.mid, config.seed).to(device)
    corr = torch.from_numpy(correspondence_matrix(topo)).float().to(device)

    def val_errors() -> dict[str, float]:
        with torch.no_grad():
            up.eval()
            res = {
                "val_mm": _error_mm(up(v_clean.to(device)).cpu(), v_high, v_ppm),
                "val_noisy_mm": _error_mm(up(v_noisy.to(device)).cpu(), v_high, v_ppm),
                "baseline_mm": _error_mm((corr @ v_clean.to(device)).cpu(), v_high, v_ppm),
                "baseline_noisy_mm": _error_mm((corr @ v_noisy.to(device)).cpu(), v_high, v_ppm),
            }
            up.train()
            return res

    opt = torch.optim.Adam(up.parameters(), lr=config.lr)
    warmup = max(1, config.steps // 10)

    def factor(s: int) -> float:
        # Warmup matters more than usual: Adam's first steps move every weight by about lr whatever
        # the gradient's size, and each output vertex sums hundreds of weights, so a cold start at
        # full lr throws the mesh centimetres off before the moments settle.
        if s < warmup:
            return (s + 1) / warmup
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warmup) / max(1, config.steps - warmup))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    g = torch.Generator().manual_seed(config.seed)
    log: list[dict[str, float]] = [{"step": 0, **val_errors()}]
    say(f"step 0: {log[-1]}")
    from tqdm import tqdm

    bar = tqdm(total=config.steps, disable=not progress, desc="upsampler", dynamic_ncols=True)
    every = max(1, config.steps // 10)
    for step in range(1, config.steps + 1):
        idx = torch.randint(0, config.train_size, (config.batch_size,), generator=g)
        noisy, high, ppm, _ = _augment(train_low[idx], train_high[idx], train_ppm[idx], config.noise, g)
        pred = up(noisy.to(device))
        # Per-vertex distance divided by pixels-per-metre: every sample counts in metres, whatever
        # the scale augmentation made of it.
        loss = ((pred - high.to(device)).norm(dim=-1).mean(1) / ppm.to(device)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.update(1)
        if step % every == 0 or step == config.steps:
            log.append({"step": step, "train_mm": float(loss.detach()) * 1000.0, **val_errors()})
            say(f"step {step}: {json.dumps({k: round(v, 2) for k, v in log[-1].items()})}")
    bar.close()
    result = log[-1]
    save_upsampler(out / "upsampler.pt", up.cpu(), extra={"config": asdict(config), "val": result})
    write_text_atomic(out / "metrics.json", json.dumps({"config": asdict(config), "log": log}, indent=1) + "\n")
    return result
