package org.meshpose.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.os.SystemClock
import android.view.View
import org.meshpose.core.FrameGeometry

/**
 * Where a frame's upright image sits on the screen. The model saw the buffer turned by the frame's
 * own rotation (how the phone is held: ImageAnalysis's target rotation follows the holding); the
 * preview shows the same buffer turned by [displayRotation] (CameraInfo.getSensorRotationDegrees of
 * the display's rotation). The two differ when the UI does not turn with the phone (rotation lock,
 * or an activity fixed to portrait); FrameGeometry.uprightToViewMatrix covers both (golden
 * "android_locked").
 */
class FramePlacement(
    val bufferWidth: Int,
    val bufferHeight: Int,
    val orientation: FrameGeometry.Orientation,
    val displayRotation: Int,
) {
    companion object {
        fun of(frame: Frame, displayRotation: Int) =
            FramePlacement(frame.width, frame.height, frame.orientation, displayRotation)
    }
}

/**
 * Draws the mesh over the camera preview: triangles when the sidecar has faces, points otherwise,
 * coloured by visibility. Upright image -> view placement is FrameGeometry's aspect-fill mapping
 * (the preview uses FILL_CENTER) from the model's turn to the display's, with the front camera's
 * mirroring, so the mesh sits on the person in every orientation, on both cameras, with the UI
 * rotation locked or not.
 */
class MeshOverlayView(context: Context) : View(context) {
    private var result: FrameResult? = null
    private var placement: FramePlacement? = null
    private var faces: IntArray? = null
    private val visible = Paint().apply {
        color = Color.argb(220, 80, 230, 120)
        strokeWidth = 1.5f
        style = Paint.Style.STROKE
        isAntiAlias = true
    }
    private val hidden = Paint(visible).apply { color = Color.argb(120, 240, 90, 60) }
    private val point = Paint().apply {
        color = Color.argb(230, 80, 230, 120)
        strokeWidth = 4f
        strokeCap = Paint.Cap.ROUND
    }
    private var viewXy = DoubleArray(0)
    private var lineBuffer = FloatArray(0)

    /** Milliseconds the last onDraw took (the "render" stage). */
    @Volatile
    var renderMs: Double = 0.0
        private set

    fun setMesh(faces: IntArray?) {
        this.faces = faces
    }

    fun show(result: FrameResult, placement: FramePlacement) {
        this.result = result
        this.placement = placement
        postInvalidateOnAnimation()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val r = result ?: return
        val p = placement ?: return
        if (width == 0 || height == 0) return
        val t0 = SystemClock.elapsedRealtimeNanos()
        val o = p.orientation
        val m = FrameGeometry.uprightToViewMatrix(
            p.bufferWidth, p.bufferHeight, o.rotation, p.displayRotation, width.toDouble(), height.toDouble(),
            FrameGeometry.Mode.FILL, o.viewMirrored, o.mirrored,
        )
        for (person in r.people) {
            val k = person.visibility.size
            if (viewXy.size != 2 * k) viewXy = DoubleArray(2 * k)
            for (i in 0 until k) {
                val x = person.xyz[3 * i]
                val y = person.xyz[3 * i + 1]
                viewXy[2 * i] = m.x(x, y)
                viewXy[2 * i + 1] = m.y(x, y)
            }
            val f = faces
            if (f != null) drawTriangles(canvas, f, person.visibility) else drawPoints(canvas, person.visibility)
        }
        renderMs = (SystemClock.elapsedRealtimeNanos() - t0) / 1e6
    }

    private fun drawTriangles(canvas: Canvas, f: IntArray, vis: DoubleArray) {
        // Two passes of one drawLines call each (hidden, then visible): no per-edge draw calls.
        for (pass in 0..1) {
            var n = 0
            if (lineBuffer.size < f.size * 4) lineBuffer = FloatArray(f.size * 4)
            var t = 0
            while (t + 2 < f.size) {
                val a = f[t]
                val b = f[t + 1]
                val c = f[t + 2]
                val v = (vis[a] + vis[b] + vis[c]) / 3.0
                if ((v >= 0.5) == (pass == 1)) {
                    n = edge(n, a, b)
                    n = edge(n, b, c)
                    n = edge(n, c, a)
                }
                t += 3
            }
            canvas.drawLines(lineBuffer, 0, n, if (pass == 1) visible else hidden)
        }
    }

    private fun edge(n: Int, a: Int, b: Int): Int {
        lineBuffer[n] = viewXy[2 * a].toFloat()
        lineBuffer[n + 1] = viewXy[2 * a + 1].toFloat()
        lineBuffer[n + 2] = viewXy[2 * b].toFloat()
        lineBuffer[n + 3] = viewXy[2 * b + 1].toFloat()
        return n + 4
    }

    private fun drawPoints(canvas: Canvas, vis: DoubleArray) {
        for (i in vis.indices) {
            point.alpha = (60 + 195 * vis[i].coerceIn(0.0, 1.0)).toInt()
            canvas.drawPoint(viewXy[2 * i].toFloat(), viewXy[2 * i + 1].toFloat(), point)
        }
    }
}
