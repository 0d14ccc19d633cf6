package org.meshpose.demo

import android.content.Context
import org.meshpose.core.CoreException
import org.meshpose.core.Sidecar
import org.meshpose.core.SidecarReader
import java.io.FileInputStream
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * The exported model and its sidecar, as the user adds them to app/src/main/assets/ (the files
 * meshpose-export wrote: `meshpose_blaze_fp16.tflite` and `meshpose_blaze_fp16.tflite.json` for
 * the default model, `meshpose_xs_*` for `--variant meshpose_xs`). Nothing
 * about the model is hard-coded: input size, crop contract, output names and faces come from the
 * sidecar.
 */
class ModelAssets private constructor(
    val modelName: String,
    val model: MappedByteBuffer,
    val sidecar: Sidecar,
    val modelBytes: Long,
) {
    companion object {
        /** The first `*.tflite` in the assets that has its sidecar beside it (or the one named). */
        fun load(context: Context, preferred: String? = null): ModelAssets {
            val assets = context.assets
            val names = assets.list("")?.toList() ?: emptyList()
            val candidates = names.filter { it.endsWith(".tflite") && it != DETECTOR_ASSET }.sorted()
            val name = preferred ?: candidates.firstOrNull { (it + ".json") in names }
                ?: throw CoreException(
                    "missing_field",
                    "no model in the app's assets: copy meshpose_blaze_fp16.tflite and meshpose_blaze_fp16.tflite.json " +
                        "(written by meshpose-export) into android_demo/app/src/main/assets/",
                )
            if ((name + ".json") !in names) {
                throw CoreException("missing_field", "$name has no sidecar $name.json beside it in the assets; copy both")
            }
            val sidecar = assets.open("$name.json").reader(Charsets.UTF_8).use { SidecarReader.read(it) }
            if (sidecar.target != "tflite") {
                throw CoreException(
                    "invalid_value",
                    "$name.json describes a ${sidecar.target} export; bundle the .tflite export and its own sidecar",
                )
            }
            // ModelRunner feeds raw RGB 0..255 (the crop's values): a model that wants its input
            // normalised, or in another channel order, would see wrong pixels and still run.
            if (!sidecar.normalizationInModel || sidecar.colorOrder != "RGB") {
                throw CoreException(
                    "invalid_value",
                    "$name.json says the model takes ${sidecar.colorOrder} input normalised outside it; the app feeds " +
                        "raw RGB 0..255: re-export it with meshpose-export --target tflite",
                )
            }
            // The mapping outlives the descriptor, the stream and the channel: all three are closed.
            return assets.openFd(name).use { fd ->
                val model = FileInputStream(fd.fileDescriptor).use { stream ->
                    stream.channel.use { it.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength) }
                }
                ModelAssets(name, model, sidecar, fd.declaredLength)
            }
        }

        const val DETECTOR_ASSET = "efficientdet_lite0.tflite"
    }
}
