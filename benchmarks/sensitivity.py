"""How far a model's vertices move when its input changes by one grey level (docs/design.md,
"Tolerances on trained weights"; issue 22's sensitivity aim: at most 5 px).

    python benchmarks/sensitivity.py --model meshpose_xs --model runs/blaze_cpu/model-best.pt
    python benchmarks/sensitivity.py --model runs/x/model.pt --synthetic 64 --trials 8 --out /tmp/s.json

Each input, a whole-number RGB crop (what a camera gives), gets `trials` draws of integer noise in
{-1, 0, +1} per pixel and channel (clipped to 0..255: two frames of a still camera differ by about
that), and the float32 deployment graph (`MeshPose.deploy()`, what every target converts) runs on
the clean and the noisy copy. Reported per input set: the largest 2-D move of any vertex (`max_px`),
the 99.9th and 99th percentiles and the mean over vertices, trials and inputs, in crop pixels, and
how many inputs move some vertex by more than `--over` px (5: issue 22's aim) in some draw, and the
spread of the vertices' decoding distributions at the model's gain (`spread_px_*`: over all pairs,
over the pairs that move past `--over`, over the rest), since two-mode heatmaps make the jumps.

The largest move is a tail statistic: it grows with the number of draws and differs from one draw
to the next. The stage-7 meshpose_blaze file read 5.57 / 10.13 / 3.60 / 7.95 px with seeds 0-3 on 12
bodies x 4 trials (the defaults until stop 37), and 22.3 px on 64 bodies x 8 trials (docs/design.md,
"The one-grey-level maximum is a tail"). So the defaults are 64 bodies x 8 draws and the photo crops
x 16 draws, and models compare only at the same counts and seed; the percentiles and the count of
inputs over the aim are the steadier readings.

Input sets: `photo` are the crops of the shipped sample photos and their mirror images (the
parity inputs' real crops, `meshpose_mobile.samples`); `synthetic` are the first N bodies of the
trainer's validation stream (seed + VAL_SEED_OFFSET) at the model's size. Measuring is not
training: nothing here feeds back into a model.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def grey_level_moves(graph: torch.nn.Module, images: np.ndarray, trials: int, seed: int = 0) -> np.ndarray:
    """(N, 3, H, W) whole-number images -> (N, trials, K) 2-D vertex moves in crop pixels under
    one-grey-level noise; `graph` maps a (1, 3, H, W) float32 image to (vertices, ...)."""
    rng = np.random.default_rng(seed)
    moves = []
    with torch.no_grad():
        for image in images:
            clean = np.ascontiguousarray(image[None], dtype=np.float32)
            ref = graph(torch.from_numpy(clean))[0][0, :, :2].numpy()
            per = []
            for _ in range(trials):
                noise = rng.integers(-1, 2, size=clean.shape).astype(np.float32)
                noisy = np.clip(clean + noise, 0.0, 255.0)
                out = graph(torch.from_numpy(noisy))[0][0, :, :2].numpy()
                per.append(np.linalg.norm(out - ref, axis=-1))
            moves.append(per)
    return np.asarray(moves, dtype=np.float64)


def decode_spread(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """(N, K) spread in crop px of each vertex's decoding distribution softmax(gain * S) around its
    expectation, at the model's decode gain (`losses.heatmap_spread`, the training term of that name)."""
    from meshpose_mobile.decode import grid_rows
    from meshpose_mobile.losses import heatmap_spread

    rows, ones = grid_rows(model.config), torch.ones(1, model.config.num_vertices)
    out = []
    with torch.no_grad():
        for image in images:
            scores = model(torch.from_numpy(np.ascontiguousarray(image[None], dtype=np.float32)))["heatmaps"]
            out.append(heatmap_spread(scores, model.config.gain, rows, ones, reduction="none")[0].numpy())
    return np.asarray(out, dtype=np.float64)


def spread_of_movers(moves: np.ndarray, spread: np.ndarray, over_px: float) -> dict[str, Any]:
    """The decode spread of the (input, vertex) pairs that move past `over_px` in some draw, against
    the rest's: a vertex with two modes moves by about gain x their distance x their masses' product."""
    worst = moves.max(axis=1)
    over = worst > over_px
    return {
        "spread_px_movers": round(float(spread[over].mean()), 2) if over.any() else None,
        "spread_px_rest": round(float(spread[~over].mean()), 2),
        "spread_px_mean": round(float(spread.mean()), 2),
    }


def summarise(moves: np.ndarray, over_px: float = 5.0) -> dict[str, Any]:
    flat = moves.reshape(-1)
    per_input = moves.reshape(moves.shape[0], -1).max(axis=1)
    return {
        "max_px": float(flat.max()),
        "p999_px": float(np.percentile(flat, 99.9)),
        "p99_px": float(np.percentile(flat, 99)),
        "mean_px": float(flat.mean()),
        "inputs": int(moves.shape[0]),
        "trials": int(moves.shape[1]),
        "over_px": float(over_px),
        "inputs_over": int((per_input > over_px).sum()),
        "per_input_max_px": [round(float(v), 3) for v in per_input],
    }


def photo_crops(config: Any) -> tuple[np.ndarray, list[str]]:
    from meshpose_mobile.crop import CropContract
    from meshpose_mobile.samples import SAMPLE_PHOTOS

    contract = CropContract.for_config(config)
    images, names = [], []
    for photo in SAMPLE_PHOTOS:
        crop, _ = contract.crop(photo.load(), photo.box)
        chw = np.clip(np.rint(crop.transpose(2, 0, 1)), 0, 255).astype(np.float32)
        images += [chw, np.ascontiguousarray(chw[..., ::-1])]
        names += [photo.name, f"{photo.name}_mirrored"]
    return np.stack(images), names


def synthetic_crops(config: Any, topology: Any, count: int, appearance: str, seed: int = 0) -> np.ndarray:
    return synthetic_bodies(config, topology, count, appearance, seed)[0]


def synthetic_bodies(
    config: Any, topology: Any, count: int, appearance: str, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """The first `count` validation bodies' crops (N, 3, H, W) and their framings (`synth.FRAMINGS`)."""
    from meshpose_mobile.synth import FRAMINGS, SynthConfig, SyntheticBodies
    from meshpose_mobile.train.data import VAL_SEED_OFFSET

    synth = SynthConfig.from_dict(
        {"height": config.input_height, "width": config.input_width, "appearance": appearance}
    )
    gen = SyntheticBodies(synth, seed + VAL_SEED_OFFSET, topology)
    samples = [gen.sample(i) for i in range(count)]
    images = np.stack([s["image"].transpose(2, 0, 1).astype(np.float32) for s in samples])
    return images, [FRAMINGS[int(s["framing"])] for s in samples]


# DensePose parts 1..24 (the topology's `parts`) by body region.
REGIONS = {
    "torso": (1, 2),
    "hands": (3, 4),
    "feet": (5, 6),
    "legs": tuple(range(7, 15)),
    "arms": tuple(range(15, 23)),
    "head": (23, 24),
}


def where_over(moves: np.ndarray, parts: np.ndarray | None, framings: list[str], over_px: float) -> dict[str, Any]:
    """Where the moves past `over_px` are: (input, vertex) pairs over it per vertex of each body
    region (a vertex counts once per input), and the inputs over it per framing."""
    worst = moves.max(axis=1)  # (N, K): each vertex's largest move over the draws
    out: dict[str, Any] = {}
    if parts is not None:
        out["pairs_per_vertex_by_region"] = {
            name: round(float((worst[:, np.isin(parts, ids)] > over_px).sum() / max(1, np.isin(parts, ids).sum())), 3)
            for name, ids in REGIONS.items()
        }
    over = worst.max(axis=1) > over_px
    out["framings"] = list(framings)  # beside `per_input_max_px`, input by input
    out["inputs_over_by_framing"] = {
        name: f"{int(sum(o for o, f in zip(over, framings, strict=True) if f == name))} of {framings.count(name)}"
        for name in dict.fromkeys(framings)
    }
    return out


def _load(value: str) -> tuple[Any, str]:
    from meshpose_mobile.checkpoint import load_checkpoint
    from meshpose_mobile.weights import shipped_path

    path = Path(value)
    if not path.exists():
        shipped = shipped_path(value)
        if shipped is None:
            sys.exit(f"error: --model {value} is neither a file nor a variant with shipped weights")
        path = shipped
    return load_checkpoint(path).eval(), str(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="checkpoint or variant with shipped weights")
    ap.add_argument("--synthetic", type=int, default=64, help="validation bodies (0: none)")
    ap.add_argument("--appearance", default="photo", choices=("photo", "flat"), help="look of the synthetic bodies")
    ap.add_argument("--trials", type=int, default=8, help="noise draws per synthetic body")
    ap.add_argument("--photo-trials", type=int, default=16, help="noise draws per photo crop (there are 4)")
    ap.add_argument("--over", type=float, default=5.0, help="count inputs moving a vertex further (px; 5: the aim)")
    ap.add_argument("--gain", type=float, default=None, help="decode at this heatmap gain instead of the file's")
    ap.add_argument("--fusion-shift", type=float, default=None, help="decode at this Eq. 7 shift instead of the file's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    args = ap.parse_args()
    if min(args.trials, args.photo_trials, args.threads) < 1 or args.synthetic < 0:
        ap.error("--trials, --photo-trials and --threads must be at least 1, --synthetic at least 0")
    if not np.isfinite(args.over) or args.over <= 0:
        ap.error(f"--over {args.over} must be a distance above 0 px (5: issue 22's aim)")
    from meshpose_mobile.train.calibrate import gain_problem, with_fusion_shift, with_gain

    problem = gain_problem(args.gain) if args.gain is not None else None
    if problem:
        ap.error(f"--gain {args.gain:g}: {problem}")
    if args.fusion_shift is not None and not np.isfinite(args.fusion_shift):
        ap.error(f"--fusion-shift {args.fusion_shift} must be a finite number (the shipped meshpose_blaze uses 2)")
    torch.set_num_threads(args.threads)

    report: dict[str, Any] = {
        "what": "largest 2-D vertex move (crop px) under integer noise in {-1,0,1} per pixel, float32 deployment graph",
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "models": {},
    }
    for value in args.model:
        t0 = time.perf_counter()
        model, path = _load(value)
        # The decode's two numbers change no weight: the sweeps of docs/design.md, "The one-grey-level
        # maximum is a tail", are this script at each value.
        if args.gain is not None:
            with_gain(model, args.gain)
        if args.fusion_shift is not None:
            with_fusion_shift(model, args.fusion_shift)
        graph = model.deploy().eval()
        photos, names = photo_crops(model.config)
        row: dict[str, Any] = {
            "path": path,
            "variant": model.config.variant,
            "gain": model.config.gain,
            "fusion_shift": model.config.fusion_shift,
        }
        photo_moves = grey_level_moves(graph, photos, args.photo_trials, args.seed)
        row["photo"] = {
            **summarise(photo_moves, args.over),
            **spread_of_movers(photo_moves, decode_spread(model, photos), args.over),
            "names": names,
        }
        if args.synthetic:
            synth, framings = synthetic_bodies(model.config, model.topology, args.synthetic, args.appearance, args.seed)
            moves = grey_level_moves(graph, synth, args.trials, args.seed)
            row[f"synthetic_{args.appearance}"] = {
                **summarise(moves, args.over),
                **spread_of_movers(moves, decode_spread(model, synth), args.over),
                **where_over(moves, model.topology.parts, framings, args.over),
            }
        row["seconds"] = round(time.perf_counter() - t0, 1)
        report["models"][value] = row
        for key in ("photo", f"synthetic_{args.appearance}"):
            if key in row:
                s = row[key]
                movers = "none" if s["spread_px_movers"] is None else f"{s['spread_px_movers']:.1f} px"
                print(
                    f"{value} {key}: max {s['max_px']:.2f} px, p99.9 {s['p999_px']:.2f} px, p99 {s['p99_px']:.2f} px, "
                    f"mean {s['mean_px']:.3f} px ({s['inputs']} inputs x {s['trials']} trials; "
                    f"{s['inputs_over']} of {s['inputs']} move a vertex over {s['over_px']:g} px; decode spread "
                    f"{s['spread_px_mean']:.1f} px, {movers} on the vertices past it)",
                    flush=True,
                )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(report, indent=1) + "\n")
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
