"""Where full-integer int8 breaks a trained model: TFLite's int8 rounding of the backbone's
activations and weights simulated in PyTorch, tensor by tensor (docs/design.md, "Full-integer
int8").

    python benchmarks/int8_activations.py                       # the default model's shipped weights
    python benchmarks/int8_activations.py --ckpt runs/x/model.pt --top 20

The export's full-integer file (`--precision int8_full`) runs the backbone in int8 and the
per-vertex heads and decoding in float. This script does the same arithmetic on the float32
deployment graph: the export's own calibration crops give each backbone tensor its range (min /
max, as TFLite's calibrator takes them), every tensor the backbone hands on is rounded to its
256-step asymmetric grid (a convolution or an add followed by ReLU6 / ReLU is one fused op in
TFLite, so only the activation's output is rounded), and every convolution's weights are rounded
per output channel (symmetric, max / 127). Measured on the export's parity inputs (the photo
crops, their mirror images and the random images): the largest and the 99th-percentile move of
`vertices` against the float graph, in crop pixels; then the same with one tensor rounded at a
time, most harmful first, and with the most harmful kept in float. Nothing trains.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

import numpy as np
import torch
from int8_weights import load_model, model_options  # this script's folder, as sensitivity.py is there
from torch import fx

from meshpose_export.convert.parity import parity_inputs
from meshpose_export.convert.pipeline import calibration_crops
from meshpose_mobile.crop import CropContract
from meshpose_mobile.train.fake_quant import activation_points, fake_int8, round_per_channel


class Rounded(fx.Interpreter):
    """Runs the backbone, recording (`ranges is None`) or rounding each rounded tensor's values."""

    def __init__(self, gm: fx.GraphModule, ranges: dict[str, list[float]] | None, only: Iterable[str] | None) -> None:
        super().__init__(gm)
        self.ranges = ranges
        self.only = None if only is None else set(only)
        self.seen: dict[str, list[float]] = {}
        self.points = {n.name for n in activation_points(gm)}

    def run_node(self, n: fx.Node):
        out = super().run_node(n)
        if n.name not in self.points or not isinstance(out, torch.Tensor) or not out.is_floating_point():
            return out
        if self.ranges is None:
            lo, hi = float(out.min()), float(out.max())
            old = self.seen.get(n.name, [lo, hi])
            self.seen[n.name] = [min(old[0], lo), max(old[1], hi)]
            return out
        if self.only is not None and n.name not in self.only:
            return out
        lo, hi = self.ranges[n.name]
        return fake_int8(out, lo, hi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    model_options(ap)
    ap.add_argument("--top", type=int, default=12, help="tensors listed, most harmful first (0: skip)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, name = load_model(args)
    graph = model.deploy()
    contract = CropContract.for_config(model.config)
    calib = torch.from_numpy(calibration_crops(graph, contract))
    parity = parity_inputs(graph, contract)
    inputs = [torch.from_numpy(i.image) for i in parity]
    real = np.array([i.kind == "real" for i in parity])
    backbone = graph.backbone
    float_weights = {
        n: m.weight.detach().clone() for n, m in backbone.named_modules() if isinstance(m, torch.nn.Conv2d)
    }

    def set_weights(rounded: bool) -> None:
        with torch.no_grad():
            for n, w in float_weights.items():
                backbone.get_submodule(n).weight.copy_(round_per_channel(w) if rounded else w)

    def run(ranges: dict[str, list[float]] | None, only: Iterable[str] | None, images: list[torch.Tensor]):
        interp = Rounded(backbone, ranges, only)
        backbone.forward = interp.run  # the instance attribute shadows GraphModule's generated forward
        try:
            with torch.no_grad():
                outs = [graph(x)[0][0, :, :2].numpy() for x in images]
        finally:
            del backbone.forward
        return np.stack(outs), interp.seen

    set_weights(True)
    _, ranges = run(None, None, [x[None] for x in calib])  # the converter calibrates the int8 graph
    set_weights(False)
    ref, _ = run(None, None, inputs)

    def distances(only: Iterable[str] | None, rounded_weights: bool) -> np.ndarray:
        set_weights(rounded_weights)
        out, _ = run(ranges, only, inputs)
        set_weights(False)
        return np.linalg.norm(out - ref, axis=-1)

    def move(only: Iterable[str] | None, rounded_weights: bool) -> tuple[float, float]:
        d = distances(only, rounded_weights)
        return float(d.max()), float(np.percentile(d, 99))

    points = list(ranges)
    print(
        f"{name}: {len(points)} rounded backbone tensors, {len(calib)} calibration crops, {len(inputs)} parity inputs"
    )
    for label, only, w in (
        ("int8 weights only", [], True),
        ("int8 activations only", None, False),
        ("int8 weights and activations", None, True),
    ):
        d = distances(only, w)
        kinds = ", ".join(
            f"{kind} {d[sel].max():.2f} / {np.percentile(d[sel], 99):.2f}"
            for kind, sel in (("photo crops", real), ("random images", ~real))
        )
        print(f"  {label:<30} max {d.max():6.2f} px, p99 {np.percentile(d, 99):6.2f} px ({kinds})")
    if args.top <= 0:
        return
    one = sorted(((*move([p], False), p) for p in points), reverse=True)
    print("one tensor's activations at a time, most harmful first (range min / max):")
    for mx, p99, p in one[: args.top]:
        lo, hi = ranges[p]
        print(f"  {p:<32} [{lo:9.2f}, {hi:9.2f}]  max {mx:6.2f}  p99 {p99:5.2f} px")
    order = [p for _, _, p in one]
    for keep in (1, 2, 4, 8, 16):
        mx, p99 = move(order[keep:], True)
        print(f"float: the {keep:2d} most harmful tensors (and int8 weights) -> max {mx:.1f} px, p99 {p99:.1f} px")


if __name__ == "__main__":
    main()
