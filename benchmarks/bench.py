"""Same as the `meshpose-bench` console script (python benchmarks/bench.py --help)."""

from __future__ import annotations

from meshpose_export.cli.bench_cli import main

if __name__ == "__main__":
    main()
