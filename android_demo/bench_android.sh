#!/usr/bin/env bash
# Time MeshPose .tflite files (and the BlazePose peer) on an Android phone with LiteRT's
# benchmark_model, XNNPACK (CPU) and GPU delegates, and write the meshpose-bench JSON schema.
#
# Usage: android_demo/bench_android.sh MACHINE_NAME MODEL.tflite [MODEL.tflite ...]
#   BENCHMARK_MODEL  path to the benchmark_model binary for the phone's ABI (required; see README)
#   THREADS          CPU threads for XNNPACK runs (default 4)
#   RUNS             timed runs (default 50)
# Writes benchmarks/results/<MACHINE_NAME>/results.json plus the raw logs next to it.
#
#        android_demo/bench_android.sh --app MACHINE_NAME
#   Starts the installed MeshPose app's benchmark activity over adb (model only per accelerator and
#   thread count, whole pipeline over the bundled photos, thermal status, peak memory), waits for it
#   and pulls its meshpose-bench JSON to benchmarks/results/<MACHINE_NAME>/app.json.
#   RUNS, THREADS ("1,2,4"), ACCELERATORS ("xnnpack,gpu,npu") and TIMEOUT (s, default 900) apply.
set -euo pipefail

die() { echo "error: $*" >&2; exit 2; }

if [ "${1:-}" = "--app" ]; then
  [ $# -eq 2 ] || die "usage: $0 --app MACHINE_NAME"
  command -v adb >/dev/null || die "adb not found; install Android platform-tools and connect a phone"
  adb get-state >/dev/null 2>&1 || die "no phone visible to adb (adb devices lists none)"
  machine="$2"
  root="$(cd "$(dirname "$0")/.." && pwd)"
  out="$root/benchmarks/results/$machine"
  python="${PYTHON:-$root/.venv/bin/python}"
  pkg=org.meshpose.demo
  files="/sdcard/Android/data/$pkg/files"
  adb shell pm path "$pkg" >/dev/null 2>&1 || die "the MeshPose app is not installed; build and run it from Android Studio first (android_demo/README.md)"
  adb shell rm -f "$files/meshpose-bench.done" "$files/meshpose-bench.json"
  adb shell am start -W -n "$pkg/.MainActivity" --ez meshpose.benchmark true \
    --ei meshpose.runs "${RUNS:-50}" --es meshpose.threads "${THREADS:-1,2,4}" \
    --es meshpose.accelerators "${ACCELERATORS:-xnnpack,gpu,npu}" --es meshpose.machine "$machine" >/dev/null
  deadline=$(( $(date +%s) + ${TIMEOUT:-900} ))
  until adb shell cat "$files/meshpose-bench.done" 2>/dev/null | grep -q .; do
    [ "$(date +%s)" -lt "$deadline" ] || die "the app's benchmark did not finish within ${TIMEOUT:-900} s; see adb logcat -s MeshPoseBench"
    sleep 5
  done
  status="$(adb shell cat "$files/meshpose-bench.done" | tr -d '\r')"
  [ "$status" = ok ] || die "the app's benchmark failed: $status (adb logcat -s MeshPoseBench)"
  mkdir -p "$out"
  adb pull "$files/meshpose-bench.json" "$out/.app.json.tmp" >/dev/null
  "$python" -c "import json, sys; from meshpose_export.bench.schema import validate; validate(json.load(open(sys.argv[1])))" \
    "$out/.app.json.tmp" || { rm -f "$out/.app.json.tmp"; die "the app wrote an invalid meshpose-bench file"; }
  mv "$out/.app.json.tmp" "$out/app.json"
  echo "wrote $out/app.json"
  exit 0
fi
[ $# -ge 2 ] || die "usage: $0 MACHINE_NAME MODEL.tflite [MODEL.tflite ...]"
command -v adb >/dev/null || die "adb not found; install Android platform-tools and connect a phone"
[ -n "${BENCHMARK_MODEL:-}" ] && [ -f "$BENCHMARK_MODEL" ] || die "set BENCHMARK_MODEL to LiteRT's benchmark_model binary (see android_demo/README.md)"
adb get-state >/dev/null 2>&1 || die "no phone visible to adb (adb devices lists none)"

machine="$1"; shift
threads="${THREADS:-4}"
runs="${RUNS:-50}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/benchmarks/results/$machine"
python="${PYTHON:-$root/.venv/bin/python}"
mkdir -p "$out/logs"
remote=/data/local/tmp/meshpose-bench
adb shell mkdir -p "$remote"
adb push "$BENCHMARK_MODEL" "$remote/benchmark_model" >/dev/null
adb shell chmod +x "$remote/benchmark_model"

specs=()
for model in "$@"; do
  [ -f "$model" ] || die "$model does not exist; export it with meshpose-export --target tflite"
  base="$(basename "$model" .tflite)"
  # meshpose_blaze_fp16 -> model meshpose_blaze, precision fp16 (meshpose_xs_int8_full likewise);
  # anything else (the peer) keeps its name.
  if [[ "$base" =~ ^(meshpose_[a-z0-9]+)_(fp32|fp16|int8_dynamic|int8_full)$ ]]; then
    name="${BASH_REMATCH[1]}"; precision="${BASH_REMATCH[2]}"
  else
    name="$base"; precision="as-shipped"
  fi
  adb push "$model" "$remote/$base.tflite" >/dev/null
  for delegate in xnnpack gpu; do
    log="$out/logs/$base.$delegate.txt"
    if [ "$delegate" = xnnpack ]; then
      flags=(--use_xnnpack=true --num_threads="$threads"); t="$threads"
    else
      flags=(--use_gpu=true); t=""
    fi
    echo "[$base/$delegate] benchmark_model ${flags[*]}" >&2
    if adb shell "$remote/benchmark_model" --graph="$remote/$base.tflite" --num_runs="$runs" \
        --warmup_runs=5 --report_peak_memory_footprint=true "${flags[@]}" >"$log" 2>&1; then
      specs+=("$log:$name:$precision:$delegate:$t:$model")
    else
      echo "[$base/$delegate] failed; log kept at $log" >&2
    fi
  done
done
[ ${#specs[@]} -gt 0 ] || die "no run succeeded; see $out/logs"
"$python" -m meshpose_export.bench.android "$out/results.json" "$machine" "${specs[@]}"
