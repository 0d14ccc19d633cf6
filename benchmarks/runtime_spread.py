"""How far the runtimes' outputs move between CPU kernels and thread counts, on this machine.

The golden decode cases (golden/decode.json) store runtime outputs; their staleness check must
tolerate what the runtimes change between CPUs (AMD EPYC AVX2 / AVX-512, Intel Xeon AVX-512 /
AMX) without a second machine at hand. Every switch the runtimes offer for their CPU kernels is
flipped here, each in a fresh process (the ISA switches are read at library load), and the
outputs are compared with the runtime's default run on the same photo crops:

- ONNX Runtime 1 / 2 intra-op threads x graph optimisations off / basic / extended / all
  (`all` lays convolutions out in NCHWc blocks whose width follows the CPU's vector length);
- PyTorch 1 / 2 threads, ATEN_CPU_CAPABILITY default / avx2, ONEDNN_MAX_CPU_ISA AVX2 / SSE41,
  oneDNN off (im2col + MKL) with MKL_ENABLE_INSTRUCTIONS AVX2;
- LiteRT XNNPACK vs its built-in kernels (BUILTIN_WITHOUT_DEFAULT_DELEGATES) and its reference
  kernels (BUILTIN_REF), 1 / 2 threads;
- the parity number an export writes into its sidecar (ONNX fp32 and Core ML fp16 through the MIL
  interpreter, each against PyTorch) under PyTorch's and OpenBLAS's ISA switches;
- NumPy's decode to image pixels under OPENBLAS_CORETYPE Haswell / SkylakeX / Zen / Prescott;
- the float32 outputs stored in golden/decode.json (written on another machine) vs this one.

Vertex columns are in pixels: `crop px` as the model outputs them, `image px` after decoding
(crop px times the crop-to-image scale of each photo's box: 2.2 to 11.5 here).

    python benchmarks/runtime_spread.py [--json out.json] [--no-tflite]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NAMES = ("vertices", "visibility", "vertices_2d")

# (runtime, label, worker settings, environment overrides); the first row of a runtime is its reference.
CONFIGS: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("onnxruntime", "default threads, optimisations all (the project's runner)", {"threads": 0, "opt": "all"}, {}),
    *[
        ("onnxruntime", f"{t} thread(s), optimisations {o}", {"threads": t, "opt": o}, {})
        for t in (1, 2)
        for o in ("disabled", "basic", "extended", "all")
    ],
    ("torch", "1 thread (make_golden.py's setting)", {"threads": 1}, {}),
    ("torch", "2 threads", {"threads": 2}, {}),
    ("torch", "ATEN_CPU_CAPABILITY=avx2", {"threads": 1}, {"ATEN_CPU_CAPABILITY": "avx2"}),
    ("torch", "ATEN_CPU_CAPABILITY=default (no SIMD dispatch)", {"threads": 1}, {"ATEN_CPU_CAPABILITY": "default"}),
    ("torch", "ONEDNN_MAX_CPU_ISA=AVX2", {"threads": 1}, {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
    ("torch", "ONEDNN_MAX_CPU_ISA=SSE41", {"threads": 1}, {"ONEDNN_MAX_CPU_ISA": "SSE41"}),
    ("torch", "oneDNN off, MKL_ENABLE_INSTRUCTIONS=AVX2", {"threads": 1, "mkldnn": False},
     {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}),
    ("litert", "XNNPACK, default threads (the project's runner)", {"threads": None, "resolver": "AUTO"}, {}),
    ("litert", "XNNPACK, 1 thread", {"threads": 1, "resolver": "AUTO"}, {}),
    ("litert", "XNNPACK, 2 threads", {"threads": 2, "resolver": "AUTO"}, {}),
    ("litert", "built-in kernels, 1 thread", {"threads": 1, "resolver": "BUILTIN_WITHOUT_DEFAULT_DELEGATES"}, {}),
    ("litert", "built-in kernels, 2 threads", {"threads": 2, "resolver": "BUILTIN_WITHOUT_DEFAULT_DELEGATES"}, {}),
    ("litert", "reference kernels, 1 thread", {"threads": 1, "resolver": "BUILTIN_REF"}, {}),
    ("parity", "as the exporter runs it (torch 1 thread)", {}, {}),
    ("parity", "ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=SSE41", {},
     {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}),
    ("parity", "OPENBLAS_CORETYPE=Prescott (NumPy's MIL interpreter)", {}, {"OPENBLAS_CORETYPE": "Prescott"}),
    ("parity", "2 torch threads", {"threads": 2}, {}),
    ("decode", "OpenBLAS as detected", {}, {}),
    *[("decode", f"OPENBLAS_CORETYPE={c}", {}, {"OPENBLAS_CORETYPE": c})
      for c in ("Haswell", "SkylakeX", "Zen", "Prescott")],
]  # fmt: skip


# --------------------------------------------------------------------------- workers (one process each)


def _worker(runtime: str, settings: dict[str, Any], work: Path, out: Path) -> None:
    inputs = dict(np.load(work / "inputs.npz"))
    results: dict[str, np.ndarray] = {}
    if runtime == "onnxruntime":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if settings["threads"]:
            opts.intra_op_num_threads = settings["threads"]
        level = {
            "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }
        opts.graph_optimization_level = level[settings["opt"]]
        session = ort.InferenceSession(str(work / "meshpose_tiny_fp32.onnx"), opts, providers=["CPUExecutionProvider"])
        for key in ("tiny_astronaut", "tiny_grace_hopper"):
            outs = session.run(list(NAMES), {session.get_inputs()[0].name: inputs[key]})
            results.update({f"{key}/{n}": o for n, o in zip(NAMES, outs, strict=True)})
    elif runtime == "torch":
        import torch

        from meshpose_export.reference import reference_artifact
        from meshpose_mobile.seeded import seeded_model

        torch.set_num_threads(settings["threads"])
        torch.backends.mkldnn.enabled = settings.get("mkldnn", True)
        for variant, keys in (
            ("meshpose_tiny", ("tiny_astronaut", "tiny_grace_hopper")),
            ("meshpose_xs", ("xs_astronaut",)),
        ):
            run = reference_artifact(seeded_model(variant, seed=0).deploy())
            for key in keys:
                results.update({f"{key}/{n}": v for n, v in run(inputs[key]).items()})
    elif runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        interp = Interpreter(
            model_path=str(work / "meshpose_tiny_fp32.tflite"),
            num_threads=settings["threads"],
            experimental_op_resolver_type=getattr(OpResolverType, settings["resolver"]),
        )
        runner = interp.get_signature_runner()
        (input_name,) = runner.get_input_details().keys()
        for key in ("tiny_astronaut", "tiny_grace_hopper"):
            outs = runner(**{input_name: np.ascontiguousarray(inputs[key].transpose(0, 2, 3, 1))})
            results.update({f"{key}/{n}": np.asarray(outs[n]) for n in NAMES})
    elif runtime == "parity":
        import torch

        from meshpose_export.convert.pipeline import Job, run_export
        from meshpose_export.targets.base import get_target
        from meshpose_mobile.seeded import seeded_model

        torch.set_num_threads(settings.get("threads", 1))
        jobs = [Job(get_target("onnx"), "fp32"), Job(get_target("coreml"), "fp16")]
        run_export(seeded_model("meshpose_tiny", seed=0), jobs, out.parent / out.stem, log=lambda s: None)
        for key, name in (
            ("onnx_fp32", "meshpose_tiny_fp32.onnx.json"),
            ("coreml_fp16", "meshpose_tiny_fp16.mlpackage.json"),
        ):
            side = json.loads((out.parent / out.stem / name).read_text())
            results[f"{key}/parity"] = np.asarray(side["parity"]["vertices_max_px"])
    elif runtime == "decode":
        from meshpose_mobile.crop import CropContract

        ref = dict(np.load(work / "onnxruntime_0.npz"))
        for key in ("tiny_astronaut", "tiny_grace_hopper"):
            contract = CropContract(64, 48)
            affine = inputs[f"{key}/affine"]
            verts = ref[f"{key}/vertices"].astype(np.float64).reshape(-1, 3)
            results[f"{key}/image_vertices"] = contract.to_image(verts, affine)
    np.savez(out, **results)


# --------------------------------------------------------------------------- driver


def _prepare(work: Path, tflite: bool) -> dict[str, float]:
    """Export the tiny model and write the photo crops; returns each input's crop-to-image scale."""
    from meshpose_export.convert.pipeline import Job, run_export
    from meshpose_export.targets.base import get_target
    from meshpose_mobile.crop import CropContract
    from meshpose_mobile.samples import SAMPLE_PHOTOS
    from meshpose_mobile.seeded import seeded_model

    jobs = [Job(get_target("onnx"), "fp32")] + ([Job(get_target("tflite"), "fp32")] if tflite else [])
    run_export(seeded_model("meshpose_tiny", seed=0), jobs, work, log=lambda s: None)
    arrays: dict[str, np.ndarray] = {}
    scales: dict[str, float] = {}
    for prefix, (h, w), photos in (("tiny", (64, 48), SAMPLE_PHOTOS), ("xs", (256, 192), SAMPLE_PHOTOS[:1])):
        contract = CropContract(h, w)
        for photo in photos:
            crop, affine = contract.crop(photo.load(), photo.box)
            key = f"{prefix}_{photo.name}"
            arrays[key] = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
            arrays[f"{key}/affine"] = affine
            scales[key] = float(1.0 / np.sqrt(abs(np.linalg.det(affine[:, :2]))))
    np.savez(work / "inputs.npz", **arrays)
    return scales


def _spread(ref: dict[str, np.ndarray], got: dict[str, np.ndarray], scales: dict[str, float]) -> dict[str, float]:
    row = {"crop_px": 0.0, "image_px": 0.0, "vertices_2d_image_px": 0.0, "visibility": 0.0, "parity_px": 0.0}
    for key, a in ref.items():
        case, name = key.split("/")
        d = float(np.abs(np.asarray(got[key], np.float64) - np.asarray(a, np.float64)).max())
        if name in ("vertices", "vertices_2d"):
            row["crop_px"] = max(row["crop_px"], d)
        if name == "vertices":
            row["image_px"] = max(row["image_px"], d * scales[case])
        elif name == "image_vertices":
            row["image_px"] = max(row["image_px"], d)
        elif name == "vertices_2d":
            row["vertices_2d_image_px"] = max(row["vertices_2d_image_px"], d * scales[case])
        elif name == "visibility":
            row["visibility"] = max(row["visibility"], d)
        elif name == "parity":  # the sidecar's parity number (runtime vs PyTorch), its own change
            row["parity_px"] = max(row["parity_px"], d)
    return row


def _golden_rows(ref: dict[str, dict[str, np.ndarray]], scales: dict[str, float]) -> list[dict[str, Any]]:
    """The float32 outputs stored in golden/decode.json (generated on some other machine) vs this one."""
    path = REPO / "golden" / "decode.json"
    if not path.is_file():
        return []
    runtimes = {"tiny_onnx_fp32_": ("onnxruntime", "tiny_"), "xs_deploy_fp32_": ("torch", "xs_")}
    rows = []
    for case in json.loads(path.read_text())["cases"]:
        for prefix, (runtime, key_prefix) in runtimes.items():
            if not case["name"].startswith(prefix) or runtime not in ref:
                continue
            key = key_prefix + case["name"][len(prefix) :]
            stored = {f"{key}/{n}": np.asarray(o["data"]).reshape(o["shape"]) for n, o in case["outputs"].items()}
            here = {k: v for k, v in ref[runtime].items() if k in stored}
            row = _spread(here, stored, scales)
            rows.append({"runtime": runtime, "setting": f"golden/decode.json {case['name']} vs this machine", **row})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--no-tflite", action="store_true", help="skip the TFLite export and LiteRT rows (faster)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        _worker(spec["runtime"], spec["settings"], args.work, args.out)
        return 0
    with tempfile.TemporaryDirectory(prefix="meshpose-spread-") as tmp:
        work = Path(tmp)
        scales = _prepare(work, not args.no_tflite)
        outputs: dict[str, list[dict[str, np.ndarray]]] = {}
        rows: list[dict[str, Any]] = []
        for runtime, label, settings, env in CONFIGS:
            if runtime == "litert" and args.no_tflite:
                continue
            index = len(outputs.setdefault(runtime, []))
            out = work / f"{runtime}_{index}.npz"
            spec = json.dumps({"runtime": runtime, "settings": settings})
            cmd = [sys.executable, __file__, "--worker", spec, "--work", str(work), "--out", str(out)]
            subprocess.run(cmd, check=True, env={**os.environ, **env})
            outputs[runtime].append(dict(np.load(out)))
            row = _spread(outputs[runtime][0], outputs[runtime][-1], scales)
            rows.append({"runtime": runtime, "setting": label, **row})
            print(f"{runtime:12s} {label:60s} " + " ".join(f"{v:.3g}" for v in row.values()), flush=True)
        ref = {r: o[0] for r, o in outputs.items()}
        rows += _golden_rows(ref, scales)
        if "litert" in ref:
            rows.append(
                {
                    "runtime": "litert",
                    "setting": "vs onnxruntime (two runtimes)",
                    **_spread(ref["onnxruntime"], ref["litert"], scales),
                }
            )
        tiny_torch = {k: v for k, v in ref["torch"].items() if k.startswith("tiny_")}
        rows.append(
            {
                "runtime": "onnxruntime",
                "setting": "vs torch (two runtimes)",
                **_spread(tiny_torch, ref["onnxruntime"], scales),
            }
        )
    print(f"\nmachine: {platform.processor() or platform.machine()}, {_cpu_name()}, {os.cpu_count()} cores")
    print(
        "| runtime | setting (vs the runtime's first row) | vertex outputs, crop px | vertices, image px "
        "| vertices_2d, image px | visibility | sidecar parity px |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [r["crop_px"], r["image_px"], r["vertices_2d_image_px"], r["visibility"], r["parity_px"]]
        print(f"| {r['runtime']} | {r['setting']} | " + " | ".join(f"{v:.2g}" for v in cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"machine": _cpu_name(), "rows": rows}, indent=2) + "\n")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                flags = Path("/proc/cpuinfo").read_text()
                isa = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "no AVX2"
                return f"{line.split(':', 1)[1].strip()} ({isa})"
    except OSError:
        pass
    return platform.machine()


if __name__ == "__main__":
    sys.exit(main())
