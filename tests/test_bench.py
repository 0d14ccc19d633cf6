"""meshpose-bench: schema, MAC counting, the benchmark_model parser and one tiny end-to-end run.

Speed is never asserted (shared CI machines); only that every number is measured and positive.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from meshpose_export.bench.android import android_row, parse_benchmark_model
from meshpose_export.bench.android import main as android_main
from meshpose_export.bench.macs import onnx_macs, tflite_macs
from meshpose_export.bench.schema import Row, results_dict, this_machine, validate
from meshpose_export.bench.timing import p90, time_callable
from meshpose_export.runtime.peer import find_peer
from meshpose_mobile.errors import ConfigError

DATA = Path(__file__).parent / "data"


def _tiny_onnx(path: Path) -> Path:
    """Conv 3->8 k3, depthwise 8 k3, MatMul 8x4, Gemm 4->5: MACs known by hand."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def init(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.random(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("GlobalAveragePool", ["c2"], ["p"]),
        helper.make_node("Reshape", ["p", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "m"], ["mm"]),
        helper.make_node("Gemm", ["mm", "g", "gb"], ["y"], transB=1),
    ]
    inits = [init("w1", (8, 3, 3, 3)), init("w2", (8, 1, 3, 3)), init("m", (8, 4)), init("g", (5, 4))]
    inits += [init("gb", (5,)), numpy_helper.from_array(np.array([1, 8], dtype=np.int64), "shape")]
    graph = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


def test_onnx_macs_by_hand(tmp_path: Path) -> None:
    count = onnx_macs(_tiny_onnx(tmp_path / "t.onnx"))
    conv = 8 * 10 * 12 * 3 * 9
    depthwise = 8 * 10 * 12 * 9
    assert count.by_op == {"Conv": conv + depthwise, "MatMul": 8 * 4, "Gemm": 4 * 5}
    assert count.total == conv + depthwise + 32 + 20


def test_onnx_macs_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_text("not onnx")
    with pytest.raises(ConfigError, match="not a readable ONNX model"):
        onnx_macs(bad)


def test_peer_macs() -> None:
    path = find_peer()
    assert path is not None, "BlazePose is not unzipped: run make setup or meshpose-models fetch"
    count = tflite_macs(path)
    assert count.total > 1e8 and set(count.by_op) >= {"CONV_2D", "DEPTHWISE_CONV_2D"}


def test_timing_is_measured() -> None:
    t = time_callable(lambda: sum(range(1000)), warmup=1, runs=5)
    assert t.runs == 5 and 0 < t.min_ms <= t.median_ms <= t.p90_ms and t.fps > 0
    assert p90([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]) == 9.0  # an observed value


def test_benchmark_model_parser() -> None:
    text = (DATA / "benchmark_model_sample.txt").read_text()
    s = parse_benchmark_model(text)
    assert s["runs"] == 50 and s["warmup"] == 14
    assert s["median_ms"] == pytest.approx(36.342) and s["min_ms"] == pytest.approx(35.687)
    assert s["p95_ms"] == pytest.approx(37.614) and "p90_ms" not in s  # never estimated
    assert s["peak_mb"] == pytest.approx(109.188) and s["model_mb"] == pytest.approx(101.871)
    row = android_row(text, model="meshpose_xs", precision="fp32", compute="xnnpack", threads=4, artifact=Path("x"))
    doc = results_dict(this_machine({}, name="pixel-test"), [row])
    (back,) = validate(json.loads(json.dumps(doc)))
    assert back.latency_median_ms == pytest.approx(36.342) and back.latency_p90_ms is None
    assert back.fps == pytest.approx(1000 / 36.342)


def test_android_results_are_checked_against_the_schema_before_they_are_written(tmp_path: Path) -> None:
    spec = f"{DATA / 'benchmark_model_sample.txt'}:meshpose_xs:fp32:xnnpack:4:x.tflite"
    out = tmp_path / "pixel.json"
    ok = CliRunner().invoke(android_main, [str(out), "pixel-test", spec])
    assert ok.exit_code == 0, ok.output
    (row,) = validate(json.loads(out.read_text()))
    assert row.runtime == "litert-android" and row.latency_median_ms == pytest.approx(36.342)
    # An empty machine name breaks bench-results.schema.json (machine.name, minLength 1): one line, no file.
    bad = tmp_path / "nameless.json"
    refused = CliRunner().invoke(android_main, [str(bad), "", spec])
    assert refused.exit_code == 2 and "machine.name" in refused.output, refused.output
    assert not bad.exists()


def test_benchmark_model_parser_rejects_failed_run() -> None:
    with pytest.raises(ConfigError, match="no 'count="):
        parse_benchmark_model("ERROR: Failed to apply GPU delegate.\nBenchmarking failed.")


def test_schema_rejects_unmeasured_rows() -> None:
    machine = this_machine({}, name="m")
    bad = results_dict(machine, [Row("m", "litert", "fp32", 1)])
    with pytest.raises(ConfigError, match="latency_median_ms"):
        validate(bad)
    with pytest.raises(ConfigError, match="not a meshpose-bench"):
        validate({"schema": "other"})


def test_schema_v2_scope_and_stages() -> None:
    machine = this_machine({}, name="m")
    row = Row("m", "litert", "fp32", 1, latency_median_ms=5.0, scope="pipeline", stages_ms={"inference": 3.0})
    doc = results_dict(machine, [row])
    assert doc["schema_version"] == 2 and validate(doc)[0].stages_ms == {"inference": 3.0}
    # Version 1 files still read: their rows are model rows.
    v1 = {
        **doc,
        "schema_version": 1,
        "rows": [{k: v for k, v in doc["rows"][0].items() if k not in ("scope", "stages_ms")}],
    }
    assert validate(v1)[0].scope == "model"
    for bad, match in [
        ({"scope": "frame"}, "scope"),
        ({"stages_ms": {"paint": 1.0}}, "stages_ms"),
        ({"stages_ms": {"render": -1.0}}, "stages_ms"),
        ({"stages_ms": [1.0]}, "stages_ms"),
    ]:
        with pytest.raises(ConfigError, match=match):
            validate({**doc, "rows": [{**doc["rows"][0], **bad}]})
    # A row without model/runtime/precision, or not an object, is a one-line error (it was a TypeError);
    # one without threads reads as null, as on the phones.
    no_threads = {k: v for k, v in doc["rows"][0].items() if k != "threads"}
    assert validate({**doc, "rows": [no_threads]})[0].threads is None
    with pytest.raises(ConfigError, match=r"rows\[0\]\.model"):
        validate({**doc, "rows": [{**doc["rows"][0], "model": None}]})
    with pytest.raises(ConfigError, match="not of type 'object'"):
        validate({**doc, "rows": [3]})


def _tiny_bench(out: Path, tmp_path: Path, machine: str, **kw):
    """meshpose_tiny, one thread, two timed runs: a whole bench in seconds."""
    from meshpose_export.bench.run import BenchConfig

    return BenchConfig(
        variants=("meshpose_tiny",), threads=(1,), warmup=1, runs=2, out_dir=out, machine=machine,
        peer_dir=tmp_path / "no-peer", n_random=1, **kw,
    )  # fmt: skip


@pytest.mark.export
def test_tiny_end_to_end(tmp_path: Path) -> None:
    from meshpose_export.bench.run import run_bench

    lines: list[str] = []
    cfg = _tiny_bench(tmp_path, tmp_path, "test-machine", runtimes=("pytorch", "onnxruntime"))
    doc = run_bench(cfg, log=lines.append)
    rows = validate(json.loads((tmp_path / "test-machine" / "results.json").read_text()))
    assert doc["machine"]["name"] == "test-machine"
    assert {(r.runtime, r.status) for r in rows} == {("pytorch", "measured"), ("onnxruntime", "measured")}
    model_rows = [r for r in rows if r.scope == "model"]
    for r in model_rows:
        assert r.latency_median_ms > 0 and r.latency_p90_ms >= r.latency_min_ms > 0 and r.runs == 2
        assert r.macs > 0 and r.params > 0 and r.artifact_bytes > 0 and r.peak_rss_mb > 0 and r.efficiency > 0
    # Schema v2: the artifact inside the whole prediction path, with stage medians, as the apps report it.
    (pipe,) = [r for r in rows if r.scope == "pipeline"]
    assert pipe.runtime == "onnxruntime" and pipe.runs == 2 and pipe.latency_median_ms > 0
    stages = pipe.stages_ms
    assert stages["detect"] is None and stages["render"] is None
    assert all(stages[k] > 0 for k in ("preprocess", "inference", "postprocess"))
    assert sum(stages[k] for k in ("preprocess", "inference", "postprocess")) <= pipe.latency_median_ms * 1.5
    assert any("not timed" in line and "meshpose-models fetch" in line for line in lines)
    md = (tmp_path / "test-machine" / "results.md").read_text()
    assert md.count("| meshpose_tiny |") == 3 and "Whole-pipeline stage medians" in md
    assert (tmp_path / "test-machine" / "latency_vs_macs.png").stat().st_size > 0


@pytest.mark.export
def test_time_failed_times_a_failing_artifact_and_says_so(tmp_path: Path, monkeypatch) -> None:
    """Default: an artifact that fails parity is not timed. --time-failed times it, and its rows keep
    the failing parity in a note (the speed of a precision is the graph's, whatever the weights)."""
    from meshpose_export.bench.run import run_bench
    from meshpose_export.targets.base import Tolerance, get_target

    onnx = type(get_target("onnx"))
    monkeypatch.setattr(onnx, "tolerance", lambda self, precision: Tolerance(max_px=0.0, p99_px=0.0, visibility=0.0))
    for time_failed in (False, True):
        out = tmp_path / str(time_failed)
        cfg = _tiny_bench(out, tmp_path, "m", runtimes=("onnxruntime",), time_failed=time_failed)
        run_bench(cfg, log=lambda _m: None)
        rows = validate(json.loads((out / "m" / "results.json").read_text()))
        model_rows = [r for r in rows if r.scope == "model"]
        if not time_failed:
            assert [r.status for r in model_rows] == ["parity-failed"]
        else:
            (row,) = model_rows
            assert row.status == "measured" and row.latency_median_ms > 0
            assert row.note.startswith("parity FAILED, timed on request") and row.parity_max_px > 0
            assert "**FAIL**" in (out / "m" / "results.md").read_text()


def test_cost_table_and_ratios_against_the_peer() -> None:
    from meshpose_export.bench.report import cost_table, ratio_lines

    peer = Row("blazepose_full", "litert", "fp16 weights", 1, params=3_000_000, macs=400_000_000,
               latency_median_ms=8.0)  # fmt: skip
    ours = Row("meshpose_blaze", "litert", "fp32", 1, params=4_500_000, macs=480_000_000, latency_median_ms=10.0)
    onnx = Row("meshpose_blaze", "onnxruntime", "fp32", 1, params=4_500_000, macs=480_000_000, latency_median_ms=9.0)
    failed = Row("meshpose_xs", "export", "", None, status="failed")
    table = cost_table([ours, onnx, failed, peer], "blazepose_full", ("meshpose_blaze", "meshpose_xs"))
    assert table[2] == "| meshpose_blaze | 4.50 | 0.480 | 1.50x | 1.20x |"
    assert table[3] == "| blazepose_full | 3.00 | 0.400 | 1.00x | 1.00x |" and len(table) == 4
    assert cost_table([ours], "blazepose_full", ("meshpose_blaze",)) == []  # no peer in the run
    # Latency ratios pair the same runtime and threads only (the peer runs on LiteRT alone).
    (line,) = ratio_lines([ours, onnx, peer], "blazepose_full", "meshpose_blaze")
    assert "litert fp32, 1 thread(s)" in line and line.endswith("= 1.25x")


def test_default_variants_side_by_side() -> None:
    """No --variant: the from-scratch variant and the one on BlazePose's encoder, in one run."""
    from meshpose_export.bench.run import default_variants

    assert default_variants() == ("meshpose_blaze", "meshpose_xs")


@pytest.mark.export
def test_a_failing_target_is_a_row_and_the_others_are_timed(tmp_path: Path, monkeypatch) -> None:
    """A converter that fails for one variant (say TFLite for a new op) fails its own rows only."""
    from meshpose_export.bench.run import run_bench
    from meshpose_export.targets.base import get_target
    from meshpose_mobile.errors import ExportError

    def refuse(self, graph, out_path, precision, ctx):
        raise ExportError("TFLite conversion step failed (stand-in)")

    monkeypatch.setattr(type(get_target("tflite")), "export", refuse)
    cfg = _tiny_bench(tmp_path, tmp_path, "m", runtimes=("onnxruntime", "litert"), precisions={"tflite": ("fp32",)})
    lines: list[str] = []
    run_bench(cfg, log=lines.append)
    rows = [r for r in validate(json.loads((tmp_path / "m" / "results.json").read_text())) if r.scope == "model"]
    by_runtime = {r.runtime: r for r in rows}
    assert by_runtime["onnxruntime"].status == "measured" and by_runtime["onnxruntime"].macs > 0
    assert by_runtime["litert"].status == "failed" and "stand-in" in by_runtime["litert"].note
    assert by_runtime["litert"].macs == by_runtime["onnxruntime"].macs  # counted from the ONNX graph all the same
    assert any("tflite: export failed" in line for line in lines)


@pytest.mark.export
def test_litert_rows_are_also_timed_interleaved_with_the_peer(tmp_path: Path) -> None:
    """The ratio to BlazePose full from alternating runs in one process (paired.json, results.md)."""
    from meshpose_export.bench.run import run_bench

    cfg = _tiny_bench(tmp_path, tmp_path, "m", runtimes=("litert",), precisions={"tflite": ("fp32",)})
    run_bench(replace(cfg, peer_dir=None), log=lambda _m: None)
    (p,) = json.loads((tmp_path / "m" / "paired.json").read_text())["rows"]
    key = (p["model"], p["runtime"], p["precision"], p["threads"], p["rounds"])
    assert key == ("meshpose_tiny", "litert", "fp32", 1, 2)
    assert p["model_median_ms"] > 0 and p["peer_median_ms"] > 0 and p["parity_failed"] is False
    assert p["ratio_of_medians"] == pytest.approx(p["model_median_ms"] / p["peer_median_ms"])
    md = (tmp_path / "m" / "results.md").read_text()
    assert "Interleaved with the peer" in md and "| meshpose_tiny | " in md and "MACs / blazepose_full" in md
