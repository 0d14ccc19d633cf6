"""The training loop behind `meshpose-train`.

A run lives in one folder::

    config.json         the TrainConfig (what `--resume` checks against)
    metrics.jsonl       one JSON line per log / evaluation ({"kind": "train"|"eval", "step": ...})
    ckpt/last.pt        full state: model, optimizer, scheduler, RNG, step (for --resume)
    model.pt            latest weights as a plain MeshPose checkpoint (feeds meshpose-export)
    model-best.pt       the weights with the lowest validation v2d_px so far

Step ``s`` always trains on the same samples (`data.batch_indices`), and the state at a checkpoint
is complete, so a resumed run reproduces the metrics of an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from meshpose_mobile.atomic import temp_prefix, torch_save_atomic, write_text_atomic
from meshpose_mobile.backbones import load_pretrained
from meshpose_mobile.checkpoint import load_checkpoint, save_checkpoint
from meshpose_mobile.config import ModelConfig
from meshpose_mobile.errors import CheckpointError, ConfigError, DataError, MeshPoseError
from meshpose_mobile.losses import LossWeights, total_loss
from meshpose_mobile.machine import usable_cores
from meshpose_mobile.model import MeshPose
from meshpose_mobile.paths import require_free, sweep_stale
from meshpose_mobile.registry import make_config
from meshpose_mobile.signals import interrupt_exit_code, interrupt_name
from meshpose_mobile.topology import default_topology, load_topology
from meshpose_mobile.train import fake_quant
from meshpose_mobile.train.config import TrainConfig
from meshpose_mobile.train.data import (
    VAL_SEED_OFFSET,
    Collate,
    ConcatSource,
    StepBatches,
    SyntheticSet,
    open_source,
    to_device,
)
from meshpose_mobile.train.feature_keep import FeatureKeep
from meshpose_mobile.train.metrics import MetricSums, batch_metrics, merge_across_ranks

STATE_FORMAT = "meshpose-train-state"
# Settings a resumed run may change: they steer the schedule of logging or where it runs, not
# what is computed. `steps` may grow to extend a run (the cosine schedule then stretches).
_RESUMABLE_CHANGES = {"steps", "eval_every", "ckpt_every", "log_every", "device", "data.workers"}


class TrainInterrupted(MeshPoseError):
    """Ctrl-C or SIGTERM: the state was saved and the run can be resumed (exit 130 or 143)."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def last(self) -> Path:
        return self.root / "ckpt" / "last.pt"

    @property
    def model(self) -> Path:
        return self.root / "model.pt"

    @property
    def best(self) -> Path:
        return self.root / "model-best.pt"


def lr_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of optim.lr at `step` (0-based): linear warmup, then the schedule."""
    o = config.optim
    if o.warmup_steps and step < o.warmup_steps:
        return (step + 1) / o.warmup_steps
    if o.schedule == "constant":
        return 1.0
    if o.schedule == "step":
        return o.gamma ** sum(step >= m * config.steps for m in o.milestones)
    span = max(1, config.steps - o.warmup_steps)
    t = min(1.0, (step - o.warmup_steps) / span)
    return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def _distributed() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def _device(spec: str, local_rank: int) -> torch.device:
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device={spec} but this torch has no CUDA device; use --device cpu")
        if spec == "cuda":
            return torch.device("cuda", local_rank)
    return torch.device(spec)


def _build_model(config: TrainConfig) -> MeshPose:
    # "default" leaves an --init checkpoint its own topology; a file must match the checkpoint's.
    chosen = None if config.topology == "default" else load_topology(config.topology)
    if config.init:
        model = load_checkpoint(config.init, flag="--init", topology=chosen)
        if model.config.variant != config.variant:
            raise ConfigError(
                f"--init checkpoint {config.init} holds {model.config.variant}, not {config.variant}; "
                f"pass --variant {model.config.variant}"
            )
        return _with_model_overrides(model, config) if config.model else model
    topology = chosen or default_topology()
    base = make_config(config.variant, topology)
    # Through from_dict: lists from the config file become tuples and unknown keys are one-line errors.
    model = MeshPose(ModelConfig.from_dict({**base.to_dict(), **config.model}), topology)
    # An imported encoder (meshpose_blaze) starts from its real weights; --resume overwrites them.
    load_pretrained(model.backbone)
    return model


def _with_model_overrides(model: MeshPose, config: TrainConfig) -> MeshPose:
    """The --init checkpoint's model under its own config plus `config.model`. Overrides that keep
    its layers (the decode's gain and fusion shift: a shipped file carries the ones chosen after
    training, and another stage trains at the training values) apply; ones that change a layer are
    refused, since the checkpoint's weights would not fit them."""
    new = ModelConfig.from_dict({**model.config.to_dict(), **config.model})
    fresh = MeshPose(new, model.topology)
    try:
        fresh.load_state_dict(model.state_dict())
    except RuntimeError:
        keys = ", ".join(sorted(config.model))
        raise ConfigError(
            f"model overrides ({keys}) change the layers of the --init checkpoint {config.init}; keep only "
            "decode settings such as gain and fusion_shift there, or train without --init"
        ) from None
    return fresh


def _freeze_encoder(model: MeshPose, config: TrainConfig) -> None:
    if not config.freeze_encoder:
        return
    part = getattr(model.backbone, "pretrained_module", None)
    if part is None:
        raise ConfigError(
            f"freeze_encoder is set but {model.config.variant} has no imported encoder to freeze; "
            "set freeze_encoder = false"
        )
    for p in part().parameters():
        p.requires_grad_(False)


def _param_groups(model: MeshPose, params: list[nn.Parameter], lr: float, encoder_scale: float) -> list[dict[str, Any]]:
    """One group, or two when the imported encoder trains at `encoder_scale` of the rate (the
    schedule's factor applies to both)."""
    part = getattr(model.backbone, "pretrained_module", None)
    if encoder_scale == 1.0 or part is None:
        return [{"params": params}]
    encoder = {id(p) for p in part().parameters()}
    rest = [p for p in params if id(p) not in encoder]
    enc = [p for p in params if id(p) in encoder]
    return [{"params": rest}, *([{"params": enc, "lr": lr * encoder_scale}] if enc else [])]


def _forward(net: nn.Module, image: Tensor, weights: LossWeights) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The outputs on `image`, and the robustness terms the weights ask for (unweighted, crop px):
    `consistency`, the mean 2-D vertex move under integer noise of up to `consistency_noise` grey
    levels (both copies go through one pass, so BatchNorm sees one batch and the move is what the
    deployed graph would show); `weight_consistency`, the mean move when every convolution weight
    carries a random rounding-sized error (`weight_noise_levels`), in one more pass of the clean
    crops through the same weights plus that error, so the gradient reaches both; `activation_consistency`,
    the mean move when every convolution's output carries a float16-sized relative error, in one
    more pass of the clean crops. Each mean is over the largest `move_top` fraction of the moves."""
    terms: dict[str, Tensor] = {}
    n = image.shape[0]
    if weights.consistency > 0:
        level = weights.consistency_noise
        noise = torch.randint(-level, level + 1, image.shape, device=image.device, dtype=image.dtype)
        both = dict(net(torch.cat([image, (image + noise).clamp(0.0, 255.0)])))
        outputs = {k: (v[:n] if isinstance(v, Tensor) else v) for k, v in both.items()}
        terms["consistency"] = _mean_move(both["vertices"][n:], both["vertices"][:n], weights.move_top)
    else:
        outputs = dict(net(image))
    if weights.weight_consistency > 0:
        noisy = torch.func.functional_call(net, fake_quant.rounding_noise(net, weights.weight_noise_levels), (image,))
        terms["weight_consistency"] = _mean_move(noisy["vertices"], outputs["vertices"], weights.move_top)
    if weights.activation_consistency > 0:
        with fake_quant.activation_noise(net, weights.activation_noise_bits):
            noisy = net(image)
        terms["activation_consistency"] = _mean_move(noisy["vertices"], outputs["vertices"], weights.move_top)
    return outputs, terms


def _mean_move(a: Tensor, b: Tensor, top: float = 1.0) -> Tensor:
    """The mean 2-D move over the largest `top` fraction of the batch's vertex moves (`loss.move_top`)."""
    move = torch.sqrt(((a[..., :2] - b[..., :2]) ** 2).sum(-1) + 1e-12).flatten()
    if top >= 1.0:
        return move.mean()
    return move.topk(max(1, math.ceil(top * move.numel()))).values.mean()


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _check_resume_config(saved: dict[str, Any], current: dict[str, Any], where: Path) -> None:
    # A setting added to TrainConfig after the run started reads as its default there.
    old, new = {**_flatten(TrainConfig().to_dict()), **_flatten(saved)}, _flatten(current)
    for key in sorted(set(old) | set(new)):
        if key in _RESUMABLE_CHANGES or old.get(key) == new.get(key):
            continue
        raise ConfigError(
            f"cannot resume {where}: {key} was {old.get(key)!r} and is now {new.get(key)!r}; resume with the "
            "same settings or start a new run with another --out"
        )


class _Log:
    """metrics.jsonl writer (rank 0 only); on resume, drops lines past the checkpoint's step."""

    def __init__(
        self, path: Path, enabled: bool, resume_step: int | None, say: Callable[[str], None] = lambda _m: None
    ) -> None:
        self.path, self.enabled = path, enabled
        if enabled and resume_step is not None and path.exists():
            rows, bad = _parse_metrics(path)
            if bad:
                say(f"note: dropped {bad} unreadable line(s) of {path} (a crash during a write); the rest is kept")
            keep = [json.dumps(r) for r in rows if r["step"] <= resume_step]
            write_text_atomic(path, "".join(ln + "\n" for ln in keep))
        elif enabled and resume_step is None and path.exists():
            path.unlink()

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")


def _parse_metrics(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Rows of metrics.jsonl and the number of lines skipped: appending is not atomic, so a crash
    or a full disk can leave a truncated last line, which must not stop a resume."""
    rows, bad = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and isinstance(row.get("kind"), str):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def read_metrics(path: str | Path, kind: str | None = None) -> list[dict[str, Any]]:
    path = Path(path)
    if path.is_dir():
        path = RunPaths(path).metrics
    if not path.is_file():
        return []
    rows, _ = _parse_metrics(path)
    return [r for r in rows if kind is None or r["kind"] == kind]


def _last_line(message: str) -> str:
    """The error's own line when a DataLoader worker wrapped it in a traceback."""
    if "Traceback" not in message:
        return message
    last = [ln for ln in message.splitlines() if ln.strip()][-1].strip()
    head, sep, rest = last.partition(": ")
    return rest if sep and "Error" in head.split(".")[-1] else last


# Names of the files a run writes; their atomic-write temp files are swept at the start.
_RUN_FILES = ("config.json", "metrics.jsonl", "model.pt", "model-best.pt")


def _sweep_temp_files(paths: RunPaths) -> None:
    """Temp files of a run killed mid-write (SIGKILL, power loss): no later write reuses them."""
    for name in _RUN_FILES:
        sweep_stale(paths.root, temp_prefix(paths.root / name), suffix=".tmp")
    sweep_stale(paths.last.parent, temp_prefix(paths.last), suffix=".tmp")


def _load_state(paths: RunPaths, device: torch.device) -> dict[str, Any]:
    fix = (
        f"start a new run with another --out, or fine-tune from the weights it saved with --init {paths.model}"
        if paths.model.is_file()
        else "start a new run with another --out"
    )
    try:
        state = torch.load(paths.last, map_location=device, weights_only=True)
    except Exception as err:  # the unpickler raises anything on damaged bytes
        why = " ".join(str(err).split())[:100] or type(err).__name__
        raise CheckpointError(f"{paths.last} is truncated or damaged ({why}); cannot resume: {fix}") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{paths.last} is not a meshpose-train state file; cannot resume: {fix}")
    missing = [k for k in _STATE_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{paths.last} lacks its {missing[0]!r} entry; cannot resume: {fix}")
    return state


_STATE_KEYS = ("step", "config", "model", "optimizer", "scheduler", "rng_cpu", "best")


def _state_bytes(model: MeshPose) -> int:
    """Disk a run needs at most, with room: last.pt (weights + two Adam moments), model.pt and
    model-best.pt (weights + topology, about 1 MB), each written beside its previous version."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return 10 * weights + (4 << 20)


@torch.no_grad()
def evaluate(
    model: MeshPose,
    source: Any,
    collate: Collate,
    config: TrainConfig,
    device: torch.device,
    rank: int = 0,
    world: int = 1,
) -> dict[str, float]:
    """Validation metrics (`metrics` module) plus the mean of every loss term, over the whole source."""
    was_training = model.training
    model.eval()
    sums = MetricSums()
    n = len(source)
    bs = config.batch_size
    for start in range(rank * bs, n, bs * world):
        batch = to_device(collate([source[i] for i in range(start, min(n, start + bs))]), device)
        out = model(batch["image"])
        batch_metrics(
            dict(out),
            batch,
            model.topology,
            model.config,
            sums,
            uv_method=config.eval_uv,
            pck_alpha=config.pck_alpha,
        )
        _, terms = total_loss(dict(out), batch, model.topology, config.loss, model.config)
        k = batch["image"].shape[0]
        for name, value in terms.items():
            sums.add(f"loss_{name}", float(value) * k, k)
    model.train(was_training)
    return merge_across_ranks(sums, device).means()


def train(
    config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
    _fault_after: tuple[int, type[BaseException]] | None = None,
) -> dict[str, Any]:
    """Run (or resume) training into `out`. Returns the last evaluation's metrics.

    `_fault_after=(n, exc)` raises `exc` once step n is done: the tests' stand-in for a crash
    (any exception: state as of the last periodic checkpoint) or Ctrl-C (KeyboardInterrupt:
    state saved on the spot).

    A new run that fails before its first checkpoint (ckpt/last.pt) removes the files it wrote
    (config.json, metrics.jsonl, an untrained model-best.pt): there is nothing to resume, and
    they would only stand in the way of running it again.
    """
    paths = RunPaths(Path(out))
    started: list[bool] = []
    try:
        return _train(config, paths, resume, progress, echo, _fault_after, started)
    except BaseException as err:
        saved = paths.last.exists()
        if started and not resume and not saved and int(os.environ.get("RANK", "0")) == 0:
            _remove_run_files(paths)
        if started and isinstance(err, DataError):
            then = (
                f"then continue with --resume --out {paths.root}"
                if saved
                else "then run the same command again (no checkpoint was saved yet; this run's files were removed)"
            )
            raise DataError(f"{err}, {then}") from None
        raise


def _remove_run_files(paths: RunPaths) -> None:
    for name in _RUN_FILES:
        (paths.root / name).unlink(missing_ok=True)
    _sweep_temp_files(paths)
    try:
        paths.last.parent.rmdir()  # ckpt/, when empty
    except OSError:
        pass


def _train(
    config: TrainConfig,
    paths: RunPaths,
    resume: bool,
    progress: bool,
    echo: Callable[[str], None] | None,
    _fault_after: tuple[int, type[BaseException]] | None,
    started: list[bool],
) -> dict[str, Any]:
    rank, world, local_rank = _distributed()
    lead = rank == 0
    say = echo if (echo is not None and lead) else (lambda _msg: None)
    if config.batch_size % world:
        raise ConfigError(f"batch_size {config.batch_size} does not split over {world} processes; use a multiple")
    device = _device(config.device, local_rank)

    if resume and not paths.last.exists():
        raise ConfigError(f"nothing to resume in {paths.root}: no ckpt/last.pt; drop --resume to start a new run")
    if not resume and paths.last.exists():
        raise ConfigError(
            f"{paths.root} already holds a run (ckpt/last.pt); pass --resume to continue it or choose another --out"
        )

    torch.manual_seed(config.seed)
    model = _build_model(config)
    topo = model.topology
    mcfg = model.config
    synth_cfg = config.data.synth_config(mcfg.input_height, mcfg.input_width)
    train_src = open_source(
        config.data.train,
        synth=synth_cfg,
        seed=config.data.seed,
        size=config.data.train_size,
        topology=topo,
        model_config=mcfg,
        role="train",
        cache=config.data.cache,
        images=config.data.images,
        pseudo_gt=config.data.pseudo_gt,
    )
    if config.data.add_synthetic:
        # Synthetic first: prior_init reads the first samples, and synthetic bodies all have vertex labels.
        train_src = ConcatSource(
            SyntheticSet(synth_cfg, config.data.seed, config.data.train_size, topo, config.data.cache), train_src
        )
    val_src = open_source(
        config.data.val,
        synth=synth_cfg,
        seed=config.data.seed + VAL_SEED_OFFSET,
        size=config.data.val_size,
        topology=topo,
        model_config=mcfg,
        role="validation",
        images=config.data.val_images,
        pseudo_gt=config.data.val_pseudo_gt,
    )
    if config.batch_size > len(train_src):
        # Each batch repeats samples, and a batch far past the data ran out of memory (killed).
        raise ConfigError(
            f"batch_size {config.batch_size} is more than the {len(train_src)} training samples; pass a "
            f"--batch-size up to {len(train_src)}, or more data (data.train_size or a larger dataset)"
        )
    collate = Collate(mcfg, config.loss.silhouette_pad, silhouette=config.loss.silhouette > 0)
    if config.prior_init and not config.init and not resume:
        from meshpose_mobile.train.prior import prior_init

        prior_init(model, train_src)

    _freeze_encoder(model, config)
    # The reference is copied before rounding is attached: it is the imported network itself, and a
    # copy carrying fake_quant's parametrizations would not take the imported state dict.
    keep = FeatureKeep(model.backbone).to(device) if config.loss.feature_keep > 0 else None
    fake_quant.attach(model, config.fake_quant)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    o = config.optim
    groups = _param_groups(model, params, o.lr, o.encoder_lr_scale)
    if o.optimizer == "adamw":
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=o.lr, weight_decay=o.weight_decay)
    else:
        optimizer = torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, nesterov=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))

    start_step = 0
    best = math.inf
    if resume:
        state = _load_state(paths, device)
        if not isinstance(state["config"], dict):
            raise CheckpointError(f"{paths.last} has no readable config; cannot resume: start a new run")
        _check_resume_config(state["config"], config.to_dict(), paths.root)
        saved_hash = state.get("topology_hash")
        if saved_hash is not None and saved_hash != topo.hash:
            raise ConfigError(
                f"cannot resume {paths.root}: it trained on topology hash {str(saved_hash)[:12]} but "
                f"{config.topology} is {topo.name!r} ({topo.hash[:12]}); restore that topology file or start a new run"
            )
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng_cpu"])
            start_step = int(state["step"])
            best = float(state["best"])
        except (RuntimeError, ValueError, TypeError, KeyError, AttributeError) as err:
            why = " ".join(str(err).split())[:100] or type(err).__name__
            raise CheckpointError(
                f"{paths.last} does not fit this run ({why}); start a new run with another --out"
            ) from None
        say(f"resuming {paths.root} at step {start_step}")
    elif lead:
        paths.root.mkdir(parents=True, exist_ok=True)
    if lead:
        _sweep_temp_files(paths)
        require_free(paths.root, _state_bytes(model))
        started.append(True)
        write_text_atomic(paths.config, json.dumps(config.to_dict(), indent=1) + "\n")
    log = _Log(paths.metrics, lead, start_step if resume else None, say)

    net: nn.Module = model
    if world > 1:
        if device.type == "cuda":
            net = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net = nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True
        )

    def save_state(step: int) -> None:
        if not lead:
            return
        torch_save_atomic(
            {
                "format": STATE_FORMAT,
                "step": step,
                "config": config.to_dict(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng_cpu": torch.get_rng_state(),
                "best": best,
                "topology_hash": topo.hash,
            },
            paths.last,
        )
        save_checkpoint(
            paths.model,
            model,
            extra={"train": {"step": step, "config": config.to_dict()}},
            state_dict=fake_quant.rounded_state_dict(model),
        )

    def run_eval(step: int) -> dict[str, float]:
        nonlocal best
        t0 = time.perf_counter()
        metrics = evaluate(model, val_src, collate, config, device, rank, world)
        record = {"kind": "eval", "step": step, **metrics, "eval_s": round(time.perf_counter() - t0, 3)}
        log.write(record)
        say(
            f"eval step {step}: v2d {metrics.get('v2d_px', float('nan')):.2f} px, "
            f"pck {metrics.get('pck', float('nan')):.3f}, part acc {metrics.get('part_acc', float('nan')):.3f}, "
            f"uv err {metrics.get('uv_err', float('nan')):.3f}, mpjpe {metrics.get('mpjpe_mm', float('nan')):.0f} mm"
        )
        if lead and metrics.get("v2d_px", math.inf) < best:
            best = metrics["v2d_px"]
            save_checkpoint(
                paths.best,
                model,
                extra={"train": {"step": step, "val": metrics}},
                state_dict=fake_quant.rounded_state_dict(model),
            )
        return metrics

    last_metrics: dict[str, Any] = {}
    if start_step >= config.steps:
        done = [r for r in read_metrics(paths.metrics, "eval") if r["step"] == start_step] if lead else []
        say(f"{paths.root} already finished {start_step} steps; raise --steps to train further")
        return {"step": start_step, **(done[-1] if done else {})}
    if start_step == 0:
        last_metrics = run_eval(0)
    workers = min(config.data.workers, usable_cores())
    if workers < config.data.workers:
        # More sample generators than cores only share the cores (and each holds a copy of the data).
        say(
            f"note: data.workers {config.data.workers} is more than the {usable_cores()} CPU cores here; "
            f"using {workers}"
        )
    loader = torch.utils.data.DataLoader(
        StepBatches(train_src, config.batch_size, config.data.seed, collate, rank, world),
        batch_size=None,
        sampler=range(start_step, config.steps),
        num_workers=workers,
        persistent_workers=False,
    )
    from tqdm import tqdm

    bar = tqdm(
        total=config.steps, initial=start_step, disable=not (progress and lead), desc="train", dynamic_ncols=True
    )
    window: list[dict[str, float]] = []
    t_window = time.perf_counter()
    step = start_step
    net.train()
    try:
        for batch in loader:
            batch = to_device(batch, device)
            outputs, robust = _forward(net, batch["image"], config.loss)
            if keep is not None:
                robust["feature_keep"] = keep.term()
            loss, terms = total_loss(outputs, batch, topo, config.loss, mcfg)
            for name, value in robust.items():
                loss = loss + getattr(config.loss, name) * value
                terms[name] = value
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if o.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, o.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise ConfigError(
                    f"training diverged at step {step} (loss {loss_value}); lower optim.lr or raise warmup_steps"
                )
            window.append({"loss": loss_value, **{k: float(v.detach()) for k, v in terms.items()}})
            bar.update(1)
            if step % config.log_every == 0 or step == config.steps:
                mean = {k: sum(w[k] for w in window) / len(window) for k in window[0]}
                elapsed = time.perf_counter() - t_window
                log.write(
                    {
                        "kind": "train",
                        "step": step,
                        "lr": scheduler.get_last_lr()[0],
                        **mean,
                        "s_per_step": round(elapsed / len(window), 4),
                    }
                )
                bar.set_postfix(loss=f"{mean['loss']:.3f}")
                window, t_window = [], time.perf_counter()
            if step % config.eval_every == 0 or step == config.steps:
                last_metrics = run_eval(step)
            if step % config.ckpt_every == 0 or step == config.steps:
                save_state(step)
            if _fault_after is not None and step == _fault_after[0]:
                raise _fault_after[1](f"injected fault after step {step}")
    except KeyboardInterrupt as err:
        save_state(step)
        bar.close()
        raise TrainInterrupted(
            f"{interrupt_name(err)} after step {step}; state saved, continue with --resume --out {paths.root}",
            interrupt_exit_code(err),
        ) from None
    except MeshPoseError as err:
        bar.close()
        # A DataLoader worker re-raises our error with its traceback in the message; keep one line.
        raise type(err)(_last_line(str(err))) from None
    bar.close()
    if world > 1:
        dist.barrier()
    if not last_metrics:
        last_metrics = run_eval(step)
    return {"step": step, **last_metrics}
