"""CoreML measured without a Mac: parity of every precision through the reference MIL interpreter,
the interpreter's time per input, an fp16 sensitivity report, fp16 options, and the Neural Engine
estimate. One variant per run, one thread; results merge into docs/results/coreml_interpreter.json.

    python benchmarks/coreml_interpreter.py --variant meshpose_xs --precision all --analysis
    python benchmarks/coreml_interpreter.py --variant meshpose_hrnet32 --precision fp16,fp32 --analysis --options
    python benchmarks/coreml_interpreter.py --variant meshpose_blaze --precision fp16,fp32 --analysis --options \
        --ckpt meshpose_mobile/data/weights/meshpose_blaze_synth.pt --out /tmp/blaze_coreml.json

Every pixel number here is the artifact's own MIL program executed by the reference interpreter
(not the Core ML runtime), against the PyTorch deployment graph, on the 8 parity inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from meshpose_export.convert.parity import check, parity_inputs
from meshpose_export.reference import reference_artifact
from meshpose_export.sidecar import Sidecar, build_metadata
from meshpose_export.targets.base import ExportContext, get_target
from meshpose_export.targets.coreml import mil
from meshpose_export.targets.coreml.ane import ane_report
from meshpose_export.targets.coreml.contract import base_name
from meshpose_mobile.checkpoint import load_checkpoint
from meshpose_mobile.crop import CropContract
from meshpose_mobile.seeded import seeded_model

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results" / "coreml_interpreter.json"
FP16_MAX = 65504.0


def worst_px(reference: list[dict], outs: list[dict]) -> dict[str, float]:
    """max and p99 over all vertices and inputs of the worse of vertices / vertices_2d."""
    res = {}
    for name in ("vertices", "vertices_2d"):
        errs = np.concatenate(
            [
                np.linalg.norm(o[name].astype(np.float64) - r[name], axis=-1).ravel()
                for r, o in zip(reference, outs, strict=True)
            ]
        )
        res[name] = (float(errs.max()), float(np.percentile(errs, 99)))
    return {"max": max(v[0] for v in res.values()), "p99": max(v[1] for v in res.values())}


def groups_of(program: mil.Program, k: int) -> dict[str, str]:
    """Variable name -> layer group: backbone stages / decoder blocks by their weights' names, the
    heads (heatmap, expand, to_vertices), the global pool and the decode tail."""
    decls = program.var_decls()
    group: dict[str, str] = {}
    for name in program.consts:
        b = base_name(name)
        parts = b.split("_")
        group[name] = "_".join(parts[:3]) if parts[0] == "backbone" else parts[0]
    tail_from: set[str] = set()
    for op in program.operations:
        if op.type == "const":
            continue
        args = [b for v in op.inputs.values() for b in v if isinstance(b, str) and b not in program.consts]
        if op.type == "conv":
            g = group.get(op.inputs["weight"][0], "other")
            if g in ("heatmap", "expand", "to"):
                g = {"to": "heads: to_vertices", "expand": "heads: expand", "heatmap": "heads: heatmap"}[g]
            if decls[op.outputs[0].name].shape[1] == k:
                tail_from.add(op.outputs[0].name)
        elif (
            op.type == "reduce_mean"
            and len(decls[args[0]].shape) == 4
            and decls[op.outputs[0].name].shape[2:] == (1, 1)
        ):
            g = "global pool"
        elif any(a in tail_from for a in args):
            g = "decode"
            tail_from.add(op.outputs[0].name)
        else:
            g = next((group[a] for a in args if a in group), "input")
        for d in op.outputs:
            group[d.name] = g
        if g == "decode":
            tail_from.update(d.name for d in op.outputs)
    # A constant belongs to the op that reads it (weights to their layer, grid rows to the decode).
    for op in program.operations:
        if op.type != "const" and op.outputs:
            for b in (b for v in op.inputs.values() for b in v if isinstance(b, str) and b in program.consts):
                group[b] = group[op.outputs[0].name]
    return group


def run_all(program: mil.Program, images: list[np.ndarray], **kw) -> list[dict]:
    return [mil.run_program(program, {"image": img}, **kw) for img in images]


def sensitivity(p16: mil.Program, p32: mil.Program, images, refs, k: int, n_group_inputs: int) -> dict:
    """fp16 weights alone vs fp16 arithmetic, per layer group, and accumulator fragility."""
    consts32 = set(p32.consts)
    out: dict = {}
    t = time.perf_counter()
    out["weights_alone"] = worst_px(refs, run_all(p16, images, mode="fp32"))
    out["arithmetic_alone"] = worst_px(refs, run_all(p32, images, mode="fp32", round_fp16=lambda n: n not in consts32))
    out["both"] = worst_px(refs, run_all(p16, images, mode="fp16"))
    out["both_fp16_accumulators"] = worst_px(refs, run_all(p16, images, mode="fp16", accumulate="fp16"))
    for kind in ("softmax", "reduce_sum", "reduce_mean"):
        outs = run_all(p16, images, mode="fp16", accumulate="fp16", accumulate_ops=frozenset({kind}))
        out[f"fp16_accumulator_in_{kind}_only"] = worst_px(refs, outs)
    # (In the fp32 program the biased image is rounded too: the fp16 program casts it to fp16.)
    # The global pool's sum before its division: could a float16 accumulator overflow?
    pools = [
        op for op in p16.operations if op.type == "reduce_mean" and len(p16.var_decls()[op.inputs["x"][0]].shape) == 4
    ]
    sums = []
    for img in images:
        keep = {op.inputs["x"][0] for op in pools}
        vals = mil.run_program(p16, {"image": img}, mode="fp16", keep=lambda n, keep=keep: n in keep)
        for op in pools:
            x = vals[op.inputs["x"][0]].astype(np.float64)
            sums.append(float(np.abs(x.sum(axis=(2, 3))).max()))
    n_cells = int(np.prod(p16.var_decls()[pools[0].inputs["x"][0]].shape[2:])) if pools else 0
    out["global_pool"] = {
        "cells": n_cells,
        "max_abs_channel_sum": max(sums) if sums else None,
        "fp16_max": FP16_MAX,
        "headroom": (FP16_MAX / max(sums)) if sums else None,
    }
    print(f"  sensitivity totals in {time.perf_counter() - t:.0f} s: {out}", flush=True)
    group = groups_of(p32, k)
    names = sorted(set(group.values()) - {"input"})
    sub_imgs, sub_refs = images[:n_group_inputs], refs[:n_group_inputs]
    per = {}
    for g in names:
        w = worst_px(
            sub_refs, run_all(p32, sub_imgs, mode="fp32", round_fp16=lambda n, g=g: n in consts32 and group.get(n) == g)
        )
        a = worst_px(
            sub_refs,
            run_all(p32, sub_imgs, mode="fp32", round_fp16=lambda n, g=g: n not in consts32 and group.get(n) == g),
        )
        per[g] = {"weights_max_px": w["max"], "arithmetic_max_px": a["max"]}
    out["per_group_inputs"] = n_group_inputs
    out["per_group"] = dict(sorted(per.items(), key=lambda kv: -max(kv[1].values())))
    return out


def options(p32: mil.Program, images, refs, k: int, sens: dict) -> dict:
    """Where float16 could stop: each option simulated on the fp32 program (float16 rounding of the
    selected weights and op outputs), then judged against the fp16 tolerance."""
    group = groups_of(p32, k)
    top = [g for g in sens["per_group"] if not g.startswith(("heads", "decode", "global"))][:3]
    fp32_sets: dict[str, Callable[[str], bool]] = {
        "all float16 (today)": lambda g: False,
        "decode tail in float32": lambda g: g == "decode",
        "decode tail + global pool in float32": lambda g: g in ("decode", "global pool"),
        "heads + decode in float32 (backbone float16)": lambda g: g.startswith(("heads", "decode", "global")),
        f"decode + 3 most sensitive backbone groups ({', '.join(top)}) in float32": lambda g: g == "decode" or g in top,
    }
    res = {}
    for name, keep32 in fp32_sets.items():
        t = time.perf_counter()
        outs = run_all(p32, images, mode="fp32", round_fp16=lambda n, keep32=keep32: not keep32(group.get(n, "input")))
        res[name] = worst_px(refs, outs)
        print(f"  option {name}: {res[name]} ({time.perf_counter() - t:.0f} s)", flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", required=True)
    ap.add_argument("--ckpt", type=Path, help="trained checkpoint to measure instead of the variant's seeded weights")
    ap.add_argument("--precision", default="all")
    ap.add_argument("--work", type=Path, default=Path("artifacts/coreml_interpreter"))
    ap.add_argument("--analysis", action="store_true", help="fp16 sensitivity report (needs fp16 and fp32)")
    ap.add_argument("--options", action="store_true", help="simulate fp16 options (decode tail in fp32, ...)")
    ap.add_argument("--group-inputs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    target = get_target("coreml")
    precisions = list(target.precisions) if args.precision == "all" else args.precision.split(",")
    if args.ckpt is not None:
        model = load_checkpoint(args.ckpt).eval()
        if model.config.variant != args.variant:
            sys.exit(f"error: --ckpt {args.ckpt} holds {model.config.variant}, not --variant {args.variant}")
    else:
        model = seeded_model(args.variant, seed=0)
    graph = model.deploy(**target.deploy_kwargs())
    reference = model.deploy()
    contract = CropContract.for_config(model.config)
    inputs = parity_inputs(graph, contract)
    ref_run = reference_artifact(reference)
    refs = [ref_run(i.image) for i in inputs]
    images = [i.image for i in inputs]
    # A checkpoint's programs get their own folder: the cached seeded ones would be measured instead.
    work = args.work / (args.variant if args.ckpt is None else f"{args.variant}-{args.ckpt.stem}")
    work.mkdir(parents=True, exist_ok=True)
    record: dict = {
        "variant": args.variant,
        "weights": "seeded (seed 0)" if args.ckpt is None else str(args.ckpt),
        "measured_by": mil.INTERPRETER_NOTE,
        "threads": 1,
        "inputs": len(inputs),
        "machine": "shared 2-core CI-class Linux machine (other jobs running: times are upper bounds)",
        "precisions": {},
    }
    for p in precisions:
        path = work / f"{args.variant}_{p}.mlpackage"
        export_s = None
        if not path.exists():
            t = time.perf_counter()
            ctx = ExportContext(metadata=build_metadata(graph, target, p, contract, "", ""), workdir=work)
            target.export(graph, path, p, ctx)
            export_s = time.perf_counter() - t
        side = Sidecar.build(graph, target, p, contract, path.name, "")
        t = time.perf_counter()
        artifact = target.open(path, sidecar=side)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        report = check(target, artifact, graph, ref_run, inputs)
        parity_s = time.perf_counter() - t
        program = mil.load_program(path)
        times = {}
        for mode in ("fp32", "fp16") if p in ("fp32", "fp16") else ():
            mil.run_program(program, {"image": images[0]}, mode)  # constants widened once
            ts = []
            for img in images[1:3]:
                t = time.perf_counter()
                mil.run_program(program, {"image": img}, mode)
                ts.append(time.perf_counter() - t)
            times[mode] = float(np.median(ts))
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        entry = {
            "status": report.status,
            "passed": report.passed,
            "tolerance": {"max_px": report.tolerance.max_px, "p99_px": report.tolerance.p99_px},
            "stats": {n: {"max": s.max, "p99": s.p99, "mean": s.mean} for n, s in report.stats.items()},
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in report.checks],
            "interpreter_s_per_input": times,
            "parity_s_8_inputs": parity_s,
            "open_s": load_s,
            "export_s": export_s,
            "size_mb": size / 1e6,
            "ane": ane_report(program),
        }
        record["precisions"][p] = entry
        v, v2 = report.stats["vertices"], report.stats["vertices_2d"]
        print(
            f"{args.variant} {p}: {report.status} vertices {v.max:.4f}/{v.p99:.4f} 2d {v2.max:.4f}/{v2.p99:.4f} px; "
            f"interpreter s/input {times}; parity {parity_s:.0f} s",
            flush=True,
        )
    if args.analysis or args.options:
        p16 = mil.load_program(work / f"{args.variant}_fp16.mlpackage")
        p32 = mil.load_program(work / f"{args.variant}_fp32.mlpackage")
        k = model.config.num_vertices
        sens = sensitivity(p16, p32, images, refs, k, args.group_inputs)
        record["fp16_sensitivity"] = sens
        if args.options:
            record["fp16_options"] = options(p32, images, refs, k, sens)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    previous = results.get(args.variant, {})
    previous_prec = previous.get("precisions", {})
    previous_prec.update(record["precisions"])
    record["precisions"] = previous_prec
    for key in ("fp16_sensitivity", "fp16_options"):
        if key not in record and key in previous:
            record[key] = previous[key]
    results[args.variant] = record
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=float))
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
