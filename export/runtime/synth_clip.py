"""Synthetic video clips with ground truth, for tests and measurement.

    python -m meshpose_export.runtime.synth_clip OUT.mp4 [--frames 60] [--people 2] [--enter-leave]
        [--width 640 --height 480 --fps 30 --pan 0.3 --seed 0]

Writes OUT.mp4 (H.264, from `meshpose_mobile.synth_video.SyntheticScene`) and OUT.gt.npz:
`vertices` (T, P, K, 3) image pixels (z in the same pixel units, relative), `visible` (T, P, K)
bool, `boxes` (T, P, 4) visible-person xywh with NaN where the person is out of view, `time`
(T,) seconds, `fps`, and `config` (the scene config as JSON). Both are written under temp names
and renamed when complete.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

from meshpose_export.runtime.video import VideoWriter
from meshpose_mobile.atomic import write_bytes_atomic
from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.synth_video import SceneConfig, SyntheticScene


def write_sequence(scene: SyntheticScene, out: str | Path, progress: bool = False) -> tuple[Path, Path]:
    out = Path(out)
    cfg = scene.config
    t_count, p_count, k = cfg.num_frames, cfg.num_people, len(scene.rig.template)
    vertices = np.zeros((t_count, p_count, k, 3), np.float32)
    visible = np.zeros((t_count, p_count, k), bool)
    boxes = np.full((t_count, p_count, 4), np.nan, np.float32)
    frames = range(t_count)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, file=sys.stderr, unit="frame", desc="render")
    with VideoWriter(out, cfg.fps) as writer:
        for i in frames:
            f = scene.frame(i)
            writer.write(f["image"])
            for p, person in enumerate(f["people"]):
                vertices[i, p] = person["vertices"]
                visible[i, p] = person["visible"]
                if person["box"] is not None:
                    boxes[i, p] = person["box"]
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        vertices=vertices,
        visible=visible,
        boxes=boxes,
        time=np.arange(t_count) / cfg.fps,
        fps=np.float64(cfg.fps),
        config=np.array(json.dumps({**cfg.to_dict(), "seed": scene.seed})),
    )
    gt = write_bytes_atomic(out.with_name(out.stem + ".gt.npz"), buf.getvalue())
    return out, gt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write a synthetic clip (video + ground truth).")
    ap.add_argument("out", type=Path)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--people", type=int, default=2)
    ap.add_argument("--enter-leave", action="store_true", help="Every other person walks in or out.")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--pan", type=float, default=0.3, help="Camera pan amplitude, metres (0: fixed camera).")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.out.suffix.lower() != ".mp4":
        print(f"error: {args.out} must end in .mp4", file=sys.stderr)
        return 2
    try:
        cfg = SceneConfig(
            width=args.width,
            height=args.height,
            fps=args.fps,
            num_frames=args.frames,
            num_people=args.people,
            enter_leave=args.enter_leave,
            camera_pan=args.pan,
        )
        video, gt = write_sequence(SyntheticScene(cfg, seed=args.seed), args.out, progress=True)
    except MeshPoseError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"wrote {video} and {gt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
