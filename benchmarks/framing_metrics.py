"""A trained model's synthetic validation metrics split by framing (full-length, selfie, upper body,
cut by the crop's edge): which kind of picture it is weak on (docs/training.md, "meshpose_blaze on
a GPU").

    python benchmarks/framing_metrics.py                       # the default model's shipped weights
    python benchmarks/framing_metrics.py --model runs/x/model.pt --count 256
    python benchmarks/framing_metrics.py --model runs/x/model.pt --stream meshpose_blaze
    python benchmarks/framing_metrics.py --model runs/x/model.pt --stream meshpose_blaze --photo-edge 1
    python benchmarks/framing_metrics.py --per-joint            # which joints it misses, per framing
    python benchmarks/framing_metrics.py --silhouette           # where the silhouette IoU is lost
    python benchmarks/framing_metrics.py --model runs/x/model.pt --out fm.json   # the first table as JSON too

The bodies are the first `count` of the trainer's own validation stream (the checkpoint's training
config: its synthetic look, its framing mix, its seed + VAL_SEED_OFFSET, the model's input size),
and each group is scored by the trainer's `evaluate`, so the numbers are the training log's metrics
on a subset. `--stream` draws another checkpoint's stream instead, so that a run trained on another
framing mix is scored on the same bodies as the weights it started from. `--photo-edge P` sets the
stream's `photo_edge_prob`: the same bodies, with part of P of the crops beyond the photo's edge
(the band draws from its own generator, so everything else in each body stays the same).
`--per-joint` adds, per COCO joint and framing, the share of bodies whose joint (the topology's
regressor on the fused mesh) lies within 0.1 / 0.2 of the person box's longer side from the label,
the box being that of the visible body, as a detector's box is on a photo: the measure
`meshpose-eval-real` takes against BlazePose, here against the synthetic truth, over the joints in
the crop. Read beside the real-photo per-joint table, it separates a joint the model misses
everywhere from one it misses only on real photos.
`--silhouette` adds, per framing, the mesh's filled faces (meshpose-eval-real's silhouette) against
the visible body's mask on the crop and, on photo-look bodies, against the clothed person's
(occluders and the photo's edge cut both, as they cut BlazePose's segmentation of a photo): IoU, the
share of the mesh inside the mask and of the mask inside the mesh, and the same for the true mesh
(what a perfect body mesh scores there). On real photos the mesh covers about 0.6 of BlazePose's
person segmentation while lying 0.8-1.0 inside it; the first table says whether it is thin on the
synthetic bodies too, the second how much of a clothed person even the true body mesh covers.
Synthetic bodies only; nothing trains.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from meshpose_export.runtime.realphoto import COCO_NAMES, PCK_THRESHOLDS, fill_faces, mask_split
from meshpose_mobile.atomic import write_text_atomic
from meshpose_mobile.checkpoint import load_checkpoint
from meshpose_mobile.losses import regress_joints
from meshpose_mobile.model import MeshPose
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
    ap.add_argument("--per-joint", action="store_true", help="PCK per COCO joint and framing")
    ap.add_argument(
        "--silhouette",
        action="store_true",
        help="the mesh's filled faces against the visible body's and the clothed person's masks, per framing",
    )
    ap.add_argument("--out", type=Path, default=None, help="also write the per-framing metrics as JSON here")
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
    table: dict[str, dict] = {}
    for name, bodies in [("all", everyone), *((n, groups[n]) for n in FRAMINGS if n in groups)]:
        m = evaluate(model, bodies, collate, config, torch.device("cpu"))
        table[name] = {"bodies": len(bodies), **{k: float(m[k]) for k in KEYS if k in m}}
        print(f"  {name:<7} {len(bodies):4d} bodies: " + ", ".join(f"{k} {m[k]:.3f}" for k in KEYS if k in m))
    if args.out is not None:
        record = {"model": str(path), "stream": str(stream), "count": args.count, "framings": table}
        write_text_atomic(args.out, json.dumps(record, indent=1) + "\n")
    if args.per_joint:
        print_per_joint(model, groups, collate, config.batch_size)
    if args.silhouette:
        print_silhouette(model, groups, collate, config.batch_size)


def joint_distances(
    model: MeshPose, samples: list[dict], collate: Collate, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(bodies, 17) joint distance over the visible body box's longer side, and (bodies, 17) in-crop mask."""
    regressor = torch.as_tensor(model.topology.coco_regressor, dtype=torch.float32)
    dist, seen = [], []
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            batch = collate(chunk)
            joints = regress_joints(model(batch["image"])["vertices"][..., :2], regressor).numpy()
            for s, j in zip(chunk, joints, strict=True):
                ys, xs = np.nonzero(s["mask"])
                size = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) if ys.size else np.nan
                dist.append(np.linalg.norm(j - s["joints_2d"], axis=-1) / size)
                seen.append(s["joints_2d_mask"] > 0)
    return np.array(dist), np.array(seen)


def print_per_joint(model: MeshPose, groups: dict[str, list[dict]], collate: Collate, batch_size: int) -> None:
    names = [n for n in FRAMINGS if n in groups]
    measured = {n: joint_distances(model, groups[n], collate, batch_size) for n in names}
    measured["all"] = tuple(np.concatenate([measured[n][i] for n in names]) for i in (0, 1))
    cols = ["all", *names]
    at = "/".join(f"{t:g}" for t in PCK_THRESHOLDS)
    print(f"\nPCK@{at} per joint (visible-body box; joints in the crop; bodies per framing in brackets)")
    print(f"  {'joint':<15}" + "".join(f"{c + ' (' + str(len(measured[c][0])) + ')':>16}" for c in cols))
    for j, name in enumerate(COCO_NAMES):
        cells = []
        for c in cols:
            d, m = measured[c]
            dj = d[m[:, j], j]
            dj = dj[np.isfinite(dj)]
            cells.append(" / ".join(f"{np.mean(dj <= t):.2f}" for t in PCK_THRESHOLDS) if dj.size else "-")
        print(f"  {name:<15}" + "".join(f"{cell:>16}" for cell in cells))


SILHOUETTE_TARGETS = {
    "mask": "the visible body's mask (the training labels' body, under the clothes)",
    "person": "the clothed person's visible pixels (clothes and hair: what a photo's person segmentation sees)",
}


def silhouette_split(
    model: MeshPose, samples: list[dict], collate: Collate, batch_size: int, keys: tuple[str, ...] = ("mask",)
) -> np.ndarray:
    """(bodies, keys, 2, 3): against each sample's mask `keys[i]`, for the predicted and the true
    mesh, IoU / mesh inside the mask / mask inside the mesh of its filled faces on the crop (nan
    where a sample lacks that mask: flat-look bodies have no `person`)."""
    faces = np.asarray(model.topology.faces)
    h, w = model.config.input_height, model.config.input_width
    out = []
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            pred = model(collate(chunk)["image"])["vertices"][..., :2].numpy()
            for s, p in zip(chunk, pred, strict=True):
                sils = [fill_faces(xy, faces, w, h) for xy in (p, np.asarray(s["vertices"])[:, :2])]
                rows = []
                for key in keys:
                    if key not in s:
                        rows.append([[np.nan] * 3] * 2)
                        continue
                    mask = np.asarray(s[key]) > 0
                    rows.append([mask_split(sil, mask) for sil in sils])
                out.append(rows)
    return np.array(out, np.float64).reshape(-1, len(keys), 2, 3)


def print_silhouette(model: MeshPose, groups: dict[str, list[dict]], collate: Collate, batch_size: int) -> None:
    names = [n for n in FRAMINGS if n in groups]
    keys = tuple(SILHOUETTE_TARGETS)
    measured = {n: silhouette_split(model, groups[n], collate, batch_size, keys) for n in names}
    measured["all"] = np.concatenate([measured[n] for n in names])
    for k, key in enumerate(keys):
        if np.isnan(measured["all"][:, k]).all():
            print(f"\nSilhouette against {SILHOUETTE_TARGETS[key]}: these bodies have no `{key}` mask")
            continue
        print(
            f"\nSilhouette (filled faces) against {SILHOUETTE_TARGETS[key]}, on the crop: "
            "IoU / mesh inside mask / mask inside mesh"
        )
        print(f"  {'framing':<7} {'bodies':>6}  {'predicted mesh':>20}  {'true mesh':>20}")
        for name in ["all", *names]:
            m = np.nanmean(measured[name][:, k], axis=0)
            cells = ["{:.2f} / {:.2f} / {:.2f}".format(*row) for row in m]
            print(f"  {name:<7} {len(measured[name]):>6}  {cells[0]:>20}  {cells[1]:>20}")


if __name__ == "__main__":
    main()
