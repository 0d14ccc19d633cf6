"""`meshpose-predict`: run a checkpoint or an exported artifact on photos, a video or a folder of frames.

Photos: the person detector finds everyone (or `--box` / `--whole-image` sets the one box); per
image `<name>.json` (format `meshpose-prediction` v2: a `people` list, each with its box, detector
score, low-poly xyz and visibility, high-poly xyz with an upsampler, all in image pixels) and
`<name>_overlay.png`. Videos (and a folder with `--frames`): detection, tracking and One-Euro
smoothing (meshpose_export.runtime.people), `<name>.jsonl` and `<name>_overlay.mp4`.

Declared with the CLI frame (`meshpose_mobile.cliframe`); the parsed flags travel down as one
`PredictOptions`, the paths in them made absolute as one `PredictPaths`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from meshpose_export.cli._cli import LazyHelp, check_box_scale, targets
from meshpose_mobile.cliframe import command
from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.paths import out_dir_or_nothing, user_path
from meshpose_mobile.signals import raise_if_interrupted


@dataclasses.dataclass(frozen=True)
class PredictOptions:
    """`meshpose-predict`'s flags as parsed (paths as typed; `PredictPaths` makes them absolute)."""

    image: str
    model_path: str
    box: str | None
    whole_image: bool
    max_people: int
    min_score: float
    detector_path: str | None
    as_frames: bool
    fps: float | None
    max_frames: int | None
    no_smoothing: bool
    min_cutoff: float | None
    beta: float | None
    d_cutoff: float | None
    redetect_every: int | None
    out_dir: str
    upsampler: str | None
    released_constants: str | None
    topology: str | None
    box_scale: float | None
    no_overlay: bool
    compact_png: bool


@dataclasses.dataclass(frozen=True)
class PredictPaths:
    """The paths the user passed, absolute (`user_path`), checked before the slow imports."""

    out: Path
    upsampler: Path | None
    released_constants: Path | None
    topology: Path | None
    detector: Path | None
    image: Path
    model: Path

    @classmethod
    def of(cls, opts: PredictOptions) -> PredictPaths:
        # In this order, so the first wrong path named is the one named before.
        out = user_path(opts.out_dir, "--out")
        upsampler = user_path(opts.upsampler, "--upsampler")
        released_constants = user_path(opts.released_constants, "--released-constants")
        topology = user_path(opts.topology, "--topology")
        detector = user_path(opts.detector_path, "--detector")
        image, model = user_path(opts.image, "INPUT"), user_path(opts.model_path, "--model")
        assert out is not None and image is not None and model is not None  # required or defaulted
        return cls(out, upsampler, released_constants, topology, detector, image, model)


def _model_help() -> str:
    return (
        "A checkpoint (ours or the authors' released file) or an artifact meshpose-export wrote, with its "
        "sidecar .json beside it ("
        + ", ".join(f"{t.suffix}{'' if t.runs_here() else ' (not by its own runtime here)'}" for t in targets())
        + ")."
    )


@command(options=PredictOptions, interrupted="files already written are complete, none is half-written")
@click.argument("image", type=click.Path(), metavar="INPUT")
@click.option("--model", "model_path", required=True, type=click.Path(), cls=LazyHelp, help_fn=_model_help)
@click.option(
    "--box",
    default=None,
    help="Person box x,y,w,h (top-left corner, width, height) in image pixels, for photos. Default: the person "
    "detector finds every person.",
)
@click.option("--whole-image", is_flag=True, help="Photos: no detector; the whole photo is the person box.")
@click.option("--max-people", type=int, default=4, show_default=True, help="Most people per photo or video.")
@click.option("--min-score", type=float, default=0.5, show_default=True, help="Detector score a person needs (0..1).")
@click.option(
    "--detector",
    "detector_path",
    type=click.Path(),
    default=None,
    help="Person detector .tflite (MediaPipe pose_detection). Default: the copy from `meshpose-models fetch` "
    "(or make setup); `meshpose-models list` shows where.",
)
@click.option("--frames", "as_frames", is_flag=True, help="INPUT is a folder holding the frames of one video.")
@click.option("--fps", type=float, default=None, help="Frame rate of a folder of frames (default 30).")
@click.option("--max-frames", type=int, default=None, help="Video: stop after this many frames.")
@click.option("--no-smoothing", is_flag=True, help="Video: report the raw per-frame meshes.")
@click.option(
    "--min-cutoff", type=float, default=None, help="One-Euro min cutoff, Hz (default: the sidecar's, else 1)."
)
@click.option(
    "--beta", type=float, default=None, help="One-Euro beta, per box height/s (default: the sidecar's, else 12)."
)
@click.option("--d-cutoff", type=float, default=None, help="One-Euro derivative cutoff, Hz (default 1).")
@click.option(
    "--redetect-every", type=int, default=None, help="Video: frames between detections (default 15; 0 = only on loss)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    default="predictions",
    show_default=True,
    help="Folder for <name>.json and <name>_overlay.png (videos: <name>.jsonl and <name>_overlay.mp4).",
)
@click.option(
    "--upsampler",
    type=click.Path(),
    default=None,
    help="Upsampler file (meshpose-train-upsampler, or the authors' with --released-constants); adds xyz_hp.",
)
@click.option(
    "--released-constants",
    type=click.Path(),
    default=None,
    help="JSON with the released model's seam pairs and centre weights (docs/released-model.md).",
)
@click.option(
    "--topology",
    type=click.Path(),
    default=None,
    help="Topology .npz the model must have been made for (checked by hash; gives the released checkpoint its mesh).",
)
@click.option("--box-scale", type=float, default=None, help="Override the crop contract's box scale.")
@click.option("--no-overlay", is_flag=True, help="Write the JSON only.")
@click.option("--compact-png", is_flag=True, help="256-colour overlay PNG (about a third of the size).")
def main(opts: PredictOptions) -> None:
    """Predict the body mesh of every person in INPUT: a photo, a folder of photos, a video, or a folder of
    frames (--frames)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _run(opts)


def _output_stems(images: list[Path]) -> list[str]:
    """File stems for the outputs; `a.jpg` and `a.png` in one folder keep their suffix apart."""
    counts = Counter(p.stem for p in images)
    return [p.stem if counts[p.stem] == 1 else p.name.replace(".", "_") for p in images]


def _run(opts: PredictOptions) -> None:
    """Paths made absolute and --out checked before the imports; a refused run leaves no folder."""
    check_box_scale(opts.box_scale)
    paths = PredictPaths.of(opts)
    with out_dir_or_nothing(paths.out):
        _predict(opts, paths)


def _predict(opts: PredictOptions, paths: PredictPaths) -> None:
    from tqdm import tqdm

    from meshpose_export.runtime.predict import PredictError, Predictor, list_images, load_image, parse_box
    from meshpose_export.runtime.video import is_video, open_frames
    from meshpose_mobile.paths import OutputError

    raise_if_interrupted()  # a Ctrl-C some import swallowed
    video = is_video(paths.image) or (opts.as_frames and paths.image.is_dir())
    if opts.as_frames and not paths.image.is_dir():
        raise PredictError(f"--frames needs a folder of frames, got {paths.image}; pass the folder, or drop --frames")
    if video and (opts.box is not None or opts.whole_image):
        raise PredictError("--box and --whole-image apply to photos; a video is tracked from the person detector")
    if opts.box is not None and opts.whole_image:
        raise PredictError("pass either --box or --whole-image, not both")
    if not 0.0 <= opts.min_score <= 1.0:
        raise PredictError(f"--min-score must lie in [0, 1], got {opts.min_score:g}")
    if opts.max_people < 1:
        raise PredictError(f"--max-people must be at least 1, got {opts.max_people}")
    if opts.max_frames is not None and opts.max_frames < 1:
        raise PredictError(f"--max-frames must be at least 1, got {opts.max_frames}")
    if opts.fps is not None and not opts.fps > 0:
        raise PredictError(f"--fps must be a positive frame rate, got {opts.fps:g}")
    source = open_frames(paths.image, opts.fps) if video else None
    images = [] if video else list_images(paths.image)
    person_box = parse_box(opts.box) if opts.box is not None else None
    predictor = Predictor.load(
        paths.model,
        upsampler=paths.upsampler,
        released_constants=paths.released_constants,
        box_scale=opts.box_scale,
        topology=paths.topology,
    )
    info = predictor.info
    if info.executed_by:
        # The one thing a user needs to know from the CoreML stack off macOS (its import noise is filtered).
        click.echo(f"note: {paths.model.name}: {info.executed_by}", err=True)
    if opts.released_constants is not None and info.variant != "meshpose_hrnet32" and opts.upsampler is None:
        raise PredictError(
            f"--released-constants applies to the authors' released checkpoint or upsampler, but --model "
            f"{paths.model.name} is {info.variant} and no --upsampler is given; drop --released-constants"
        )
    if opts.released_constants is None and info.kind == "pytorch" and info.variant == "meshpose_hrnet32":
        click.echo(
            "note: no --released-constants: a released checkpoint runs without its seam averaging",
            err=True,
        )
    detector = None
    if video or (opts.box is None and not opts.whole_image):
        from meshpose_export.runtime.detector import DetectorParams, PersonDetector

        detector = PersonDetector(
            paths.detector,
            DetectorParams(min_score=opts.min_score, max_people=opts.max_people),
            aspect=predictor.contract.aspect,
        )
    if video:
        from meshpose_export.cli.people_cli import echo_video_summary, run_video

        assert source is not None
        settings = _video_settings(predictor, opts)
        stem = paths.image.name if paths.image.is_dir() else paths.image.stem
        summary = run_video(
            source, predictor, detector, settings, paths.out, stem, not opts.no_overlay, opts.max_frames
        )
        echo_video_summary(summary)
        return
    from meshpose_export.cli.people_cli import photo_outputs

    title_model = f"{info.kind} {info.variant} {info.precision}".strip()
    if info.weights:
        title_model += f"\n{info.weights}"
    failures: list[tuple[Path, MeshPoseError]] = []
    nobody: list[Path] = []
    bar = tqdm(
        list(zip(images, _output_stems(images), strict=True)),
        disable=len(images) == 1,
        file=sys.stderr,
        unit="image",
        desc="predict",
    )
    for path, stem in bar:
        try:
            photo = load_image(path)
            title = f"{path.name}: {title_model}"
            written, count = photo_outputs(
                predictor,
                detector,
                photo,
                path,
                stem,
                paths.out,
                person_box,
                not opts.no_overlay,
                title,
                opts.compact_png,
            )
        except MeshPoseError as err:
            if len(images) == 1 or isinstance(err, OutputError):
                raise  # a full or read-only disk fails every image alike
            failures.append((path, err))
            bar.write(f"warning: skipped {path.name}: {err}", file=sys.stderr)
            continue
        if count == 0:
            nobody.append(path)
            bar.write(
                f"warning: no person found in {path.name} (detector score below {opts.min_score:g}); its JSON has an "
                "empty people list; pass --box x,y,w,h or a lower --min-score",
                file=sys.stderr,
            )
        if len(images) == 1:
            for p in written:
                click.echo(f"wrote {p}")
    if len(images) > 1:
        click.echo(
            f"wrote {len(images) - len(failures)} prediction(s) to {paths.out} ({len(nobody)} with nobody found)"
        )
    if failures:
        _, err = failures[0]
        raise PredictError(f"{len(failures)} of {len(images)} images failed; the first: {err}")


def _video_settings(predictor: Any, opts: PredictOptions) -> Any:
    """CLI flags over the artifact sidecar's `tracking` section over the built-in defaults."""
    from dataclasses import replace

    from meshpose_export.runtime.detector import DetectorParams
    from meshpose_export.runtime.people import VideoSettings
    from meshpose_export.runtime.predict import PredictError
    from meshpose_export.runtime.tracking import OneEuroParams, TrackerParams
    from meshpose_export.sidecar import Sidecar
    from meshpose_export.targets.base import find_target

    one_euro, tracker = OneEuroParams(), TrackerParams()
    target = find_target(Path(predictor.info.path)) if predictor.info.kind != "pytorch" else None
    if target is not None:
        saved = Sidecar.beside(predictor.info.path, target.suffix).tracking
        try:
            if saved.get("one_euro"):
                known = {k: float(v) for k, v in saved["one_euro"].items() if k in ("min_cutoff", "beta", "d_cutoff")}
                one_euro = replace(one_euro, **known)
            if saved.get("tracker"):
                fields = TrackerParams.__dataclass_fields__
                tracker = replace(tracker, **{k: v for k, v in saved["tracker"].items() if k in fields})
        except (TypeError, ValueError) as err:
            raise PredictError(f"the sidecar's tracking section is invalid ({err}); re-export the artifact") from None
    try:
        changes = {"min_cutoff": opts.min_cutoff, "beta": opts.beta, "d_cutoff": opts.d_cutoff}
        one_euro = replace(one_euro, **{k: v for k, v in changes.items() if v is not None})
        tracker = replace(tracker, max_people=opts.max_people)
        if opts.redetect_every is not None:
            tracker = replace(tracker, redetect_every=opts.redetect_every)
    except ValueError as err:
        raise PredictError(f"{err}; check --min-cutoff, --beta, --d-cutoff and --redetect-every") from None
    detector = DetectorParams(min_score=opts.min_score, max_people=opts.max_people)
    return VideoSettings(tracker=tracker, detector=detector, one_euro=one_euro, smoothing=not opts.no_smoothing)


if __name__ == "__main__":
    main()
