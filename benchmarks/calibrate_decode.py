"""Re-choose a trained checkpoint's Eq. 7 fusion shift and heatmap gain on its synthetic validation
stream and write a copy that decodes with them (meshpose_mobile/train/calibrate.py says why and
how; docs/design.md, "Decoding numbers chosen after training").

    python benchmarks/calibrate_decode.py --model runs/x/model.pt --out runs/x/model-cal.pt
    python benchmarks/calibrate_decode.py --model runs/x/model.pt --count 320 --only gain --out runs/x/model-gain.pt
    meshpose-export --ckpt runs/x/model-cal.pt --target all
    python benchmarks/calibrate_decode.py --only gain --gain 2 --gain-why "less jitter" --out blaze-g2.pt

`--gain` fixes the heatmap gain instead of the rule's choice (scored beside the rule's candidates, its
reason and the rule's own choice recorded): a lower gain trades synthetic accuracy for steadiness,
which the rule does not weigh (docs/design.md, "The one-grey-level maximum is a tail": the shipped
meshpose_blaze at gain 2 instead of 3 moves half as many bodies' vertices past 5 px under one grey level).

The copy holds the same tensors, stored as they were (a float16 file stays float16); only the
config's `fusion_shift` and `gain` change, and `extra.fusion_calibration` / `extra.gain_calibration`
record every candidate's score. Without --out it only prints the tables. Synthetic validation
bodies only: no real photo chooses either number.
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
from meshpose_mobile.train.calibrate import calibrate, fixed_gain_problem
from meshpose_mobile.train.data import training_config, validation_bodies
from meshpose_mobile.weights import shipped_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_VARIANT, help="checkpoint, or a variant with shipped weights")
    ap.add_argument("--count", type=int, default=160, help="validation bodies")
    ap.add_argument("--out", type=Path, default=None, help="write the recalibrated checkpoint here")
    ap.add_argument("--only", choices=("fusion", "gain"), default=None, help="choose one of the two numbers only")
    ap.add_argument("--gain", type=float, default=None, help="fix the heatmap gain instead of the rule's choice")
    ap.add_argument("--gain-why", default="", help="why the gain is fixed (kept in the record; required with --gain)")
    args = ap.parse_args(argv)
    if args.count < 1:
        ap.error("--count must be at least 1")
    if args.gain is not None:
        problem = fixed_gain_problem(args.gain, args.gain_why)
        if problem:
            ap.error(f"--gain {args.gain:g}: {problem}")
        if args.only == "fusion":
            ap.error("--gain sets the gain, which --only fusion leaves alone; drop one of them")
    torch.set_num_threads(1)
    with user_errors():  # a bad --model or --out is one line, not a traceback
        return _calibrate(args)


def _writable(out: Path) -> None:
    """Refuse an --out that cannot be written before minutes of scoring, not after."""
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder; pass a file path such as {out / 'model-cal.pt'}")
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
    bodies = validation_bodies(model, config, args.count)
    done = calibrate(
        model,
        bodies,
        config,
        fusion=args.only != "gain",
        gain=args.only != "fusion",
        fixed_gain=args.gain,
        fixed_gain_why=args.gain_why,
    )
    if done.fusion is not None:
        for shift, whole, seen in done.fusion.scores:
            mark = "  <- chosen" if shift == done.fusion.shift else ""
            print(f"fusion shift {shift:4.1f}: v2d_all_px {whole:.3f}, v2d_px {seen:.3f}{mark}")
        print(f"{path}: fusion shift {done.fusion.training_shift:g} -> {done.fusion.shift:g}")
    if done.gain is not None:
        for gain, score in done.gain.scores:
            mark = "  <- chosen" if gain == done.gain.gain else ""
            mark += "  (the rule's choice)" if done.gain.fixed_why and gain == done.gain.rule_gain else ""
            print(f"gain {gain:7.3f}: v2d_px {score:.3f}{mark}")
        print(f"{path}: gain {done.gain.training_gain:g} -> {done.gain.gain:g} ({done.gain.bodies} validation bodies)")
    if args.out is not None:
        stored = read_checkpoint(path)
        ours = stored.get("format") == FORMAT  # else the authors' layout: write it in ours
        extra = {**(stored.get("extra", {}) if ours else {}), **done.records()}
        try:
            # the tensors as the file stores them (a float16 file stays float16), the new config
            save_checkpoint(args.out, model, extra, stored["state_dict"] if ours else None)
        except OSError as err:
            raise write_error(args.out, err) from None
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
