"""Jitter and lag of the One-Euro smoothing on synthetic sequences with ground truth.

The model's output is replaced by the true vertices plus Gaussian noise of a known size (1, 2 and
4 px per axis), on three synthetic sequences at 30 FPS (a body moving smoothly while walking, the
camera panning): the frame-to-frame jitter with and without smoothing and the lag it adds, in
frames (definitions in meshpose_export/runtime/video_metrics.py). Aim: jitter at most half, lag at most
one frame. Writes docs/results/smoothing.json; exits 1 if the aim is missed.

    python benchmarks/smoothing.py [--min-cutoff 1 --beta 12 --d-cutoff 1] [--frames 150]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from meshpose_export.runtime.tracking import OneEuroParams
from meshpose_export.runtime.video_metrics import smoothing_experiment
from meshpose_mobile.atomic import write_text_atomic
from meshpose_mobile.synth_video import SceneConfig, SyntheticScene

# (seed, walking speed m/s, pose blend Hz range): calm, brisk, slow.
SEQUENCES = ((3, 0.8, (0.3, 0.8)), (4, 1.5, (0.6, 1.2)), (5, 0.3, (0.2, 0.4)))
NOISE_PX = (1.0, 2.0, 4.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = OneEuroParams()
    ap.add_argument("--min-cutoff", type=float, default=defaults.min_cutoff)
    ap.add_argument("--beta", type=float, default=defaults.beta)
    ap.add_argument("--d-cutoff", type=float, default=defaults.d_cutoff)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=Path("docs/results/smoothing.json"))
    args = ap.parse_args()
    params = OneEuroParams(args.min_cutoff, args.beta, args.d_cutoff)
    rows = []
    print(f"One-Euro {params}, {args.frames} frames at {args.fps:g} FPS, value_scale = box height")
    print(
        f"{'seq':>4} {'speed px/f':>10} {'box h':>6} {'noise':>5} {'jitter raw':>10} {'smoothed':>8} "
        f"{'ratio':>5} {'lag':>5} {'rmse raw':>8} {'smoothed':>8}"
    )
    for seed, speed, hz in SEQUENCES:
        cfg = SceneConfig(num_people=1, num_frames=args.frames, fps=args.fps, max_speed=speed, pose_hz=hz)
        scene = SyntheticScene(cfg, seed=seed)
        gt = np.stack([scene.project(i)[0][0][:, :2] for i in range(cfg.num_frames)])
        heights = gt[:, :, 1].max(axis=1) - gt[:, :, 1].min(axis=1)
        px_per_frame = float(np.abs(np.diff(gt, axis=0)).mean())
        for noise in NOISE_PX:
            r = smoothing_experiment(gt, heights, cfg.fps, noise, params, seed=seed)
            rows.append(
                {
                    "seed": seed,
                    "walk_m_s": speed,
                    "pose_hz": list(hz),
                    "speed_px_per_frame": px_per_frame,
                    "box_height_px": float(heights.mean()),
                    **r.to_dict(),
                }
            )
            print(
                f"{seed:>4} {px_per_frame:>10.2f} {heights.mean():>6.0f} {noise:>5.1f} {r.jitter_raw:>10.2f} "
                f"{r.jitter_smoothed:>8.2f} {r.jitter_ratio:>5.2f} {r.lag_smoothed:>5.2f} {r.rmse_raw:>8.2f} "
                f"{r.rmse_smoothed:>8.2f}"
            )
    worst_ratio = max(r["jitter_ratio"] for r in rows)
    worst_lag = max(r["lag_smoothed"] for r in rows)
    ok = worst_ratio <= 0.5 and worst_lag <= 1.0
    print(
        f"worst jitter ratio {worst_ratio:.2f} (aim <= 0.5), worst lag {worst_lag:.2f} frames (aim <= 1): "
        + ("aim met" if ok else "AIM MISSED")
    )
    doc = {
        "one_euro": params.__dict__,
        "fps": args.fps,
        "frames": args.frames,
        "rows": rows,
        "worst_jitter_ratio": worst_ratio,
        "worst_lag_frames": worst_lag,
        "aim_met": ok,
    }
    write_text_atomic(args.out, json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
