package org.meshpose.demo

import android.util.Log
import org.meshpose.core.CoreException
import org.meshpose.core.OutputDecoder
import org.meshpose.core.Sidecar
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.FloatBuffer
import java.nio.MappedByteBuffer

/** Where the model runs. The names are the `compute` values of meshpose-bench rows. */
enum class Accelerator(val compute: String) {
    CPU("cpu"),
    XNNPACK("xnnpack"),
    GPU("gpu"),
    NPU("npu"),
}

/**
 * One LiteRT interpreter for the exported model. A delegate that cannot take the model (an op the
 * GPU delegate rejects, no NNAPI driver, a crash at the first run) is closed and the model runs on
 * the CPU instead: the failure is recorded in [fallbackReason] and shown, never thrown at the user.
 * Outputs are read by the names the sidecar lists, through the model's signature; input and
 * output buffers are allocated once and reused for every frame.
 */
class ModelRunner(
    private val model: MappedByteBuffer,
    private val sidecar: Sidecar,
    val requested: Accelerator,
    val threads: Int,
) : AutoCloseable {
    var active: Accelerator = requested
        private set
    var fallbackReason: String? = null
        private set
    private var delegate: Delegate? = null
    private var interpreter: Interpreter
    private val signature: String
    private val inputName: String
    private val outputNames: List<String>
    private val outputBuffers = LinkedHashMap<String, ByteBuffer>()
    private val outputTypes = HashMap<String, DataType>()

    /** NHWC float32 RGB 0..255, written in place by the crop (CropContract.cropRgba). */
    val input: ByteBuffer = ByteBuffer.allocateDirect(4 * 3 * sidecar.inputHeight * sidecar.inputWidth)
        .order(ByteOrder.nativeOrder())
    val inputFloats: FloatBuffer = input.asFloatBuffer()

    init {
        interpreter = open(requested)
        val keys = interpreter.signatureKeys
        if (keys.isEmpty()) {
            throw CoreException(
                "missing_output",
                "the .tflite has no signature, so its outputs cannot be found by name; re-export it with meshpose-export",
            )
        }
        signature = if ("serving_default" in keys) "serving_default" else keys[0]
        val inputs = interpreter.getSignatureInputs(signature)
        inputName = if (sidecar.inputName in inputs) sidecar.inputName else inputs.single()
        val available = interpreter.getSignatureOutputs(signature).toList()
        // By name, never by position: converters reorder outputs (onnx2tf sorts them).
        outputNames = sidecar.outputs.map { it.name }.filter { it in available }
        for (needed in listOf(OutputDecoder.VERTICES, OutputDecoder.VISIBILITY)) {
            if (needed !in available) {
                throw CoreException(
                    "missing_output",
                    "the model's signature has no output '$needed' (it has $available); re-export with meshpose-export",
                )
            }
        }
        for (name in outputNames) {
            val tensor = interpreter.getOutputTensorFromSignature(name, signature)
            outputTypes[name] = tensor.dataType()
            outputBuffers[name] = ByteBuffer.allocateDirect(tensor.numBytes()).order(ByteOrder.nativeOrder())
        }
    }

    private fun open(accelerator: Accelerator): Interpreter {
        val options = Interpreter.Options().setNumThreads(threads)
        try {
            when (accelerator) {
                Accelerator.CPU -> options.setUseXNNPACK(false)
                Accelerator.XNNPACK -> options.setUseXNNPACK(true)
                Accelerator.GPU -> {
                    val compat = CompatibilityList()
                    if (!compat.isDelegateSupportedOnThisDevice) {
                        throw IllegalStateException("the GPU delegate does not support this device")
                    }
                    delegate = GpuDelegate(compat.bestOptionsForThisDevice).also { options.addDelegate(it) }
                }
                Accelerator.NPU -> {
                    val nnapi = NnApiDelegate.Options()
                        .setExecutionPreference(NnApiDelegate.Options.EXECUTION_PREFERENCE_SUSTAINED_SPEED)
                        .setAllowFp16(true)
                        .setUseNnapiCpu(false)
                    delegate = NnApiDelegate(nnapi).also { options.addDelegate(it) }
                }
            }
            return Interpreter(model, options)
        } catch (e: Exception) {
            // Interpreter() throws IllegalArgumentException when a delegate cannot be applied.
            return fallBack(accelerator, e)
        }
    }

    private fun fallBack(failed: Accelerator, error: Throwable): Interpreter {
        val why = (error.message ?: error.javaClass.simpleName).lineSequence().first().take(200)
        fallbackReason = "${failed.compute} delegate failed ($why); running on the CPU (XNNPACK)"
        Log.w(TAG, fallbackReason!!)
        delegate?.close()
        delegate = null
        active = Accelerator.XNNPACK
        return Interpreter(model, Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true))
    }

    /** Runs the model on [input]; returns output name -> float values. */
    fun run(): Map<String, FloatArray> {
        input.rewind()
        for (b in outputBuffers.values) b.rewind()
        try {
            interpreter.runSignature(mapOf(inputName to input), outputBuffers.toMap(), signature)
        } catch (e: Exception) {
            if (active == Accelerator.XNNPACK || active == Accelerator.CPU) throw e
            // Some delegates accept the graph and fail at the first invoke: same fallback.
            interpreter.close()
            interpreter = fallBack(active, e)
            input.rewind()
            for (b in outputBuffers.values) b.rewind()
            interpreter.runSignature(mapOf(inputName to input), outputBuffers.toMap(), signature)
        }
        val out = HashMap<String, FloatArray>()
        for ((name, buffer) in outputBuffers) {
            val spec = sidecar.output(name)
            // LiteRT models output float32 even at fp16 weights; otherwise trust the sidecar.
            val dtype = if (outputTypes[name] == DataType.FLOAT32) "float32" else spec.dtype
            val count = spec.elementCount()
            out[name] = OutputDecoder.toFloats(buffer, dtype, count)
        }
        return out
    }

    override fun close() {
        interpreter.close()
        delegate?.close()
    }

    companion object {
        private const val TAG = "MeshPoseRunner"
    }
}
