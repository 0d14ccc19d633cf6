// MeshPoseBench: times a MeshPose .mlpackage with Core ML's compute units .all,
// .cpuAndNeuralEngine and .cpuOnly on a mid-grey crop of the sidecar's input size and writes the
// meshpose-bench JSON, schema version 2 (MeshPoseKit's BenchDocument: the schema, percentiles and
// file text of export/bench/schema.py and timing.py). Every row times the model call alone
// (scope "model", stages_ms null): there is no camera, detector or drawing here to time, and
// the app's benchmark mode writes the whole-pipeline row. A thin layer: statistics, JSON,
// sidecar and decoding are MeshPoseKit's; loading and prediction are MeshPoseCoreML's, the same
// code the iOS app runs.
//
// Usage: MeshPoseBench MODEL.mlpackage SIDECAR.json OUT.json MACHINE_NAME [--runs 50] [--warmup 5]
import Foundation
import MeshPoseKit
#if canImport(CoreML)
import CoreML
import CoreVideo
import MeshPoseCoreML
#endif

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(2)
}

#if canImport(CoreML)
func parseArguments() -> (model: URL, sidecar: URL, out: URL, machine: String, runs: Int, warmup: Int) {
    var args = Array(CommandLine.arguments.dropFirst())
    var runs = 50
    var warmup = 5
    func take(_ flag: String) -> Int? {
        guard let i = args.firstIndex(of: flag) else { return nil }
        guard i + 1 < args.count, let value = Int(args[i + 1]) else { fail("\(flag) needs a whole number") }
        args.removeSubrange(i...(i + 1))
        return value
    }
    runs = take("--runs") ?? runs
    warmup = take("--warmup") ?? warmup
    guard args.count == 4 else {
        fail("usage: MeshPoseBench MODEL.mlpackage SIDECAR.json OUT.json MACHINE_NAME [--runs N] [--warmup N]")
    }
    guard runs >= 1, warmup >= 0 else { fail("--runs must be >= 1 and --warmup >= 0") }
    return (URL(fileURLWithPath: args[0]), URL(fileURLWithPath: args[1]), URL(fileURLWithPath: args[2]), args[3], runs, warmup)
}

func machineDescription(name: String) -> BenchMachine {
    var system = utsname()
    uname(&system)
    let hw = withUnsafeBytes(of: &system.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    return BenchMachine(
        name: name, cpu: hw, cores: ProcessInfo.processInfo.activeProcessorCount,
        os: ProcessInfo.processInfo.operatingSystemVersionString, runtimes: ["coreml": "system"],
        note: "MeshPoseBench (Swift, MeshPoseKit)"
    )
}

func run() async {
    let a = parseArguments()
    let sidecar: Sidecar
    do { sidecar = try Sidecar.load(contentsOf: a.sidecar) } catch { fail("\(error)") }
    let compiled: CompiledModelCache.Entry
    do { compiled = try CompiledModelCache.compiledModel(for: a.model) } catch { fail("\(error)") }
    let crop: CVPixelBuffer
    do { crop = try makeGreyPixelBuffer(width: sidecar.input.width, height: sidecar.input.height) } catch { fail("\(error)") }
    let decoder = OutputDecoder(sidecar: sidecar)
    let wholeCrop = BoxXYWH(x: -0.5, y: -0.5, width: Double(sidecar.input.width), height: Double(sidecar.input.height))

    var rows: [BenchRow] = []
    for choice in ComputeChoice.allCases {
        var row = BenchRow(model: sidecar.variant, runtime: "coreml", precision: sidecar.precision, threads: nil)
        row.compute = choice.rawValue
        row.scope = "model"
        row.artifact = a.model.lastPathComponent
        row.inputShape = [1, 3, sidecar.input.height, sidecar.input.width]
        row.vertices = sidecar.numVertices
        row.artifactBytes = directorySize(a.model)
        let before = physicalFootprintMB()
        do {
            let model = try MeshPoseModel.load(
                compiledURL: compiled.compiledURL, sidecar: sidecar, computeChoice: choice, warmInput: crop
            )
            row.loadSeconds = model.loadSeconds
            // The outputs must decode by name, or the timings are of a model the app cannot use.
            _ = try decoder.decode(try model.predict(crop), affine: try sidecar.crop.affine(for: wholeCrop))
            for _ in 0..<a.warmup { _ = try model.predict(crop) }
            var samples: [Double] = []
            var peak = physicalFootprintMB() ?? 0
            for _ in 0..<a.runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try model.predict(crop)
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                peak = max(peak, physicalFootprintMB() ?? 0)
            }
            row.record(try BenchTiming(samplesMs: samples, warmup: a.warmup))
            row.peakRssMb = peak
            row.peakModelMb = before.map { peak - $0 }
            let placement = await ComputePlacement.summary(compiledURL: compiled.compiledURL, computeChoice: choice)
            let compileNote = compiled.compileSeconds.map { String(format: "compiled in %.2f s", $0) } ?? "compiled model from cache"
            row.note = "MeshPoseBench (Swift); \(compileNote); thermal \(thermalStateName()); \(placement)"
            print("\(sidecar.variant) \(sidecar.precision) \(choice.rawValue): median \(String(format: "%.2f", row.latencyMedianMs ?? 0)) ms")
        } catch {
            row.status = "failed"
            row.note = "MeshPoseBench (Swift): \(error.localizedDescription)"
        }
        rows.append(row)
    }
    do {
        try BenchDocument(machine: machineDescription(name: a.machine), rows: rows).write(to: a.out)
        print("wrote \(a.out.path)")
    } catch {
        fail("\(error)")
    }
}

await run()
#else
fail("MeshPoseBench runs Core ML and needs macOS; on Linux run `swift test` for MeshPoseKit only")
#endif
