"""LiteRT benchmark_model logs -> meshpose-bench JSON (used by android_demo/bench_android.sh):
python benchmarks/parse_benchmark_model.py OUT.json MACHINE LOG:MODEL:PRECISION:COMPUTE:THREADS:TFLITE ..."""

from __future__ import annotations

from meshpose_export.bench.android import main

if __name__ == "__main__":
    main()
