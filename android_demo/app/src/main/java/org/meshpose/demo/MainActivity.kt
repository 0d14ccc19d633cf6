package org.meshpose.demo

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.graphics.Color
import android.hardware.display.DisplayManager
import android.os.Bundle
import android.util.Log
import android.view.Gravity
import android.view.OrientationEventListener
import android.widget.Button
import android.widget.FrameLayout
import android.widget.LinearLayout
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.Camera
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.core.UseCaseGroup
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import org.meshpose.core.Holding
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger

/**
 * Live camera -> mesh overlay. Start with `--ez meshpose.benchmark true` (adb) to run the
 * benchmark instead (BenchmarkActivity; bench_android.sh does this).
 */
class MainActivity : AppCompatActivity() {
    private lateinit var previewView: PreviewView
    private lateinit var overlay: MeshOverlayView
    private lateinit var readout: TextView
    private lateinit var acceleratorButton: Button
    private val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private var pipeline: MeshPipeline? = null
    private var assets: ModelAssets? = null
    private var detector: PersonDetector? = null
    // UI thread only. The analysis thread never reads these: each binding hands its analyzer the
    // camera it was made for, and each reload the accelerator it was asked for.
    private var accelerator = Accelerator.GPU
    private var front = false
    private val cameraBindings = AtomicInteger()
    private var camera: Camera? = null

    // UI thread only (OrientationEventListener reports on the main thread). How the phone is held
    // turns the analysed frames: the display stops following the phone when the UI's rotation is
    // locked or the activity is fixed to portrait, and the model would then see a sideways person.
    // Null until the first report, or for good where there is no accelerometer: the analysis then
    // follows the display, as the preview always does.
    private var holding: Holding? = null
    private lateinit var holdingListener: OrientationEventListener

    // Analysis thread only: the binding whose frames the pipeline's tracks belong to.
    private var analysedBinding = -1
    private var analysis: ImageAnalysis? = null
    private var preview: Preview? = null
    private val stats = RollingStats()
    @Volatile
    private var error: String? = null

    private val permission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) previewView.post { bindCamera() } else readout.text = "Camera permission denied: the app needs it to see you."
    }

    private val displayListener = object : DisplayManager.DisplayListener {
        override fun onDisplayAdded(displayId: Int) = Unit

        override fun onDisplayRemoved(displayId: Int) = Unit

        override fun onDisplayChanged(displayId: Int) {
            // Also catches 180-degree turns, which bring no configuration change. The preview
            // follows the display; the analysis follows the holding once the orientation listener
            // has reported one (else the display); the overlay maps one onto the other.
            val rotation = previewView.display?.rotation ?: return
            analysis?.targetRotation = analysisRotation()
            preview?.targetRotation = rotation
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        if (intent.getBooleanExtra(BenchmarkActivity.EXTRA_BENCHMARK, false)) {
            startActivity(Intent(this, BenchmarkActivity::class.java).putExtras(intent))
            finish()
            return
        }
        previewView = PreviewView(this).apply { scaleType = PreviewView.ScaleType.FILL_CENTER }
        overlay = MeshOverlayView(this)
        readout = TextView(this).apply {
            setTextColor(Color.WHITE)
            setBackgroundColor(Color.argb(120, 0, 0, 0))
            setPadding(16, 8, 16, 8)
            textSize = 13f
        }
        val switchCamera = Button(this).apply {
            text = "Flip"
            setOnClickListener {
                front = !front
                bindCamera()
            }
        }
        acceleratorButton = Button(this).apply {
            text = accelerator.compute
            setOnClickListener {
                accelerator = Accelerator.values()[(accelerator.ordinal + 1) % Accelerator.values().size]
                text = accelerator.compute
                val chosen = accelerator
                analysisExecutor.execute { reloadModel(chosen) }
            }
        }
        val buttons = LinearLayout(this).apply {
            orientation = LinearLayout.HORIZONTAL
            addView(switchCamera)
            addView(acceleratorButton)
        }
        val root = FrameLayout(this)
        root.addView(previewView)
        root.addView(overlay)
        root.addView(readout, FrameLayout.LayoutParams(-2, -2, Gravity.TOP or Gravity.START))
        root.addView(buttons, FrameLayout.LayoutParams(-2, -2, Gravity.BOTTOM or Gravity.CENTER_HORIZONTAL))
        setContentView(root)

        holdingListener = object : OrientationEventListener(this) {
            override fun onOrientationChanged(orientation: Int) {
                val before = holding
                val next = Holding.fromOrientationDegrees(orientation, before ?: displayHolding())
                if (next != before) {
                    holding = next
                    // CameraX turns the next frames for the holding; each frame still carries its
                    // own rotationDegrees, so frames already in flight stay right.
                    analysis?.targetRotation = next.surfaceRotation()
                }
            }
        }

        val chosen = accelerator
        analysisExecutor.execute { reloadModel(chosen) }
        getSystemService(DisplayManager::class.java).registerDisplayListener(displayListener, null)
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            previewView.post { bindCamera() }
        } else {
            permission.launch(Manifest.permission.CAMERA)
        }
    }

    override fun onResume() {
        super.onResume()
        if (::holdingListener.isInitialized && holdingListener.canDetectOrientation()) holdingListener.enable()
    }

    override fun onPause() {
        super.onPause()
        if (::holdingListener.isInitialized) holdingListener.disable()
    }

    private fun displayHolding(): Holding = Holding.ofSurfaceRotation(previewView.display?.rotation ?: 0)

    /** ImageAnalysis's target rotation: how the phone is held, else the display's. */
    private fun analysisRotation(): Int = (holding ?: displayHolding()).surfaceRotation()

    /** On the analysis thread: (re)open the model on the chosen accelerator. */
    private fun reloadModel(chosen: Accelerator) {
        try {
            pipeline?.runner?.close()
            pipeline = null
            val a = assets ?: ModelAssets.load(this).also { assets = it }
            if (detector == null) detector = PersonDetector.create(this)
            val runner = ModelRunner(a.model, a.sidecar, chosen, THREADS)
            overlay.setMesh(a.sidecar.faces())
            pipeline = MeshPipeline(a.sidecar, runner, detector)
            error = null
        } catch (e: Exception) {
            // A missing or wrong model file is the user's to fix: say what to do, do not crash.
            error = e.message ?: e.javaClass.simpleName
            Log.e(TAG, "model not loaded", e)
            runOnUiThread { readout.text = error }
        }
    }

    private fun bindCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            val provider = future.get()
            val rotation = previewView.display?.rotation ?: 0
            val pv = Preview.Builder().setTargetRotation(rotation).build()
            pv.setSurfaceProvider(previewView.surfaceProvider)
            val an = ImageAnalysis.Builder()
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setTargetRotation(analysisRotation())
                .build()
            // This analyzer only ever sees this camera's frames: the lens and the binding are
            // fixed here, on the UI thread, and read per frame on the analysis thread.
            val lensFront = front
            val binding = cameraBindings.incrementAndGet()
            an.setAnalyzer(analysisExecutor) { image -> analyze(image, lensFront, binding) }
            val selector = if (lensFront) CameraSelector.DEFAULT_FRONT_CAMERA else CameraSelector.DEFAULT_BACK_CAMERA
            // One ViewPort for preview and analysis: the analysed crop rect is what the screen shows.
            val group = UseCaseGroup.Builder().addUseCase(pv).addUseCase(an)
            previewView.viewPort?.let { group.setViewPort(it) }
            provider.unbindAll()
            camera = provider.bindToLifecycle(this, selector, group.build())
            preview = pv
            analysis = an
        }, ContextCompat.getMainExecutor(this))
    }

    private fun analyze(image: ImageProxy, lensFront: Boolean, binding: Int) {
        try {
            val p = pipeline ?: return
            if (binding != analysedBinding) {
                // Another camera (flip) or a new binding: the old tracks, filters and timings
                // describe another picture.
                p.reset()
                stats.clear()
                analysedBinding = binding
            }
            val frame = Frame.of(image, lensFront)
            val result = p.process(frame)
            stats.add(result.times.inferenceMs, result.times.totalMs, image.imageInfo.timestamp)
            val text = buildString {
                append("model ").append(fmt(stats.modelMs())).append(" ms  ")
                append("pipeline ").append(fmt(stats.pipelineMs())).append(" ms  ")
                append(fmt(stats.fps())).append(" FPS\n")
                append(result.label).append(" · ").append(result.people.size).append(" person(s)")
                append(" · render ").append(fmt(overlay.renderMs)).append(" ms\n")
                append(result.delegation)
                result.fallbackReason?.let { append("\n").append(it) }
            }
            val bufferWidth = frame.width
            val bufferHeight = frame.height
            val orientation = frame.orientation
            runOnUiThread {
                val cam = camera
                // A frame of an older binding (a flip) belongs to another camera's preview.
                if (cam != null && binding == cameraBindings.get()) {
                    // The preview shows the buffer turned for the display, whatever the holding.
                    val shown = cam.cameraInfo.getSensorRotationDegrees(previewView.display?.rotation ?: 0)
                    overlay.show(result, FramePlacement(bufferWidth, bufferHeight, orientation, shown))
                }
                readout.text = text
            }
        } catch (e: Exception) {
            Log.e(TAG, "frame failed", e)
            val msg = e.message ?: e.javaClass.simpleName
            runOnUiThread { readout.text = msg }
        } finally {
            // Keep-only-latest hands over the next frame only once this one is closed.
            image.close()
        }
    }

    override fun onDestroy() {
        super.onDestroy()
        if (::previewView.isInitialized) {
            getSystemService(DisplayManager::class.java).unregisterDisplayListener(displayListener)
        }
        analysisExecutor.execute {
            pipeline?.runner?.close()
            detector?.close()
        }
        analysisExecutor.shutdown()
    }

    companion object {
        private const val TAG = "MeshPose"
        const val THREADS = 4

        fun fmt(v: Double): String = String.format("%.1f", v)
    }
}
