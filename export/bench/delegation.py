"""Which LiteRT delegate ran how much of a model, from the runtime's own log lines.

LiteRT's Java API says nothing about delegation: `Interpreter(model, options)` with a GPU or NNAPI
delegate succeeds when the delegate takes every node, some of them, or none (NNAPI with
`setUseNnapiCpu(false)` on a phone without an NPU driver takes none, without an error). The only
public account is the line the runtime logs when a delegate claims nodes (tag `tflite`; on
Android it is logged in production builds "for diagnosing delegation success"):

    Replacing 118 out of 125 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions for subgraph 0.

Older runtimes print `Replacing 118 node(s) with delegate (...) node, yielding 2 partitions.` (no
total) or `... for the whole graph.`; a delegate that takes nothing prints no line at all.

This module is the reference the Android core's `DelegateReport` is tested against
(golden/delegation.json): it parses those lines and labels a run by what really ran: `gpu` only
when the GPU delegate took every node, `gpu+cpu` when some nodes stayed on the CPU's own kernels,
`cpu` when the delegate took none, and `gpu?` when the log could not be read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Delegate names as the runtime registers them -> the `compute` names of meshpose-bench rows.
DELEGATE_COMPUTE = {
    "TfLiteGpuDelegateV2": "gpu",
    "TfLiteGpuDelegate": "gpu",
    "TfLiteNnapiDelegate": "npu",
    "TfLiteXNNPackDelegate": "xnnpack",
}

_LINE = re.compile(
    r"Replacing (?P<nodes>\d+)(?: out of (?P<total>\d+))? node\(s\) with delegate \((?P<name>[^)]*)\) node, "
    r"yielding (?P<partitions>\d+) partitions?(?: for subgraph (?P<subgraph>\d+))?"
)


@dataclass(frozen=True)
class Partitioning:
    """One delegation line: `nodes` of the graph's `total` (None in old runtimes) went to `delegate`."""

    delegate: str
    compute: str
    nodes: int
    total: int | None
    partitions: int


def compute_name(delegate: str) -> str:
    """`TfLiteGpuDelegateV2` -> `gpu`; an unknown delegate keeps its own name, lower-cased."""
    return DELEGATE_COMPUTE.get(delegate, delegate.lower())


def parse(lines: Iterable[str]) -> list[Partitioning]:
    """The delegation lines of the primary graph (subgraph 0, or no subgraph named), in order."""
    out = []
    for line in lines:
        m = _LINE.search(line)
        if not m or (m.group("subgraph") not in (None, "0")):
            continue
        out.append(
            Partitioning(
                delegate=m.group("name"),
                compute=compute_name(m.group("name")),
                nodes=int(m.group("nodes")),
                total=int(m.group("total")) if m.group("total") else None,
                partitions=int(m.group("partitions")),
            )
        )
    return out


def report(requested: str, lines: Iterable[str] | None) -> dict[str, object]:
    """What ran, for a run that asked for `requested` (`gpu`, `npu`, `xnnpack` or `cpu`).

    `lines` are the runtime's log lines of this interpreter's creation, or None when the log could
    not be read. Returns `label` (the run's `compute`), `status` (`full`: the requested delegate
    took every node; `partial`; `none`: it took no node; `unknown_total`: it took some and the
    runtime did not log the total; `unverified`: no log; for `cpu`, `full` means no delegate took
    a node), `total_nodes`, `cpu_nodes` (left to the CPU's own kernels; None
    when the runtime did not print the total), `delegated` ({compute: nodes}, in log order) and a
    one-line `summary`.
    """
    if lines is None:
        return {
            "label": requested if requested == "cpu" else requested + "?",
            "status": "unverified",
            "total_nodes": None,
            "cpu_nodes": None,
            "delegated": {},
            "summary": f"{requested}: delegation not verified (the runtime's log could not be read)",
        }
    parts = parse(lines)
    delegated: dict[str, int] = {}
    partitions: dict[str, int] = {}
    for p in parts:
        delegated[p.compute] = delegated.get(p.compute, 0) + p.nodes
        partitions[p.compute] = partitions.get(p.compute, 0) + p.partitions
    totals = [p.total for p in parts if p.total is not None]
    # Later delegates see the graph already partitioned (a smaller plan): the largest total is the model's.
    total = max(totals) if totals else None
    cpu_nodes = None if total is None else max(0, total - sum(delegated.values()))
    taken = [c for c, n in delegated.items() if n > 0]
    # The requested delegate first, then any other that took nodes (XNNPACK on the GPU's leftovers).
    order = ([requested] if requested in taken else []) + [c for c in taken if c != requested]
    if cpu_nodes is None:
        label = "+".join(order) if order else "cpu"
    else:
        label = "+".join(order + (["cpu"] if cpu_nodes > 0 or not order else []))
    mine = delegated.get(requested, 0)
    if requested == "cpu":
        status = "full" if not taken else "partial"
    elif mine == 0:
        status = "none"
    elif cpu_nodes is None:
        status = "unknown_total"
    elif cpu_nodes == 0 and order == [requested]:
        status = "full"
    else:
        status = "partial"
    pieces = [
        f"{n} on {c} ({partitions[c]} partition{'s' if partitions[c] != 1 else ''})" for c, n in delegated.items()
    ]
    if cpu_nodes is not None:
        pieces.append(f"{cpu_nodes} on the CPU's own kernels")
    if requested != "cpu" and mine == 0:
        pieces.insert(0, f"the {requested} delegate took none")
    head = f"{label} ({total} nodes)" if total is not None else f"{label} (total nodes not logged)"
    summary = f"{head}: " + ", ".join(pieces) if pieces else f"{label}: no delegate took a node"
    return {
        "label": label,
        "status": status,
        "total_nodes": total,
        "cpu_nodes": cpu_nodes,
        "delegated": delegated,
        "summary": summary,
    }
