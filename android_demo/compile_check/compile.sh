#!/usr/bin/env bash
# Compiles every Kotlin source of the Android app with the Kotlin compiler the Gradle build
# declares, against the real Java core (+ Gson) and the small stubs in stubs/ of the Android,
# AndroidX, CameraX, LiteRT and MediaPipe classes the app uses. It checks our code against our
# stubs, not against Google's libraries (no Android SDK installs here): see README.md.
#
#   compile.sh [CORE_SRC_DIR [APP_SRC_DIR]]   (defaults: ../core/src/main/java, ../app/src/main/java)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
core="${1:-$here/../core/src/main/java}"
app="${2:-$here/../app/src/main/java}"
kotlinc="$here/node_modules/kotlin-compiler/bin/kotlinc"
gson="${GSON_JAR:-$HOME/.m2/repository/com/google/code/gson/gson/2.11.0/gson-2.11.0.jar}"
die() { echo "error: $*" >&2; exit 2; }
[ -x "$kotlinc" ] || die "no Kotlin compiler at $kotlinc; run 'make test-android-app' (it installs kotlin-compiler from npm)"
[ -f "$gson" ] || die "Gson 2.11.0 not found at $gson; run 'make test-android-core' first (Maven resolves it) or set GSON_JAR"
command -v javac >/dev/null || die "javac (Java 17) is needed"

work="$(mktemp -d "${TMPDIR:-/tmp}/meshpose-kotlinc.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mapfile -t core_src < <(find "$core" -name '*.java' | sort)
mapfile -t stub_src < <(find "$here/stubs" -name '*.java' | sort)
mapfile -t app_src < <(find "$app" -name '*.kt' | sort)
[ "${#app_src[@]}" -gt 0 ] || die "no .kt sources under $app"

javac --release 11 -nowarn -d "$work/core" -cp "$gson" "${core_src[@]}"
javac --release 17 -nowarn -d "$work/stubs" -cp "$work/core" "${stub_src[@]}"
# -Werror: a deprecated or unchecked call into our own core or the stubs is a failure too.
"$kotlinc" -jvm-target 17 -Werror -no-reflect -cp "$work/core:$work/stubs:$gson" -d "$work/app" "${app_src[@]}"
echo "compiled ${#app_src[@]} Kotlin files against the Java core (${#core_src[@]} files) and ${#stub_src[@]} stub classes"
