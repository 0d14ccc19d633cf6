"""Contact sheet of the photo-like synthetic bodies: samples 0-7 of seed 0 at 256x192, unpicked.

.venv/bin/python scripts/synth_photo_sheet.py [--out docs/images/synth_photo_samples.png] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from meshpose_mobile.synth import SynthConfig, SyntheticBodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/synth_photo_samples.png"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    gen = SyntheticBodies(SynthConfig(height=256, width=192, appearance="photo"), seed=args.seed)
    tiles = [gen[i]["image"] for i in range(8)]
    sheet = np.concatenate([np.concatenate(tiles[:4], 1), np.concatenate(tiles[4:], 1)], 0)
    tmp = args.out.with_suffix(".tmp.png")
    Image.fromarray(sheet).save(tmp)
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
