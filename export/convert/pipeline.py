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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from meshpose_export import __version__
from meshpose_export.convert.budgets import ReleaseBudget
from meshpose_export.convert.parity import ParityReport, check, parity_inputs
from meshpose_export.reference import reference_artifact
from meshpose_export.runtime.people import tracking_defaults
from meshpose_export.sidecar import Sidecar, build_metadata
from meshpose_export.targets.base import ExportContext, Target, get_target, list_targets
from meshpose_mobile.atomic import write_text_atomic
from meshpose_mobile.crop import CropContract
from meshpose_mobile.deploy import MeshPoseDeploy
from meshpose_mobile.errors import ConfigError, ExportError, MeshPoseError
from meshpose_mobile.model import MeshPose
from meshpose_mobile.paths import is_user_os_error, prepare_out_dir, require_free, write_error
from meshpose_mobile.seeded import synthetic_batch
from meshpose_mobile.signals import raise_if_interrupted

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


def plan_jobs(target: str | Sequence[str], precisions: Sequence[str]) -> list[Job]:
    """`--target` (one, several, or 'all') and `--precision` values -> (target, precision) jobs,
    validated up front: a precision no selected target offers is an error, never dropped."""
    wanted = [target] if isinstance(target, str) else list(target) or ["all"]
    if "all" in wanted:
        names = list_targets()
    else:
        names = list(dict.fromkeys(get_target(t).name for t in wanted))
    for p in precisions:
        if p != "all" and not any(p in get_target(n).precisions for n in names):
            if len(names) == 1:
                get_target(names[0]).check_precision(p)
            raise ConfigError(
                f"--precision {p!r} is offered by no selected target; precisions per target: "
                + "; ".join(f"{n}: {', '.join(get_target(n).precisions)}" for n in names)
            )
    jobs = []
    for name in names:
        t = get_target(name)
        if not precisions:
            chosen = list(t.recommended)
        elif "all" in precisions:
            chosen = list(t.precisions)
        else:
            chosen = [p for p in dict.fromkeys(precisions) if p in t.precisions]
        jobs.extend(Job(t, p) for p in chosen)
    return jobs


def check_output_dir(out_dir: Path) -> None:
    """Create `out_dir` if needed and prove it writable (one line naming --out otherwise)."""
    prepare_out_dir(out_dir)


# Int8 calibration: synthetic bodies from a stream no training or validation run uses (training
# seeds are small, validation adds 1,000,003), so the quantisation ranges come from the
# distribution the model was trained on (crops of whole bodies and selfies) without reusing data.
CALIBRATION_SEED = 7_000_001
CALIBRATION_BODIES = 32


def calibration_crops(
    graph: MeshPoseDeploy, contract: CropContract, seed: int = 0, bodies: int = CALIBRATION_BODIES
) -> np.ndarray:
    """(N, 3, H, W) crops for int8 calibration: the shipped photos, mirrored, synthetic bodies at the
    model's input size, and a few image-like patterns (their ranges cover what bodies leave out)."""
    import torch

    from meshpose_mobile.samples import SAMPLE_PHOTOS
    from meshpose_mobile.synth import SynthConfig, SyntheticBodies

    crops = []
    for photo in SAMPLE_PHOTOS:
        crop, _ = contract.crop(photo.load(), photo.box)
        chw = crop.transpose(2, 0, 1)
        crops += [chw, chw[:, :, ::-1]]
    _, _, h, w = graph.config.input_shape
    gen = SyntheticBodies(SynthConfig(height=h, width=w), CALIBRATION_SEED + seed)
    crops += [gen.sample(i)["image"].transpose(2, 0, 1) for i in range(bodies)]
    synth = synthetic_batch(4, h, w, torch.Generator().manual_seed(seed)).numpy()
    return np.ascontiguousarray(np.concatenate([np.stack(crops).astype(np.float32), synth]), dtype=np.float32)


@contextlib.contextmanager
def _one_line_errors(what: str) -> Iterator[None]:
    """Converters raise anything; the user gets one line naming the step (the cause is chained).
    A Ctrl-C the step received is answered here whichever way the step ended."""
    try:
        yield
    except MeshPoseError:
        raise
    except Exception as err:
        # A Ctrl-C inside a converter can come back wrapped in the converter's own exception
        # (torch.onnx, coremltools): report the interrupt, not a failed conversion.
        raise_if_interrupted()
        cause = _os_cause(err)
        if cause is not None:
            raise write_error(cause.filename or "the output folder", cause) from None
        msg = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise ExportError(f"{what}: {msg}") from err
    # A converter can also swallow a Ctrl-C and succeed: a clean-clone CI run exited 0 after a
    # Ctrl-C during the ONNX export (torch.onnx tries its capture strategies one after another
    # when one raises; the likely path, not proven). The handler recorded the signal; answer it
    # before anything is placed.
    raise_if_interrupted()


def _os_cause(err: BaseException | None) -> OSError | None:
    for _ in range(5):
        if err is None:
            return None
        if is_user_os_error(err):
            return err  # type: ignore[return-value]
        err = err.__cause__ or err.__context__
    return None


STAGING_PREFIX = ".staging-"


def sweep_stale_staging(out_dir: Path) -> list[Path]:
    """Staging folders of earlier exports that were killed (SIGKILL, power loss) before their own
    clean-up ran. Each is named after its process id; one whose process still runs is kept, so
    two exports into one folder do not remove each other's work."""
    removed = []
    for entry in out_dir.glob(STAGING_PREFIX + "*"):
        pid_text = entry.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and _alive(int(pid_text)):
            continue
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    # A process of another user (no permission to signal it) counts as alive: its folder stays.
    return psutil.pid_exists(pid)


def export_bytes_estimate(graph: MeshPoseDeploy, jobs: Sequence[Job]) -> int:
    """Disk an export needs at most: each artifact about the fp32 weights, plus the converters'
    intermediate files in staging (ONNX, SavedModel, Keras copies: about 6x the weights for TFLite)."""
    weights = sum(t.numel() * 4 for t in graph.state_dict().values())
    return weights * (len(jobs) + 6) + (8 << 20)


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
    budgets: Mapping[str, ReleaseBudget] | None = None,
) -> list[ExportResult]:
    """Export every job, check its parity, write artifact + sidecar + report into `out_dir`.

    `budgets` ("target/precision" -> limit): the release budgets of the weights being exported,
    when they are a shipped file (`budgets.release_budgets`); each only tightens its target's."""
    budgets = budgets or {}
    out_dir = Path(out_dir)
    check_output_dir(out_dir)
    for stale in sweep_stale_staging(out_dir):
        log(f"removed {stale.name}, left by an export that was killed")
    cfg = model.config
    contract = contract or CropContract.for_config(cfg)
    reference = model.deploy()
    require_free(out_dir, export_bytes_estimate(reference, jobs))
    ref_runner = reference_artifact(reference, contract)
    tracking = tracking_defaults()
    inputs = parity_inputs(reference, contract, n_random=n_random)
    calib = calibration_crops(reference, contract)
    graphs: dict[tuple[tuple[str, bool], ...], MeshPoseDeploy] = {(): reference}
    results: list[ExportResult] = []
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=f"{STAGING_PREFIX}{os.getpid()}-"))
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
            sidecar = Sidecar.build(graph, target, precision, contract, name, weights_note, tracking=tracking)
            with _one_line_errors(f"{target.name}/{precision} artifact could not be loaded back"):
                artifact = target.open(tmp_artifact, sidecar=sidecar)
                report = check(target, artifact, graph, ref_runner, inputs, budgets.get(f"{target.name}/{precision}"))
            log(report.table())
            # Sidecar and report are named after the whole artifact name (targets share stems:
            # meshpose_xs_fp16.tflite and meshpose_xs_fp16.mlpackage), so apps find the sidecar
            # by appending ".json".
            stem = name
            sidecar.with_parity(report.summary()).write(staging / f"{stem}.json")
            report.write_json(staging / f"{stem}.parity.json")
            _place(tmp_artifact, out_dir / name)
            _place(staging / f"{stem}.json", out_dir / f"{stem}.json")
            _place(staging / f"{stem}.parity.json", out_dir / f"{stem}.parity.json")
            results.append(ExportResult(target.name, precision, out_dir / name, _size(out_dir / name), seconds, report))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_summary(out_dir, cfg.variant, results, weights_note)
    return results


def _write_summary(out_dir: Path, variant: str, results: list[ExportResult], weights_note: str = "") -> None:
    summary = {
        "toolkit_version": __version__,
        "variant": variant,
        "weights": weights_note or "trained checkpoint",
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
