"""meshpose-export: every target and precision on the tiny model, the default model in CI, and
bad input: one line, non-zero exit, nothing half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from meshpose_export.artifact import Artifact, Executor
from meshpose_export.cli.export_cli import main
from meshpose_export.convert.parity import compare, parity_inputs
from meshpose_export.convert.pipeline import plan_jobs, run_export
from meshpose_export.reference import reference_artifact
from meshpose_export.sidecar import Sidecar
from meshpose_export.targets.base import Tolerance, get_target, list_targets
from meshpose_export.targets.onnx_target import STANDARD_OPS, graph_checks
from meshpose_mobile.checkpoint import save_checkpoint
from meshpose_mobile.crop import CropContract
from meshpose_mobile.topology import Topology

ALL_JOBS = [(t, p) for t in ("onnx", "coreml", "tflite") for p in get_target(t).precisions]


@pytest.fixture(scope="module")
def onnxsim_on_path(tmp_path_factory) -> Path:
    """A stand-in `onnxsim` command first on PATH, as in an activated venv; it records each call
    in the returned file (and fails, so a call cannot change the export)."""
    bin_dir = tmp_path_factory.mktemp("fake-bin")
    calls = bin_dir / "calls"
    script = bin_dir / "onnxsim"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\nexit 1\n')
    script.chmod(0o755)
    return calls


@pytest.fixture(scope="module")
def tiny_exports(tmp_path_factory, tiny_model, onnxsim_on_path):
    """One export run of every target and precision of the tiny model, into a *relative* output
    folder from another working directory (the README's `make export` form: issue 11 found the
    TFLite worker lost relative paths when it changed its working directory), with a stand-in
    `onnxsim` first on PATH (an activated venv)."""
    base = tmp_path_factory.mktemp("tiny")
    (base / "cwd").mkdir()
    here = os.getcwd()
    os.chdir(base / "cwd")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PATH", f"{onnxsim_on_path.parent}{os.pathsep}{os.environ.get('PATH', '')}")
            results = run_export(tiny_model, plan_jobs("all", ("all",)), Path("../arts"), log=lambda s: None)
    finally:
        os.chdir(here)
    out = base / "arts"
    for r in results:
        assert not r.path.is_absolute()
        r.path = out / r.path.name
    return out, {(r.target, r.precision): r for r in results}


@pytest.mark.export
@pytest.mark.parametrize(("target", "precision"), ALL_JOBS)
def test_tiny_parity(tiny_exports, target: str, precision: str) -> None:
    out, results = tiny_exports
    r = results[(target, precision)]
    assert r.report.passed, r.report.table()
    assert r.path.exists() and r.size_bytes > 0
    sidecar = json.loads((out / (r.path.name + ".json")).read_text())
    dtype = "float16" if (target, precision) in {("coreml", p) for p in ("fp16", "w8", "pal8", "pal6")} else "float32"
    assert sidecar["outputs"][0] == {
        "name": "vertices", "shape": [1, 615, 3], "units": sidecar["outputs"][0]["units"], "dtype": dtype
    }  # fmt: skip
    assert sidecar["mesh"]["num_vertices"] == 615 and len(sidecar["mesh"]["faces"]) == 1226
    assert sidecar["crop"]["input_height"] == 64 and sidecar["input"]["color_order"] == "RGB"
    report = json.loads((out / (r.path.name + ".parity.json")).read_text())
    assert report["passed"] is True
    if r.report.status == "pass":  # runnable here: real numbers for every output
        assert set(report["stats"]) == {"vertices", "visibility", "vertices_2d"}
        assert len(report["per_input"]) == 8
        assert {row["kind"] for row in report["per_input"]} == {"real", "random"}


@pytest.mark.export
def test_onnx_graph_is_standard_and_fixed(tiny_exports) -> None:
    import onnx

    _out, results = tiny_exports
    model = onnx.load(str(results[("onnx", "fp32")].path))
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"Gather", "GatherND", "GatherElements", "ScatterND", "Loop", "If"}, ops
    assert ops <= STANDARD_OPS, ops
    path = results[("onnx", "fp32")].path
    assert all(c.passed for c in graph_checks(path)), graph_checks(path)
    assert model.opset_import[0].version >= 18
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 64, 48]
    assert [o.name for o in model.graph.output] == ["vertices", "visibility", "vertices_2d"]
    for o in model.graph.output:  # no 5-D tensors anywhere near the outputs
        assert len(o.type.tensor_type.shape.dim) <= 4
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["variant"] == "meshpose_tiny" and len(meta["topology_hash"]) == 64
    assert json.loads(meta["crop_contract"])["aspect"] == pytest.approx(0.75)


@pytest.mark.export
def test_tflite_export_ignores_onnxsim_on_path(tiny_exports, onnxsim_on_path: Path) -> None:
    """onnx2tf runs the `onnxsim` command when it finds one on PATH, and that command saves models
    over 100 MB with external weights, which broke meshpose_hrnet32's conversion in an activated
    venv while CI (no venv bin on PATH) passed. export_onnx simplifies; onnx2tf must not."""
    _out, results = tiny_exports
    assert results[("tflite", "fp32")].report.passed
    assert not onnxsim_on_path.exists(), onnxsim_on_path.read_text()


def test_compare_detects_a_broken_artifact(tiny_graph) -> None:
    inputs = parity_inputs(tiny_graph, CropContract(64, 48), n_random=2)
    ref = reference_artifact(tiny_graph)

    def shifted(image: np.ndarray) -> dict[str, np.ndarray]:
        out = ref(image)
        out["vertices"] = out["vertices"] + np.array([0.3, 0.0, 0.0], dtype=np.float32)
        return out

    side = Sidecar.build(tiny_graph, get_target("onnx"), "p", CropContract(64, 48), "a", "")

    def artifact(run=None, reason: str = "") -> Artifact:
        return Artifact(Path("a"), "t", "p", side, Executor(run) if run else None, reason)

    tol = Tolerance(max_px=0.25, p99_px=0.25, visibility=1e-3)
    report = compare(ref, artifact(shifted), inputs, tol)
    assert not report.passed and report.stats["vertices"].max == pytest.approx(0.3, abs=1e-5)
    assert (report.target, report.precision, report.artifact) == ("t", "p", "a")
    same = compare(ref, artifact(ref), inputs, tol)
    assert same.passed and same.stats["vertices"].max == 0.0
    static = compare(ref, artifact(None, "cannot run here"), inputs, tol, checks=[])
    assert not static.passed  # no checks at all is not a pass


@pytest.mark.slow
@pytest.mark.export
@pytest.mark.parametrize("target", ["onnx", "coreml", "tflite"])
def test_default_variant_every_target(tmp_path: Path, target: str) -> None:
    """The default model (meshpose_blaze, shipped weights) on every target with its recommended
    precisions, as the main job does."""
    result = CliRunner().invoke(main, ["--target", target, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["variant"] == "meshpose_blaze"
    assert summary["artifacts"] and all(a["passed"] for a in summary["artifacts"])
    # The shipped file's float16 artifacts are held to its release budgets (export/convert/budgets.py),
    # everything else to its target's.
    for a in summary["artifacts"]:
        report = json.loads((tmp_path / f"{a['artifact']}.parity.json").read_text())
        released = a["precision"] == "fp16"
        assert report["tolerance_source"].startswith("release budget") == released, report["tolerance_source"]


# --- bad input -------------------------------------------------------------------------------


def _run(args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _artifacts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_missing_checkpoint(tmp_path: Path) -> None:
    line = _run(["--ckpt", str(tmp_path / "none.pt"), "--target", "onnx", "--out", str(tmp_path / "o")])
    assert "not found" in line and _artifacts(tmp_path / "o") == []


def test_corrupt_checkpoint(tmp_path: Path, tiny_model) -> None:
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny_model)
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    line = _run(["--ckpt", str(ckpt), "--target", "onnx", "--out", str(tmp_path / "o")])
    assert "truncated" in line and _artifacts(tmp_path / "o") == []


def test_checkpoint_of_another_variant(tmp_path: Path, tiny_model) -> None:
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny_model)
    line = _run(["--ckpt", str(ckpt), "--variant", "meshpose_xs", "--target", "onnx", "--out", str(tmp_path / "o")])
    assert "meshpose_tiny, not meshpose_xs" in line


def test_checkpoint_of_another_topology(tmp_path: Path, tiny_model) -> None:
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny_model)
    other = tmp_path / "other.npz"
    Topology.minimal(615, "other-615").save(other)
    line = _run(["--ckpt", str(ckpt), "--topology", str(other), "--target", "onnx", "--out", str(tmp_path / "o")])
    assert "topology" in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--target", "caffe"], "unknown target"),
        (["--target", "onnx", "--precision", "fp16"], "no precision 'fp16'"),
        (["--target", "all", "--precision", "int3"], "'int3' is offered by no selected target"),
        (["--target", "all", "--precision", "fp16", "--precision", "int3"], "'int3' is offered by no selected target"),
        (["--variant", "meshpose_xxl"], "unknown variant"),
    ],
)
def test_bad_flags(tmp_path: Path, args: list[str], needle: str) -> None:
    line = _run([*args, "--out", str(tmp_path / "o")])
    assert needle in line and _artifacts(tmp_path / "o") == []


def test_unwritable_output_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _run(["--variant", "meshpose_tiny", "--target", "onnx", "--out", str(blocker / "sub")])
    assert "cannot be written" in line


def test_conversion_failing_half_way_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    """onnx succeeds, then the TFLite conversion dies after writing part of its file: the onnx files
    stay (complete), no TFLite file and no staging folder remain."""
    tflite = get_target("tflite")

    def broken(graph, out_path, precision, ctx):
        out_path.write_bytes(b"half a flatbuffer")
        raise RuntimeError("converter crashed\nwith a long traceback")

    monkeypatch.setattr(tflite, "export", broken)
    out = tmp_path / "o"
    line = _run(["--variant", "meshpose_tiny", "--target", "all", "--out", str(out)])
    assert "tflite/fp32 conversion failed: converter crashed" in line
    names = _artifacts(out)
    assert not any(n.endswith(".tflite") or n.startswith(".staging") for n in names), names
    assert not any("coreml" in n for n in names) or True
    assert list_targets().index("tflite") > list_targets().index("onnx")
    assert "meshpose_tiny_fp32.onnx" in names


def test_re_export_replaces_artifacts_in_place(tmp_path: Path, tiny_model) -> None:
    jobs = plan_jobs("coreml", ("fp32",))
    for _ in range(2):
        results = run_export(tiny_model, jobs, tmp_path, log=lambda s: None)
    assert results[0].report.passed
    names = _artifacts(tmp_path)
    assert names == [
        "meshpose_tiny_fp32.mlpackage",
        "meshpose_tiny_fp32.mlpackage.json",
        "meshpose_tiny_fp32.mlpackage.parity.json",
        "summary.json",
    ], names


def test_help_names_the_default_variant() -> None:
    from meshpose_mobile.registry import DEFAULT_VARIANT

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and f"(default {DEFAULT_VARIANT})" in " ".join(result.output.split())
