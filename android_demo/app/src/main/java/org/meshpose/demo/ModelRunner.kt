package org.meshpose.demo

import android.os.Process
import android.util.Log
import org.meshpose.core.CoreException
import org.meshpose.core.DelegateReport
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
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicLong

/** Where the model runs. The names are the `compute` values of meshpose-bench rows. */
enum class Accelerator(val compute: String) {
    CPU("cpu"),
    XNNPACK("xnnpack"),
    GPU("gpu"),
    NPU("npu"),
}

/**
 * One LiteRT interpreter for the exported model. A delegate that cannot take the model (an op the
 * GPU delegate rejects, no NNAPI driver, a native library or class missing, a crash at the first
 * run) is closed and the model runs on the CPU instead: the failure is recorded in
 * [fallbackReason] and shown, never thrown at the user. A delegate that is accepted but takes no
 * node (NNAPI without an accelerator driver) is a failure too. What really ran is in [report]:
 * nodes per delegate, from LiteRT's own log (DelegateReport), and the run's [label] (`gpu` only
 * when the GPU delegate took every node; `gpu+cpu` for a partial delegation).
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

    /** Nodes per delegate of the interpreter now in use, from LiteRT's log. */
    var report: DelegateReport = DelegateReport.of(requested.compute, null)
        private set

    /** What really ran, for the screen and the benchmark's `compute`. */
    val label: String
        get() = report.label
    private var delegate: Delegate? = null
    private var interpreter: Interpreter
    private val signature: String
    private val inputName: String
    private val outputNames: List<String>
    private val outputBuffers = LinkedHashMap<String, ByteBuffer>()
    private val outputTypes = HashMap<String, DataType>()

    // The log marker and thread of the interpreter now in use: the report is read again after
    // the first run, since the runtime may apply its default XNNPACK delegate only then.
    private var probeMarker = ""
    private var probeTid = 0
    private var reportSettled = false

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
        var created: Interpreter? = null
        try {
            when (accelerator) {
                Accelerator.CPU -> options.setUseXNNPACK(false)
                Accelerator.XNNPACK -> options.setUseXNNPACK(true)
                Accelerator.GPU -> {
                    // CompatibilityList holds a native handle: closed whatever happens.
                    val compat = CompatibilityList()
                    try {
                        if (!compat.isDelegateSupportedOnThisDevice) {
                            throw IllegalStateException("the GPU delegate does not support this device")
                        }
                        delegate = GpuDelegate(compat.bestOptionsForThisDevice).also { options.addDelegate(it) }
                    } finally {
                        compat.close()
                    }
                }
                Accelerator.NPU -> {
                    val nnapi = NnApiDelegate.Options()
                        .setExecutionPreference(NnApiDelegate.Options.EXECUTION_PREFERENCE_SUSTAINED_SPEED)
                        .setAllowFp16(true)
                        // No silent run on NNAPI's reference CPU under the name "npu": without a
                        // driver the delegate then takes no node, which the report below catches.
                        .setUseNnapiCpu(false)
                    delegate = NnApiDelegate(nnapi).also { options.addDelegate(it) }
                }
            }
            val marker = newProbe()
            created = Interpreter(model, options)
            report = DelegateReport.of(accelerator.compute, delegationLog(marker, probeTid))
            Log.i(TAG, "delegation: ${report.summary}")
            if ((accelerator == Accelerator.GPU || accelerator == Accelerator.NPU) && report.requestedTookNothing()) {
                throw IllegalStateException("the ${accelerator.compute} delegate took no node of the model (${report.summary})")
            }
            return created
        } catch (e: Throwable) {
            // Interpreter() throws IllegalArgumentException when a delegate cannot be applied; a
            // missing native library or delegate class throws UnsatisfiedLinkError or
            // NoClassDefFoundError, which are Errors, not Exceptions: all of them fall back.
            // Out of memory is not a delegate's fault and is not hidden.
            if (e is OutOfMemoryError) throw e
            created?.close()
            return fallBack(accelerator, e)
        }
    }

    private fun fallBack(failed: Accelerator, error: Throwable): Interpreter {
        val why = (error.message ?: error.javaClass.simpleName).lineSequence().first().take(200)
        fallbackReason = "${failed.compute} delegate failed ($why); running on the CPU (XNNPACK)"
        Log.w(TAG, fallbackReason!!)
        try {
            delegate?.close()
        } catch (e: Throwable) {
            Log.w(TAG, "closing the failed delegate: $e")
        }
        delegate = null
        active = Accelerator.XNNPACK
        val marker = newProbe()
        val cpu = Interpreter(model, Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true))
        report = DelegateReport.of(Accelerator.XNNPACK.compute, delegationLog(marker, probeTid))
        return cpu
    }

    /** Logs a unique marker on this thread; the runtime's lines after it belong to the next interpreter. */
    private fun newProbe(): String {
        probeMarker = "$PROBE ${PROBES.incrementAndGet()} ${System.nanoTime()}"
        probeTid = Process.myTid()
        reportSettled = false
        Log.i(TAG, probeMarker)
        return probeMarker
    }

    /**
     * LiteRT's lines (tag tflite) this thread logged since [marker], read from the app's own logcat
     * (readable by the app without any permission), or null when that fails: the report then
     * says "unverified" instead of claiming an accelerator.
     */
    private fun delegationLog(marker: String, tid: Int): List<String>? = try {
        val proc = ProcessBuilder("logcat", "-d", "-v", "threadtime", "--pid=${Process.myPid()}")
            .redirectErrorStream(true)
            .start()
        val lines = proc.inputStream.bufferedReader().use { it.readLines() }
        if (!proc.waitFor(2, TimeUnit.SECONDS)) proc.destroy()
        DelegateReport.logcatSlice(lines, marker, tid)
    } catch (e: Exception) {
        Log.w(TAG, "cannot read the delegation log: $e")
        null
    }

    /** Runs the model on [input]; returns output name -> float values. */
    fun run(): Map<String, FloatArray> {
        input.rewind()
        for (b in outputBuffers.values) b.rewind()
        try {
            interpreter.runSignature(mapOf(inputName to input), outputBuffers.toMap(), signature)
        } catch (e: Throwable) {
            if (active == Accelerator.XNNPACK || active == Accelerator.CPU || e is OutOfMemoryError) throw e
            // Some delegates accept the graph and fail at the first invoke (also with an Error
            // from native code): same fallback.
            interpreter.close()
            interpreter = fallBack(active, e)
            input.rewind()
            for (b in outputBuffers.values) b.rewind()
            interpreter.runSignature(mapOf(inputName to input), outputBuffers.toMap(), signature)
        }
        if (!reportSettled) {
            reportSettled = true
            report = DelegateReport.of(active.compute, delegationLog(probeMarker, probeTid))
            Log.i(TAG, "delegation after the first run: ${report.summary}")
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
        private const val PROBE = "meshpose-delegate-probe"
        private val PROBES = AtomicLong()
    }
}
