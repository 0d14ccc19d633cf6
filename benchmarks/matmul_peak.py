"""This CPU's attainable fp32 multiply-accumulates per second: python benchmarks/matmul_peak.py [--threads 1 2]"""

from __future__ import annotations

from meshpose_export.bench.matmul_peak import main

if __name__ == "__main__":
    main()
