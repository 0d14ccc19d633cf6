"""Before / after of the profile-guided change (heatmap expectation as one matmul), interleaved.

Exports meshpose_xs (seeded weights) with the default and the matmul expectation to ONNX fp32 and
TFLite fp32 through the export pipeline, checks both against the *default* PyTorch graph, then
times each pair alternately in one process (meshpose_export.bench.ab) per runtime and thread count.
Artifacts already in --work are reused. Writes <out>/<machine>/expectation_ab.{json,md}.

python benchmarks/ab_expectation.py [--work /tmp/mpb-ab] [--runs 40] [--threads 1 2]
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from meshpose_export.bench.ab import run_ab
from meshpose_export.bench.run import _DeployAs
from meshpose_export.bench.schema import machine_name, write_json_atomic, write_text_atomic
from meshpose_export.convert.parity import check, parity_inputs
from meshpose_export.convert.pipeline import plan_jobs, run_export
from meshpose_export.reference import reference_artifact
from meshpose_export.targets.base import TargetName, get_target
from meshpose_mobile.crop import CropContract
from meshpose_mobile.seeded import seeded_model

TARGETS = (TargetName.ONNX, TargetName.TFLITE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/meshpose-ab"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--machine", default=None)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    args = ap.parse_args()
    model = seeded_model("meshpose_xs")
    reference = model.deploy()
    cfg = model.config
    inputs = parity_inputs(reference, CropContract.for_config(cfg))
    files: dict[tuple[str, str], Path] = {}
    parity: dict[str, dict[str, float]] = {}
    for form in ("reduce", "matmul"):
        folder = args.work / form
        graph = model.deploy(expectation=form)
        for target in TARGETS:
            t = get_target(target)
            path = folder / t.artifact_name("meshpose_xs", "fp32")
            if not path.exists():
                run_export(_DeployAs(model, expectation=form), plan_jobs(target, ["fp32"]), folder, log=lambda _m: None)
            rep = check(t, t.open(path), graph, reference_artifact(reference), inputs)
            files[(form, target)] = path
            s = rep.stats["vertices"]
            parity[f"{form}/{target}"] = {"max_px": s.max, "p99_px": s.p99, "passed": rep.passed}
    results = []
    for target in TARGETS:
        for threads in args.threads:
            ab = run_ab(target, files[("reduce", target)], files[("matmul", target)], threads,
                        args.runs, args.warmup)  # fmt: skip
            results.append(asdict(ab))
            print(f"{target} x{threads}: {ab.before_median_ms:.2f} -> {ab.after_median_ms:.2f} ms "
                  f"({ab.ratio_of_medians:.3f}x; per-round median {ab.median_of_ratios:.3f}x)")  # fmt: skip
    name = args.machine or machine_name()
    doc = {"variant": "meshpose_xs", "change": "MeshPoseDeploy(expectation='matmul')", "parity": parity, "ab": results}
    write_json_atomic(args.out / name / "expectation_ab.json", doc)
    lines = [
        "| runtime | threads | default (reduce) median / p90 ms | matmul median / p90 ms | after/before | "
        "per-round median ratio | parity max px default -> matmul |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        t = r["kind"]
        before, after = parity[f"reduce/{t}"]["max_px"], parity[f"matmul/{t}"]["max_px"]
        lines.append(
            f"| {get_target(t).runtime} | {r['threads']} | {r['before_median_ms']:.2f} / "
            f"{r['before_p90_ms']:.2f} | {r['after_median_ms']:.2f} / {r['after_p90_ms']:.2f} | "
            f"{r['ratio_of_medians']:.3f} | {r['median_of_ratios']:.3f} | {before:.4f} -> {after:.4f} |"
        )
    write_text_atomic(args.out / name / "expectation_ab.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
