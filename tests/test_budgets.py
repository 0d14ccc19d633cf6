"""Release budgets (export/convert/budgets.py): tighter parity limits for the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshpose_export.convert.budgets import RELEASE_BUDGETS, ReleaseBudget, release_budgets, tighter
from meshpose_export.convert.pipeline import Job, run_export
from meshpose_export.targets.base import Tolerance, get_target
from meshpose_mobile.paths import file_sha256
from meshpose_mobile.weights import SHIPPED, shipped_path


def test_the_shipped_default_has_release_budgets_and_no_entry_is_stale() -> None:
    """Replacing a shipped file without re-measuring its budgets fails here, as does a budget left
    behind for a file that no longer ships."""
    shipped = {file_sha256(p): v for v in SHIPPED if (p := shipped_path(v)) is not None}
    assert set(RELEASE_BUDGETS) <= set(shipped), "export/convert/budgets.py names a file that does not ship"
    blaze = shipped_path("meshpose_blaze")
    assert blaze is not None and release_budgets(blaze), (
        "the shipped meshpose_blaze file has no release budgets; measure it (meshpose-export --precision all) "
        "and update export/convert/budgets.py"
    )


@pytest.mark.parametrize(("sha", "key"), [(sha, key) for sha, table in RELEASE_BUDGETS.items() for key in table])
def test_each_budget_tightens_its_target_and_keeps_headroom(sha: str, key: str) -> None:
    budget = RELEASE_BUDGETS[sha][key]
    target, precision = key.split("/")
    generic = get_target(target).tolerance(precision)
    assert tighter(generic, budget) == budget.tolerance  # only ever tighter
    assert budget.tolerance != generic  # an entry that changes nothing is noise
    # The evidence is written down: every figure in `measured` at most half its limit.
    figures = [float(w) for w in budget.measured.replace(",", " ").split() if w.replace(".", "", 1).isdigit()]
    assert figures and max(figures) <= budget.tolerance.max_px / 2, budget.measured
    assert budget.source


def test_tighter_takes_the_smaller_limit_of_each_field() -> None:
    generic = Tolerance(max_px=5.0, p99_px=2.0, visibility=5e-3)
    assert tighter(generic, None) is generic
    mixed = ReleaseBudget(Tolerance(max_px=0.5, p99_px=3.0, visibility=1e-3), "x", "y")
    assert tighter(generic, mixed) == Tolerance(max_px=0.5, p99_px=2.0, visibility=1e-3)


def test_unknown_or_missing_weights_have_no_release_budget(tmp_path: Path) -> None:
    other = tmp_path / "mine.pt"
    other.write_bytes(b"not a shipped file")
    assert release_budgets(other) == {} and release_budgets(None) == {} and release_budgets(tmp_path) == {}


def test_export_applies_a_release_budget_and_says_so(tmp_path: Path, tiny_model) -> None:
    """The same artifact passes its target's budget and fails an impossible release budget, and the
    report names which one judged it."""
    job = [Job(get_target("onnx"), "fp32")]
    (plain,) = run_export(tiny_model, job, tmp_path / "plain", log=lambda s: None)
    assert plain.report.passed and plain.report.tolerance_source == "the onnx target's fp32 budget (any weights)"
    strict = {"onnx/fp32": ReleaseBudget(Tolerance(max_px=1e-12, p99_px=1e-12, visibility=1e-12), "0 px", "test")}
    (held,) = run_export(tiny_model, job, tmp_path / "held", log=lambda s: None, budgets=strict)
    assert not held.report.passed and held.report.tolerance.max_px == 1e-12
    assert "release budget" in held.report.verdict()
    doc = json.loads((tmp_path / "held" / "meshpose_tiny_fp32.onnx.parity.json").read_text())
    assert doc["tolerance_source"] == "release budget of test; measured then: 0 px"
