"""The benchmark run: export every variant through the export pipeline (parity included), time each
artifact per runtime and thread count in its own process, add the peer, write JSON + table + plot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from meshpose_export import litert
from meshpose_export.bench.ab import run_ab
from meshpose_export.bench.macs import onnx_macs, tflite_macs
from meshpose_export.bench.matmul_peak import matmul_peak
from meshpose_export.bench.report import cost_table, markdown, plot, ratio_lines
from meshpose_export.bench.schema import (
    TIMED_DESPITE_FAILURE,
    Row,
    results_dict,
    this_machine,
    validate,
    write_json_atomic,
    write_text_atomic,
)
from meshpose_export.convert.parity import check, parity_inputs
from meshpose_export.convert.pipeline import plan_jobs, run_export
from meshpose_export.reference import REFERENCE, reference_artifact, save_reference
from meshpose_export.runtime import peer as peer_mod
from meshpose_export.targets.base import Precision, Target, TargetName, get_target, list_targets, target_for
from meshpose_mobile.crop import CropContract
from meshpose_mobile.errors import ConfigError, MeshPoseError
from meshpose_mobile.machine import usable_cores
from meshpose_mobile.model import MeshPose
from meshpose_mobile.paths import prepare_out_dir
from meshpose_mobile.registry import get_variant
from meshpose_mobile.seeded import seeded_model

Log = Callable[[str], None]
PYTORCH = "pytorch"  # the deployment graph in eager PyTorch: the reference, not a target
# MACs are counted from this target's graph (bench/macs.py); it is exported for every variant.
MACS_FROM = TargetName.ONNX


def _targets() -> list[Target]:
    return [get_target(n) for n in list_targets()]


def all_runtimes() -> tuple[str, ...]:
    """PyTorch and the runtime of every registered target."""
    return (PYTORCH, *(t.runtime for t in _targets()))


# Timed side by side with the peer by default: the from-scratch variant and the one on BlazePose's
# own encoder (when its registry entry exists).
SIDE_BY_SIDE = ("meshpose_blaze", "meshpose_xs")


def default_variants() -> tuple[str, ...]:
    from meshpose_mobile.registry import list_variants

    names = {v.name for v in list_variants()}
    return tuple(v for v in SIDE_BY_SIDE if v in names)


def default_runtimes() -> tuple[str, ...]:
    """PyTorch and the runtime of every registered target that can execute on this machine."""
    return (PYTORCH, *(t.runtime for t in _targets() if t.runs_here()))


@dataclass(frozen=True)
class BenchConfig:
    variants: tuple[str, ...] = ("meshpose_xs",)
    runtimes: tuple[str, ...] = ()  # empty: `default_runtimes()`
    # Target name -> precisions to time; a target not named times its recommended set.
    precisions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    threads: tuple[int, ...] = (1, 2)
    warmup: int = 5
    runs: int = 30
    out_dir: Path = Path("benchmarks/results")
    machine: str | None = None
    peer_dir: Path | None = None  # None: where `paths.find_model_file` finds BlazePose full
    # Extra deployment forms timed next to the default one, in the same run (before/after).
    compare_expectation: tuple[str, ...] = ()
    compare_on: tuple[str, ...] = ("meshpose_xs",)  # variants the extra forms are timed for
    n_random: int = 4
    # Time artifacts whose parity failed too (their rows keep the failing parity and say so): the
    # speed of a precision is the graph's, whatever the weights make of its numerics.
    time_failed: bool = False

    @property
    def active_runtimes(self) -> tuple[str, ...]:
        return self.runtimes or default_runtimes()

    def precisions_of(self, target: Target) -> list[str]:
        return list(self.precisions.get(str(target.name)) or target.recommended)

    def check(self) -> None:
        for v in self.variants:
            get_variant(v)
        bad = set(self.active_runtimes) - set(all_runtimes())
        if bad:
            raise ConfigError(f"unknown runtime(s) {sorted(bad)}; choose from {', '.join(all_runtimes())}")
        for name, precisions in self.precisions.items():
            target = get_target(name)
            bad = set(precisions) - set(target.precisions)
            if bad:
                raise ConfigError(
                    f"unknown {name} precision(s) {sorted(bad)}; choose from {', '.join(target.precisions)}"
                )
        if not self.threads or min(self.threads) < 1:
            raise ConfigError("--threads takes positive thread counts, e.g. --threads 1 2")
        cores = usable_cores()
        if max(self.threads) > cores:
            # More threads than cores times the scheduler, not the model, and takes minutes.
            raise ConfigError(
                f"--threads {max(self.threads)} is more than the {cores} CPU core(s) this process may use; "
                f"pass thread counts from 1 to {cores}"
            )
        if self.runs < 1 or self.warmup < 0:
            raise ConfigError("--runs must be >= 1 and --warmup >= 0")
        from meshpose_mobile.deploy import EXPECTATIONS

        for e in self.compare_expectation:
            if e not in EXPECTATIONS:
                raise ConfigError(
                    f"--compare-expectation {e!r} is not an expectation layout; choose from {', '.join(EXPECTATIONS)}"
                )
        if self.machine is not None:
            check_machine_name(self.machine)


def check_machine_name(name: str) -> None:
    """--machine names one folder inside --out: no path separators, no '..', nothing hidden."""
    if (
        not name.strip()
        or name in (".", "..")
        or name.startswith(".")
        or any(c in name for c in "/\\\0")
        or len(name) > 100
    ):
        raise ConfigError(
            f"--machine {name!r} must be a plain folder name (letters, digits, '-', '_'; no '/', '..' or leading "
            "'.'): results go to --out/<machine>"
        )


class _DeployAs:
    """A model whose `deploy()` builds one chosen deployment form (run_export only calls
    `config` and `deploy`)."""

    def __init__(self, model: MeshPose, **kwargs: Any) -> None:
        self.model, self.kwargs, self.config = model, kwargs, model.config

    def deploy(self, **kwargs: Any) -> torch.nn.Module:
        return self.model.deploy(**{**self.kwargs, **kwargs})


def _measure(
    kind: str,
    path: Path,
    threads: int,
    cfg: BenchConfig,
    extra: str = "{}",
    mode: str = "model",
) -> dict[str, Any]:
    args = {"kind": kind, "path": str(path), "threads": threads, "extra": extra, "mode": mode}
    args |= {"warmup": cfg.warmup, "runs": cfg.runs}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(
        [sys.executable, "-m", "meshpose_export.bench.worker", json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("MESHPOSE_BENCH_RESULT "):
            return json.loads(line.split(" ", 1)[1])
    tail = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    raise RuntimeError(tail[-1][:200] if tail else f"worker exited {proc.returncode}")


def _timed_row(
    base: Row,
    kind: str,
    path: Path,
    threads: int,
    cfg: BenchConfig,
    peaks: dict[int, float],
    log: Log,
    extra: str = "{}",
) -> Row:
    try:
        m = _measure(kind, path, threads, cfg, extra)
    except RuntimeError as err:
        log(f"  {base.model} {base.runtime}/{base.precision} x{threads}: timing failed: {err}")
        return replace(base, threads=threads, status="failed", note=str(err))
    rate = base.macs / (m["median_ms"] / 1e3) if base.macs else None
    row = replace(
        base,
        threads=threads,
        **_timing_fields(m),
        macs_per_s=rate,
        efficiency=rate / peaks[threads] if rate and threads in peaks else None,
    )
    log(f"  {row.model} {row.runtime}/{row.precision} x{threads}: {row.latency_median_ms:.1f} ms median")
    return row


def bench_variant(
    model: MeshPose,
    label: str,
    deploy_kwargs: dict[str, Any],
    cfg: BenchConfig,
    work: Path,
    peaks: dict[int, float],
    log: Log,
) -> list[Row]:
    cfg_m = model.config
    shape = tuple(cfg_m.input_shape)
    params = model.num_parameters()
    t0 = time.perf_counter()
    graph = model.deploy(**deploy_kwargs)
    deploy_s = time.perf_counter() - t0
    vdir = work / label
    vdir.mkdir(parents=True, exist_ok=True)
    jobs = plan_jobs(MACS_FROM, [Precision.FP32])
    for target in _targets():
        if target.runtime in cfg.active_runtimes:
            planned = {(j.target.name, j.precision) for j in jobs}
            jobs += [
                j
                for j in plan_jobs(target.name, cfg.precisions_of(target))
                if (j.target.name, j.precision) not in planned
            ]
    log(f"[{label}] exporting {len(jobs)} artifact(s) with parity")
    # One target at a time: a converter that fails for a new variant (a TFLite op, say) leaves the
    # other targets timed, and the failure is a row of the table instead of the whole variant.
    results, failures = [], []
    for name in dict.fromkeys(j.target.name for j in jobs):
        group = [j for j in jobs if j.target.name == name]
        try:
            results += run_export(
                _DeployAs(model, **deploy_kwargs), group, vdir, n_random=cfg.n_random, log=lambda _m: None
            )
        except MeshPoseError as err:
            log(f"  {label} {name}: export failed: {err}")
            failures += [(j, err) for j in group]
    if not results:
        raise failures[0][1]
    onnx = [r.path for r in results if r.target == MACS_FROM]
    macs = onnx_macs(onnx[0]).total if onnx else None

    # Parity of a non-default form is against the default graph: "parity unchanged" means the
    # artifact still matches what every other target is checked against.
    reference = model.deploy()
    ref_runner = reference_artifact(reference)
    inputs = parity_inputs(reference, CropContract.for_config(cfg_m), n_random=cfg.n_random)
    rows: list[Row] = []
    common = {"input_shape": shape, "vertices": cfg_m.num_vertices, "params": params, "macs": macs}
    if PYTORCH in cfg.active_runtimes:
        pt = vdir / f"{label}_deploy.pt"
        save_reference(graph, pt, deploy_kwargs)
        base = Row(label, PYTORCH, "fp32", None, artifact=pt.name, artifact_bytes=pt.stat().st_size,
                   export_seconds=deploy_s, note="deployment graph, eager", **common)  # fmt: skip
        rows += [_timed_row(base, REFERENCE, pt, t, cfg, peaks, log) for t in cfg.threads]
    for job, err in failures:
        if job.target.runtime in cfg.active_runtimes:
            base = Row(label, job.target.runtime, job.precision, None, status="failed", note=f"export: {err}", **common)
            rows += [replace(base, threads=t) for t in cfg.threads]
    for r in results:
        target = get_target(r.target)
        runtime = target.runtime
        if runtime not in cfg.active_runtimes:
            continue
        report = r.report
        if deploy_kwargs:
            report = check(target, target.open(r.path), graph, ref_runner, inputs)
        stats = report.stats.get("vertices")
        base = Row(
            label, runtime, r.precision, None, compute=target.bench_compute,
            artifact=r.path.name, artifact_bytes=r.size_bytes, export_seconds=r.export_seconds,
            parity_max_px=stats.max if stats else None, parity_p99_px=stats.p99 if stats else None, **common,
        )  # fmt: skip
        if not target.runs_here():
            note = f"{target.name} artifacts cannot run on this machine; parity: {report.verdict()}"
            log(f"  {label} {runtime}/{r.precision}: not runnable here; not timed")
            rows += [replace(base, threads=t, status="not-runnable", note=note) for t in cfg.threads]
            continue
        if not report.passed and not cfg.time_failed:
            log(f"  {label} {runtime}/{r.precision}: parity failed ({report.verdict()}); not timed")
            rows += [replace(base, threads=t, status="parity-failed", note=report.verdict()) for t in cfg.threads]
            continue
        if not report.passed:
            log(f"  {label} {runtime}/{r.precision}: parity failed ({report.verdict()}); timed (--time-failed)")
            base = replace(base, note=f"{TIMED_DESPITE_FAILURE}: {report.verdict()}")
        rows += [_timed_row(base, str(target.name), r.path, t, cfg, peaks, log) for t in cfg.threads]
        rows.append(_pipeline_row(base, str(target.name), r.path, max(cfg.threads), cfg, log))
    return rows


def _pipeline_row(base: Row, kind: str, path: Path, threads: int, cfg: BenchConfig, log: Log) -> Row:
    """The artifact inside the whole prediction path (crop -> model -> image pixels) on the bundled
    photos, with stage medians: the desktop's counterpart of the apps' pipeline rows."""
    base = replace(base, threads=threads, scope="pipeline", macs=None, params=None)
    try:
        m = _measure(kind, path, threads, cfg, mode="pipeline")
    except RuntimeError as err:
        log(f"  {base.model} {base.runtime}/{base.precision} pipeline x{threads}: timing failed: {err}")
        return replace(base, status="failed", note=str(err))
    return replace(
        base,
        **_timing_fields(m),
        stages_ms=m["stages_ms"],
        note="whole pipeline per photo: crop (sidecar contract) -> model -> mesh in image pixels; boxes given "
        "(no detector), no drawing",
    )


def bench_peer(cfg: BenchConfig, peaks: dict[int, float], log: Log) -> list[Row]:
    path = peer_mod.find_peer(cfg.peer_dir)
    if path is None:
        log(f"peer {peer_mod.PEER_NAME} not timed: {peer_mod.missing_peer(cfg.peer_dir)}")
        return []
    target = target_for(path)
    base = Row(
        peer_mod.PEER_NAME, target.runtime, "fp16 weights", None, compute=target.bench_compute, artifact=path.name,
        input_shape=litert.input_shape(path), artifact_bytes=path.stat().st_size,
        params=peer_mod.tflite_params(path), macs=tflite_macs(path).total, note=peer_mod.PEER_SOURCE,
    )  # fmt: skip
    # The peer takes 0..1 pixels, ours 0..255.
    extra = json.dumps({"scale": 1.0})
    return [_timed_row(base, str(target.name), path, t, cfg, peaks, log, extra) for t in cfg.threads]


def paired_with_peer(rows: list[Row], vdir: Path, peer: Path, cfg: BenchConfig, log: Log) -> list[dict[str, Any]]:
    """Each measured model row on the peer's runtime, timed again alternately with the peer
    (`bench/ab.py`): the ratio to the peer that the sequential rows give drifts with the machine's
    load between the two timings, minutes apart; this one does not."""
    target = target_for(peer)
    out = []
    for r in rows:
        if r.scope != "model" or r.status != "measured" or r.runtime != target.runtime or r.threads is None:
            continue
        try:
            ab = run_ab(str(target.name), peer, vdir / r.artifact, r.threads, cfg.runs,
                        cfg.warmup, extra_before=json.dumps({"scale": 1.0}))  # fmt: skip
        except RuntimeError as err:
            log(f"  {r.model} {r.runtime}/{r.precision} x{r.threads} interleaved with the peer: failed: {err}")
            continue
        p = {
            "model": r.model, "runtime": r.runtime, "precision": r.precision, "threads": r.threads,
            "peer": peer_mod.PEER_NAME, "rounds": ab.runs, "model_median_ms": ab.after_median_ms,
            "peer_median_ms": ab.before_median_ms, "ratio_of_medians": ab.ratio_of_medians,
            "median_of_ratios": ab.median_of_ratios, "parity_failed": r.note.startswith(TIMED_DESPITE_FAILURE),
        }  # fmt: skip
        log(f"  {paired_line(p)}")
        out.append(p)
    return out


def paired_line(p: dict[str, Any]) -> str:
    failed = " (its parity FAILED; timed on request)" if p["parity_failed"] else ""
    head = f"{p['model']} {p['runtime']} {p['precision']}{failed}, {p['threads']} thread(s)"
    return (
        f"{head}: {p['model_median_ms']:.1f} ms vs {p['peer']} {p['peer_median_ms']:.1f} ms = "
        f"{p['ratio_of_medians']:.2f}x (median of per-round ratios {p['median_of_ratios']:.2f}x, {p['rounds']} rounds)"
    )


def runtime_versions() -> dict[str, str]:
    versions = {"torch": torch.__version__}
    for target in _targets():
        if target.runs_here():
            versions |= target.runtime_versions()
    return versions


def run_bench(
    cfg: BenchConfig,
    log: Log = print,
    model_factory: Callable[[str], MeshPose] = seeded_model,
    weights_note: str = "seeded (untrained) weights",
) -> dict[str, Any]:
    cfg.check()
    machine = this_machine(runtime_versions(), cfg.machine, note=f"{weights_note}; shared CI-class machine")
    # The results folder is made and proven writable before minutes of measuring, not after.
    out = cfg.out_dir / machine.name
    prepare_out_dir(out)
    log(f"machine {machine.name}: measuring the fp32 matmul peak")
    peak_objs = {t: matmul_peak(t) for t in cfg.threads}
    peaks = {t: p.macs_per_s for t, p in peak_objs.items()}
    peak_doc = {
        str(t): {"macs_per_s": p.macs_per_s, "gemm_size": p.best_size, "library": p.library}
        for t, p in peak_objs.items()
    }
    rows: list[Row] = []
    paired: list[dict[str, Any]] = []
    peer_path = peer_mod.find_peer(cfg.peer_dir)
    with tempfile.TemporaryDirectory(prefix="meshpose-bench-") as tmp:
        for variant in cfg.variants:
            model = model_factory(variant)
            forms: list[tuple[str, dict[str, Any]]] = [(variant, {})]
            if variant in cfg.compare_on:
                forms += [(f"{variant}+{e}", {"expectation": e}) for e in cfg.compare_expectation]
            for label, kwargs in forms:
                try:
                    measured = bench_variant(model, label, kwargs, cfg, Path(tmp), peaks, log)
                    rows += measured
                    if peer_path is not None:
                        paired += paired_with_peer(measured, Path(tmp) / label, peer_path, cfg, log)
                except MeshPoseError as err:
                    log(f"[{label}] not benchmarked: {err}")
                    rows.append(Row(label, "export", "", None, status="failed", note=str(err)))
    rows += bench_peer(cfg, peaks, log)
    doc = results_dict(machine, rows, peak_doc)
    # The apps read this file: a document that breaks bench-results.schema.json is refused here,
    # where it was made, instead of being written for a phone or CI to reject later.
    validate(json.loads(json.dumps(doc)))
    write_json_atomic(out / "results.json", doc)
    table = markdown(machine, rows, {str(t): v for t, v in peak_doc.items()})
    ratios = [ln for v in cfg.variants for ln in ratio_lines(rows, peer_mod.PEER_NAME, v)]
    cost = cost_table(rows, peer_mod.PEER_NAME, cfg.variants)
    changes = _before_after(rows, cfg)
    text = table + ("\n\nCost next to the peer (counted from the graphs):\n\n" + "\n".join(cost) if cost else "")
    text += ("\n\nRatio to the peer (same run):\n\n" + "\n".join(f"- {x}" for x in ratios)) if ratios else ""
    if paired:
        write_json_atomic(out / "paired.json", {"schema": "meshpose-bench-paired", "version": 1, "rows": paired})
        text += (
            "\n\nInterleaved with the peer (both loaded in one process, single runs alternating, so a "
            "neighbour's load lands on both; paired.json):\n\n" + "\n".join(f"- {paired_line(p)}" for p in paired)
        )
    text += ("\n\nBefore / after (same run):\n\n" + "\n".join(f"- {x}" for x in changes)) if changes else ""
    write_text_atomic(out / "results.md", text + "\n")
    if any(r.status == "measured" for r in rows):
        plot(rows, out / "latency_vs_macs.png", f"{machine.name}: median latency vs MACs")
    log(text)
    return doc


def _before_after(rows: list[Row], cfg: BenchConfig) -> list[str]:
    out = []
    index = {
        (r.model, r.runtime, r.precision, r.threads): r for r in rows if r.status == "measured" and r.scope == "model"
    }
    for (model, runtime, precision, threads), after in index.items():
        if "+" not in model:
            continue
        before = index.get((model.split("+")[0], runtime, precision, threads))
        if before is None or not before.latency_median_ms or not after.latency_median_ms:
            continue
        out.append(
            f"{model} vs default, {runtime} {precision}, {threads} thread(s): {before.latency_median_ms:.2f} -> "
            f"{after.latency_median_ms:.2f} ms ({after.latency_median_ms / before.latency_median_ms:.3f}x); parity max "
            f"{_px(before.parity_max_px)} -> {_px(after.parity_max_px)} px"
        )
    return out


def _px(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _timing_fields(m: dict[str, Any]) -> dict[str, Any]:
    """The row fields every timing subprocess measures, model-only and whole-pipeline alike."""
    return {
        "latency_median_ms": m["median_ms"],
        "latency_p90_ms": m["p90_ms"],
        "latency_min_ms": m["min_ms"],
        "fps": 1000.0 / m["median_ms"],
        "runs": m["runs"],
        "warmup": m["warmup"],
        "peak_rss_mb": m["peak_rss_mb"],
        "peak_model_mb": m["peak_model_mb"],
        "load_seconds": m["load_seconds"],
    }
