// Times predictions of a MeshPose .mlpackage with computeUnits .all, .cpuAndNeuralEngine and
// .cpuOnly on a blank image of the sidecar's input size, and writes the meshpose-bench JSON
// schema (schema "meshpose-bench", version 1; one row per compute unit setting).
//
// Usage: MeshPoseBench MODEL.mlpackage SIDECAR.json OUT.json MACHINE_NAME [--runs 50] [--warmup 5]
import CoreML
import CoreVideo
import Darwin
import Foundation

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write("error: \(message)\n".data(using: .utf8)!)
    exit(2)
}

/// Physical footprint in MB: what iOS counts against an app's memory limit.
func footprintMB() -> Double? {
    var info = task_vm_info_data_t()
    var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<integer_t>.size)
    let kr = withUnsafeMutablePointer(to: &info) {
        $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
            task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count)
        }
    }
    return kr == KERN_SUCCESS ? Double(info.phys_footprint) / 1_048_576.0 : nil
}

func blankImage(width: Int, height: Int) throws -> CVPixelBuffer {
    var buffer: CVPixelBuffer?
    let attrs = [kCVPixelBufferCGImageCompatibilityKey: true, kCVPixelBufferCGBitmapContextCompatibilityKey: true] as CFDictionary
    let status = CVPixelBufferCreate(kCFAllocatorDefault, width, height, kCVPixelFormatType_32BGRA, attrs, &buffer)
    guard status == kCVReturnSuccess, let buffer else { throw BenchError(description: "CVPixelBufferCreate failed (\(status))") }
    CVPixelBufferLockBaseAddress(buffer, [])
    // Mid-grey: a blank image still runs every layer; latency does not depend on pixel values.
    memset(CVPixelBufferGetBaseAddress(buffer), 128, CVPixelBufferGetDataSize(buffer))
    CVPixelBufferUnlockBaseAddress(buffer, [])
    return buffer
}

func percentile(_ sorted: [Double], _ q: Double) -> Double {
    // Nearest rank, as meshpose-bench: always an observed latency.
    let rank = max(0, min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1))
    return sorted[rank]
}

func directorySize(_ url: URL) -> Int {
    let keys: [URLResourceKey] = [.fileSizeKey, .isRegularFileKey]
    guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: keys) else { return 0 }
    var total = 0
    for case let file as URL in walker {
        let values = try? file.resourceValues(forKeys: Set(keys))
        if values?.isRegularFile == true { total += values?.fileSize ?? 0 }
    }
    return total
}

// --- arguments ---------------------------------------------------------------------------
var args = Array(CommandLine.arguments.dropFirst())
var runs = 50
var warmup = 5
if let i = args.firstIndex(of: "--runs"), i + 1 < args.count { runs = Int(args[i + 1]) ?? runs; args.removeSubrange(i...i + 1) }
if let i = args.firstIndex(of: "--warmup"), i + 1 < args.count { warmup = Int(args[i + 1]) ?? warmup; args.removeSubrange(i...i + 1) }
guard args.count == 4 else { fail("usage: MeshPoseBench MODEL.mlpackage SIDECAR.json OUT.json MACHINE_NAME [--runs N] [--warmup N]") }
let packageURL = URL(fileURLWithPath: args[0])
let sidecarURL = URL(fileURLWithPath: args[1])
let outURL = URL(fileURLWithPath: args[2])
let machineName = args[3]
guard FileManager.default.fileExists(atPath: packageURL.path) else { fail("\(packageURL.path) does not exist; export it with meshpose-export --target coreml") }

guard let sidecarData = try? Data(contentsOf: sidecarURL),
      let sidecar = try? JSONSerialization.jsonObject(with: sidecarData) as? [String: Any],
      let input = sidecar["input"] as? [String: Any],
      let width = input["width"] as? Int, let height = input["height"] as? Int,
      let inputName = input["name"] as? String
else { fail("\(sidecarURL.path) is not a MeshPose sidecar (input.width / height / name missing)") }
let variant = sidecar["variant"] as? String ?? packageURL.deletingPathExtension().lastPathComponent
let precision = sidecar["precision"] as? String ?? "?"
let vertices = ((sidecar["mesh"] as? [String: Any])?["num_vertices"] as? Int)

// --- compile once, then time each compute-unit setting ---------------------------------------
let compileStart = Date()
let compiledURL: URL
do { compiledURL = try MLModel.compileModel(at: packageURL) } catch { fail("CoreML could not compile \(packageURL.lastPathComponent): \(error.localizedDescription)") }
let compileSeconds = Date().timeIntervalSince(compileStart)
let image: CVPixelBuffer
do { image = try blankImage(width: width, height: height) } catch { fail("\(error)") }
let features = try! MLDictionaryFeatureProvider(dictionary: [inputName: MLFeatureValue(pixelBuffer: image)])

let settings: [(String, MLComputeUnits)] = [("all", .all), ("cpu_and_ne", .cpuAndNeuralEngine), ("cpu_only", .cpuOnly)]
var rows: [[String: Any]] = []
for (label, units) in settings {
    let config = MLModelConfiguration()
    config.computeUnits = units
    let before = footprintMB()
    let loadStart = Date()
    var row: [String: Any] = [
        "model": variant, "runtime": "coreml", "precision": precision, "threads": NSNull(), "compute": label,
        "artifact": packageURL.lastPathComponent, "input_shape": [1, 3, height, width],
        "vertices": vertices as Any? ?? NSNull(), "artifact_bytes": directorySize(packageURL),
        "export_seconds": NSNull(), "note": "MeshPoseBench (Swift); compile \(String(format: "%.2f", compileSeconds)) s",
    ]
    do {
        let model = try MLModel(contentsOf: compiledURL, configuration: config)
        _ = try model.prediction(from: features)  // first call: on-device specialisation counts as loading
        row["load_seconds"] = Date().timeIntervalSince(loadStart)
        for _ in 0..<warmup { _ = try model.prediction(from: features) }
        var samples: [Double] = []
        var peak = footprintMB() ?? 0
        for _ in 0..<runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try model.prediction(from: features)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            peak = max(peak, footprintMB() ?? 0)
        }
        let sorted = samples.sorted()
        let median = percentile(sorted, 0.5)
        row["status"] = "measured"
        row["latency_median_ms"] = median
        row["latency_p90_ms"] = percentile(sorted, 0.9)
        row["latency_min_ms"] = sorted.first!
        row["fps"] = 1000.0 / median
        row["runs"] = runs
        row["warmup"] = warmup
        row["peak_rss_mb"] = peak
        row["peak_model_mb"] = before.map { peak - $0 } as Any? ?? NSNull()
        print("\(variant) \(precision) \(label): median \(String(format: "%.2f", median)) ms")
    } catch {
        row["status"] = "failed"
        row["note"] = "prediction failed: \(error.localizedDescription)"
    }
    rows.append(row)
}

var system = utsname()
uname(&system)
let hw = withUnsafeBytes(of: &system.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
let doc: [String: Any] = [
    "schema": "meshpose-bench",
    "schema_version": 1,
    "machine": [
        "name": machineName, "cpu": hw, "cores": ProcessInfo.processInfo.activeProcessorCount,
        "os": ProcessInfo.processInfo.operatingSystemVersionString, "runtimes": ["coreml": "system"], "note": "",
    ],
    "peak": [String: Any](),
    "rows": rows,
]
do {
    let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
    try FileManager.default.createDirectory(at: outURL.deletingLastPathComponent(), withIntermediateDirectories: true)
    try data.write(to: outURL, options: .atomic)
    print("wrote \(outURL.path)")
} catch { fail("could not write \(outURL.path): \(error.localizedDescription)") }
