"""The people parts of `meshpose-predict`: every person in a photo, and videos (tracking + smoothing).

Photo (no --box): `<stem>.json` in format `meshpose-prediction` version 2 (a `people` list, one
entry per detected person with its detector box and score; empty when nobody is found, which is
not an error) and `<stem>_overlay.png`.

Video or folder of frames: `<stem>.jsonl` (line 1 the header: source, model, detector, tracker and
One-Euro settings; then one line per decoded frame with every tracked person; the last line a
summary with skipped frames and timings) and `<stem>_overlay.mp4`. Both are written under temp
names and renamed when complete.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from meshpose_export.runtime.people import (
    VIDEO_FORMAT,
    VIDEO_VERSION,
    VideoPipeline,
    VideoSettings,
    detector_dict,
    draw_people,
    mesh_edges,
    model_dict,
    photo_document,
    predict_people,
)
from meshpose_export.runtime.predict import Predictor
from meshpose_export.runtime.video import FrameSource, VideoError, VideoWriter
from meshpose_mobile.atomic import atomic_open, write_files_atomic


def photo_outputs(
    predictor: Predictor,
    detector: Any,
    photo: np.ndarray,
    path: Path,
    stem: str,
    out_dir: Path,
    box: tuple[float, float, float, float] | None,
    overlay: bool,
    title: str,
    compact_png: bool,
) -> tuple[list[Path], int]:
    """One photo -> (written files, number of people). The JSON and the overlay are rendered in
    memory and written as a set: a failure leaves neither (`write_files_atomic`)."""
    from meshpose_export.runtime.overlay import render_overlay

    people = predict_people(predictor, photo, detector, box)
    h, w = photo.shape[:2]
    doc = photo_document(people, predictor, str(path), (w, h), detector if box is None else None)
    if box is None and detector is None:
        doc["people"][0]["box_source"] = "whole image (--whole-image)"
    files = {out_dir / f"{stem}.json": (json.dumps(doc) + "\n").encode()}
    if overlay and people:
        target = out_dir / f"{stem}_overlay.png"
        if len(people) == 1:
            files[target] = render_overlay(
                photo, people[0].prediction, predictor.faces, title=title, compact=compact_png
            )
        else:
            drawn = draw_people(
                photo,
                [
                    (i, p.prediction.box, p.prediction.xyz_lp, p.prediction.vertex_vis_lp, _label(i, p.detection))
                    for i, p in enumerate(people)
                ],
                mesh_edges(predictor.faces),
                caption=title.replace("\n", "  "),
            )
            from io import BytesIO

            from PIL import Image

            buf = BytesIO()
            Image.fromarray(drawn).save(buf, format="PNG", optimize=compact_png)
            files[target] = buf.getvalue()
    return write_files_atomic(files), len(people)


def _label(i: int, det: Any) -> str:
    return f"person {i}" + (f"  {det.score:.2f}" if det is not None else "")


def run_video(
    source: FrameSource,
    predictor: Predictor,
    detector: Any,
    settings: VideoSettings,
    out_dir: Path,
    stem: str,
    overlay: bool,
    max_frames: int | None,
) -> dict[str, Any]:
    """Track, smooth and write; returns the summary (also the JSONL's last line)."""
    from tqdm import tqdm

    pipeline = VideoPipeline(predictor, detector, settings)
    edges = mesh_edges(predictor.faces)
    jsonl_path = out_dir / f"{stem}.jsonl"
    video_path = out_dir / f"{stem}_overlay.mp4"
    total = source.total if max_frames is None else min(source.total or max_frames, max_frames)
    header = {
        "type": "header",
        "format": VIDEO_FORMAT,
        "format_version": VIDEO_VERSION,
        "source": str(source.path),
        "fps": source.fps,
        "frames_announced": source.total,
        "model": model_dict(predictor),
        **settings.to_dict(),
        "detector_model": detector_dict(detector),
        "units": (
            "image pixels, top-left pixel centre at (0, 0); xyz_lp smoothed when one_euro.enabled; box is the crop "
            "box this frame's mesh came from"
        ),
    }
    frames = people_seen = 0
    track_ids: set[int] = set()
    first_size: tuple[int, int] | None = None
    writer = VideoWriter(video_path, source.fps) if overlay else None
    placed_video = False
    start = time.perf_counter()
    cpu_start = time.process_time()
    bar = tqdm(total=total, file=sys.stderr, unit="frame", desc="track", dynamic_ncols=True)
    try:
        with atomic_open(jsonl_path) as fh:
            fh.write((json.dumps(header) + "\n").encode())
            seen_skips = 0
            for frame in source:
                if max_frames is not None and frames >= max_frames:
                    break
                people, detected = pipeline.process(frame.image, frame.time)
                h, w = frame.image.shape[:2]
                if first_size is None:
                    first_size = (w, h)
                line = {
                    "type": "frame",
                    "frame": frame.index,
                    "time": round(frame.time, 6),
                    "name": frame.name,
                    "image_size": [w, h],
                    "detector_ran": detected,
                    "people": [p.to_dict(predictor, decimals=3) for p in people],
                }
                fh.write((json.dumps(line) + "\n").encode())
                frames += 1
                people_seen += len(people)
                track_ids.update(p.track_id for p in people)
                if writer is not None:
                    drawn = draw_people(
                        frame.image,
                        [
                            (p.track_id, p.prediction.box, p.xyz_lp, p.prediction.vertex_vis_lp, _track_label(p))
                            for p in people
                        ],
                        edges,
                        caption=f"frame {frame.index}  t={frame.time:.2f}s" + ("  detect" if detected else ""),
                    )
                    if (w, h) != first_size:
                        from PIL import Image

                        drawn = np.asarray(Image.fromarray(drawn).resize(first_size))
                    writer.write(drawn)
                for name, why in source.skipped[seen_skips:]:
                    bar.write(f"warning: skipped {name}: {why}", file=sys.stderr)
                seen_skips = len(source.skipped)
                bar.update(1)
                bar.set_postfix(fps=f"{frames / max(time.perf_counter() - start, 1e-9):.1f}", people=len(people))
            for name, why in source.skipped[seen_skips:]:
                bar.write(f"warning: skipped {name}: {why}", file=sys.stderr)
            if frames == 0:
                raise VideoError(
                    f"no frame of {source.path} could be decoded ({len(source.skipped)} skipped); "
                    "pass a playable video or a folder of images"
                )
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            t = pipeline.timings
            summary = {
                "type": "summary",
                "frames": frames,
                "skipped_frames": len(source.skipped),
                "skipped": [{"frame": n, "reason": r} for n, r in source.skipped],
                "tracks": len(track_ids),
                "person_frames": people_seen,
                "detector_runs": pipeline.detections_run,
                "seconds": round(elapsed, 3),
                "fps": round(frames / elapsed, 3),
                # All threads of this process; on a shared machine steadier than wall time.
                "cpu_seconds": round(cpu, 3),
                "frames_per_cpu_second": round(frames / max(cpu, 1e-9), 3),
                "seconds_detector": round(t.detector_s, 3),
                "seconds_model": round(t.model_s, 3),
                "detector_share": round(t.detector_s / elapsed, 4),
            }
            fh.write((json.dumps(summary) + "\n").encode())
            # The video is placed before the JSONL, inside its block: a disk that fills on the
            # video's last write also drops the JSONL, so the two are left together or not at all.
            if writer is not None:
                writer.close()
                placed_video = True
        bar.close()
    except BaseException:
        bar.close()
        if writer is not None:
            writer.abort()
            if placed_video:
                video_path.unlink(missing_ok=True)
        raise
    written = [jsonl_path] + ([video_path] if writer is not None else [])
    summary["written"] = [str(p) for p in written]
    return summary


def _track_label(p: Any) -> str:
    return f"#{p.track_id} {p.score:.2f} {'D' if p.box_source == 'detector' else 'T'}"


def echo_video_summary(summary: dict[str, Any]) -> None:
    for p in summary["written"]:
        click.echo(f"wrote {p}")
    click.echo(
        f"{summary['frames']} frames, {summary['tracks']} track(s), {summary['skipped_frames']} skipped (corrupt), "
        f"{summary['fps']:.1f} frames/s, detector ran {summary['detector_runs']} times "
        f"({100 * summary['detector_share']:.0f}% of the time)"
    )
