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
    serve = module.serve.get_concrete_function()
    # onnx2tf builds a grouped Keras Conv2D for a depthwise convolution whose input it first holds in
    # NCHW (meshpose_blaze: 13 of them, each right after an Add); those layers' kernels are captured
    # by the function but tracked by no object, and tf.saved_model.save refuses an "untracked
    # resource". Tracking them here keeps every weight in the SavedModel.
    tracked = {id(v) for v in keras_model.variables}
    module.untracked = [v for v in serve.graph.variables if id(v) not in tracked]
    tf.saved_model.save(module, args["saved_model"], signatures={"serving_default": serve})


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

        # Integer kernels for the backbone and decoder, float I/O so the apps feed pixels as for
        # fp32. Kept in float (docs/design.md, "Full-integer int8"): the decoding (softmax
        # expectations, the range offsets, sigmoid, fusion) and the per-vertex layers feeding it
        # (the heatmap 1x1 conv, whose scores are multiplied by the gain of 10 before the softmax,
        # and the regression branches' last convs): every op whose output has a K-vertex axis.
        # Int8 there quantises pixel coordinates themselves (an int8 step of a 2W-wide range is
        # 1.5 px at 192 px) and softmax inputs whose error the gain multiplies.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        keep = float_nodes(tf.lite.TFLiteConverter.from_saved_model(args["saved_model"]).convert(), args)
        options = tf.lite.experimental.QuantizationDebugOptions(
            denylisted_ops=list(FLOAT_DECODE_OPS), denylisted_nodes=keep
        )
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=representative, debug_options=options
        )
        out.write_bytes(debugger.get_nondebug_quantized_model())
        return
    elif precision != "fp32":
        raise ValueError(f"unknown precision {precision}")
    out.write_bytes(converter.convert())


def float_nodes(float_model: bytes, args: dict) -> list[str]:
    """Output tensor names of the ops to keep in float: every op with a K-vertex axis in its output,
    and the regression branches (every op fed, directly or not, by the global average pool)."""
    from ai_edge_litert.interpreter import Interpreter

    k = int(args.get("num_vertices", 0))
    if k <= 0:
        return []
    interp = Interpreter(model_content=float_model)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = interp._get_ops_details()
    keep: set[int] = set()
    for op in ops:  # execution order: producers come first
        shapes = [[int(d) for d in tensors[i]["shape"]] for i in op["outputs"]]
        pooled = op["op_name"] == "MEAN" and any(len(sh) == 4 and sh[1:3] == [1, 1] for sh in shapes)
        fed = any(i in keep for i in op["inputs"])
        if pooled or fed or any(k in sh for sh in shapes):
            keep.update(int(i) for i in op["outputs"])
    return [tensors[i]["name"] for i in sorted(keep)]


def main() -> int:
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    {"savedmodel": savedmodel, "convert": convert}[mode](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
