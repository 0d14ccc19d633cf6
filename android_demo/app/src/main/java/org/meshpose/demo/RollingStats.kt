package org.meshpose.demo

import org.meshpose.core.BenchStats

/** Medians over the last [size] frames for the on-screen readout (a median shrugs off one slow frame). */
class RollingStats(private val size: Int = 30) {
    private val model = ArrayDeque<Double>()
    private val pipeline = ArrayDeque<Double>()
    private val stamps = ArrayDeque<Long>()

    fun add(modelMs: Double, pipelineMs: Double, timestampNs: Long) {
        push(model, modelMs)
        push(pipeline, pipelineMs)
        stamps.addLast(timestampNs)
        while (stamps.size > size) stamps.removeFirst()
    }

    fun clear() {
        model.clear()
        pipeline.clear()
        stamps.clear()
    }

    private fun push(q: ArrayDeque<Double>, v: Double) {
        q.addLast(v)
        while (q.size > size) q.removeFirst()
    }

    fun modelMs(): Double = if (model.isEmpty()) 0.0 else BenchStats.of(model.toDoubleArray()).medianMs

    fun pipelineMs(): Double = if (pipeline.isEmpty()) 0.0 else BenchStats.of(pipeline.toDoubleArray()).medianMs

    /** Frames per second actually shown, from the camera timestamps of the analysed frames. */
    fun fps(): Double {
        if (stamps.size < 2) return 0.0
        val span = (stamps.last() - stamps.first()) / 1e9
        return if (span > 0) (stamps.size - 1) / span else 0.0
    }
}
