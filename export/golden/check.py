"""Is golden/ stale? Compare files on disk with a fresh build, with tolerances measured across CPUs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_export import formats
from meshpose_export.golden.common import (
    DECIMALS,
    GOLDEN_DIR,
    schema_name,
)
from meshpose_export.golden.decode import decode_expected, output_array

# How far a runtime's outputs may move between CPUs before decode.json counts as stale, in the
# outputs' own units: crop pixels for `vertices` and `vertices_2d`, probability for `visibility`.
# Ten times the largest spread benchmarks/runtime_spread.py measured (docs/design.md, "Golden files
# across CPUs"; AMD EPYC with AVX-512, 2 cores). ONNX Runtime: 5.8e-5 crop px between the file
# written on the earlier CI machine and this one (4.3e-4 image px), 5.7e-5 with graph optimisations
# off vs all (1 or 2 threads alike; LiteRT built-in vs XNNPACK kernels: 5.1e-5); visibility 1.2e-7.
# PyTorch (the xs case): 6.7e-4 crop px with ATEN_CPU_CAPABILITY=default (no SIMD, as far from
# AVX-512 as an ARM build's kernels), 5.8e-4 with oneDNN limited to SSE4.1, 4.1e-4 on 2 threads
# vs 1; visibility 1.8e-7. The Intel Xeon moved one decoded vertex 1.3e-4 image px
# against the committed file; docs/toolchain.md measured 1.3e-4 px between AMD and Intel.
RUNTIME_TOLERANCE: dict[str, dict[str, float]] = {
    "onnxruntime": {"vertices": 6e-4, "vertices_2d": 6e-4, "visibility": 2e-6},
    "torch": {"vertices": 7e-3, "vertices_2d": 7e-3, "visibility": 2e-6},
}
# decode.json's expected values are rounded to DECIMALS from a decoding in float64 whose last bits
# may differ (OpenBLAS kernels: 1.1e-13 px measured), so "exact" is one unit of the last decimal.
EXACT = 1.5 * 10.0**-DECIMALS


def decode_difference(disk: dict[str, Any], fresh: dict[str, Any]) -> str:
    """'' when the decode.json on disk still holds, else where it first fails: everything but the
    runtime outputs as first_difference at 1e-4; the stored outputs within RUNTIME_TOLERANCE of
    the outputs a fresh run gives (float16 ones also one half-float step: a value that close to a
    rounding boundary may round to the neighbour); `expected` exactly what the prediction engine
    decodes from the stored outputs (decode_expected), whatever the CPU."""

    def rest(doc: dict[str, Any]) -> dict[str, Any]:
        cases = [{k: v for k, v in c.items() if k not in ("outputs", "expected")} for c in doc.get("cases", [])]
        return {**doc, "cases": cases}

    diff = first_difference(rest(disk), rest(fresh), 1e-4)
    if diff:
        return diff
    for i, (a, b) in enumerate(zip(disk["cases"], fresh["cases"], strict=True)):
        where = f"$.cases[{i}]"
        if a["outputs"].keys() != b["outputs"].keys():
            return f"{where}.outputs: names {sorted(a['outputs'])} != {sorted(b['outputs'])}"
        tolerance = RUNTIME_TOLERANCE.get(a["runtime"])
        if tolerance is None:
            return f"{where}.runtime: no measured tolerance for {a['runtime']!r} (add it to RUNTIME_TOLERANCE)"
        for name, entry in a["outputs"].items():
            other = b["outputs"][name]
            if (entry["shape"], entry["dtype"]) != (other["shape"], other["dtype"]):
                got, want = (entry["shape"], entry["dtype"]), (other["shape"], other["dtype"])
                return f"{where}.outputs.{name}: shape, dtype {got} != {want}"
            x, y = output_array(entry).ravel(), output_array(other).ravel()
            limit = np.full(x.shape, tolerance[name])
            if entry["dtype"] == "float16":
                limit += np.maximum(np.spacing(x), np.spacing(y)).astype(np.float64)
            over = np.flatnonzero(np.abs(x.astype(np.float64) - y.astype(np.float64)) > limit)
            if over.size:
                j = int(over[0])
                return (
                    f"{where}.outputs.{name}[{j}]: {x[j]} != {y[j]} (beyond {a['runtime']}'s tolerance {limit[j]:.3g})"
                )
        diff = first_difference(a["expected"], decode_expected(a), EXACT, f"{where}.expected", relative=False)
        if diff:
            return f"{diff} (not what the stored outputs decode to)"
    return ""


# The sidecar cases carry the export's parity number (parity.vertices_max_px, rounded to 3
# decimals): a measurement of a runtime against PyTorch on this CPU, which no app reads. It may
# move by PARITY_TOLERANCE_PX: ten times the largest change benchmarks/runtime_spread.py measured
# under PyTorch's and OpenBLAS's kernel switches (1.4e-5 px: SIMD-free ATEN with oneDNN at SSE4.1;
# 1.2e-5 px on 2 threads; 0 with OpenBLAS at Prescott), plus one step of the 3-decimal rounding.
PARITY_TOLERANCE_PX = 1.2e-3


def sidecar_difference(disk: dict[str, Any], fresh: dict[str, Any], tol: float = 1e-4) -> str:
    """first_difference of two sidecar.json documents, except that each case's measured parity
    number may move by PARITY_TOLERANCE_PX (its pass / fail status may not)."""

    def split(doc: dict[str, Any]) -> tuple[dict[str, Any], list[float | None]]:
        doc = json.loads(json.dumps(doc))
        measured = []
        for case in doc.get("cases", []):
            parity = case["sidecar"].get("parity") if isinstance(case.get("sidecar"), dict) else None
            measured.append(parity.pop("vertices_max_px", None) if isinstance(parity, dict) else None)
        return doc, measured

    (a, pa), (b, pb) = split(disk), split(fresh)
    diff = first_difference(a, b, tol)
    if diff:
        return diff
    for i, (x, y) in enumerate(zip(pa, pb, strict=True)):
        if (x is None) != (y is None) or (x is not None and abs(x - y) > PARITY_TOLERANCE_PX):
            return f"$.cases[{i}].sidecar.parity.vertices_max_px: {x} != {y} (beyond {PARITY_TOLERANCE_PX} px)"
    return ""


def schema_problems(docs: dict[str, Any]) -> list[str]:
    """Golden documents (file name -> JSON) that break their schema, and the sidecars and bench
    results documents inside them that break sidecar.schema.json / bench-results.schema.json
    (the invalid cases aside: those only need to be rejected by the readers)."""
    found = [f"{name}: {p}" for name, doc in docs.items() if (p := formats.problem(doc, schema_name(name)))]
    for i, case in enumerate(docs.get("sidecar.json", {}).get("cases", [])):
        if case.get("valid") and (p := formats.problem(case["sidecar"], "sidecar")):
            found.append(f"sidecar.json cases[{i}].sidecar: {p}")
    bench = docs.get("bench.json", {})
    for where, doc in (
        ("document_case.expected", bench.get("document_case", {}).get("expected")),
        ("valid_v1", bench.get("valid_v1")),
    ):
        if doc is not None and (p := formats.problem(doc, "bench-results")):
            found.append(f"bench.json {where}: {p}")
    return found


def stale_files(docs: dict[str, Any], out_dir: Path = GOLDEN_DIR, tol: float = 1e-4) -> list[str]:
    """Names of golden files that are missing or differ from `docs` beyond `tol` (floats; runtime
    outputs in decode.json beyond RUNTIME_TOLERANCE, sidecar parity numbers see sidecar_difference)."""
    stale = []
    for name, doc in docs.items():
        path = out_dir / name
        if not path.is_file():
            stale.append(f"{name} (missing)")
            continue
        disk = json.loads(path.read_text())
        problem = formats.problem(disk, schema_name(name))
        if problem:  # what the apps read must follow its schema before its numbers matter
            stale.append(f"{name} (does not follow {schema_name(name)}.schema.json: {problem})")
            continue
        if name == "decode.json":
            diff = decode_difference(disk, doc)
        elif name == "sidecar.json":
            diff = sidecar_difference(disk, doc, tol)
        else:
            diff = first_difference(disk, doc, tol)
        if diff:
            stale.append(f"{name} ({diff})")
    return stale


def first_difference(a: Any, b: Any, tol: float, where: str = "$", relative: bool = True) -> str:
    """'' when equal (floats within tol, absolute or relative; only absolute when not `relative`),
    else where they first differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where}: keys {sorted(set(a) ^ set(b))}"
        for k in a:
            d = first_difference(a[k], b[k], tol, f"{where}.{k}", relative)
            if d:
                return d
        return ""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, tol, f"{where}[{i}]", relative)
            if d:
                return d
        return ""
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if abs(a - b) <= (tol * max(1.0, abs(a), abs(b)) if relative else tol):
            return ""
        return f"{where}: {a} != {b}"
    return "" if a == b else f"{where}: {a!r} != {b!r}"
