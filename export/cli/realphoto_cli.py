"""`meshpose-eval-real`: models against BlazePose GHUM full on people in real photos (no labels).

    meshpose-eval-real --model meshpose_blaze --model meshpose_xs --out docs/results \
        --pictures docs/images/realphoto
    meshpose-eval-real --model meshpose_blaze --model runs/blind.pt --label blind --baseline blind \
        --image my_photos/ --box-file my_photos/boxes.json --out my_eval

`--image` scores photos you bring (files or folders) instead of the packaged ones (add `--photos`
to score both); people come from `--box-file` or else the person detector. `--baseline` states
every model's means above one column's, for instance a picture-blind mesh
(benchmarks/blind_baseline.py): on mostly upright people an average body already scores well.

Writes `realphoto.json` and `realphoto.md` (one row per person, the models side by side, the mean)
into --out and one picture per photo into --pictures. The photos only judge models: never train or
tune on them (meshpose_export.runtime.realphoto). Declared with the CLI frame
(`meshpose_mobile.cliframe`); the flags travel down as one `RealPhotoOptions`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click

from meshpose_export.cli._cli import LazyHelp, check_box_scale, targets
from meshpose_mobile.cliframe import command
from meshpose_mobile.paths import out_dir_or_nothing, user_path
from meshpose_mobile.signals import raise_if_interrupted


@dataclasses.dataclass(frozen=True)
class RealPhotoOptions:
    """`meshpose-eval-real`'s flags as parsed (paths as typed, made absolute where used)."""

    models: tuple[str, ...]
    labels: tuple[str, ...]
    out_dir: str
    pictures_dir: str | None
    no_pictures: bool
    photos: str | None
    images: tuple[str, ...]
    box_file: str | None
    photo_dir: str | None
    boxes: str
    peer_crop: str
    baseline: str | None
    peer_path: str | None
    detector_path: str | None
    topology: str | None
    box_scale: float | None
    positions: str


def _model_help() -> str:
    return (
        "Repeatable: a checkpoint, an artifact meshpose-export wrote ("
        + ", ".join(t.suffix for t in targets() if t.runs_here())
        + "), or a variant name with shipped weights (meshpose_blaze, meshpose_xs). Each becomes a column group."
    )


@command(options=RealPhotoOptions, interrupted="files already written are complete, none is half-written")
@click.option("--model", "models", multiple=True, required=True, cls=LazyHelp, help_fn=_model_help)
@click.option("--label", "labels", multiple=True, help="Column label per --model, in order (default: its variant).")
@click.option("--out", "out_dir", default="realphoto", show_default=True, help="Folder for realphoto.json/.md.")
@click.option("--pictures", "pictures_dir", default=None, help="Folder for <photo>.png (default: OUT/images).")
@click.option("--no-pictures", is_flag=True, help="Tables only.")
@click.option(
    "--photos",
    default=None,
    help="Comma-separated photo names: astronaut, grace_hopper, cameraman, messi, basketball, pedestrians "
    "(default: all that are found; with --image, only those named here).",
)
@click.option(
    "--image",
    "images",
    multiple=True,
    help="Repeatable: a photo of yours, or a folder of photos. Replaces the packaged photos unless --photos "
    "names some. Never train or tune on the photos you judge with.",
)
@click.option(
    "--box-file",
    default=None,
    help='JSON {"photo.jpg": [[x, y, w, h], ...]} with the people of your --image photos (top-left corner, '
    "width, height, image pixels); a photo it does not list gets the person detector's boxes.",
)
@click.option(
    "--photo-dir",
    default=None,
    help="Folder holding the opencv-doc photos (messi5.jpg, basketball1.png, vtest.avi). Default: the "
    "checkout's models/photos (`make realphotos`), then /usr/share/doc/opencv-doc/examples/data.",
)
@click.option(
    "--boxes",
    type=click.Choice(["stored", "detector"]),
    default="stored",
    show_default=True,
    help="Person boxes: the hand-drawn ones stored with the photo list (and --box-file's; photos without any "
    "use the detector), or whoever the person detector finds in every photo.",
)
@click.option(
    "--peer-crop",
    type=click.Choice(["mediapipe", "model"]),
    default="mediapipe",
    show_default=True,
    help="The region BlazePose sees: MediaPipe's own (from the pose detector, the way its pose landmarker runs; "
    "the model's crop where the detector misses the person), or each model's crop region squared, on which "
    "BlazePose draws a shrunken whole body inside upper-body crops.",
)
@click.option(
    "--baseline",
    default=None,
    help="A model label (--label, or its variant): every model's means are also stated above this one's.",
)
@click.option(
    "--peer", "peer_path", default=None, help="BlazePose GHUM full .tflite (default: where make setup put it)."
)
@click.option(
    "--detector",
    "detector_path",
    default=None,
    help="Person detector .tflite (--boxes detector, --image photos without boxes).",
)
@click.option("--topology", default=None, help="Topology .npz of the models (default: the packaged one).")
@click.option("--box-scale", type=float, default=None, help="Override the crop contract's box scale.")
@click.option(
    "--positions",
    type=click.Choice(["fused", "heatmap", "both"]),
    default="fused",
    show_default=True,
    help="Score the vertices apps get (fused: Eq. 7), the heatmap estimates alone (heatmap), or both side by "
    "side: which of the model's two 2-D estimates its errors come from.",
)
def main(opts: RealPhotoOptions) -> None:
    """Compare models' meshes with BlazePose GHUM full on people in real photos shipped by installed packages,
    or in photos you bring (--image)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _run(opts)


def _run(opts: RealPhotoOptions) -> None:
    from meshpose_export.runtime.realphoto import RealPhotoError

    check_box_scale(opts.box_scale)
    if opts.labels and len(opts.labels) != len(opts.models):
        raise RealPhotoError(
            f"{len(opts.labels)} --label for {len(opts.models)} --model; pass one label per model or none"
        )
    out = user_path(opts.out_dir, "--out")
    assert out is not None
    pictures = None if opts.no_pictures else (user_path(opts.pictures_dir, "--pictures") or out / "images")
    names = [n.strip() for n in opts.photos.split(",") if n.strip()] if opts.photos is not None else None
    if names is not None and not names:
        raise RealPhotoError("--photos is empty; pass photo names separated by commas, or drop it")
    if opts.box_file is not None and not opts.images:
        raise RealPhotoError("--box-file lists the people of --image photos; pass --image too, or drop --box-file")
    with out_dir_or_nothing(out):
        if pictures is not None:
            with out_dir_or_nothing(pictures, "--pictures"):
                _evaluate(opts, out, pictures, names)
        else:
            _evaluate(opts, out, None, names)


def _resolve_model(value: str) -> Path:
    from meshpose_mobile.weights import shipped_path

    path = user_path(value, "--model")
    assert path is not None
    if not path.exists():
        shipped = shipped_path(value)
        if shipped is not None:
            return shipped
    return path


def _evaluate(opts: RealPhotoOptions, out: Path, pictures: Path | None, names: list[str] | None) -> None:
    from meshpose_export.runtime.predict import Predictor
    from meshpose_export.runtime.realphoto import (
        BlazePoseFull,
        ModelSpec,
        RealPhotoError,
        evaluate,
        markdown_table,
        photo_dirs,
        report_json,
        select_photos,
        user_photos,
    )
    from meshpose_mobile.atomic import write_files_atomic
    from meshpose_mobile.topology import default_topology, load_topology

    raise_if_interrupted()
    # With photos of the user's, the packaged ones come only when --photos names them.
    chosen = [] if opts.images and names is None else select_photos(names)
    if opts.images:
        paths = [user_path(v, "--image") for v in opts.images]
        chosen += user_photos(
            [p for p in paths if p is not None], user_path(opts.box_file, "--box-file"), [p.name for p in chosen]
        )
    topo = default_topology() if opts.topology is None else load_topology(user_path(opts.topology, "--topology"))
    specs = []
    for i, value in enumerate(opts.models):
        predictor = Predictor.load(_resolve_model(value), box_scale=opts.box_scale, topology=topo)
        label = opts.labels[i] if opts.labels else predictor.info.variant
        if opts.positions != "heatmap":
            specs.append(ModelSpec(label, predictor, topo))
        if opts.positions != "fused":
            heat = f"{label}, heatmap p" if opts.positions == "both" else label
            specs.append(ModelSpec(heat, predictor, topo, "heatmap"))
    seen = [s.label for s in specs]
    if len(set(seen)) != len(seen):
        specs = [dataclasses.replace(s, label=f"{s.label} ({Path(s.predictor.info.path).name})") for s in specs]
        if len({s.label for s in specs}) != len(specs):
            raise RealPhotoError("two --model values name the same file; pass each model once, or set --label")
    peer = BlazePoseFull(user_path(opts.peer_path, "--peer"))
    detector = None
    if opts.boxes == "detector" or opts.peer_crop == "mediapipe" or any(not p.boxes for p in chosen):
        from meshpose_export.runtime.detector import PersonDetector

        detector = PersonDetector(
            user_path(opts.detector_path, "--detector"), aspect=specs[0].predictor.contract.aspect
        )
    report, files = evaluate(
        specs,
        chosen,
        peer,
        dirs=photo_dirs(user_path(opts.photo_dir, "--photo-dir")),
        detector=detector,
        detect_all=opts.boxes == "detector",
        pictures=pictures,
        explicit=names is not None,
        baseline=opts.baseline,
        peer_crop=opts.peer_crop,
        progress=lambda line: click.echo(line, err=True),
    )
    if pictures is not None:
        # Picture paths relative to the tables, so a docs folder stays movable.
        for entry in report["photos"]:
            if "picture" in entry:
                entry["picture"] = os.path.relpath(entry["picture"], out)
    for entry in report["models"]:
        # A model inside the working folder is named relative to it: no machine's paths in docs/.
        path = Path(entry["path"])
        if path.is_relative_to(Path.cwd()):
            entry["path"] = str(path.relative_to(Path.cwd()))
    files[out / "realphoto.json"] = report_json(report).encode()
    files[out / "realphoto.md"] = markdown_table(report).encode()
    write_files_atomic(files)
    click.echo(markdown_table(report), nl=False)
    click.echo(
        f"wrote {out / 'realphoto.json'}, {out / 'realphoto.md'}"
        + (f" and {len(files) - 2} picture(s) in {pictures}" if pictures else "")
    )


if __name__ == "__main__":
    main()
