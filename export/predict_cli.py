"""`meshpose-predict`: run a checkpoint or an exported artifact on a photo (or a folder of photos).

Writes, per image, `<name>.json` (low-poly xyz and visibility, high-poly xyz with an upsampler,
all in image pixels) and `<name>_overlay.png` (the mesh on the photo plus a side view).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from meshpose_mobile.errors import MeshPoseError


def _targets() -> list:
    from meshpose_export.targets.base import get_target, list_targets

    return [get_target(n) for n in list_targets()]


def _fail(err: MeshPoseError) -> None:
    click.echo(f"error: {err}", err=True)
    sys.exit(err.exit_code)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("image", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A checkpoint (ours or the authors' released file) or an artifact meshpose-export wrote, with its "
    "sidecar .json beside it ("
    + ", ".join(f"{t.suffix}{'' if t.runs_here() else ' (cannot run here)'}" for t in _targets())
    + ").",
)
@click.option(
    "--box",
    default=None,
    help="Person box x,y,w,h (top-left corner, width, height) in image pixels. Default: the whole image.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("predictions"),
    show_default=True,
    help="Folder for <name>.json and <name>_overlay.png.",
)
@click.option(
    "--upsampler",
    type=click.Path(path_type=Path),
    default=None,
    help="Upsampler file (meshpose-train-upsampler, or the authors' with --released-constants); adds xyz_hp.",
)
@click.option(
    "--released-constants",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON with the released model's seam pairs and centre weights (docs/released-model.md).",
)
@click.option("--box-scale", type=float, default=None, help="Override the crop contract's box scale.")
@click.option("--no-overlay", is_flag=True, help="Write the JSON only.")
@click.option("--compact-png", is_flag=True, help="256-colour overlay PNG (about a third of the size).")
def main(**options: Any) -> None:
    """Predict the body mesh of the person in IMAGE (a photo or a folder of photos)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        _run(**options)
    except MeshPoseError as err:
        _fail(err)
    except KeyboardInterrupt:
        click.echo("error: interrupted; files already written are complete, none is half-written", err=True)
        sys.exit(130)


def _output_stems(images: list[Path]) -> list[str]:
    """File stems for the outputs; `a.jpg` and `a.png` in one folder keep their suffix apart."""
    counts = Counter(p.stem for p in images)
    return [p.stem if counts[p.stem] == 1 else p.name.replace(".", "_") for p in images]


def _run(
    *,
    image: Path,
    model_path: Path,
    box: str | None,
    out_dir: Path,
    upsampler: Path | None,
    released_constants: Path | None,
    box_scale: float | None,
    no_overlay: bool,
    compact_png: bool,
) -> None:
    from tqdm import tqdm

    from meshpose_export.overlay import save_overlay
    from meshpose_export.pipeline import check_output_dir
    from meshpose_export.predict import PredictError, Predictor, list_images, load_image, parse_box
    from meshpose_mobile.atomic import write_bytes_atomic

    images = list_images(image)
    person_box = parse_box(box) if box is not None else None
    if box_scale is not None and not box_scale > 0:
        raise PredictError(f"--box-scale must be positive, got {box_scale:g}")
    check_output_dir(out_dir)
    predictor = Predictor.load(
        model_path, upsampler=upsampler, released_constants=released_constants, box_scale=box_scale
    )
    info = predictor.info
    if released_constants is None and info.kind == "pytorch" and info.variant == "meshpose_hrnet32":
        click.echo(
            "note: no --released-constants: a released checkpoint runs without its seam averaging",
            err=True,
        )
    if box is None:
        click.echo(
            "warning: no --box given: the whole image is taken as the person box; pass --box x,y,w,h "
            "when the person does not fill the photo",
            err=True,
        )
    title_model = f"{info.kind} {info.variant} {info.precision}".strip()
    if info.weights:
        title_model += f"\n{info.weights}"
    failures: list[tuple[Path, MeshPoseError]] = []
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
            pred = predictor.predict(photo, person_box)
            doc = pred.to_dict(info, image=str(path))
            json_path = write_bytes_atomic(out_dir / f"{stem}.json", (json.dumps(doc) + "\n").encode())
            written = [json_path]
            if not no_overlay:
                title = f"{path.name}: {title_model}"
                written.append(
                    save_overlay(
                        out_dir / f"{stem}_overlay.png", photo, pred, predictor.faces, title=title, compact=compact_png
                    )
                )
        except MeshPoseError as err:
            if len(images) == 1:
                raise
            failures.append((path, err))
            bar.write(f"warning: skipped {path.name}: {err}", file=sys.stderr)
            continue
        if len(images) == 1:
            for p in written:
                click.echo(f"wrote {p}")
    if len(images) > 1:
        click.echo(f"wrote {len(images) - len(failures)} prediction(s) to {out_dir}")
    if failures:
        _, err = failures[0]
        raise PredictError(f"{len(failures)} of {len(images)} images failed; the first: {err}")


if __name__ == "__main__":
    main()
