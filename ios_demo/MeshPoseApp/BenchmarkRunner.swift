import CoreGraphics
import CoreImage
import CoreML
import Foundation
import ImageIO
import QuartzCore

/// The on-device benchmark: model-only timings per compute-unit setting on a fixed crop of a
/// bundled photo (scope "model"), then whole-pipeline timings (Vision detection, GPU crop, model,
/// decoding) over every bundled photo (scope "pipeline", each stage's median in `stages_ms`),
/// with thermal state, memory footprint and Core ML's per-op device placement where the OS
/// offers it. Written as meshpose-bench JSON version 2 (MeshPoseKit BenchDocument, the schema of
/// export/bench/schema.py) to the app's Documents folder.
final class BenchmarkRunner {
    struct Settings {
        var runs = 50
        var warmup = 5
        /// Passes over the bundled photos for the pipeline row.
        var pipelineRounds = 10
    }

    struct Photo {
        let name: String
        let image: CGImage
    }

    let settings: Settings

    init(settings: Settings = Settings()) {
        self.settings = settings
    }

    static func bundledPhotos() throws -> [Photo] {
        guard let folder = Bundle.main.url(forResource: "BenchImages", withExtension: nil),
            let items = try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        else { throw MeshPoseError("the app bundle has no BenchImages folder; build from MeshPoseApp.xcodeproj", kind: .io) }
        var photos: [Photo] = []
        let sorted = items.sorted { $0.lastPathComponent < $1.lastPathComponent }
        for url in sorted where ["jpg", "jpeg", "png"].contains(url.pathExtension.lowercased()) {
            guard let source = CGImageSourceCreateWithURL(url as CFURL, nil),
                let image = CGImageSourceCreateImageAtIndex(source, 0, nil)
            else { throw MeshPoseError("cannot decode bundled photo \(url.lastPathComponent)", kind: .io) }
            photos.append(Photo(name: url.lastPathComponent, image: image))
        }
        guard !photos.isEmpty else { throw MeshPoseError("BenchImages holds no photos", kind: .io) }
        return photos
    }

    static func machine() -> BenchMachine {
        var system = utsname()
        uname(&system)
        let hw = withUnsafeBytes(of: &system.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let slug = hw.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
        return BenchMachine(
            name: "ios-\(slug)", cpu: hw, cores: ProcessInfo.processInfo.activeProcessorCount,
            os: "iOS \(ProcessInfo.processInfo.operatingSystemVersionString)",
            runtimes: ["coreml": ProcessInfo.processInfo.operatingSystemVersionString],
            note: "MeshPose iOS app benchmark mode"
        )
    }

    /// Runs everything and returns the written file. Call from a background task.
    func run(log: @escaping (String) -> Void) async throws -> URL {
        log("preparing the model…")
        let prepared = try ModelStore.prepare()
        let sidecar = prepared.sidecar
        if let seconds = prepared.compileSeconds { log(String(format: "compiled the .mlpackage in %.2f s", seconds)) }
        let photos = try Self.bundledPhotos()
        let cropper = GPUCropper()
        let detector = PersonDetector()
        let decoder = OutputDecoder(sidecar: sidecar)
        let contract = sidecar.crop

        func personBox(_ photo: Photo, _ geometry: FrameGeometry) throws -> BoxXYWH {
            let best = try detector.detect(photo.image, geometry: geometry).max { $0.score < $1.score }
            // No person found: the whole photo, as meshpose-predict does without a box.
            return best?.box ?? BoxXYWH(x: -0.5, y: -0.5, width: Double(photo.image.width), height: Double(photo.image.height))
        }
        func geometry(_ photo: Photo) throws -> FrameGeometry {
            try FrameGeometry(bufferWidth: photo.image.width, bufferHeight: photo.image.height, rotation: .deg0, mirrored: false)
        }

        func baseRow() -> BenchRow {
            var row = BenchRow(model: sidecar.variant, runtime: "coreml", precision: sidecar.precision, threads: nil)
            row.artifact = prepared.artifactName
            row.inputShape = [1, 3, sidecar.input.height, sidecar.input.width]
            row.vertices = sidecar.numVertices
            row.artifactBytes = prepared.artifactBytes
            row.parityMaxPx = sidecar.parityMaxPx
            return row
        }

        let fixed = photos[0]
        let fixedGeometry = try geometry(fixed)
        let fixedCrop = try cropper.crop(
            CIImage(cgImage: fixed.image), geometry: fixedGeometry, box: try personBox(fixed, fixedGeometry), contract: contract
        )
        var rows: [BenchRow] = []
        for choice in ComputeChoice.allCases {
            var row = baseRow()
            row.compute = choice.rawValue
            let thermalBefore = thermalStateName()
            let before = physicalFootprintMB()
            log("model only, \(choice.title): loading…")
            do {
                let model = try MeshPoseModel.load(
                    compiledURL: prepared.compiledURL, sidecar: sidecar, computeChoice: choice, warmInput: fixedCrop.buffer
                )
                row.loadSeconds = model.loadSeconds
                for _ in 0..<settings.warmup { _ = try model.predict(fixedCrop.buffer) }
                var samples: [Double] = []
                var peak = physicalFootprintMB() ?? 0
                for _ in 0..<settings.runs {
                    let t0 = CACurrentMediaTime()
                    _ = try model.predict(fixedCrop.buffer)
                    samples.append((CACurrentMediaTime() - t0) * 1000)
                    peak = max(peak, physicalFootprintMB() ?? 0)
                }
                row.record(try BenchTiming(samplesMs: samples, warmup: settings.warmup))
                row.peakRssMb = peak
                row.peakModelMb = before.map { peak - $0 }
                let placement = await ComputePlacement.summary(compiledURL: prepared.compiledURL, computeChoice: choice)
                row.note = "model only on a crop of \(fixed.name); thermal \(thermalBefore) -> \(thermalStateName()); \(placement)"
                log(String(format: "model only, %@: median %.2f ms, p90 %.2f ms, load %.2f s", choice.title,
                           row.latencyMedianMs ?? 0, row.latencyP90Ms ?? 0, row.loadSeconds ?? 0))
            } catch {
                row.status = "failed"
                row.note = "model only, \(choice.title): \(error.localizedDescription)"
                log(row.note)
            }
            rows.append(row)
        }

        // The whole pipeline as the camera path runs it, on the photos (upright, rotation 0). Same
        // runtime as the model rows: the scope tells them apart (as the Android and desktop rows).
        var row = baseRow()
        row.scope = "pipeline"
        row.compute = ComputeChoice.all.rawValue
        let thermalBefore = thermalStateName()
        let before = physicalFootprintMB()
        log("pipeline over \(photos.count) photos x \(settings.pipelineRounds) rounds…")
        do {
            let model = try MeshPoseModel.load(
                compiledURL: prepared.compiledURL, sidecar: sidecar, computeChoice: .all, warmInput: fixedCrop.buffer
            )
            row.loadSeconds = model.loadSeconds
            var total: [Double] = []
            var detect: [Double] = []
            var crop: [Double] = []
            var infer: [Double] = []
            var decode: [Double] = []
            var peak = physicalFootprintMB() ?? 0
            var inputs: [(Photo, FrameGeometry, CIImage)] = []
            for photo in photos {
                let g = try geometry(photo)
                inputs.append((photo, g, CIImage(cgImage: photo.image)))
            }
            var warmupLeft = settings.warmup
            for _ in 0..<settings.pipelineRounds {
                for (photo, g, image) in inputs {
                    try autoreleasepool {
                        let t0 = CACurrentMediaTime()
                        let box = try personBox(photo, g)
                        let t1 = CACurrentMediaTime()
                        let c = try cropper.crop(image, geometry: g, box: box, contract: contract)
                        let t2 = CACurrentMediaTime()
                        let outputs = try model.predict(c.buffer)
                        let t3 = CACurrentMediaTime()
                        _ = try decoder.decode(outputs, affine: c.affine)
                        let t4 = CACurrentMediaTime()
                        if warmupLeft > 0 {
                            warmupLeft -= 1
                            return
                        }
                        total.append((t4 - t0) * 1000)
                        detect.append((t1 - t0) * 1000)
                        crop.append((t2 - t1) * 1000)
                        infer.append((t3 - t2) * 1000)
                        decode.append((t4 - t3) * 1000)
                        peak = max(peak, physicalFootprintMB() ?? 0)
                    }
                }
            }
            // Stages as schema.py names them: Vision's person box is "detect", the GPU crop
            // "preprocess", Core ML "inference", decoding by name "postprocess". Nothing is drawn
            // here, so "render" stays null (not part of the run), not 0.
            let stages = try BenchStages(samplesMs: [
                "detect": detect, "preprocess": crop, "inference": infer, "postprocess": decode,
            ])
            row.recordPipeline(try BenchTiming(samplesMs: total, warmup: settings.warmup), stages: stages)
            row.peakRssMb = peak
            row.peakModelMb = before.map { peak - $0 }
            row.note = "whole pipeline per photo (Vision person box, GPU crop, model, decode by name; no drawing) over "
                + "\(photos.count) bundled photos; thermal \(thermalBefore) -> \(thermalStateName())"
            log(
                String(
                    format: "pipeline: median %.2f ms (Vision %.2f, GPU crop %.2f, model %.2f, decode %.2f ms)",
                    row.latencyMedianMs ?? 0, stages.detect ?? 0, stages.preprocess ?? 0, stages.inference ?? 0,
                    stages.postprocess ?? 0
                )
            )
        } catch {
            row.status = "failed"
            row.note = "pipeline: \(error.localizedDescription)"
            log(row.note)
        }
        rows.append(row)

        let machine = Self.machine()
        let documents = try FileManager.default.url(for: .documentDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let url = documents.appendingPathComponent("meshpose-bench-\(machine.name)-\(stamp).json")
        try BenchDocument(machine: machine, rows: rows).write(to: url)
        print("meshpose-bench: wrote \(url.path)")
        return url
    }
}
