"""Results -> a markdown table and a PNG plot (latency against MACs). Measured numbers only:
a row without a measurement shows its status, never a number."""

from __future__ import annotations

from pathlib import Path

from meshpose_export.bench.schema import TIMED_DESPITE_FAILURE, Machine, Row
from meshpose_mobile.atomic import atomic_open


def _f(v: float | None, fmt: str) -> str:
    return "" if v is None else format(v, fmt)


def _failed(r: Row) -> str:
    """Marks a row timed with `--time-failed`: its artifact failed parity, the table must say so."""
    return " **FAIL**" if (r.note or "").startswith(TIMED_DESPITE_FAILURE) else ""


def markdown(machine: Machine, rows: list[Row], peak: dict[str, dict[str, float]]) -> str:
    peaks = ", ".join(f"{t} thread(s) {p['macs_per_s'] / 1e9:.1f} GMAC/s" for t, p in sorted(peak.items()))
    runtimes = ", ".join(f"{k} {v}" for k, v in machine.runtimes.items())
    lines = [
        f"Machine: **{machine.name}** ({machine.cpu}, {machine.cores} cores, {machine.os}); {runtimes}.",
        f"fp32 matmul peak (the efficiency denominator): {peaks}.",
        *([f"Weights and conditions: {machine.note}."] if machine.note else []),
        "",
        "| model | runtime | precision | thr | median ms | p90 ms | FPS | peak RSS / model MB | size MB "
        "| params M | GMACs | eff. | export s | parity max px |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = _f(r.artifact_bytes / 1e6 if r.artifact_bytes else None, ".1f")
        mem = f"{r.peak_rss_mb:.0f} / {r.peak_model_mb:.0f}" if r.peak_rss_mb is not None else ""
        lat = _f(r.latency_median_ms, ".1f") if r.status == "measured" else r.status
        runtime = f"{r.runtime} (whole pipeline)" if r.scope == "pipeline" else r.runtime
        lines.append(
            f"| {r.model} | {runtime} | {r.precision} | {r.threads or ''} | {lat} | {_f(r.latency_p90_ms, '.1f')} "
            f"| {_f(r.fps, '.1f')} | {mem} | {size} | {_f(r.params / 1e6 if r.params else None, '.2f')} "
            f"| {_f(r.macs / 1e9 if r.macs else None, '.2f')} | {_f(r.efficiency, '.0%')} "
            f"| {_f(r.export_seconds, '.1f')} | {_f(r.parity_max_px, '.4f')}{_failed(r)} |"
        )
    staged = [r for r in rows if r.scope == "pipeline" and r.status == "measured" and r.stages_ms]
    if staged:
        lines += ["", "Whole-pipeline stage medians (ms; a stage not in the run is left out):", ""]
        for r in staged:
            parts = ", ".join(f"{k} {v:.2f}" for k, v in (r.stages_ms or {}).items() if v is not None)
            lines.append(f"- {r.model} {r.runtime} {r.precision}, {r.threads or ''} thread(s): {parts}")
    return "\n".join(lines)


def ratio_lines(rows: list[Row], peer: str, model: str) -> list[str]:
    """`model`'s latency as a multiple of the peer's, same runtime and threads, same run."""
    out = []
    rows = [r for r in rows if r.scope == "model"]
    peers = {(r.runtime, r.threads): r for r in rows if r.model == peer and r.status == "measured"}
    for r in rows:
        p = peers.get((r.runtime, r.threads))
        if r.model == model and r.status == "measured" and p is not None and p.latency_median_ms:
            out.append(
                f"{model} {r.runtime} {r.precision}, {r.threads} thread(s): {r.latency_median_ms:.1f} ms vs "
                f"{peer} ({p.precision}) {p.latency_median_ms:.1f} ms = "
                f"{r.latency_median_ms / p.latency_median_ms:.2f}x"
            )
    return out


def cost_table(rows: list[Row], peer: str, models: tuple[str, ...] | list[str]) -> list[str]:
    """Parameters and MACs of each model (counted from its graph) and their multiples of the peer's.
    Empty when the peer is not in the run."""
    first = {}
    for r in rows:
        if r.scope == "model" and r.params and r.macs:
            first.setdefault(r.model, r)
    p = first.get(peer)
    if p is None:
        return []
    lines = [
        f"| model | params M | GMACs | params / {peer} | MACs / {peer} |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in [*models, peer]:
        r = first.get(name)
        if r is not None:
            lines.append(
                f"| {name} | {r.params / 1e6:.2f} | {r.macs / 1e9:.3f} | {r.params / p.params:.2f}x "
                f"| {r.macs / p.macs:.2f}x |"
            )
    return lines


def plot(rows: list[Row], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r.status == "measured" and r.macs and r.scope == "model"]
    threads = sorted({r.threads or 0 for r in measured}) or [1]
    fig, axes = plt.subplots(1, len(threads), figsize=(6 * len(threads), 4.5), squeeze=False)
    # One marker per runtime, in the order the rows name them (pytorch, then each target's runtime).
    markers = dict(zip(dict.fromkeys(r.runtime for r in measured), "so^dvP*X", strict=False))
    models = sorted({r.model for r in measured})
    colours = {m: f"C{i}" for i, m in enumerate(models)}
    for ax, t in zip(axes[0], threads, strict=True):
        for r in (r for r in measured if (r.threads or 0) == t):
            ax.scatter(r.macs / 1e9, r.latency_median_ms, marker=markers.get(r.runtime, "x"), color=colours[r.model])
            ax.annotate(f"{r.runtime[:4]} {r.precision}", (r.macs / 1e9, r.latency_median_ms), fontsize=6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("GMACs per inference (counted from the graph)")
        ax.set_ylabel("median latency (ms)")
        ax.set_title(f"{t} thread(s)")
        ax.grid(True, which="both", alpha=0.3)
    handles = [plt.Line2D([], [], color=colours[m], marker="o", ls="", label=m) for m in models]
    handles += [plt.Line2D([], [], color="k", marker=mk, ls="", label=rt) for rt, mk in markers.items()]
    axes[0][-1].legend(handles=handles, fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_open(path) as fh:
        fig.savefig(fh, dpi=110, format="png")
    plt.close(fig)
