"""Copy an exported model, its sidecar and the bundled benchmark photos into the Android app's assets.

    python android_demo/prepare_assets.py artifacts/meshpose_blaze_fp16.tflite

(meshpose_blaze is the default model; artifacts/meshpose_xs_fp16.tflite, from
`meshpose-export --variant meshpose_xs`, is bundled the same way.)

The app reads `app/src/main/assets/<model>.tflite` and `<model>.tflite.json` (the sidecar
meshpose-export wrote beside it) and, for the benchmark's whole-pipeline runs, the photos in
`assets/bench/` (the two sample photos that ship inside installed Python packages; nothing is
downloaded). The assets folder is git-ignored: models are artifacts, never committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "app" / "src" / "main" / "assets"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="an exported .tflite (its .tflite.json sidecar must be beside it)")
    parser.add_argument("--assets", type=Path, default=ASSETS, help="the app's assets folder")
    args = parser.parse_args(argv)
    model: Path = args.model
    sidecar = model.with_name(model.name + ".json")
    if model.suffix != ".tflite" or not model.is_file():
        print(
            f"error: {model} is not an exported .tflite file; run meshpose-export --target tflite first",
            file=sys.stderr,
        )
        return 2
    if not sidecar.is_file():
        print(
            f"error: {model.name} has no sidecar {sidecar.name} beside it; re-export with meshpose-export",
            file=sys.stderr,
        )
        return 2
    from meshpose_mobile.atomic import write_bytes_atomic

    try:
        bench = args.assets / "bench"
        bench.mkdir(parents=True, exist_ok=True)
        for old in args.assets.glob("*.tflite*"):
            if old.name != "efficientdet_lite0.tflite":  # the detector, fetched by the Gradle build
                old.unlink()
        for src in (model, sidecar):
            write_bytes_atomic(args.assets / src.name, src.read_bytes())
        from PIL import Image

        from meshpose_mobile.samples import SAMPLE_PHOTOS

        for photo in SAMPLE_PHOTOS:
            tmp = bench / f".{photo.name}.png.tmp"
            Image.fromarray(photo.load()).save(tmp, format="PNG")
            tmp.replace(bench / f"{photo.name}.png")
    except OSError as err:
        print(f"error: cannot write the app's assets in {args.assets} ({err.strerror or err})", file=sys.stderr)
        return 2
    print(f"assets ready in {args.assets}: {model.name}, {sidecar.name}, bench/ ({len(SAMPLE_PHOTOS)} photos)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
