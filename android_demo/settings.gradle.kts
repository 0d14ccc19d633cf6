// Open android_demo/ in Android Studio: the app (Kotlin) and the platform-free core (Java, also
// built by Maven in CI from core/pom.xml).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "MeshPoseDemo"
include(":app", ":core")
