"""People in photos and videos: the detector's boxes, its recall on synthetic composites, its
latency, and the throughput of the whole video pipeline.

    python benchmarks/people.py --model artifacts/meshpose_xs_fp32.onnx [--frames 60]

1. Detector boxes on the shipped photos (astronaut, Grace Hopper) against the hand-drawn boxes.
2. Recall and box IoU on synthetic multi-person composites with known visible-person boxes.
3. Detector latency on a 640x480 frame (LiteRT, 1 thread), preprocessing included.
4. `meshpose-predict`'s video path end to end on a synthetic 640x480 clip (decode, detect, track,
   model, smoothing, JSON lines, overlay video): frames per second and the detector's share.
   Skipped without --model. Measure once, on a quiet machine.

Writes docs/results/people.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from meshpose_export.runtime.detector import PersonDetector
from meshpose_export.runtime.tracking import aspect_box, box_iou
from meshpose_export.runtime.video_metrics import composite_recall
from meshpose_mobile.atomic import write_text_atomic

# (label, images, people per image, width, height, distance range m)
COMPOSITES = (
    ("1 person, 640x480, 2-3 m", 10, 1, 640, 480, (2.0, 3.0)),
    ("2 people, 640x480, 2-3 m", 10, 2, 640, 480, (2.0, 3.0)),
    ("2 people, 640x480, 3-4.5 m", 10, 2, 640, 480, (3.0, 4.5)),
    ("3 people, 960x480, 2-3 m", 10, 3, 960, 480, (2.0, 3.0)),
)


def photos(det: PersonDetector, picture: Path | None = None) -> list[dict]:
    from meshpose_mobile.samples import SAMPLE_PHOTOS

    rows, panels = [], []
    for p in SAMPLE_PHOTOS:
        found = det(p.load())
        panels.append(_panel(p.load(), found, p.box))
        hb = p.box
        hand = aspect_box(hb[0] + hb[2] / 2, hb[1] + hb[3] / 2, hb[2], hb[3], det.aspect)
        rows.append(
            {
                "photo": p.name,
                "found": len(found),
                "score": found[0].score if found else None,
                "box": [round(v, 1) for v in found[0].box] if found else None,
                "hand_box": list(hb),
                "iou_vs_hand_aspect_box": box_iou(found[0].box, hand) if found else 0.0,
            }
        )
        print(
            f"{p.name:>13}: {len(found)} found, score {rows[-1]['score']:.3f}, box {rows[-1]['box']}, "
            f"IoU vs hand box (model aspect) {rows[-1]['iou_vs_hand_aspect_box']:.3f}"
        )
    if picture is not None:
        from io import BytesIO

        from PIL import Image

        from meshpose_mobile.atomic import write_bytes_atomic

        h = min(p.shape[0] for p in panels)
        row = np.concatenate(
            [np.asarray(Image.fromarray(p).resize((p.shape[1] * h // p.shape[0], h))) for p in panels], 1
        )
        buf = BytesIO()
        Image.fromarray(row).quantize(colors=256).save(buf, format="PNG", optimize=True)
        write_bytes_atomic(picture, buf.getvalue())
        print(f"wrote {picture}")
    return rows


def _panel(image: np.ndarray, found: list, hand: tuple) -> np.ndarray:
    """The photo with the hand-drawn box (white), the detector's person box (orange), its face box
    and alignment keypoints (hip centre, full-body circle point; cyan)."""
    from PIL import Image, ImageDraw

    pad = 120  # the detector's box and circle point may lie outside the photo
    canvas = Image.new("RGB", (image.shape[1] + 2 * pad, image.shape[0] + 2 * pad), (40, 40, 40))
    canvas.paste(Image.fromarray(image), (pad, pad))
    d = ImageDraw.Draw(canvas)
    x, y, w, h = hand
    d.rectangle((x + pad, y + pad, x + w + pad, y + h + pad), outline=(255, 255, 255), width=2)
    for det in found:
        x, y, w, h = det.box
        d.rectangle((x + pad, y + pad, x + w + pad, y + h + pad), outline=(255, 140, 0), width=4)
        x, y, w, h = det.face_box
        d.rectangle((x + pad, y + pad, x + w + pad, y + h + pad), outline=(0, 220, 255), width=2)
        (hx, hy), (cx, cy) = det.keypoints[0], det.keypoints[1]
        d.line((hx + pad, hy + pad, cx + pad, cy + pad), fill=(0, 220, 255), width=2)
        for px, py in det.keypoints[:2]:
            d.ellipse((px + pad - 6, py + pad - 6, px + pad + 6, py + pad + 6), fill=(0, 220, 255))
        d.text((det.box[0] + pad + 6, det.box[1] + pad + 6), f"{det.score:.2f}", fill=(255, 140, 0))
    return np.asarray(canvas)


def composites(det: PersonDetector) -> list[dict]:
    rows = []
    for label, n_img, n_people, w, h, dist in COMPOSITES:
        r = composite_recall(det, n_img, n_people, w, h, dist, seed=7)
        rows.append({"set": label, **r.to_dict()})
        print(
            f"{label:>28}: recall {r.recall:.2f} ({r.found}/{r.people}), mean IoU {r.mean_iou:.3f}, "
            f"false positives {r.false_positives}"
        )
    return rows


def latency(det: PersonDetector, runs: int = 30) -> dict:
    from meshpose_mobile.synth_video import SceneConfig, SyntheticScene

    img = SyntheticScene(SceneConfig(num_people=2), seed=5).frame(0)["image"]
    det(img)
    total, pre = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        det.preprocess(img)
        t1 = time.perf_counter()
        det(img)
        t2 = time.perf_counter()
        pre.append(t1 - t0)
        total.append(t2 - t1)
    out = {
        "median_ms": 1e3 * statistics.median(total),
        "preprocess_median_ms": 1e3 * statistics.median(pre),
        "min_ms": 1e3 * min(total),
        "runs": runs,
        "threads": 1,
        "frame": "640x480",
        "load_average_1min": os.getloadavg()[0],
    }
    print(
        f"detector latency (640x480, LiteRT 1 thread): median {out['median_ms']:.1f} ms (min {out['min_ms']:.1f}), "
        f"letterbox {out['preprocess_median_ms']:.1f} ms; load average {out['load_average_1min']:.1f}"
    )
    return out


def throughput(model: Path, frames: int) -> dict:
    from meshpose_export.cli.people_cli import run_video
    from meshpose_export.runtime.detector import DetectorParams
    from meshpose_export.runtime.people import VideoSettings
    from meshpose_export.runtime.predict import Predictor
    from meshpose_export.runtime.video import open_frames, write_video
    from meshpose_mobile.synth_video import SceneConfig, SyntheticScene

    with tempfile.TemporaryDirectory() as tmp:
        cfg = SceneConfig(num_frames=frames, num_people=2, enter_leave=True)
        scene = SyntheticScene(cfg, seed=9)
        print(f"rendering a {frames}-frame 640x480 synthetic clip ...")
        clip = write_video((scene.frame(i)["image"] for i in range(frames)), Path(tmp) / "clip.mp4", cfg.fps)
        predictor = Predictor.load(model)
        det = PersonDetector(params=DetectorParams(), aspect=predictor.contract.aspect)
        summary = run_video(open_frames(clip), predictor, det, VideoSettings(), Path(tmp) / "out", "clip", True, None)
    out = {
        k: summary[k]
        for k in (
            "frames",
            "fps",
            "seconds",
            "cpu_seconds",
            "frames_per_cpu_second",
            "seconds_detector",
            "seconds_model",
            "detector_share",
            "detector_runs",
            "person_frames",
            "tracks",
        )
    }
    out["model"] = str(model)
    out["model_share"] = summary["seconds_model"] / summary["seconds"]
    out["load_average_1min"] = os.getloadavg()[0]
    print(
        f"video pipeline ({model.name}): {out['fps']:.1f} frames/s ({out['frames_per_cpu_second']:.1f} per CPU-second, "
        f"load average {out['load_average_1min']:.1f}) over {out['frames']} frames "
        f"({out['person_frames']} person-frames, {out['tracks']} tracks); detector {100 * out['detector_share']:.0f}% "
        f"of the time ({out['detector_runs']} runs), model {100 * out['model_share']:.0f}%"
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="Checkpoint or artifact for the throughput run.")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--out", type=Path, default=Path("docs/results/people.json"))
    ap.add_argument("--picture", type=Path, default=Path("docs/images/detector_samples.png"))
    args = ap.parse_args()
    det = PersonDetector(aspect=0.75, threads=1)
    doc = {"photos": photos(det, args.picture), "composites": composites(det), "detector_latency": latency(det)}
    if args.model is not None:
        doc["video_throughput"] = throughput(args.model, args.frames)
    doc["machine"] = _machine()
    write_text_atomic(args.out, json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


def _machine() -> str:
    import platform

    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu or platform.processor()}, {os.cpu_count()} cores visible"


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
