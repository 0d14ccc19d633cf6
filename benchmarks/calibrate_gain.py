"""Re-choose a trained checkpoint's heatmap gain on its synthetic validation stream and write a copy
that decodes with it (meshpose_mobile/train/calibrate.py says why and how; docs/design.md, "The
heatmap gain, chosen after training").

    python benchmarks/calibrate_gain.py --model meshpose_blaze --out runs/blaze_gain.pt
    python benchmarks/calibrate_gain.py --model runs/x/model.pt --count 320 --out runs/x/model-gain.pt
    meshpose-export --ckpt runs/blaze_gain.pt --target all

The copy holds the same tensors, stored as they were (a float16 file stays float16); only the
config's gain changes, and `extra.gain_calibration` records every candidate's score. Without
--out it only prints the table. Synthetic validation bodies only: no real photo chooses the gain.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from meshpose_mobile.checkpoint import FORMAT, load_checkpoint, read_checkpoint, save_checkpoint
from meshpose_mobile.cliframe import user_errors
from meshpose_mobile.paths import OutputError, write_error
from meshpose_mobile.registry import DEFAULT_VARIANT
from meshpose_mobile.train.calibrate import choose_gain, with_gain
from meshpose_mobile.train.data import training_config, validation_bodies
from meshpose_mobile.weights import shipped_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_VARIANT, help="checkpoint, or a variant with shipped weights")
    ap.add_argument("--count", type=int, default=160, help="validation bodies")
    ap.add_argument("--out", type=Path, default=None, help="write the recalibrated checkpoint here")
    args = ap.parse_args(argv)
    if args.count < 1:
        ap.error("--count must be at least 1")
    torch.set_num_threads(1)
    with user_errors():  # a bad --model or --out is one line, not a traceback
        return _calibrate(args)


def _writable(out: Path) -> None:
    """Refuse an --out that cannot be written before minutes of scoring, not after."""
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder; pass a file path such as {out / 'model-gain.pt'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(out, err) from None


def _calibrate(args: argparse.Namespace) -> int:
    if args.out is not None:
        _writable(args.out)
    path = shipped_path(args.model) or Path(args.model)
    model = load_checkpoint(path, flag="--model").eval()
    config = training_config(path)
    choice = choose_gain(model, validation_bodies(model, config, args.count), config)
    for gain, score in choice.scores:
        mark = "  <- chosen" if gain == choice.gain else ""
        print(f"gain {gain:7.3f}: v2d_px {score:.3f}{mark}")
    print(f"{path}: gain {choice.training_gain:g} -> {choice.gain:g} ({choice.bodies} validation bodies)")
    if args.out is not None:
        stored = read_checkpoint(path)
        ours = stored.get("format") == FORMAT  # else the authors' layout: write it in ours
        extra = {**(stored.get("extra", {}) if ours else {}), "gain_calibration": choice.to_dict()}
        try:
            # the tensors as the file stores them (a float16 file stays float16), the new gain's config
            save_checkpoint(args.out, with_gain(model, choice.gain), extra, stored["state_dict"] if ours else None)
        except OSError as err:
            raise write_error(args.out, err) from None
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
