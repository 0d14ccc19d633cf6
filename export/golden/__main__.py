"""Write the golden test vectors in golden/ that the iOS (MeshPoseKit) and Android (core) tests read.

Every expected value comes from the project's own Python code: real sidecars written by
export/sidecar.py, the crop contract of meshpose_mobile/crop.py, export/runtime/frame_geometry.py, a real
exported ONNX model run by ONNX Runtime through the prediction engine, meshpose_export.runtime.tracking and
export/bench/schema.py. golden/README.md documents each file's schema.

    python -m meshpose_export.golden                 # rewrite golden/ (scripts/make_golden.py does the same)
    python -m meshpose_export.golden --out DIR       # write the files into DIR instead
    python -m meshpose_export.golden --check         # exit 1 when golden/ is stale (tests/test_golden.py does this too)

Floats are rounded to a fixed number of decimals so that a regenerated file is byte-identical on
the same machine. Runtime outputs are the exception: decode.json stores them exactly (float32
decimals that read back to the very bits, float16 bit patterns), and its expected values are
decoded from those stored outputs, so they are checked exactly on any CPU; only the outputs
themselves are compared with a tolerance measured across CPU kernels (RUNTIME_TOLERANCE).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from meshpose_export.golden.build import build_all, write_all
from meshpose_export.golden.check import stale_files
from meshpose_export.golden.common import GOLDEN_DIR
from meshpose_mobile.cliframe import command
from meshpose_mobile.errors import MeshPoseError


class StaleGolden(MeshPoseError):
    """golden/ differs from what the code writes now (exit 1: a check that failed, not bad input)."""

    exit_code = 1


@command(interrupted="files already written are complete (each is written atomically)")
@click.option("--check", is_flag=True, help="Compare with golden/ instead of writing it.")
@click.option("--out", type=click.Path(path_type=Path), default=GOLDEN_DIR, help="Folder to write (default: golden/).")
def main(check: bool, out: Path) -> None:
    """Write the golden test vectors that the iOS and Android core tests read (or check them)."""
    if check:
        stale = stale_files(build_all(), out)
        for s in stale:
            print(f"stale: golden/{s}", file=sys.stderr)
        if stale:
            raise StaleGolden("golden vectors are stale; run python scripts/make_golden.py and commit golden/")
        click.echo("golden vectors are up to date")
        return
    for path in write_all(out):
        click.echo(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()
