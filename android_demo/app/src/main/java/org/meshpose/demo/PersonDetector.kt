package org.meshpose.demo

import android.content.Context
import com.google.mediapipe.framework.image.ByteBufferImageBuilder
import com.google.mediapipe.framework.image.MPImage
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.core.RunningMode
import com.google.mediapipe.tasks.vision.objectdetector.ObjectDetector
import org.meshpose.core.Affine
import org.meshpose.core.Box
import org.meshpose.core.CropContract
import org.meshpose.core.FrameGeometry
import org.meshpose.core.RgbaCropper
import java.nio.ByteBuffer

/** A person box on the upright frame, with the detector's score. */
data class Detection(val box: Box, val score: Double)

/**
 * Person boxes from MediaPipe's object detector (EfficientDet-Lite0, "person" only). It runs only
 * on the frames the tracker asks for. The detector sees a small upright copy of the frame, made by
 * the same rotated crop the model input uses (no Bitmap, no YUV conversion), and its boxes are
 * mapped back to upright frame pixels through that crop's affine.
 */
class PersonDetector private constructor(private val detector: ObjectDetector) : AutoCloseable {
    private var cropper: RgbaCropper? = null
    private var rgba: ByteBuffer? = null

    fun detect(frame: Frame): List<Detection> {
        val (w, h) = frame.uprightWidth to frame.uprightHeight
        val scale = SIDE.toDouble() / maxOf(w, h)
        val sw = maxOf(1, Math.round(w * scale).toInt())
        val sh = maxOf(1, Math.round(h * scale).toInt())
        // The whole upright frame as the box, at scale 1: a resize that keeps the aspect. Bulk
        // reads and one bulk write of RGBA bytes (RgbaCropper), scratch reused while the size holds.
        val crop = cropper?.takeIf { it.contract().inputWidth == sw && it.contract().inputHeight == sh }
            ?: RgbaCropper(CropContract(sh, sw, 1.0))
        val px = rgba?.takeIf { it.capacity() == sw * sh * 4 } ?: ByteBuffer.allocateDirect(sw * sh * 4)
        cropper = crop
        rgba = px
        px.clear()
        val toSmall: Affine = crop.cropToRgba(
            frame.pixels, frame.offset, frame.width, frame.height, frame.rowStride, frame.rotation,
            Box(-0.5, -0.5, w.toDouble(), h.toDouble()), px,
        )
        px.rewind()
        val image = ByteBufferImageBuilder(px, sw, sh, MPImage.IMAGE_FORMAT_RGBA).build()
        val result = detector.detect(image)
        val back = toSmall.inverse()
        return result.detections().map { d ->
            val r = d.boundingBox()
            val small = FrameGeometry.edgeRectToBox(r.left.toDouble(), r.top.toDouble(), r.right.toDouble(), r.bottom.toDouble())
            val x0 = back.x(small.x, small.y)
            val y0 = back.y(small.x, small.y)
            val x1 = back.x(small.x + small.w, small.y + small.h)
            val y1 = back.y(small.x + small.w, small.y + small.h)
            Detection(Box(x0, y0, x1 - x0, y1 - y0), d.categories().firstOrNull()?.score()?.toDouble() ?: 0.0)
        }
    }

    override fun close() = detector.close()

    companion object {
        /** Long side of the detector's copy of the frame, in pixels. */
        private const val SIDE = 320

        /** null when the detector model is not in the assets (the app then starts from the whole frame). */
        fun create(context: Context): PersonDetector? {
            val names = context.assets.list("")?.toList() ?: emptyList()
            if (ModelAssets.DETECTOR_ASSET !in names) return null
            val options = ObjectDetector.ObjectDetectorOptions.builder()
                .setBaseOptions(BaseOptions.builder().setModelAssetPath(ModelAssets.DETECTOR_ASSET).build())
                .setRunningMode(RunningMode.IMAGE)
                .setMaxResults(4)
                .setScoreThreshold(0.35f)
                .setCategoryAllowlist(listOf("person"))
                .build()
            return PersonDetector(ObjectDetector.createFromOptions(context, options))
        }
    }
}
