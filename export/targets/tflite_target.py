"""TFLite (LiteRT) through onnx2tf 1.29.24: NHWC input, outputs named through the signature.

onnx2tf writes float32 and float16 files in one run, and the int8 files when asked; one run per
export serves every precision planned for it (`ExportContext.planned`).

Offline notes (docs/design.md): onnx2tf tries to download a 20-image sample for its shape
inference and for int8 calibration; we write both from local crops into its working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from meshpose_export.targets.base import ExportContext, Loaded, Target, Tolerance, register_target
from meshpose_export.targets.onnx_target import export_onnx

from meshpose_mobile.deploy import INPUT_NAME, OUTPUT_NAMES, MeshPoseDeploy
from meshpose_mobile.errors import ExportError

# Precision -> the file suffix onnx2tf gives it.
_FILES = {
    "fp32": "_float32.tflite",
    "fp16": "_float16.tflite",
    "int8_dynamic": "_dynamic_range_quant.tflite",
    "int8_full": "_integer_quant.tflite",
}
_SAMPLE_NPY = "calibration_image_sample_data_20x128x128x3_float32.npy"


class TfliteTarget(Target):
    name = "tflite"
    precisions = tuple(_FILES)
    default_precision = "fp32"
    suffix = ".tflite"

    def export(self, graph: MeshPoseDeploy, out_path: Path, precision: str, ctx: ExportContext) -> Path:
        planned = set(ctx.planned) | {precision}
        quant = bool(planned & {"int8_dynamic", "int8_full"})
        full = "int8_full" in planned
        run_dir = ctx.workdir / "onnx2tf"
        stem = "model"
        produced = run_dir / "out" / f"{stem}{_FILES[precision]}"
        if not produced.exists():
            self._convert(graph, run_dir, stem, ctx, quant=quant, full=full)
        if not produced.exists():
            raise ExportError(f"onnx2tf did not write {produced.name}; see {run_dir / 'onnx2tf.log'}")
        shutil.copyfile(produced, out_path)
        return out_path

    def _convert(
        self, graph: MeshPoseDeploy, run_dir: Path, stem: str, ctx: ExportContext, *, quant: bool, full: bool
    ) -> None:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        onnx_path = export_onnx(graph, run_dir / f"{stem}.onnx", dict(ctx.metadata))
        calib = ctx.calibration
        if calib is None:
            raise ExportError("TFLite export needs calibration crops (ExportContext.calibration)")
        nhwc = np.ascontiguousarray(calib.transpose(0, 2, 3, 1), dtype=np.float32)
        sample = _resize_nhwc(nhwc, 128, 128, count=20) / 255.0
        np.save(run_dir / _SAMPLE_NPY, sample.astype(np.float32))
        args: dict[str, object] = {
            "cwd": str(run_dir),
            "input_onnx_file_path": str(onnx_path),
            "output_folder_path": str(run_dir / "out"),
            "copy_onnx_input_output_names_to_tflite": True,
            "output_signaturedefs": True,
            "non_verbose": True,
            "output_dynamic_range_quantized_tflite": quant,
        }
        if full:
            calib_path = run_dir / "calibration_nhwc.npy"
            np.save(calib_path, nhwc)
            # Inputs are 0..255 pixels and the graph normalises itself: identity mean/std.
            args["output_integer_quantized_tflite"] = True
            args["custom_input_op_name_np_data_path"] = [[INPUT_NAME, str(calib_path), 0.0, 1.0]]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
        log = run_dir / "onnx2tf.log"
        with open(log, "w") as fh:
            proc = subprocess.run(
                [sys.executable, "-m", "meshpose_export.targets._onnx2tf_worker", json.dumps(args)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
                check=False,
            )
        if proc.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise ExportError(f"onnx2tf failed (exit {proc.returncode}): {tail[0][:200]}; full log: {log}")

    def load(self, path: Path, graph: MeshPoseDeploy) -> Loaded:
        return Loaded(tflite_runner(path))

    def tolerance(self, precision: str) -> Tolerance:
        # From measurement on meshpose_xs / meshpose_tiny seeded weights, with headroom
        # (docs/design.md, "Tolerances").
        return {
            "fp32": Tolerance(max_px=0.01, p99_px=0.005, visibility=1e-4),
            "fp16": Tolerance(max_px=0.5, p99_px=0.25, visibility=5e-3),
            "int8_dynamic": Tolerance(max_px=2.0, p99_px=1.0, visibility=0.05),
            "int8_full": Tolerance(max_px=2.0, p99_px=1.0, visibility=0.05),
        }[precision]


def tflite_runner(path: Path, threads: int | None = None):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=threads)
    runner = interp.get_signature_runner()
    (input_name,) = runner.get_input_details().keys()
    missing = set(OUTPUT_NAMES) - set(runner.get_output_details())
    if missing:
        raise ExportError(f"{path.name} has no output(s) {sorted(missing)} in its signature; re-export it")

    def run(image: np.ndarray) -> dict[str, np.ndarray]:
        nhwc = np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(0, 2, 3, 1))
        outs = runner(**{input_name: nhwc})
        return {name: np.asarray(outs[name]) for name in OUTPUT_NAMES}

    return run


def _resize_nhwc(images: np.ndarray, h: int, w: int, count: int) -> np.ndarray:
    from PIL import Image

    out = []
    for i in range(count):
        img = images[i % len(images)]
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        out.append(np.asarray(pil.resize((w, h), Image.BILINEAR), dtype=np.float32))
    return np.stack(out)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


register_target(TfliteTarget())
