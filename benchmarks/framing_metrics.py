"""A trained model's synthetic validation metrics split by framing (full-length, selfie, upper body,
cut by the crop's edge): which kind of picture it is weak on (docs/training.md, "meshpose_blaze on
a GPU").

    python benchmarks/framing_metrics.py                       # the default model's shipped weights
    python benchmarks/framing_metrics.py --model runs/x/model.pt --count 256
    python benchmarks/framing_metrics.py --model runs/x/model.pt --stream meshpose_blaze
    python benchmarks/framing_metrics.py --model runs/x/model.pt --stream meshpose_blaze --photo-edge 1

The bodies are the first `count` of the trainer's own validation stream (the checkpoint's training
config: its synthetic look, its framing mix, its seed + VAL_SEED_OFFSET, the model's input size),
and each group is scored by the trainer's `evaluate`, so the numbers are the training log's metrics
on a subset. `--stream` draws another checkpoint's stream instead, so that a run trained on another
framing mix is scored on the same bodies as the weights it started from. `--photo-edge P` sets the
stream's `photo_edge_prob`: the same bodies, with part of P of the crops beyond the photo's edge
(the band draws from its own generator, so everything else in each body stays the same).
Synthetic bodies only; nothing trains.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from meshpose_mobile.checkpoint import load_checkpoint
from meshpose_mobile.registry import DEFAULT_VARIANT
from meshpose_mobile.synth import FRAMINGS
from meshpose_mobile.train.data import Collate, training_config, validation_bodies
from meshpose_mobile.train.loop import evaluate
from meshpose_mobile.weights import shipped_path

KEYS = ("v2d_px", "part_acc", "pck", "mpjpe_mm")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_VARIANT, help="checkpoint, or a variant with shipped weights")
    ap.add_argument("--count", type=int, default=160, help="validation bodies")
    ap.add_argument(
        "--stream", default=None, help="checkpoint or variant whose validation stream to draw (default: --model's)"
    )
    ap.add_argument(
        "--photo-edge",
        type=float,
        default=None,
        help="photo_edge_prob of the drawn stream (default: the stream's own); 1 puts a band in every crop",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    path = shipped_path(args.model) or args.model
    stream = (shipped_path(args.stream) or args.stream) if args.stream else path
    config = training_config(stream)
    if args.photo_edge is not None:
        synth = {**config.data.synth, "photo_edge_prob": args.photo_edge}
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, synth=synth))
    model = load_checkpoint(path).eval()
    cfg = model.config
    synth = config.data.synth_config(cfg.input_height, cfg.input_width)
    groups: dict[str, list[dict]] = {}
    for sample in validation_bodies(model, config, args.count):
        name = FRAMINGS[int(sample["framing"])] if "framing" in sample else "full"
        groups.setdefault(name, []).append(sample)
    collate = Collate(cfg, config.loss.silhouette_pad, silhouette=False)
    mix = (
        f"selfie {synth.selfie_fraction}, upper {synth.upper_body_fraction}, cut {synth.cut_fraction}, "
        f"photo edge {synth.photo_edge_prob}"
    )
    print(
        f"{path}: {args.count} validation bodies of {stream}'s stream ({synth.appearance} look, {mix}, "
        f"{cfg.input_height}x{cfg.input_width})"
    )
    everyone = [s for name in FRAMINGS for s in groups.get(name, [])]
    m = evaluate(model, everyone, collate, config, torch.device("cpu"))
    print(f"  {'all':<7} {len(everyone):4d} bodies: " + ", ".join(f"{k} {m[k]:.3f}" for k in KEYS if k in m))
    for name in FRAMINGS:
        if name in groups:
            m = evaluate(model, groups[name], collate, config, torch.device("cpu"))
            shown = ", ".join(f"{k} {m[k]:.3f}" for k in KEYS if k in m)
            print(f"  {name:<7} {len(groups[name]):4d} bodies: {shown}")


if __name__ == "__main__":
    main()
