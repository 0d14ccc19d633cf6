plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.meshpose.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "org.meshpose.demo"
        minSdk = 26
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }

    // The model is memory-mapped from the APK: it must stay uncompressed.
    androidResources {
        noCompress += listOf("tflite")
    }
}

// The person detector (MediaPipe's EfficientDet-Lite0 object detector, Apache-2.0) is fetched once
// at build time into the assets; the app never downloads anything. Without it, the app uses the
// whole frame as the first person box and then follows the mesh, so a failed download (offline,
// proxy, --offline) is a warning, never a failed build. The file appears whole or not at all:
// written to a .part file, then moved into place atomically; a failure deletes the .part file.
val detectorModel = file("src/main/assets/efficientdet_lite0.tflite")
val downloadDetector by tasks.registering {
    outputs.file(detectorModel)
    onlyIf { !detectorModel.exists() }
    doLast {
        val url = "https://storage.googleapis.com/mediapipe-models/object_detector/efficientdet_lite0/int8/1/efficientdet_lite0.tflite"
        val tmp = File(detectorModel.path + ".part")
        if (gradle.startParameter.isOffline) {
            logger.warn("Offline build: the person detector ($url) is not fetched; the app runs without it.")
            return@doLast
        }
        try {
            detectorModel.parentFile.mkdirs()
            val connection = uri(url).toURL().openConnection().apply {
                connectTimeout = 15_000
                readTimeout = 30_000
            }
            connection.getInputStream().use { input -> tmp.outputStream().use { input.copyTo(it) } }
            java.nio.file.Files.move(
                tmp.toPath(),
                detectorModel.toPath(),
                java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING,
            )
        } catch (e: Exception) {
            tmp.delete()
            logger.warn(
                "Could not fetch the person detector ($url): ${e.message ?: e.javaClass.simpleName}. " +
                    "The app builds and runs without it (whole frame as the first box); put the file at $detectorModel to use it.",
            )
        }
    }
}
tasks.named("preBuild") { dependsOn(downloadDetector) }

dependencies {
    implementation(project(":core"))

    val camerax = "1.3.4"
    implementation("androidx.camera:camera-core:$camerax")
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")

    implementation("com.google.ai.edge.litert:litert:1.0.1")
    implementation("com.google.ai.edge.litert:litert-gpu:1.0.1")
    implementation("com.google.ai.edge.litert:litert-gpu-api:1.0.1")
    implementation("com.google.mediapipe:tasks-vision:0.10.14")

    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.core:core-ktx:1.13.1")
    implementation("androidx.lifecycle:lifecycle-runtime-ktx:2.8.4")
    implementation("com.google.code.gson:gson:2.11.0")
}
