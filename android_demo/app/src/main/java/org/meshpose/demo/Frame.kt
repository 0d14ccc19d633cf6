package org.meshpose.demo

import androidx.camera.core.ImageProxy
import org.meshpose.core.FrameGeometry
import java.nio.ByteBuffer

/**
 * One camera frame as the pipeline reads it: the RGBA_8888 plane of CameraX's ImageProxy, never
 * copied or converted (no YUV -> RGB, no Bitmap). [offset], [width], [height] are the ImageProxy's
 * crop rect (the region the preview shows, with a shared ViewPort); [rotation] is read from this
 * very frame (ImageInfo.rotationDegrees), never assumed. [orientation] is the core's mapping of
 * that rotation and the lens (FrameGeometry.forAndroidFrame, golden/geometry.json "cameras"): the
 * turn the model's upright image needs (never a mirror) and whether the view is a mirror view.
 */
class Frame(
    val pixels: ByteBuffer,
    val offset: Int,
    val width: Int,
    val height: Int,
    val rowStride: Int,
    val rotation: Int,
    val timestampNs: Long,
    val front: Boolean = false,
) {
    val orientation: FrameGeometry.Orientation = FrameGeometry.forAndroidFrame(rotation, front)
    val uprightWidth: Int
    val uprightHeight: Int

    init {
        val size = FrameGeometry.uprightSize(width, height, orientation.rotation)
        uprightWidth = size[0]
        uprightHeight = size[1]
    }

    companion object {
        fun of(image: ImageProxy, front: Boolean): Frame {
            val plane = image.planes[0]
            check(plane.pixelStride == 4) { "ImageAnalysis must deliver RGBA_8888 (pixel stride 4)" }
            val rect = image.cropRect
            return Frame(
                pixels = plane.buffer,
                offset = rect.top * plane.rowStride + rect.left * plane.pixelStride,
                width = rect.width(),
                height = rect.height(),
                rowStride = plane.rowStride,
                rotation = image.imageInfo.rotationDegrees,
                timestampNs = image.imageInfo.timestamp,
                front = front,
            )
        }
    }
}
