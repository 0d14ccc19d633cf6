"""Build every golden file in memory, write them (one line per array of numbers)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from meshpose_export.golden.bench import bench_cases
from meshpose_export.golden.check import schema_problems
from meshpose_export.golden.common import (
    GOLDEN_DIR,
    _r,
)
from meshpose_export.golden.crop import crop_cases
from meshpose_export.golden.decode import decode_cases
from meshpose_export.golden.delegation import delegation_doc
from meshpose_export.golden.geometry import geometry_cases
from meshpose_export.golden.sidecar import _real_sidecars, sidecar_cases
from meshpose_export.golden.tracking import tracking_docs


def build_all() -> dict[str, Any]:
    """Every golden file, in memory: {file name: JSON document}."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="meshpose-golden-") as tmp:
        work = Path(tmp)
        sidecars = _real_sidecars(work)
        docs = {
            "sidecar.json": sidecar_cases(sidecars),
            "crop.json": crop_cases(),
            "geometry.json": geometry_cases(),
            "decode.json": decode_cases(work),
            "bench.json": bench_cases(),
        }
    for name, doc in tracking_docs().items():
        docs[name] = doc
    docs["delegation.json"] = delegation_doc()
    docs = {name: _r(doc, None) for name, doc in docs.items()}
    problems = schema_problems(docs)
    if problems:  # a generator change that the schemas (and so the apps) do not know about
        raise AssertionError(f"golden documents break their JSON Schemas in golden/schema/: {problems}")
    return docs


def dumps(doc: Any) -> str:
    """JSON with one line per array of numbers: readable diffs, small files."""

    def enc(v: Any, ind: str) -> str:
        if isinstance(v, dict):
            if not v:
                return "{}"
            inner = ind + "  "
            items = [f"{inner}{json.dumps(k)}: {enc(x, inner)}" for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + ind + "}"
        if isinstance(v, list):
            if all(not isinstance(x, (dict, list)) for x in v):
                return json.dumps(v, allow_nan=False)
            inner = ind + "  "
            return "[\n" + ",\n".join(inner + enc(x, inner) for x in v) + "\n" + ind + "]"
        return json.dumps(v, allow_nan=False)

    return enc(doc, "") + "\n"


def write_all(out_dir: Path = GOLDEN_DIR) -> list[Path]:
    from meshpose_mobile.atomic import write_text_atomic

    docs = build_all()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in docs.items():
        path = out_dir / name
        write_text_atomic(path, dumps(doc))
        written.append(path)
    return written
