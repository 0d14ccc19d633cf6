package org.meshpose.demo

import android.app.Application
import android.content.Context
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Canvas
import android.os.Bundle
import android.os.SystemClock
import android.util.Log
import android.widget.ScrollView
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.ViewModelProvider
import org.meshpose.core.BenchResults
import org.meshpose.core.BenchStats
import org.meshpose.core.Box
import org.meshpose.core.PersonTracker
import org.meshpose.core.RgbaCropper
import org.meshpose.core.Sidecar
import java.io.File
import java.nio.ByteBuffer
import java.util.concurrent.CancellationException
import java.util.concurrent.atomic.AtomicBoolean

/**
 * The on-device benchmark, written as `meshpose-bench` JSON (export/bench/schema.py, the schema of
 * every machine) to the app's external files folder, where bench_android.sh pulls it from:
 *
 * - model only: the model on each accelerator and thread count, on a fixed crop of a bundled
 *   photo (warm-up runs first; median, p90 by nearest rank, min as the desktop bench);
 * - whole pipeline (scope "pipeline"): bundled photos as RGBA frames through tracker, detector,
 *   crop, LiteRT, decoding, smoothing and the overlay's drawing, with each stage's median in
 *   stages_ms (schema version 2);
 * - thermal status before and after, and the process's peak memory.
 *
 * A delegate that fails (or takes no node) gives a "failed" row with the reason, not a crash, and
 * is not timed as the CPU under its name; a row's `compute` is what really ran (DelegateReport:
 * `gpu+cpu` for a partial GPU delegation) and its note says how many nodes each delegate took.
 *
 * The run lives in a ViewModel ([BenchmarkRun]), not in the activity: a rotation recreates the
 * activity, which then shows the same run's log instead of starting a second run; leaving the
 * activity for good cancels the run at the next model or timed-run boundary (done file:
 * "cancelled"). Only one run per process at a time.
 *
 * Intent extras (all optional): meshpose.runs (50), meshpose.warmup (5), meshpose.threads
 * ("1,2,4"), meshpose.accelerators ("xnnpack,gpu,npu"), meshpose.model (asset name),
 * meshpose.machine (the results' machine name).
 */
class BenchmarkActivity : AppCompatActivity() {
    private lateinit var log: TextView
    private lateinit var run: BenchmarkRun

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        log = TextView(this).apply { setPadding(24, 24, 24, 24) }
        setContentView(ScrollView(this).apply { addView(log) })
        // The same BenchmarkRun after a rotation: it shows the log so far and starts nothing new.
        run = ViewModelProvider(this)[BenchmarkRun::class.java]
        log.text = run.attach { line -> runOnUiThread { log.append(line + "\n") } }
        run.startOnce(intent.extras ?: Bundle())
    }

    override fun onDestroy() {
        run.detach()
        super.onDestroy()
    }

    companion object {
        const val EXTRA_BENCHMARK = "meshpose.benchmark"
        const val EXTRA_RUNS = "meshpose.runs"
        const val EXTRA_WARMUP = "meshpose.warmup"
        const val EXTRA_THREADS = "meshpose.threads"
        const val EXTRA_ACCELERATORS = "meshpose.accelerators"
        const val EXTRA_MODEL = "meshpose.model"
        const val EXTRA_MACHINE = "meshpose.machine"
        const val RESULTS_FILE = "meshpose-bench.json"
        const val DONE_FILE = "meshpose-bench.done"
        const val RUNTIME = "litert-android"
    }
}

/**
 * One benchmark run, kept across activity recreation. [startOnce] starts it the first time only;
 * [onCleared] (the activity left for good) cancels it.
 */
class BenchmarkRun(application: Application) : AndroidViewModel(application) {
    private val lines = StringBuilder()
    private var listener: ((String) -> Unit)? = null
    private var started = false

    @Volatile
    private var cancelled = false

    /** Shows new lines through [onLine]; returns the log so far. */
    @Synchronized
    fun attach(onLine: (String) -> Unit): String {
        listener = onLine
        return lines.toString()
    }

    @Synchronized
    fun detach() {
        listener = null
    }

    @Synchronized
    private fun say(line: String) {
        Log.i(TAG, line)
        lines.append(line).append('\n')
        listener?.invoke(line)
    }

    @Synchronized
    fun startOnce(extras: Bundle) {
        if (started) return
        started = true
        if (!RUNNING.compareAndSet(false, true)) {
            say("a benchmark is already running in this app; not starting a second one")
            return
        }
        val context: Context = getApplication<Application>()
        Thread({
            try {
                Benchmark(context, extras, ::say) { cancelled }.runAll()
            } finally {
                RUNNING.set(false)
            }
        }, "meshpose-bench").start()
    }

    override fun onCleared() {
        cancelled = true
        super.onCleared()
    }

    companion object {
        private const val TAG = "MeshPoseBench"
        private val RUNNING = AtomicBoolean(false)
    }
}

/** The benchmark itself, free of the activity: [context] is the application's. */
private class Benchmark(
    private val context: Context,
    private val extras: Bundle,
    private val say: (String) -> Unit,
    private val isCancelled: () -> Boolean,
) {
    private fun checkCancelled() {
        if (isCancelled()) throw CancellationException("the benchmark activity was closed")
    }

    fun runAll() {
        val out = context.getExternalFilesDir(null) ?: context.filesDir
        val done = File(out, BenchmarkActivity.DONE_FILE)
        val target = File(out, BenchmarkActivity.RESULTS_FILE)
        val tmp = File(out, "${BenchmarkActivity.RESULTS_FILE}.tmp")
        done.delete()
        try {
            val doc = benchmark()
            tmp.writeText(doc)
            if (!tmp.renameTo(target)) throw IllegalStateException("cannot write $target")
            say("wrote ${target.absolutePath}")
            done.writeText("ok\n")
        } catch (e: CancellationException) {
            tmp.delete()
            say("benchmark cancelled: ${e.message}")
            done.writeText("cancelled: ${e.message}\n")
        } catch (e: Exception) {
            Log.e(TAG, "benchmark failed", e)
            tmp.delete()
            say("benchmark failed: ${e.message ?: e.javaClass.simpleName}")
            done.writeText("error: ${e.message}\n")
        }
    }

    private fun benchmark(): String {
        val runs = extras.getInt(BenchmarkActivity.EXTRA_RUNS, 50)
        val warmup = extras.getInt(BenchmarkActivity.EXTRA_WARMUP, 5)
        val threadCounts = (extras.getString(BenchmarkActivity.EXTRA_THREADS) ?: "1,2,4").split(",").map { it.trim().toInt() }
        val accelerators = (extras.getString(BenchmarkActivity.EXTRA_ACCELERATORS) ?: "xnnpack,gpu,npu").split(",")
            .map { name -> Accelerator.values().first { it.compute == name.trim() } }
        val assets = ModelAssets.load(context, extras.getString(BenchmarkActivity.EXTRA_MODEL))
        val side = assets.sidecar
        val thermalBefore = DeviceInfo.thermalStatus(context)
        say("model ${assets.modelName}: ${side.variant} ${side.precision}, thermal $thermalBefore")
        val photos = bundledPhotos()
        val rows = ArrayList<BenchResults.Row>()

        for (acc in accelerators) {
            // Threads matter for the CPU; a GPU or NPU delegate runs once, with the default pool.
            val counts = if (acc == Accelerator.XNNPACK || acc == Accelerator.CPU) threadCounts else listOf(MainActivity.THREADS)
            for (threads in counts) {
                checkCancelled()
                val reportedThreads: Int? = if (acc == Accelerator.XNNPACK || acc == Accelerator.CPU) threads else null
                val row = baseRow(assets, reportedThreads, acc.compute)
                val l0 = SystemClock.elapsedRealtimeNanos()
                val runner = ModelRunner(assets.model, side, acc, threads)
                val loadS = (SystemClock.elapsedRealtimeNanos() - l0) / 1e9
                try {
                    fillInput(runner, side, photos.firstOrNull())
                    repeat(warmup) { runner.run() }
                    if (runner.fallbackReason != null) {
                        rows.add(row.set("status", "failed").set("note", runner.fallbackReason!!))
                        say("[${acc.compute}] ${runner.fallbackReason}")
                        continue
                    }
                    // Labelled by what ran (after the warm-up, when the runtime's delegation is settled).
                    row.set("compute", runner.label)
                    say("[${acc.compute}] ${runner.report.summary}")
                    val samples = DoubleArray(runs)
                    for (i in 0 until runs) {
                        if (i % 10 == 0) checkCancelled()
                        val t0 = SystemClock.elapsedRealtimeNanos()
                        runner.run()
                        samples[i] = (SystemClock.elapsedRealtimeNanos() - t0) / 1e6
                    }
                    val stats = BenchStats.of(samples)
                    row.timings(stats, warmup)
                        .set("load_seconds", loadS)
                        .set("peak_rss_mb", DeviceInfo.peakRssMb())
                        .set(
                            "note",
                            "model only (LiteRT Interpreter.runSignature on a photo crop); delegation ${runner.report.summary}; " +
                                "thermal ${DeviceInfo.thermalStatus(context)}",
                        )
                    rows.add(row)
                    say("[${runner.label} x$threads] model median ${MainActivity.fmt(stats.medianMs)} ms, p90 ${MainActivity.fmt(stats.p90Ms)} ms")
                    if (threads == counts.last() && photos.isNotEmpty()) {
                        rows.add(pipelineRow(assets, runner, reportedThreads, photos, runs, warmup))
                    }
                } finally {
                    runner.close()
                }
            }
        }
        val thermalAfter = DeviceInfo.thermalStatus(context)
        val headroom = DeviceInfo.thermalHeadroom(context)
        val note = "MeshPose Android app benchmark; thermal status $thermalBefore before, $thermalAfter after" +
            (headroom?.let { ", headroom $it" } ?: "") + "; peak RSS ${DeviceInfo.peakRssMb()} MB"
        val results = BenchResults(DeviceInfo.machine(extras.getString(BenchmarkActivity.EXTRA_MACHINE), note))
        rows.forEach { results.add(it) }
        say(note)
        return results.toJsonString()
    }

    private fun baseRow(assets: ModelAssets, threads: Int?, compute: String): BenchResults.Row {
        val side = assets.sidecar
        return BenchResults.Row(side.variant, BenchmarkActivity.RUNTIME, side.precision, threads)
            .set("compute", compute)
            .set("artifact", assets.modelName)
            .set("input_shape", intArrayOf(1, side.inputHeight, side.inputWidth, 3))
            .set("vertices", side.numVertices)
            .set("artifact_bytes", assets.modelBytes)
    }

    /** Bundled photos (assets/bench/, written by android_demo/prepare_assets.py) as RGBA frames. */
    private fun bundledPhotos(): List<Frame> {
        val names = context.assets.list("bench")?.filter { it.endsWith(".png") || it.endsWith(".jpg") }?.sorted() ?: emptyList()
        return names.map { name ->
            val bmp = context.assets.open("bench/$name").use { BitmapFactory.decodeStream(it) }
                .copy(Bitmap.Config.ARGB_8888, false)
            // ARGB_8888 bitmaps store bytes as R, G, B, A: exactly CameraX's RGBA_8888 layout.
            val buf = ByteBuffer.allocateDirect(bmp.rowBytes * bmp.height)
            bmp.copyPixelsToBuffer(buf)
            buf.rewind()
            Frame(buf, 0, bmp.width, bmp.height, bmp.rowBytes, 0, 0L)
        }
    }

    /** The model input for model-only runs: the first bundled photo, whole, through the crop contract. */
    private fun fillInput(runner: ModelRunner, side: Sidecar, frame: Frame?) {
        runner.inputFloats.clear()
        if (frame == null) {
            // No photo bundled: mid-grey. Latency does not depend on pixel values for this graph.
            while (runner.inputFloats.hasRemaining()) runner.inputFloats.put(127f)
            return
        }
        val whole = Box(-0.5, -0.5, frame.width.toDouble(), frame.height.toDouble())
        RgbaCropper(side.crop).crop(frame.pixels, frame.offset, frame.width, frame.height, frame.rowStride, 0, whole, runner.inputFloats)
    }

    /**
     * Whole pipeline over the bundled photos: each photo is a short "video" of [runs] frames, so the
     * detector runs as in the app (first frame, then every redetect_every frames) and tracking fills
     * the rest. Frame timestamps advance 1/30 s.
     */
    private fun pipelineRow(
        assets: ModelAssets,
        runner: ModelRunner,
        threads: Int?,
        photos: List<Frame>,
        runs: Int,
        warmup: Int,
    ): BenchResults.Row {
        val detector = PersonDetector.create(context)
        val overlay = MeshOverlayView(context)
        overlay.setMesh(assets.sidecar.faces())
        val totals = ArrayList<Double>()
        val pre = ArrayList<Double>()
        val infer = ArrayList<Double>()
        val post = ArrayList<Double>()
        val detect = ArrayList<Double>()
        val render = ArrayList<Double>()
        try {
            for (photo in photos) {
                checkCancelled()
                val pipeline = MeshPipeline(assets.sidecar, runner, detector, PersonTracker.Params())
                overlay.layout(0, 0, photo.width, photo.height)
                val canvas = Canvas(Bitmap.createBitmap(photo.width, photo.height, Bitmap.Config.ARGB_8888))
                for (i in 0 until runs + warmup) {
                    val frame = Frame(photo.pixels, 0, photo.width, photo.height, photo.rowStride, 0, i * 33_333_333L)
                    val r = pipeline.process(frame)
                    val r0 = SystemClock.elapsedRealtimeNanos()
                    overlay.show(r, FramePlacement.of(frame, frame.rotation))
                    overlay.draw(canvas)
                    val renderMs = (SystemClock.elapsedRealtimeNanos() - r0) / 1e6
                    if (i < warmup) continue
                    totals.add(r.times.totalMs + renderMs)
                    pre.add(r.times.preprocessMs)
                    infer.add(r.times.inferenceMs)
                    post.add(r.times.postprocessMs)
                    detect.add(r.times.detectMs)
                    render.add(renderMs)
                }
            }
        } finally {
            detector?.close()
        }
        val s = BenchStats.of(totals.toDoubleArray())
        fun med(v: List<Double>): Double = BenchStats.of(v.toDoubleArray()).medianMs
        val detectNote = if (detector == null) "no detector bundled: the whole frame is the first box" else
            "MediaPipe object detector, on the frames the tracker asks for"
        say("[pipeline ${runner.label}] median ${MainActivity.fmt(s.medianMs)} ms")
        return baseRow(assets, threads, runner.label)
            .timings(s, warmup)
            .pipelineStages(
                mapOf(
                    "detect" to med(detect),
                    "preprocess" to med(pre),
                    "inference" to med(infer),
                    "postprocess" to med(post),
                    "render" to med(render),
                ),
            )
            .set("peak_rss_mb", DeviceInfo.peakRssMb())
            .set(
                "note",
                "whole pipeline per frame over ${photos.size} bundled photo(s): RGBA frame -> tracker / detector " +
                    "($detectNote) -> crop -> LiteRT -> decode by name -> smoothing -> overlay drawn",
            )
    }

    companion object {
        private const val TAG = "MeshPoseBench"
    }
}
