package org.meshpose.demo

import androidx.camera.core.ImageProxy
import org.meshpose.core.FrameGeometry
import java.nio.ByteBuffer

/**
 * One camera frame as the pipeline reads it: the RGBA_8888 plane of CameraX's ImageProxy, never
 * copied or converted (no YUV -> RGB, no Bitmap). [offset], [width], [height] are the ImageProxy's
 * crop rect (the region the preview shows, with a shared ViewPort); [rotation] is read from this
 * very frame (ImageInfo.rotationDegrees), never assumed.
 */
class Frame(
    val pixels: ByteBuffer,
    val offset: Int,
    val width: Int,
    val height: Int,
    val rowStride: Int,
    val rotation: Int,
    val timestampNs: Long,
) {
    val uprightWidth: Int
    val uprightHeight: Int

    init {
        val size = FrameGeometry.uprightSize(width, height, rotation)
        uprightWidth = size[0]
        uprightHeight = size[1]
    }

    companion object {
        fun of(image: ImageProxy): Frame {
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
            )
        }
    }
}
