"""Where 8-bit weights break a trained model: per-channel int8 weight rounding simulated in PyTorch,
one layer at a time, then with the most sensitive layers kept in float (docs/design.md,
"meshpose_blaze trained on a GPU, shipped, and made the default").

    python benchmarks/int8_weights.py                          # the default model's shipped weights
    python benchmarks/int8_weights.py --variant meshpose_xs --top 20
    python benchmarks/int8_weights.py --ckpt runs/blaze_robust/model.pt --top 0

Every convolution's weights are rounded as TFLite's dynamic-range and CoreML's linear 8-bit
quantisation round them (symmetric, one scale per output channel, no activation quantisation);
the float32 deployment graph then runs on the parity inputs' photo crops and their mirror images.
Reported: the largest and the 99th-percentile 2-D vertex move, in crop pixels. A first line does
the same for float16-sized errors: every weight times (1 + u), u uniform in +-2^-11 (what storing
weights that are not already float16 values in a float16 artifact does). Nothing trains.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable

import numpy as np
import torch
from sensitivity import photo_crops  # the same crops as sensitivity.py (this script's folder)

from meshpose_mobile.checkpoint import load_checkpoint
from meshpose_mobile.registry import DEFAULT_VARIANT
from meshpose_mobile.train.fake_quant import round_per_channel  # the rounding QAT trains against
from meshpose_mobile.weights import choose_weights


def model_options(ap: argparse.ArgumentParser) -> None:
    """--variant / --ckpt: which weights an 8-bit benchmark measures (int8_activations.py too)."""
    ap.add_argument("--variant", default=DEFAULT_VARIANT)
    ap.add_argument("--ckpt", default=None, help="a checkpoint instead of the variant's shipped weights")


def load_model(args: argparse.Namespace) -> tuple[torch.nn.Module, str]:
    """The eval-mode model `model_options` chose, and the name the report prints for it."""
    if args.ckpt:
        return load_checkpoint(args.ckpt).eval(), args.ckpt
    return choose_weights(args.variant).model.eval(), args.variant


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    model_options(ap)
    ap.add_argument("--top", type=int, default=12, help="layers listed, most sensitive first (0: skip)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, args.variant = load_model(args)
    crops, _ = photo_crops(model.config)
    images = [c[None] for c in crops]
    graph = model.deploy()

    def run(g: torch.nn.Module) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([g(torch.from_numpy(x))[0][..., :2].numpy() for x in images])

    ref = run(graph)
    layers = {n: m for n, m in graph.named_modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Conv1d)}

    def move(
        names: list[str], change: Callable[[torch.Tensor], torch.Tensor] = round_per_channel
    ) -> tuple[float, float]:
        g = copy.deepcopy(graph)
        mods = dict(g.named_modules())
        with torch.no_grad():
            for n in names:
                mods[n].weight.copy_(change(mods[n].weight))
        d = np.linalg.norm(run(g) - ref, axis=-1)
        return float(d.max()), float(np.percentile(d, 99))

    gen = torch.Generator().manual_seed(0)
    mx, p99 = move(list(layers), lambda w: w * (1 + 2.0**-11 * (2 * torch.rand(w.shape, generator=gen) - 1)))
    print(f"{args.variant}: every weight times 1 +- 2^-11: max {mx:.2f} px, p99 {p99:.2f} px")
    mx, p99 = move(list(layers))
    print(f"{args.variant}: every layer's weights int8: max {mx:.1f} px, p99 {p99:.1f} px")
    if args.top <= 0:
        return
    one = sorted(((*move([n]), n) for n in layers), reverse=True)
    print(f"one layer at a time ({len(layers)} layers), most sensitive first:")
    for mx, p99, n in one[: args.top]:
        print(f"  {n:<40} {layers[n].weight.numel():>8} weights  max {mx:6.1f}  p99 {p99:5.1f} px")
    order = [n for _, _, n in one]
    for keep in (1, 2, 4, 8, 16, 32):
        kept = sum(layers[n].weight.numel() for n in order[:keep])
        mx, p99 = move(order[keep:])
        print(f"float: the {keep:2d} most sensitive ({kept:7d} weights) -> max {mx:.1f} px, p99 {p99:.1f} px")


if __name__ == "__main__":
    main()
