"""`meshpose-train`, `meshpose-train-upsampler` and `meshpose-synth`."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from meshpose_mobile.cli import fail, guard_stdout, interrupted
from meshpose_mobile.errors import ConfigError, MeshPoseError
from meshpose_mobile.paths import OutputError, out_dir_or_nothing, user_path
from meshpose_mobile.signals import install_handlers, raise_if_interrupted

CONTEXT = {"help_option_names": ["-h", "--help"]}


# Flags holding paths; 'synthetic' is a source name, not a path.
_PATH_FLAGS = ("train_data", "val_data", "init", "topology")


def _absolute_flags(flags: dict[str, Any]) -> dict[str, Any]:
    out = dict(flags)
    for name in _PATH_FLAGS:
        value = out.get(name)
        if value is not None and value not in ("synthetic", "default"):
            out[name] = str(user_path(value, "--" + name.replace("_", "-")))
    return out


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


def build_config(config_file: Path | None, flags: dict[str, Any], assignments: tuple[str, ...]) -> Any:
    from meshpose_mobile.train.config import TrainConfig, apply_override, read_config_file

    data: dict[str, Any] = read_config_file(config_file) if config_file else {}
    for name, key in _FLAG_KEYS.items():
        value = flags.get(name)
        if value is not None:
            data = apply_override(data, f"{key}={json.dumps(value)}")
    for a in assignments:
        data = apply_override(data, a)
    return TrainConfig.from_dict(data)


@click.command(context_settings=CONTEXT)
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
def train_main(
    config_file: Path | None,
    out: Path | None,
    resume: bool,
    assignments: tuple[str, ...],
    print_config: bool,
    progress: bool | None,
    **flags: Any,
) -> None:
    """Train MeshPose (CPU by default; several GPUs with torchrun --nproc_per_node N meshpose-train ...)."""
    guard_stdout()
    install_handlers()
    try:
        # --out first, before seconds of imports: a wrong folder is answered at once. Printing the
        # config writes nothing, so it needs no run folder.
        out = user_path(out, "--out")
        if out is None and not print_config:
            raise ConfigError("--out is required: pass the run folder, e.g. --out runs/my_run")
        if resume and out is None:
            raise ConfigError("--resume needs --out, the run folder to continue")
        if resume and out is not None and not out.is_dir():
            raise ConfigError(f"nothing to resume: --out {out} is not a run folder; drop --resume to start a new run")
        with contextlib.nullcontext() if out is None or print_config else out_dir_or_nothing(out):
            from meshpose_mobile.train.loop import train

            raise_if_interrupted()  # a Ctrl-C some import swallowed
            config = build_config(user_path(config_file, "--config"), _absolute_flags(flags), assignments)
            if print_config:
                click.echo(json.dumps(config.to_dict(), indent=1))
                return
            assert out is not None  # refused above unless --print-config
            show = sys.stderr.isatty() if progress is None else progress
            start = time.perf_counter()
            result = train(config, out, resume=resume, progress=show, echo=lambda m: click.echo(m, err=True))
        if int(os.environ.get("RANK", "0")) == 0:
            click.echo(
                f"done: {result['step']} steps in {time.perf_counter() - start:.0f} s; "
                f"val v2d {result.get('v2d_px', float('nan')):.2f} px; weights in {out / 'model.pt'}"
            )
    except KeyboardInterrupt as err:
        interrupted(err, "stopped before the first step; nothing to resume")
    except MeshPoseError as err:
        fail(err)


@click.command(context_settings=CONTEXT)
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
def train_upsampler_main(progress: bool | None, **options: Any) -> None:
    """Train the low- to high-poly upsampler on synthetic posed bodies, with input noise augmentation."""
    guard_stdout()
    install_handlers()
    try:
        out = user_path(options.pop("out"), "--out")
        with out_dir_or_nothing(out):
            from meshpose_mobile.train.upsampler import UpsamplerTrainConfig, train_upsampler

            raise_if_interrupted()
            config = UpsamplerTrainConfig(**options)
            show = sys.stderr.isatty() if progress is None else progress
            result = train_upsampler(config, out, progress=show, echo=lambda m: click.echo(m, err=True))
        click.echo(
            f"done: val error {result['val_mm']:.1f} mm (barycentric baseline {result['baseline_mm']:.1f} mm), "
            f"noisy input {result['val_noisy_mm']:.1f} mm (baseline {result['baseline_noisy_mm']:.1f} mm); "
            f"weights in {out / 'upsampler.pt'}"
        )
    except KeyboardInterrupt as err:
        interrupted(err, "nothing was written (the upsampler is saved only when training ends)")
    except MeshPoseError as err:
        fail(err)


@click.command(context_settings=CONTEXT)
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
    out: Path | None,
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
    guard_stdout()
    install_handlers()
    try:
        if count <= 0:
            raise ConfigError(f"--count {count} must be a positive number of samples")
        if seed < 0:
            raise ConfigError(f"--seed {seed} must be >= 0")
        out = user_path(out, "--out")
        if out is not None and out.exists() and not out.is_dir():
            raise OutputError(f"--out {out} is a file, not a folder; pass a new folder path")
        if out is not None and not bench:
            # The dataset is staged beside --out: its parent must be writable (checked before the imports).
            with out_dir_or_nothing(out.parent, "--out's parent folder"):
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
        if out is None:
            raise ConfigError("--out is required unless --bench is given")
        show = sys.stderr.isatty() if progress is None else progress
        start = time.perf_counter()
        write_dataset(out, count, config, seed, progress=show)
        click.echo(f"wrote {count} samples to {out} in {time.perf_counter() - start:.1f} s")
    except KeyboardInterrupt as err:
        interrupted(err, f"nothing was written to {out}")
    except MeshPoseError as err:
        fail(err)
