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

import io
import json
import sys
from pathlib import Path

import click
import numpy as np

from meshpose_export.runtime.video import VideoWriter
from meshpose_mobile.atomic import write_bytes_atomic
from meshpose_mobile.cliframe import command
from meshpose_mobile.errors import ConfigError
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


@command(interrupted="no half-written file was left")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--frames", type=int, default=60, show_default=True)
@click.option("--people", type=int, default=2, show_default=True)
@click.option("--enter-leave", is_flag=True, help="Every other person walks in or out.")
@click.option("--width", type=int, default=640, show_default=True)
@click.option("--height", type=int, default=480, show_default=True)
@click.option("--fps", type=float, default=30.0, show_default=True)
@click.option(
    "--pan", type=float, default=0.3, show_default=True, help="Camera pan amplitude, metres (0: fixed camera)."
)
@click.option("--seed", type=int, default=0, show_default=True)
def main(
    out: Path, frames: int, people: int, enter_leave: bool, width: int, height: int, fps: float, pan: float, seed: int
) -> None:
    """Write a synthetic clip (video + ground truth)."""
    if out.suffix.lower() != ".mp4":
        raise ConfigError(f"{out} must end in .mp4")
    cfg = SceneConfig(
        width=width,
        height=height,
        fps=fps,
        num_frames=frames,
        num_people=people,
        enter_leave=enter_leave,
        camera_pan=pan,
    )
    video, gt = write_sequence(SyntheticScene(cfg, seed=seed), out, progress=True)
    click.echo(f"wrote {video} and {gt}")


if __name__ == "__main__":
    main()
