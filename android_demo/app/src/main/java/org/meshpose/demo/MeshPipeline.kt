package org.meshpose.demo

import android.os.SystemClock
import org.meshpose.core.Box
import org.meshpose.core.DecodedMesh
import org.meshpose.core.OneEuroFilter
import org.meshpose.core.OutputDecoder
import org.meshpose.core.PersonTracker
import org.meshpose.core.RgbaCropper
import org.meshpose.core.Sidecar

/** One person's mesh on a frame, smoothed, in upright image pixels. */
class PersonMesh(val trackId: Int, val xyz: DoubleArray, val visibility: DoubleArray, val box: Box)

/** Per-stage wall times of one frame, in milliseconds. */
class StageTimes(
    val detectMs: Double,
    val preprocessMs: Double,
    val inferenceMs: Double,
    val postprocessMs: Double,
    val totalMs: Double,
)

/** What the overlay draws for a frame. */
class FrameResult(
    val people: List<PersonMesh>,
    val imageWidth: Int,
    val imageHeight: Int,
    val times: StageTimes,
    val accelerator: Accelerator,
    /** What really ran (DelegateReport.label): "gpu" only when the GPU delegate took every node. */
    val label: String,
    /** Nodes per delegate, one line. */
    val delegation: String,
    val fallbackReason: String?,
)

/**
 * The per-frame pipeline, free of camera and UI: tracker -> (detector when asked) -> crop straight
 * from the RGBA frame into the model's reused input buffer -> LiteRT -> decode by output name ->
 * One-Euro smoothing per track. Used by the live camera and by the benchmark's whole-pipeline runs.
 */
class MeshPipeline(
    private val sidecar: Sidecar,
    val runner: ModelRunner,
    private val detector: PersonDetector?,
    private val trackerParams: PersonTracker.Params = PersonTracker.Params(),
    private val smoothing: OneEuroFilter.Params = DEFAULT_SMOOTHING,
    private val smooth: Boolean = true,
) {
    private val decoder = OutputDecoder(sidecar)
    private var tracker: PersonTracker? = null
    private var trackerSize = intArrayOf(0, 0)
    private val filters = HashMap<Int, OneEuroFilter>()
    // Reused scratch of the bulk crop: one per pipeline, used only on the thread that calls process.
    private val cropper = RgbaCropper(sidecar.crop)

    /** Forget every track and filter: a new camera (flip) shows other people at other places. */
    fun reset() {
        tracker = null
        trackerSize = intArrayOf(0, 0)
        filters.clear()
    }

    fun process(frame: Frame): FrameResult {
        val t0 = SystemClock.elapsedRealtimeNanos()
        val size = intArrayOf(frame.uprightWidth, frame.uprightHeight)
        var tr = tracker
        if (tr == null || !size.contentEquals(trackerSize)) {
            // A new orientation is a new image: boxes of the old one mean nothing in it.
            tr = PersonTracker(trackerParams, sidecar.crop.aspect(), size)
            tracker = tr
            trackerSize = size
            filters.clear()
        }
        var detectNs = 0L
        if (tr.beginFrame()) {
            val d0 = SystemClock.elapsedRealtimeNanos()
            val found = detector?.detect(frame)
                // No detector model bundled: start from the whole frame; the mesh then gives the box.
                ?: listOf(Detection(Box(-0.5, -0.5, size[0].toDouble(), size[1].toDouble()), 1.0))
            tr.applyDetections(found.map { it.box }, found.map { it.score })
            detectNs = SystemClock.elapsedRealtimeNanos() - d0
        }
        var preNs = 0L
        var inferNs = 0L
        var postNs = 0L
        val people = ArrayList<PersonMesh>()
        for (track in tr.activeTracks()) {
            val p0 = SystemClock.elapsedRealtimeNanos()
            runner.inputFloats.clear()
            val affine = cropper.crop(
                frame.pixels, frame.offset, frame.width, frame.height, frame.rowStride, frame.rotation,
                track.box, runner.inputFloats,
            )
            val p1 = SystemClock.elapsedRealtimeNanos()
            val outputs = runner.run()
            val p2 = SystemClock.elapsedRealtimeNanos()
            val mesh: DecodedMesh = decoder.decode(outputs, affine)
            val box = track.box
            tr.applyMesh(track.id, mesh.xy(), mesh.visibility)
            val xyz = if (smooth) {
                filters.getOrPut(track.id) { OneEuroFilter(smoothing) }
                    // Speed in person-box heights per second: the same smoothing near and far.
                    .filter(mesh.xyz, frame.timestampNs / 1e9, box.h)
            } else {
                mesh.xyz
            }
            people.add(PersonMesh(track.id, xyz, mesh.visibility, box))
            val p3 = SystemClock.elapsedRealtimeNanos()
            preNs += p1 - p0
            inferNs += p2 - p1
            postNs += p3 - p2
        }
        tr.endFrame()
        val alive = tr.tracks().map { it.id }.toSet()
        filters.keys.retainAll(alive)
        val total = SystemClock.elapsedRealtimeNanos() - t0
        return FrameResult(
            people, size[0], size[1],
            StageTimes(detectNs / 1e6, preNs / 1e6, inferNs / 1e6, postNs / 1e6, total / 1e6),
            runner.active, runner.label, runner.report.summary, runner.fallbackReason,
        )
    }

    companion object {
        /** export/runtime/tracking.py's defaults: beta in person-box heights per second. */
        val DEFAULT_SMOOTHING = OneEuroFilter.Params(1.0, 12.0, 1.0)
    }
}
