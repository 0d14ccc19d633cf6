"""LiteRT's delegation log lines -> what ran (export/bench/delegation.py, the reference of the
Android core's DelegateReport through golden/delegation.json)."""

from __future__ import annotations

import re
from pathlib import Path

from meshpose_export.bench.delegation import parse, report


def _line(nodes: int, total: int, name: str, parts: int) -> str:
    return (
        f"Replacing {nodes} out of {total} node(s) with delegate ({name}) node, "
        f"yielding {parts} partitions for subgraph 0."
    )


def test_partial_gpu_is_not_labelled_gpu() -> None:
    r = report("gpu", [_line(118, 125, "TfLiteGpuDelegateV2", 2)])
    assert (r["label"], r["status"], r["cpu_nodes"]) == ("gpu+cpu", "partial", 7)
    assert report("gpu", [_line(125, 125, "TfLiteGpuDelegateV2", 1)])["label"] == "gpu"


def test_nnapi_without_a_driver_is_a_cpu_run() -> None:
    r = report("npu", ["Created TensorFlow Lite delegate for NNAPI."])
    assert (r["label"], r["status"]) == ("cpu", "none")


def test_unreadable_log_claims_nothing() -> None:
    assert report("gpu", None)["label"] == "gpu?"


def test_the_installed_runtime_still_prints_the_wording_the_parser_reads() -> None:
    """The format string in LiteRT's own library (ai-edge-litert, installed for the TFLite target),
    filled in as printf would, must parse: a changed wording fails here, not silently on a phone."""
    import ai_edge_litert as litert  # pinned in requirements.txt: no skip

    libs = sorted(Path(litert.__file__).parent.glob("*.so"))
    formats = set()
    for lib in libs:
        formats.update(m.decode() for m in re.findall(rb"Replacing %d[^\x00]*?partitions[^\x00]*", lib.read_bytes()))
    assert formats, f"no delegation log format in {[p.name for p in libs]}"
    for fmt in formats:
        pieces = re.split(r"%zu|%d", fmt)
        numbers = ["7", "9", "2", "0"] + ["0"] * len(pieces)  # nodes, total, partitions, subgraph 0
        filled = "".join(p + (numbers[i] if i < len(pieces) - 1 else "") for i, p in enumerate(pieces))
        filled = filled.replace("%s", "TfLiteGpuDelegateV2")
        (p,) = parse([filled])
        assert (p.compute, p.nodes, p.total, p.partitions) == ("gpu", 7, 9, 2), (fmt, filled)


def test_benchmark_model_rows_are_labelled_by_what_ran(tmp_path: Path) -> None:
    from meshpose_export.bench.android import android_row

    sample = (Path(__file__).parent / "data" / "benchmark_model_sample.txt").read_text()
    plain = android_row(sample, model="m", precision="fp32", compute="gpu", threads=None, artifact=tmp_path / "x")
    assert plain.compute == "gpu"  # no delegation line in the log: the name stays as asked
    partial = sample.replace(
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        "INFO: " + _line(118, 125, "TfLiteGpuDelegateV2", 2),
    )
    row = android_row(partial, model="m", precision="fp32", compute="gpu", threads=None, artifact=tmp_path / "x")
    assert row.compute == "gpu+cpu" and "118 on gpu" in row.note
