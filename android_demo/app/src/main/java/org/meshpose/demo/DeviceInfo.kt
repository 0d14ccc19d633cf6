package org.meshpose.demo

import android.content.Context
import android.os.Build
import android.os.PowerManager
import org.meshpose.core.BenchResults
import org.tensorflow.lite.TensorFlowLite
import java.io.File

/** The phone as the results file names it, its thermal state and the process's peak memory. */
object DeviceInfo {
    fun machine(name: String?, note: String): BenchResults.Machine {
        val slug = (Build.MANUFACTURER + "-" + Build.MODEL).lowercase()
            .map { if (it.isLetterOrDigit()) it else '-' }.joinToString("").split('-').filter { it.isNotEmpty() }
            .joinToString("-")
        val cpu = if (Build.VERSION.SDK_INT >= 31) "${Build.SOC_MANUFACTURER} ${Build.SOC_MODEL}" else Build.HARDWARE
        return BenchResults.Machine(
            name ?: "android-$slug",
            cpu,
            Runtime.getRuntime().availableProcessors(),
            "Android ${Build.VERSION.RELEASE} (API ${Build.VERSION.SDK_INT})",
            mapOf("litert" to TensorFlowLite.runtimeVersion()),
            note,
        )
    }

    /** PowerManager's thermal status (API 29+): "none", "light", ..., or "unknown" on older phones. */
    fun thermalStatus(context: Context): String {
        if (Build.VERSION.SDK_INT < 29) return "unknown (API < 29)"
        val pm = context.getSystemService(PowerManager::class.java)
        return when (pm.currentThermalStatus) {
            PowerManager.THERMAL_STATUS_NONE -> "none"
            PowerManager.THERMAL_STATUS_LIGHT -> "light"
            PowerManager.THERMAL_STATUS_MODERATE -> "moderate"
            PowerManager.THERMAL_STATUS_SEVERE -> "severe"
            PowerManager.THERMAL_STATUS_CRITICAL -> "critical"
            PowerManager.THERMAL_STATUS_EMERGENCY -> "emergency"
            PowerManager.THERMAL_STATUS_SHUTDOWN -> "shutdown"
            else -> "unknown"
        }
    }

    /** Thermal headroom forecast for 10 s ahead (API 30+; 1.0 = throttling), or null. */
    fun thermalHeadroom(context: Context): Float? {
        if (Build.VERSION.SDK_INT < 30) return null
        val v = context.getSystemService(PowerManager::class.java).getThermalHeadroom(10)
        return if (v.isNaN()) null else v
    }

    /** The process's peak resident memory (VmHWM), in MB: runtime, delegates and model included. */
    fun peakRssMb(): Double? = statusMb("VmHWM")

    fun rssMb(): Double? = statusMb("VmRSS")

    private fun statusMb(field: String): Double? = try {
        File("/proc/self/status").readLines().firstOrNull { it.startsWith("$field:") }
            ?.split(Regex("\\s+"))?.getOrNull(1)?.toDouble()?.div(1024.0)
    } catch (e: Exception) {
        null
    }
}
