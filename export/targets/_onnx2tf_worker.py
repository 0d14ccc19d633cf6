"""TensorFlow-side steps of the TFLite export, each run in its own process so TensorFlow's memory
and log noise stay out of the caller and a crash becomes a clean ExportError.

    python -m meshpose_export.targets._onnx2tf_worker savedmodel ARGS_JSON
        onnx2tf: ONNX -> Keras model -> a SavedModel whose signature outputs carry the ONNX names
    python -m meshpose_export.targets._onnx2tf_worker convert ARGS_JSON
        one SavedModel -> .tflite conversion at one precision

onnx2tf would convert to float32 and float16 itself, one after the other (about a minute each for
meshpose_xs on this machine); converting from the SavedModel in separate processes lets the
precisions run side by side on two cores. It also gives every file, int8 ones included, the
signature with the ONNX output names (onnx2tf's own dynamic-range file has none).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# TFLite builtin ops of the decoding part of the graph, kept in float in the full-int8 file.
FLOAT_DECODE_OPS = ("SOFTMAX", "SUM", "MUL", "LOGISTIC", "MEAN", "CONCATENATION", "PACK", "BATCH_MATMUL")


def savedmodel(args: dict) -> None:
    os.chdir(args["cwd"])  # onnx2tf looks for its sample-data .npy in the working directory
    import onnx2tf
    import tensorflow as tf

    # not_use_onnxsim: export_onnx has already simplified the graph. onnx2tf would otherwise run the
    # `onnxsim` command when it is on PATH (an activated venv) and skip it silently when not (CI).
    # That command rewrites any model over 100 MB (meshpose_hrnet32) with external weights; onnx2tf
    # then skips shape inference, has no per-op ONNX outputs to choose NCHW/NHWC permutations from,
    # and fails on the first AlignCornersResize MatMul ("node_matmul": 32 vs 36).
    keras_model = onnx2tf.convert(
        input_onnx_file_path=args["onnx"],
        output_folder_path=args["cwd"],
        non_verbose=True,
        disable_model_save=True,
        not_use_onnxsim=True,
    )
    names = args["output_names"]
    (spec,) = keras_model.inputs

    class Named(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = keras_model

        @tf.function(input_signature=[tf.TensorSpec(spec.shape, spec.dtype, name=args["input_name"])])
        def serve(self, image):
            outs = self.model(image)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            return {name: out for name, out in zip(names, outs, strict=True)}

    module = Named()
    tf.saved_model.save(
        module, args["saved_model"], signatures={"serving_default": module.serve.get_concrete_function()}
    )


def convert(args: dict) -> None:
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(args["saved_model"])
    # Builtin ops only: a Flex (select TF) op would be a custom layer on the phone.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    precision = args["precision"]
    out = Path(args["out"])
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8_dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8_full":
        data = np.load(args["calibration"]).astype(np.float32)

        def representative():
            for sample in data:
                yield [sample[None]]

        # Integer kernels for the network, float I/O so the apps feed pixels as for fp32. The
        # decoding (softmax expectations, sigmoid, fusion) stays float: int8 softmax outputs
        # have 1/256 resolution, which moved vertices by tens of pixels (docs/design.md).
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(FLOAT_DECODE_OPS))
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=representative, debug_options=options
        )
        out.write_bytes(debugger.get_nondebug_quantized_model())
        return
    elif precision != "fp32":
        raise ValueError(f"unknown precision {precision}")
    out.write_bytes(converter.convert())


def main() -> int:
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    {"savedmodel": savedmodel, "convert": convert}[mode](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
