"""The target interface as a plugin sees it, and the layering rules that keep one data path.

A fourth target (tests/toy_torchscript_target.py) is one module plus `register_target`: export,
parity, predict and bench take it with no change elsewhere. The model core never imports the export
package, and no code outside export/targets/ branches on a format.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from meshpose_export.cli.export_cli import main as export_main
from meshpose_export.cli.predict_cli import main as predict_main
from meshpose_export.runtime.predict import Predictor
from meshpose_export.sidecar import Sidecar
from meshpose_export.targets.base import (
    PLUGIN_ENV,
    find_target,
    get_target,
    list_targets,
    register_target,
    target_for,
    unregister_target,
)
from meshpose_mobile.checkpoint import save_checkpoint
from meshpose_mobile.crop import CropContract
from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.samples import SAMPLE_PHOTOS

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
TOY = "toy_torchscript_target"


@pytest.fixture
def toy_target(monkeypatch):
    """The toy registered here and, through the environment, in subprocesses (bench timing)."""
    import importlib

    module = importlib.import_module(TOY)
    register_target(module.TARGET)
    monkeypatch.setenv(PLUGIN_ENV, TOY)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    yield module.TARGET
    unregister_target(module.TARGET.name)


@pytest.mark.export
def test_fourth_target_through_export_parity_predict_bench(tmp_path: Path, toy_target, tiny_model) -> None:
    from meshpose_export.bench.run import BenchConfig, run_bench
    from meshpose_export.bench.schema import validate

    out = tmp_path / "artifacts"
    # export + parity: the CLI, which plans jobs from the registry
    result = CliRunner().invoke(
        export_main, ["--variant", "meshpose_tiny", "--target", "torchscript", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    path = out / "meshpose_tiny_fp32.torchscript"
    report = json.loads((out / f"{path.name}.parity.json").read_text())
    assert report["status"] == "pass" and report["measured_by"] == "artifact"
    assert report["stats"]["vertices"]["max"] <= 0.01 and len(report["per_input"]) == 8
    assert Sidecar.beside(path).target == "torchscript"

    # open: found from the file, callable without the PyTorch graph
    assert target_for(path) is toy_target and "torchscript" in list_targets()
    artifact = target_for(path).open(path)
    assert artifact.can_run and artifact.precision == "fp32" and artifact.input_shape == (1, 3, 64, 48)
    assert set(artifact(np.zeros(artifact.input_shape, dtype=np.float32))) == {"vertices", "visibility", "vertices_2d"}

    # predict: the CLI, and the same mesh as the checkpoint it came from (seed 0 = tiny_model)
    photo = SAMPLE_PHOTOS[0]
    ckpt = save_checkpoint(tmp_path / "tiny.pt", tiny_model)
    a = Predictor.load(path).predict(photo.load(), photo.box)
    b = Predictor.load(ckpt).predict(photo.load(), photo.box)
    assert np.abs(a.xyz_lp - b.xyz_lp).max() <= 0.01 * a.scale
    image = tmp_path / "astronaut.png"
    from PIL import Image

    Image.fromarray(photo.load()).save(image)
    box = ",".join(f"{v:g}" for v in photo.box)
    result = CliRunner().invoke(predict_main, [str(image), "--model", str(path), "--box", box, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "astronaut.json").read_text())["model"]["kind"] == "torchscript"

    # bench: the runtime listed from the registry, timed in a fresh process that registers the toy
    # from the environment
    cfg = BenchConfig(
        variants=("meshpose_tiny",), runtimes=("torchscript",), threads=(1,), warmup=1, runs=2,
        out_dir=tmp_path / "bench", machine="m", peer_dir=tmp_path / "no-peer", n_random=1,
    )  # fmt: skip
    run_bench(cfg, log=lambda _m: None)
    rows = validate(json.loads((tmp_path / "bench" / "m" / "results.json").read_text()))
    model_rows = [r for r in rows if r.scope == "model"]
    assert [(r.runtime, r.status) for r in model_rows] == [("torchscript", "measured")]
    assert model_rows[0].latency_median_ms > 0 and model_rows[0].parity_max_px is not None
    # ... and inside the whole prediction path (bench schema v2), through the same Target.open.
    pipeline = [r for r in rows if r.scope == "pipeline"]
    assert [(r.runtime, r.status) for r in pipeline] == [("torchscript", "measured")]
    assert pipeline[0].stages_ms["inference"] > 0


def test_coreml_off_macos_runs_the_program_or_says_why(tmp_path: Path, tiny_graph) -> None:
    """Off macOS a CoreML artifact runs through the reference MIL interpreter (tests/
    test_mil_interpreter.py); a folder that is no .mlpackage is a one-line error naming it."""
    if platform.system() == "Darwin":
        pytest.skip("the Core ML runtime is here")
    target = get_target("coreml")
    path = tmp_path / "m_fp16.mlpackage"
    path.mkdir()
    side = Sidecar.build(tiny_graph, target, "fp16", CropContract(64, 48), path.name, "")
    side.write(tmp_path / "m_fp16.mlpackage.json")
    with pytest.raises(MeshPoseError, match=r"not an \.mlpackage \(no Manifest\.json\)"):
        target_for(path).open(path)


def test_sidecar_round_trip(tmp_path: Path, tiny_graph) -> None:
    side = Sidecar.build(tiny_graph, get_target("tflite"), "fp16", CropContract(64, 48, box_scale=1.2), "a", "w")
    path = side.write(tmp_path / "a.tflite.json")
    back = Sidecar.beside(tmp_path / "a.tflite")
    assert back.to_dict() == side.to_dict() == json.loads(path.read_text())
    assert back.crop == CropContract(64, 48, box_scale=1.2) and back.num_vertices == 615
    # an older export's shared `<stem>.json` is still found
    path.rename(tmp_path / "a.json")
    assert Sidecar.beside(tmp_path / "a.tflite", ".tflite").precision == "fp16"


def test_target_for_unknown_file() -> None:
    assert find_target(Path("model.pt")) is None
    with pytest.raises(Exception, match="no exported artifact"):
        target_for(Path("model.pt"))


# --- layering ------------------------------------------------------------------------------------


def test_model_core_never_imports_the_export_package() -> None:
    sources = sorted((ROOT / "meshpose_mobile").rglob("*.py"))
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in sources for i, line in enumerate(p.read_text().splitlines(), 1)
            if re.search(r"\bmeshpose_export\b", line)]  # fmt: skip
    assert not hits, hits
    # and importing every module of the core leaves it unloaded
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in sources if p.name != "__main__.py"]
    modules = [m.removesuffix(".__init__") for m in modules]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint('meshpose_export' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False", out.stderr


# Code that names a format outside its target module: target names or artifact suffixes as string
# literals, a format's runtime imported, LiteRT's op listing.
_FORMAT = re.compile(
    r"""["'](onnx|coreml|tflite)["']|["']\.(onnx|tflite|mlpackage)["']"""
    r"|\b(import|from) (onnxruntime|ai_edge_litert|coremltools)\b|_get_ops_details"
)
# Tools about one runtime by nature, not artifact dispatch.
_ALLOWED = {
    "export/bench/profile_ort.py": "ONNX Runtime's own profiler over an .onnx",
    "export/litert.py": "opening a .tflite on LiteRT, shared by the TFLite target, the person detector and the peer",
    "export/bench/matmul_peak.py": "the CPU's GEMM roof through torch and ONNX Runtime's MLAS",
    "benchmarks/coreml_interpreter.py": "CoreML programs measured through the reference MIL interpreter",
    "meshpose_mobile/backbones/blazepose.py": "imports Google's encoder from its .tflite (an input)",
    "benchmarks/runtime_spread.py": "each runtime's own kernel switches (graph optimisation, op resolvers) measured",
    "export/golden/sidecar.py": "the apps' sidecar-reader cases: real ONNX and CoreML sidecars, read as the apps do",
}


def test_no_per_format_branch_outside_targets() -> None:
    files = [
        *(ROOT / "export").rglob("*.py"),
        *(ROOT / "meshpose_mobile").rglob("*.py"),
        *(ROOT / "benchmarks").glob("*.py"),
    ]
    hits = []
    for path in sorted(files):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("export/targets/") or rel in _ALLOWED:
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if _FORMAT.search(code):
                hits.append(f"{rel}:{i}: {line.strip()}")
    assert not hits, "\n".join(hits)
