"""meshpose_xs trained on synthetic bodies: the figures of docs/training.md and the shipped file.

    python benchmarks/train_xs.py report runs/xs_cpu          # metrics json + learning curve PNG
    python benchmarks/train_xs.py ship runs/xs_cpu            # fp16 file into the package data
    python benchmarks/train_xs.py overlay --ckpt FILE         # README picture (synthetic + astronaut)

`report` evaluates three models on the run's own validation set (same samples, same metrics as
the trainer): the default-initialised network (what `meshpose-train` starts from without
`prior_init`), the run's step-0 evaluation (the data-prior start) and the weights as shipped
(float16). `ship` writes meshpose_mobile/data/weights/meshpose_xs_synth.pt with its training
config and those metrics. Run folders stay in runs/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Figures per kind of run: the shipped GPU run, and the earlier 2-core CPU run (not shipped).
RESULTS = {
    "gpu": ROOT / "docs" / "results" / "training-xs-gpu.json",
    "cpu": ROOT / "docs" / "results" / "training-xs-cpu.json",
}
CURVE = {
    "gpu": ROOT / "docs" / "images" / "learning_curve_xs_gpu.png",
    "cpu": ROOT / "docs" / "images" / "learning_curve_xs.png",
}
TITLE = {
    "gpu": "one NVIDIA H200 (configs/xs_gpu.toml, benchmarks/train_gpu.py)",
    "cpu": "2-core shared CPU (configs/xs_cpu.toml)",
}


def _kind(config) -> str:
    return "gpu" if str(config.device).startswith("cuda") else "cpu"


OVERLAY = ROOT / "docs" / "images" / "trained_overlay.png"
KEYS = ("v2d_px", "v2d_all_px", "pck", "part_acc", "uv_err", "mpjpe_mm", "pa_mpjpe_mm")


def _config(run: Path):
    from meshpose_mobile.train.config import TrainConfig

    return TrainConfig.from_dict(json.loads((run / "config.json").read_text()))


def _evaluate(model, config, val_size: int | None = None) -> dict[str, float]:
    import torch

    from meshpose_mobile.train.data import VAL_SEED_OFFSET, Collate, open_source
    from meshpose_mobile.train.loop import evaluate

    mcfg = model.config
    size = val_size or config.data.val_size
    src = open_source(
        config.data.val,
        synth=config.data.synth_config(mcfg.input_height, mcfg.input_width),
        seed=config.data.seed + VAL_SEED_OFFSET,
        size=size,
        topology=model.topology,
        model_config=mcfg,
        role="validation",
    )
    collate = Collate(mcfg, config.loss.silhouette_pad, silhouette=config.loss.silhouette > 0)
    return evaluate(model, src, collate, config, torch.device("cpu"))


def _pick(metrics: dict[str, Any], height: int) -> dict[str, float]:
    out = {k: round(float(metrics[k]), 4) for k in KEYS if k in metrics}
    out["v2d_frac_height"] = round(float(metrics["v2d_px"]) / height, 4)
    return out


def _default_init(fresh, config, height: int) -> dict[str, float]:
    """The untrained network's metrics; reused from an earlier report on the same validation set
    (minutes of CPU for meshpose_xs)."""
    key = {"variant": config.variant, "seed": config.seed, "val": config.data.val, "data_seed": config.data.seed}
    key["val_size"] = config.data.val_size
    results = RESULTS[_kind(config)]
    if results.exists():
        old = json.loads(results.read_text())
        if old.get("default_init_key") == key and "default_init" in old:
            return old["default_init"]
    out = _pick(_evaluate(fresh, config), height)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({"default_init_key": key, "default_init": out}, indent=1) + "\n")
    return out


def report(run: Path, shipped: Path | None) -> dict[str, Any]:
    import torch

    from meshpose_mobile.checkpoint import load_checkpoint
    from meshpose_mobile.registry import create_model
    from meshpose_mobile.train.loop import read_metrics

    config = _config(run)
    evals = read_metrics(run, "eval")
    trains = read_metrics(run, "train")
    height = load_checkpoint(run / "model.pt").config.input_height
    torch.manual_seed(config.seed)
    fresh = create_model(config.variant)
    t0 = time.perf_counter()
    results: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "cpus": torch.get_num_threads(), "torch": torch.__version__},
        "run": str(run.relative_to(ROOT) if run.is_relative_to(ROOT) else run),
        "config": config.to_dict(),
        "default_init": _default_init(fresh, config, height),
        "prior_init_step0": _pick(evals[0], height),
        "final": {"step": evals[-1]["step"], **_pick(evals[-1], height)},
        "curve": [{"step": e["step"], **_pick(e, height)} for e in evals],
        "train_loss": [{"step": t["step"], "loss": round(t["loss"], 4), "s_per_step": t["s_per_step"]} for t in trains],
        "wall_seconds_train": round(sum(t["s_per_step"] * config.log_every for t in trains), 1),
        "wall_seconds_eval": round(sum(e.get("eval_s", 0.0) for e in evals), 1),
    }
    if shipped is not None:
        results["shipped_fp16"] = _pick(_evaluate(load_checkpoint(shipped), config), height)
    kind = _kind(config)
    results["default_init_key"] = json.loads(RESULTS[kind].read_text())["default_init_key"]
    results["report_seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS[kind].parent.mkdir(parents=True, exist_ok=True)
    RESULTS[kind].write_text(json.dumps(results, indent=1) + "\n")
    _plot(results, height, kind)
    return results


def _plot(results: dict[str, Any], height: int, kind: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = results["curve"]
    steps = [c["step"] for c in curve]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    axes[0].plot([t["step"] for t in results["train_loss"]], [t["loss"] for t in results["train_loss"]], lw=0.8)
    axes[0].set_ylabel("training loss (Eq. 20, weighted sum)")
    for ax, key, label in (
        (axes[1], "v2d_px", f"val 2D vertex error (px, {height}-px crop)"),
        (axes[2], "part_acc", "val part accuracy"),
        (axes[3], "pck", "val PCK@0.1"),
    ):
        ax.plot(steps, [c[key] for c in curve], marker="o", label="prior init (this run)")
        ax.axhline(results["default_init"][key], color="grey", ls="--", label="default init, untrained")
        ax.set_ylabel(label)
        ax.legend()
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(f"meshpose_xs (256x192) on synthetic bodies, {TITLE[kind]}")
    fig.tight_layout()
    CURVE[kind].parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(CURVE[kind], dpi=100)


def ship(run: Path, out: Path, command: str, wall: str) -> Path:
    from meshpose_mobile.checkpoint import load_checkpoint, read_checkpoint
    from meshpose_mobile.train.loop import read_metrics
    from meshpose_mobile.weights import save_shipped

    model = load_checkpoint(run / "model.pt")
    step = int(read_checkpoint(run / "model.pt")["extra"]["train"]["step"])
    final = [e for e in read_metrics(run, "eval") if e["step"] == step]
    info = {
        "trained_on": "synthetic bodies only (meshpose_mobile.synth); real photos need real data",
        "step": step,
        "command": command,
        "wall_time": wall,
        "config": json.loads((run / "config.json").read_text()),
        "metrics": {k: final[-1][k] for k in KEYS if final and k in final[-1]},
        "metrics_note": "validation of the float32 weights at this step (the run's own evaluation)",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_shipped(model, out, info)


def overlay(ckpt: Path, index: int, out: Path) -> Path:
    """Trained model on a synthetic validation image with its ground truth, and on the astronaut."""
    import matplotlib
    import numpy as np
    import torch

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from meshpose_export.runtime.predict import Predictor
    from meshpose_mobile.checkpoint import load_checkpoint, read_checkpoint
    from meshpose_mobile.samples import SAMPLE_PHOTOS
    from meshpose_mobile.synth import SynthConfig, SyntheticBodies
    from meshpose_mobile.train.data import VAL_SEED_OFFSET

    model = load_checkpoint(ckpt)
    cfg = model.config
    faces = model.topology.faces
    sample = SyntheticBodies(SynthConfig(height=cfg.input_height, width=cfg.input_width), VAL_SEED_OFFSET).sample(index)
    with torch.no_grad():
        pred = model(torch.from_numpy(sample["image"].transpose(2, 0, 1)[None].astype(np.float32)))
    pv = pred["vertices"][0].numpy()
    gv = sample["vertices"]
    inside = (gv[:, 0] >= -0.5) & (gv[:, 0] < cfg.input_width - 0.5) & (gv[:, 1] >= -0.5)
    inside &= gv[:, 1] < cfg.input_height - 0.5
    err = float(np.linalg.norm(pv[inside, :2] - gv[inside, :2], axis=1).mean())

    photo = SAMPLE_PHOTOS[0]
    predictor = Predictor.load(ckpt)
    p = predictor.predict(photo.load(), photo.box)

    def mesh(ax, image, verts, title):
        h, w = image.shape[:2]
        ax.imshow(image, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
        order = np.argsort(verts[faces, 2].mean(axis=1))
        ax.add_collection(
            PolyCollection(verts[faces[order], :2], facecolors="none", edgecolors="lime", linewidths=0.3, alpha=0.8)
        )
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_title(title, fontsize=9)
        ax.axis("off")

    fig, axes = plt.subplots(1, 3, figsize=(12, 5.2))
    mesh(axes[0], sample["image"], gv, f"synthetic validation sample {index}: ground truth")
    mesh(axes[1], sample["image"], pv, f"prediction (mean 2-D vertex error {err:.1f} px)")
    mesh(axes[2], photo.load(), p.xyz_lp, "astronaut (a real photo, outside the training data)")
    extra = read_checkpoint(ckpt).get("extra", {})
    step = extra.get("train", extra.get("shipped", {})).get("step")
    after = f"after {step} training steps " if step is not None else ""
    fig.suptitle(
        f"{cfg.variant} {after}on synthetic bodies only ({ckpt.name}); real photos need real training data",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    r = sub.add_parser("report")
    r.add_argument("run", type=Path)
    r.add_argument("--shipped", type=Path, default=None)
    d = sub.add_parser("default-init", help="only the untrained network's metrics (cached for report)")
    d.add_argument("run", type=Path)
    s = sub.add_parser("ship")
    s.add_argument("run", type=Path)
    s.add_argument("--out", type=Path, default=ROOT / "meshpose_mobile" / "data" / "weights" / "meshpose_xs_synth.pt")
    s.add_argument("--command", default="meshpose-train --config configs/xs_cpu.toml --out runs/xs_cpu")
    s.add_argument("--wall", default="")
    pl = sub.add_parser("plot", help="redraw the learning curve from the run's results JSON")
    pl.add_argument("run", type=Path)
    o = sub.add_parser("overlay")
    o.add_argument("--ckpt", type=Path, required=True)
    o.add_argument("--index", type=int, default=3)
    o.add_argument("--out", type=Path, default=OVERLAY)
    args = parser.parse_args()
    if args.what == "report":
        res = report(args.run, args.shipped)
        print(json.dumps({k: res[k] for k in ("default_init", "prior_init_step0", "final")}, indent=1))
    elif args.what == "default-init":
        import torch

        from meshpose_mobile.registry import create_model

        config = _config(args.run)
        torch.manual_seed(config.seed)
        fresh = create_model(config.variant)
        print(json.dumps(_default_init(fresh, config, fresh.config.input_height), indent=1))
    elif args.what == "plot":
        kind = _kind(_config(args.run))
        res = json.loads(RESULTS[kind].read_text())
        from meshpose_mobile.checkpoint import load_checkpoint

        _plot(res, load_checkpoint(args.run / "model.pt").config.input_height, kind)
    elif args.what == "ship":
        path = ship(args.run, args.out, args.command, args.wall)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    else:
        print(f"wrote {overlay(args.ckpt, args.index, args.out)}")


if __name__ == "__main__":
    main()
