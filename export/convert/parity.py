"""The one parity function: PyTorch's deployment graph vs an exported artifact, in pixels.

The reference is the PyTorch deployment graph opened as an artifact
(`meshpose_export.reference.reference_artifact`).
The CLI, the tests and the benchmarks all call `compare` (through `check` when they hold a
target): it runs an opened `Artifact` against the reference; where the artifact cannot run on this
machine, the report rests on the target's static checks and, if the target has one, a stand-in
with the artifact's arithmetic, labelled as such.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from meshpose_export.artifact import Artifact, Runner
from meshpose_export.convert.budgets import ReleaseBudget, tighter
from meshpose_export.targets.base import Check, StandIn, Target, Tolerance
from meshpose_mobile.atomic import write_text_atomic
from meshpose_mobile.crop import CropContract
from meshpose_mobile.deploy import OUTPUT_NAMES, MeshPoseDeploy
from meshpose_mobile.samples import SAMPLE_PHOTOS
from meshpose_mobile.seeded import synthetic_batch

VERTEX_OUTPUTS = ("vertices", "vertices_2d")
# `vertices_2d` (the heatmaps' soft-argmax positions) is judged on the vertices the reference sees,
# visibility >= 0.5: Eq. 7 fuses each vertex as w * p_2d + (1 - w) * r, so a hidden vertex's
# heatmap position barely reaches the mesh, while its flat heatmap makes that position swing with
# rounding (trained meshpose_blaze, CoreML fp16: 7.6 px on all vertices, the mesh itself 1.6 px).
# The mesh, `vertices`, is judged on every vertex.
SEEN = 0.5
RELEASE = "release budget"


@dataclass(frozen=True)
class ParityInput:
    name: str
    kind: str  # "real" (crop of a photo) or "random"
    image: np.ndarray  # (1, 3, H, W) float32 RGB, whole numbers 0..255 (what a camera gives)


def parity_inputs(graph: MeshPoseDeploy, contract: CropContract, n_random: int = 4, seed: int = 0) -> list[ParityInput]:
    """Crops of the shipped photos (and their mirror images) plus seeded random images, all
    uint8-valued: an artifact fed a pixel buffer (CoreML's image input) sees whole numbers, and
    a reference fed the unrounded crop would differ by the rounding alone (0.47 px on xs)."""
    inputs = []
    for photo in SAMPLE_PHOTOS:
        crop, _ = contract.crop(photo.load(), photo.box)
        chw = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
        inputs.append(ParityInput(photo.name, "real", chw))
        inputs.append(ParityInput(f"{photo.name}_mirrored", "real", np.ascontiguousarray(chw[..., ::-1])))
    g = torch.Generator().manual_seed(seed)
    _, _, h, w = graph.config.input_shape
    for i in range(n_random):
        if i % 2 == 0:
            img = torch.rand(1, 3, h, w, generator=g) * 255.0
            name = f"uniform_noise_{i}"
        else:
            img = synthetic_batch(1, h, w, g)
            name = f"synthetic_{i}"
        inputs.append(ParityInput(name, "random", img.numpy().astype(np.float32)))
    return [ParityInput(i.name, i.kind, _as_pixels(i.image)) for i in inputs]


def _as_pixels(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(np.rint(image), 0, 255), dtype=np.float32)


@dataclass(frozen=True)
class ErrorStats:
    max: float
    mean: float
    p99: float

    @classmethod
    def of(cls, values: np.ndarray) -> ErrorStats:
        v = np.asarray(values, dtype=np.float64).ravel()
        if not v.size:  # no vertex seen on any input: nothing of this output reaches the mesh
            return cls(0.0, 0.0, 0.0)
        return cls(float(v.max()), float(v.mean()), float(np.percentile(v, 99)))


@dataclass
class ParityReport:
    target: str
    precision: str
    artifact: str
    status: str  # "pass", "fail", "static-pass", "static-fail"
    tolerance: Tolerance
    stats: dict[str, ErrorStats] = field(default_factory=dict)
    per_input: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    note: str = ""
    # "artifact" when the artifact itself ran, else what produced `stats` ("" = nothing ran).
    measured_by: str = "artifact"
    # Where `tolerance` comes from: the target's budget for the precision, or a shipped file's
    # release budget (export/convert/budgets.py), which can only be tighter.
    tolerance_source: str = ""

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "static-pass")

    def summary(self) -> dict[str, Any]:
        """What the sidecar carries of this report (`Sidecar.with_parity`)."""
        return {
            "status": self.status,
            "passed": self.passed,
            "vertices_max_px": self.stats["vertices"].max if self.stats else None,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        d["units"] = {
            "vertices": "px (3-D Euclidean)",
            "vertices_2d": f"px (2-D Euclidean), vertices with reference visibility >= {SEEN}",
            "visibility": "abs",
        }
        return d

    def write_json(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2))

    def verdict(self) -> str:
        if self.status.startswith("static"):
            verdict = "PASS" if self.passed else "FAIL"
            if not self.stats:
                return f"{verdict} (static checks only; {self.note})"
            s = self.stats["vertices"]
            return f"{verdict} (static checks; {self.measured_by}: max {s.max:.4f} px, p99 {s.p99:.4f} px)"
        s = self.stats["vertices"]
        verdict = "PASS" if self.passed else "FAIL"
        by = "" if self.measured_by in ("", "artifact") else f"; {self.measured_by}"
        release = ", release budget" if self.tolerance_source.startswith(RELEASE) else ""
        return f"{verdict} max {s.max:.4f} px, p99 {s.p99:.4f} px (tol {self.tolerance.max_px} px{release}{by})"

    def table(self) -> str:
        lines = [f"parity {self.target}/{self.precision}: {self.verdict()}"]
        if self.stats:
            lines.append(f"  {'output':<12} {'max':>10} {'mean':>10} {'p99':>10}")
            for name, s in self.stats.items():
                lines.append(f"  {name:<12} {s.max:>10.4f} {s.mean:>10.4f} {s.p99:>10.4f}")
        for c in self.checks:
            lines.append(f"  [{'ok' if c.passed else 'FAIL'}] {c.name}: {c.detail}")
        return "\n".join(lines)


def compare(
    reference: Runner,
    artifact: Artifact,
    inputs: list[ParityInput],
    tolerance: Tolerance,
    *,
    checks: Sequence[Check] = (),
    stand_in: StandIn | None = None,
) -> ParityReport:
    """Run reference and artifact on the same inputs; per-output max, mean and p99 errors.

    Where the artifact cannot run here, the status is "static-pass" / "static-fail": the checks
    (none at all is a fail) and, with a `stand_in`, its numbers within the tolerance."""
    report = ParityReport(artifact.target, artifact.precision, artifact.name, "fail", tolerance, checks=list(checks))
    if not artifact.can_run:
        report.note = artifact.reason
        report.measured_by = stand_in.note if stand_in is not None else ""
        ok = bool(report.checks) and all(c.passed for c in report.checks)
        if stand_in is not None:
            _measure(report, reference, stand_in.runner, inputs)
            ok = ok and _within(report, tolerance)
        report.status = "static-pass" if ok else "static-fail"
        return report
    _measure(report, reference, artifact, inputs)
    if artifact.executor is not None and artifact.executor.note:
        report.measured_by = artifact.executor.note
    ok = _within(report, tolerance) and all(c.passed for c in report.checks)
    report.status = "pass" if ok else "fail"
    return report


def check(
    target: Target,
    artifact: Artifact,
    graph: MeshPoseDeploy,
    reference: Runner,
    inputs: list[ParityInput],
    release: ReleaseBudget | None = None,
) -> ParityReport:
    """`compare` with what the target adds: its static checks of the file (`verify`, against
    `graph`, the form the artifact was made from), its stand-in where the artifact cannot run here,
    and its tolerance for the artifact's precision, tightened by `release` when the weights are a
    shipped file with a release budget (`budgets.release_budgets`)."""
    stand_in = None if artifact.can_run else target.stand_in(artifact, graph)
    report = compare(
        reference,
        artifact,
        inputs,
        tighter(target.tolerance(artifact.precision), release),
        checks=target.verify(artifact, graph),
        stand_in=stand_in,
    )
    if release is not None:
        report.tolerance_source = f"{RELEASE} of {release.source}; measured then: {release.measured}"
    else:
        report.tolerance_source = f"the {target.name} target's {artifact.precision} budget (any weights)"
    return report


def _within(report: ParityReport, tolerance: Tolerance) -> bool:
    return (
        all(
            report.stats[name].max <= tolerance.max_px and report.stats[name].p99 <= tolerance.p99_px
            for name in VERTEX_OUTPUTS
        )
        and report.stats["visibility"].max <= tolerance.visibility
    )


def _measure(report: ParityReport, reference: Runner, runner: Runner, inputs: list[ParityInput]) -> None:
    errors: dict[str, list[np.ndarray]] = {name: [] for name in OUTPUT_NAMES}
    for item in inputs:
        ref, out = reference(item.image), runner(item.image)
        row: dict[str, Any] = {"input": item.name, "kind": item.kind}
        for name in OUTPUT_NAMES:
            got = np.asarray(out[name], dtype=np.float64).reshape(ref[name].shape)
            diff = got - ref[name].astype(np.float64)
            err = (np.linalg.norm(diff, axis=-1) if name in VERTEX_OUTPUTS else np.abs(diff)).ravel()
            if name == "vertices_2d":
                err = err[np.asarray(ref["visibility"]).ravel() >= SEEN]
            errors[name].append(err)
            row[f"{name}_max"] = float(err.max()) if err.size else 0.0
        report.per_input.append(row)
    report.stats = {name: ErrorStats.of(np.concatenate(v)) for name, v in errors.items()}
