"""golden/delegation.json: LiteRT delegation log lines (export/bench/delegation.py)."""

from __future__ import annotations

from typing import Any

from meshpose_export.golden.common import (
    _doc,
)


def delegation_doc() -> dict[str, Any]:
    """golden/delegation.json: LiteRT's delegation log lines -> what ran (meshpose_export.bench.delegation)."""
    from meshpose_export.bench.delegation import report

    gpu = "TfLiteGpuDelegateV2"
    xnn = "TfLiteXNNPackDelegate"
    nn = "TfLiteNnapiDelegate"

    def line(nodes: int, total: int | None, name: str, parts: int, tail: str = " for subgraph 0.") -> str:
        of = f" out of {total}" if total is not None else ""
        return f"Replacing {nodes}{of} node(s) with delegate ({name}) node, yielding {parts} partitions{tail}"

    logcat = "12-04 14:55:01.123  4321  4340 I tflite  : "
    scenarios: list[tuple[str, str, list[str] | None]] = [
        ("gpu took every node", "gpu", [line(125, 125, gpu, 1)]),
        ("gpu took some: the rest on the CPU's kernels", "gpu", [line(118, 125, gpu, 2)]),
        ("gpu took some, XNNPACK the rest", "gpu", [line(118, 125, gpu, 2), line(7, 9, xnn, 2)]),
        ("gpu, XNNPACK and the CPU", "gpu", [line(118, 125, gpu, 2), line(5, 9, xnn, 1)]),
        (
            "npu without a driver took nothing (no line), only unrelated lines",
            "npu",
            ["Initialized TensorFlow Lite runtime.", "Created TensorFlow Lite delegate for NNAPI."],
        ),
        ("npu took nothing, XNNPACK everything", "npu", [line(125, 125, xnn, 1)]),
        ("npu took every node", "npu", [line(125, 125, nn, 1)]),
        ("xnnpack, 'whole graph' wording", "xnnpack", [line(125, 125, xnn, 1, " for the whole graph.")]),
        ("xnnpack took some", "xnnpack", [line(120, 125, xnn, 3)]),
        ("xnnpack asked for, none took", "xnnpack", []),
        ("cpu: no delegate", "cpu", ["Initialized TensorFlow Lite runtime."]),
        ("cpu asked for, XNNPACK applied anyway", "cpu", [line(125, 125, xnn, 1)]),
        ("old wording without the total", "gpu", [line(40, None, gpu, 1, ".")]),
        ("log not readable", "gpu", None),
        ("log not readable, cpu", "cpu", None),
        (
            "other subgraphs are not the model's graph",
            "gpu",
            [line(3, 3, gpu, 1, " for subgraph 1."), line(125, 125, gpu, 1)],
        ),
        (
            "logcat threadtime prefix",
            "gpu",
            [logcat + line(100, 125, gpu, 1), logcat + "Created TensorFlow Lite delegate for GPU."],
        ),
        ("an unknown delegate keeps its name", "gpu", [line(125, 125, "TfLiteHexagonDelegate", 1)]),
    ]
    cases = []
    for name, requested, lines in scenarios:
        r = report(requested, lines)
        cases.append(
            {
                "name": name,
                "requested": requested,
                "log": lines,
                "expected": {
                    "label": r["label"],
                    "status": r["status"],
                    "total_nodes": r["total_nodes"],
                    "cpu_nodes": r["cpu_nodes"],
                    # pairs, not an object: the order (log order) is part of the answer
                    "delegated": [[c, n] for c, n in r["delegated"].items()],
                    "summary": r["summary"],
                },
            }
        )
    return _doc(
        "delegation",
        "LiteRT's log lines of one interpreter's creation -> which delegate took how many nodes and the run's label "
        "(meshpose_export.bench.delegation.report; the Android core's DelegateReport must agree exactly)",
        {
            "log": "the runtime's lines (tag tflite), or null when the log could not be read",
            "label": "the run's compute: delegates that took nodes, requested first, '+cpu' when nodes stayed on "
            "the CPU's own kernels; 'cpu' when none took any; requested + '?' when unverified",
            "status": "full | partial | none | unknown_total | unverified",
            "delegated": "[compute, nodes] in log order, subgraph 0 only",
        },
        cases,
    )
