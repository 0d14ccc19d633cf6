"""checkpoint -> model -> deployment graph -> target.export -> target.open -> parity.check -> report.

The single data path behind `meshpose-export`, the tests and the benchmarks. Every file is
written into a staging folder inside the output folder and renamed into place only when complete,
so an interrupted or failed conversion never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshpose_export import __version__
from meshpose_export.parity import ParityReport, check, parity_inputs, torch_runner
from meshpose_export.sidecar import Sidecar, build_metadata
from meshpose_export.targets.base import ExportContext, Target, get_target, list_targets
from meshpose_mobile.atomic import write_text_atomic
from meshpose_mobile.crop import CropContract
from meshpose_mobile.deploy import MeshPoseDeploy
from meshpose_mobile.errors import ConfigError, ExportError, MeshPoseError
from meshpose_mobile.model import MeshPose
from meshpose_mobile.seeded import synthetic_batch

Log = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    target: Target
    precision: str


@dataclass
class ExportResult:
    target: str
    precision: str
    path: Path
    size_bytes: int
    export_seconds: float
    report: ParityReport


def plan_jobs(target: str, precisions: Sequence[str]) -> list[Job]:
    """`--target` and `--precision` values -> (target, precision) jobs, validated up front."""
    names = list_targets() if target == "all" else [get_target(target).name]
    jobs = []
    for name in names:
        t = get_target(name)
        if not precisions:
            chosen = list(t.recommended)
        elif "all" in precisions:
            chosen = list(t.precisions)
        else:
            chosen = [p for p in precisions if p in t.precisions]
            if target != "all":
                for p in precisions:
                    t.check_precision(p)
        jobs.extend(Job(t, p) for p in chosen)
    if not jobs:
        raise ConfigError(
            f"no target offers precision {', '.join(precisions)}; precisions per target: "
            + "; ".join(f"{n}: {', '.join(get_target(n).precisions)}" for n in names)
        )
    return jobs


def check_output_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as err:
        raise ExportError(
            f"output folder {out_dir} cannot be written ({err.strerror or err}); pass a writable --out"
        ) from None


def calibration_crops(graph: MeshPoseDeploy, contract: CropContract, seed: int = 0) -> np.ndarray:
    """(N, 3, H, W) crops for int8 calibration: the shipped photos, mirrored, plus synthetic images."""
    import torch

    from meshpose_mobile.samples import SAMPLE_PHOTOS

    crops = []
    for photo in SAMPLE_PHOTOS:
        crop, _ = contract.crop(photo.load(), photo.box)
        chw = crop.transpose(2, 0, 1)
        crops += [chw, chw[:, :, ::-1]]
    _, _, h, w = graph.config.input_shape
    synth = synthetic_batch(16, h, w, torch.Generator().manual_seed(seed)).numpy()
    return np.ascontiguousarray(np.concatenate([np.stack(crops), synth]), dtype=np.float32)


@contextlib.contextmanager
def _one_line_errors(what: str) -> Iterator[None]:
    """Converters raise anything; the user gets one line naming the step (the cause is chained)."""
    try:
        yield
    except MeshPoseError:
        raise
    except Exception as err:
        msg = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise ExportError(f"{what}: {msg}") from err


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _place(src: Path, dst: Path) -> None:
    """Rename into place; an older artifact of the same name is moved aside first and removed
    after, so the folder never holds a half-replaced bundle (.mlpackage is a folder)."""
    old = dst.with_name(f".{dst.name}.old")
    _remove(old)
    if dst.exists() or dst.is_symlink():
        os.replace(dst, old)
    os.replace(src, dst)
    _remove(old)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def run_export(
    model: MeshPose,
    jobs: Sequence[Job],
    out_dir: Path,
    *,
    contract: CropContract | None = None,
    weights_note: str = "",
    license_text: str = "",
    n_random: int = 4,
    log: Log = print,
) -> list[ExportResult]:
    """Export every job, check its parity, write artifact + sidecar + report into `out_dir`."""
    out_dir = Path(out_dir)
    check_output_dir(out_dir)
    cfg = model.config
    contract = contract or CropContract.for_config(cfg)
    reference = model.deploy()
    ref_runner = torch_runner(reference)
    inputs = parity_inputs(reference, contract, n_random=n_random)
    calib = calibration_crops(reference, contract)
    graphs: dict[tuple[tuple[str, bool], ...], MeshPoseDeploy] = {(): reference}
    results: list[ExportResult] = []
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".staging-"))
    try:
        for job in jobs:
            target, precision = job.target, job.precision
            key = tuple(sorted(target.deploy_kwargs().items()))
            if key not in graphs:
                graphs[key] = model.deploy(**dict(key))
            graph = graphs[key]
            name = target.artifact_name(cfg.variant, precision)
            meta = build_metadata(graph, target, precision, contract, weights_note, license_text)
            workdir = staging / f"work-{target.name}"
            workdir.mkdir(exist_ok=True)
            planned = tuple(j.precision for j in jobs if j.target is target)
            ctx = ExportContext(metadata=meta, workdir=workdir, calibration=calib, planned=planned)
            log(f"[{target.name}/{precision}] exporting {name}")
            t0 = time.perf_counter()
            with _one_line_errors(f"{target.name}/{precision} conversion failed"):
                tmp_artifact = target.export(graph, staging / name, precision, ctx)
            seconds = time.perf_counter() - t0
            log(f"[{target.name}/{precision}] checking parity on {len(inputs)} inputs")
            sidecar = Sidecar.build(graph, target, precision, contract, name, weights_note)
            with _one_line_errors(f"{target.name}/{precision} artifact could not be loaded back"):
                artifact = target.open(tmp_artifact, sidecar=sidecar)
                report = check(target, artifact, graph, ref_runner, inputs)
            log(report.table())
            # Sidecar and report are named after the whole artifact name (targets share stems:
            # meshpose_xs_fp16.tflite and meshpose_xs_fp16.mlpackage), so apps find the sidecar
            # by appending ".json".
            stem = name
            sidecar.with_parity(report).write(staging / f"{stem}.json")
            report.write_json(staging / f"{stem}.parity.json")
            _place(tmp_artifact, out_dir / name)
            _place(staging / f"{stem}.json", out_dir / f"{stem}.json")
            _place(staging / f"{stem}.parity.json", out_dir / f"{stem}.parity.json")
            results.append(ExportResult(target.name, precision, out_dir / name, _size(out_dir / name), seconds, report))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_summary(out_dir, cfg.variant, results)
    return results


def _write_summary(out_dir: Path, variant: str, results: list[ExportResult]) -> None:
    summary = {
        "toolkit_version": __version__,
        "variant": variant,
        "artifacts": [
            {
                "artifact": r.path.name,
                "target": r.target,
                "precision": r.precision,
                "size_bytes": r.size_bytes,
                "export_seconds": round(r.export_seconds, 2),
                "parity": r.report.status,
                "passed": r.report.passed,
                "vertices_max_px": r.report.stats["vertices"].max if r.report.stats else None,
            }
            for r in results
        ],
    }
    write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=2))


def summary_table(results: list[ExportResult]) -> str:
    rows = [("artifact", "size", "time", "parity")]
    for r in results:
        rows.append((r.path.name, f"{r.size_bytes / 1e6:.1f} MB", f"{r.export_seconds:.1f} s", r.report.verdict()))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
        if i == 0:
            lines.append("-" * (sum(widths) + 6 + 40))
    lines.append("time: wall time of each export call (TFLite converts every planned precision in its first call)")
    return "\n".join(lines)
