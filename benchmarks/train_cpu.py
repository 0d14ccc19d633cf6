"""CPU training experiments behind docs/training.md (`make train-cpu`).

1. The learning curve: meshpose_tiny from scratch on synthetic bodies (configs/tiny_cpu.toml).
2. The loss ablation of the paper's Table 1b in miniature: the same run with the nearest-vertex
   one-hot target instead of the barycentric one (same seeds, data and steps), compared on the
   per-pixel UV error and part accuracy.
3. The upsampler with and without input-noise augmentation.

Writes docs/results/training-cpu.json and docs/images/learning_curve.png; run folders go to
runs/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(name: str, overrides: dict, steps: int, runs: Path) -> dict:
    from meshpose_mobile.train.config import TrainConfig, apply_override, read_config_file
    from meshpose_mobile.train.loop import read_metrics, train

    data = read_config_file(ROOT / "configs" / "tiny_cpu.toml")
    data["steps"] = steps
    for key, value in overrides.items():
        data = apply_override(data, f"{key}={json.dumps(value)}")
    config = TrainConfig.from_dict(data)
    out = runs / name
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    train(config, out, echo=lambda m: print(f"[{name}] {m}", flush=True))
    seconds = time.perf_counter() - start
    evals = read_metrics(out, "eval")
    trains = read_metrics(out, "train")
    return {"config": config.to_dict(), "seconds": round(seconds, 1), "eval": evals, "train": trains}


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, label in (("barycentric", "barycentric (Eq. 5)"), ("nearest", "nearest one-hot")):
        run = results["runs"][name]
        steps = [e["step"] for e in run["eval"]]
        axes[0].plot(steps, [e["v2d_px"] for e in run["eval"]], marker="o", label=label)
        axes[1].plot(steps, [e["uv_err"] for e in run["eval"]], marker="o", label=label)
        axes[2].plot(steps, [e["part_acc"] for e in run["eval"]], marker="o", label=label)
    axes[0].set_ylabel("val 2D vertex error (px, 64x48 crop)")
    axes[1].set_ylabel("val UV error (correct-part pixels)")
    axes[2].set_ylabel("val part accuracy")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("meshpose_tiny on synthetic bodies, CPU (make train-cpu)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("model", "ablation", "upsampler", "all"), default="all")
    parser.add_argument("--ablation-steps", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--upsampler-steps", type=int, default=1000)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "train-cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "training-cpu.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "images" / "learning_curve.png")
    args = parser.parse_args()

    import torch

    from meshpose_mobile.train.upsampler import UpsamplerTrainConfig, train_upsampler

    # Each part updates its own section, so one can be rerun without the other.
    results: dict = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["machine"] = {"platform": platform.platform(), "cpus": torch.get_num_threads(), "torch": torch.__version__}
    if args.part in ("model", "all"):
        results["runs"] = {
            "barycentric": _run("barycentric", {}, args.steps, args.runs),
            "nearest": _run("nearest", {"loss.bary_target": "nearest"}, args.steps, args.runs),
        }
        base = results["runs"]["barycentric"]["eval"]
        near = results["runs"]["nearest"]["eval"]
        results["summary"] = {
            "v2d_px_start": base[0]["v2d_px"],
            "v2d_px_end": base[-1]["v2d_px"],
            "v2d_ratio": base[-1]["v2d_px"] / base[0]["v2d_px"],
            "uv_err_barycentric": base[-1]["uv_err"],
            "uv_err_nearest": near[-1]["uv_err"],
            "part_acc_barycentric": base[-1]["part_acc"],
            "part_acc_nearest": near[-1]["part_acc"],
        }
        _plot(results, args.plot)
        print(json.dumps(results["summary"], indent=1))
    if args.part in ("ablation", "all"):
        # Table 1b at a heatmap 4x finer than the tiny default (32x24 cells), over two seeds, to
        # tell the target's effect from run-to-run noise.
        from meshpose_mobile.registry import project_ranges

        ranges = {f"model.{k}": list(v) for k, v in project_ranges(128, 96).items()}
        size = {"model.input_height": 128, "model.input_width": 96, **ranges}
        runs = {}
        for seed in (0, 1):
            for target in ("barycentric", "nearest"):
                over = {**size, "seed": seed, "data.seed": seed, "loss.bary_target": target}
                res = _run(f"ablation-{target}-seed{seed}", over, args.ablation_steps, args.runs)
                runs[f"{target}-seed{seed}"] = {"seconds": res["seconds"], "final": res["eval"][-1]}
        results["ablation_128x96"] = runs
        print(
            json.dumps(
                {k: {m: v["final"][m] for m in ("uv_err", "part_acc", "dp_uv_err", "v2d_px")} for k, v in runs.items()},
                indent=1,
            )
        )
    if args.part in ("upsampler", "all"):
        ups = {}
        for name, noise in (("noise_0.01", 0.01), ("no_noise", 0.0)):
            cfg = UpsamplerTrainConfig(steps=args.upsampler_steps, noise=noise, train_size=1024, val_size=128)
            start = time.perf_counter()
            res = train_upsampler(
                cfg, args.runs / f"upsampler-{name}", echo=lambda m, n=name: print(f"[up {n}] {m}", flush=True)
            )
            ups[name] = {**res, "seconds": round(time.perf_counter() - start, 1), "train_noise": noise}
        results["upsampler"] = ups
        print(json.dumps(ups, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
