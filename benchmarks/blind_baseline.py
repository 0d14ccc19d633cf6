"""A picture-blind baseline for `meshpose-eval-real`: a copy of a model whose output ignores the
picture, every vertex at its mean over the model's synthetic validation bodies (docs/training.md,
"A picture-blind baseline"). Scored beside real models, it says how much of a real-photo number a
network earns by looking: on the 9 people of docs/results/realphoto.md the full-length mean scores
0.41 PCK@0.1 and 0.67 PCK@0.2 against BlazePose on its own region (the shipped meshpose_blaze 0.65 /
0.79), and 0.47 / 0.85 against BlazePose on the model's crop squared, where BlazePose draws a shrunken
body inside waist-up crops (docs/training.md, "Why the blind body scored so well").

    python benchmarks/blind_baseline.py --out runs/blind.pt                 # full-length framings
    python benchmarks/blind_baseline.py --framing all --out runs/blind_all.pt
    meshpose-eval-real --model meshpose_blaze --model runs/blind.pt --label blind

How: each regression branch starts at a narrow Gaussian over its bins centred on the mean label
(`prior.start_regression_at` with no input-dependent weight) and the visibility logit is fixed far
below zero, so Eq. 7 returns the regressed positions, which no longer depend on the input. The
graph, its export and its crop contract are the model's own. Synthetic labels only; no photo
chooses anything. Averaged over every yaw, the full-length mean is a column of near-zero width.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from meshpose_mobile.checkpoint import load_checkpoint, save_checkpoint
from meshpose_mobile.cliframe import user_errors
from meshpose_mobile.model import MeshPose
from meshpose_mobile.registry import DEFAULT_VARIANT
from meshpose_mobile.synth import FRAMINGS
from meshpose_mobile.train.data import training_config, validation_bodies
from meshpose_mobile.train.prior import start_regression_at
from meshpose_mobile.weights import shipped_path

# Spread of the Gaussian over the bins, as a fraction of each axis' range: narrow enough that the
# expectation sits on the mean (the bins are 1/64 of the range), wide enough to stay smooth.
SPREAD = 0.02
# exp(-60) leaves the heatmap estimate a weight of 1e-26 in Eq. 7.
HIDDEN_LOGIT = -60.0


def mean_body(bodies: list[dict], framing: str) -> tuple[np.ndarray, int]:
    """(K, 3) mean label (depth centred per body, as the vertex loss sees it) over `bodies` of
    `framing` ("all" for every one), and how many there were."""
    chosen = [b for b in bodies if framing == "all" or FRAMINGS[int(b.get("framing", 0))] == framing]
    if not chosen:
        raise SystemExit(f"no validation body is framed {framing!r}; pass --framing all or a larger --count")
    verts = np.stack([np.asarray(b["vertices"], np.float64) for b in chosen])
    verts[..., 2] -= verts[..., 2].mean(axis=1, keepdims=True)
    return verts.mean(axis=0), len(chosen)


@torch.no_grad()
def make_blind(model: MeshPose, mean: np.ndarray) -> MeshPose:
    start_regression_at(model, mean, np.zeros_like(mean), SPREAD, 0.0)
    vis = model.regression["vis"]
    vis.conv2.weight.zero_()
    vis.conv2.bias.fill_(HIDDEN_LOGIT - model.config.fusion_shift)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_VARIANT, help="checkpoint, or a variant with shipped weights")
    ap.add_argument("--count", type=int, default=400, help="validation bodies to average")
    ap.add_argument("--framing", default="full", choices=("all", *FRAMINGS), help="which bodies to average")
    ap.add_argument("--out", required=True, help="where to write the baseline checkpoint")
    args = ap.parse_args()
    with user_errors():
        path = shipped_path(args.model) or args.model
        model = load_checkpoint(path).float().eval()
        bodies = validation_bodies(model, training_config(path), args.count)
        mean, n = mean_body(bodies, args.framing)
        out = save_checkpoint(Path(args.out), make_blind(model, mean))
    print(f"wrote {out}: every crop gets the mean of {n} {args.framing} validation bodies of {path}'s stream")


if __name__ == "__main__":
    main()
