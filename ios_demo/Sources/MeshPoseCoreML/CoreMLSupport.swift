// Core ML glue shared by the iOS app (compiled into it) and the macOS MeshPoseBench tool (as the
// MeshPoseCoreML package target): compiled-model cache, compute units, reading MLMultiArrays by
// output name into MeshPoseKit's OutputTensor, memory footprint and per-op device placement.
#if canImport(CoreML)
import CoreML
import CoreVideo
import Foundation
#if canImport(MeshPoseKit)
import MeshPoseKit
#endif

/// The compute-unit settings the app and the bench offer, with the labels of the bench schema.
public enum ComputeChoice: String, CaseIterable, Identifiable {
    case all
    case cpuAndNeuralEngine = "cpu_and_ne"
    case cpuOnly = "cpu_only"

    public var id: String { rawValue }

    public var units: MLComputeUnits {
        switch self {
        case .all: return .all
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        case .cpuOnly: return .cpuOnly
        }
    }

    public var title: String {
        switch self {
        case .all: return "All"
        case .cpuAndNeuralEngine: return "CPU + ANE"
        case .cpuOnly: return "CPU only"
        }
    }
}

/// Compiling an .mlpackage takes seconds on a phone; the result is kept in Application Support,
/// keyed by the package's name, size and modification date, so later launches load directly.
public enum CompiledModelCache {
    public struct Entry {
        public let compiledURL: URL
        /// nil when the cache was hit.
        public let compileSeconds: Double?
    }

    public static func directory() throws -> URL {
        let base = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true
        )
        let dir = base.appendingPathComponent("MeshPoseCompiledModels", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// One compile at a time in this process: the live view and the benchmark both prepare the
    /// model at launch, and two first compiles used to delete each other's .mlmodelc.
    private static let compileLock = NSLock()

    /// An already compiled model (an .mlmodelc that Xcode put in the bundle) is used as it is.
    public static func compiledModel(for url: URL) throws -> Entry {
        if url.pathExtension == "mlmodelc" { return Entry(compiledURL: url, compileSeconds: nil) }
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MeshPoseError("\(url.lastPathComponent) does not exist; export it with meshpose-export --target coreml", kind: .io)
        }
        let fm = FileManager.default
        let key = "\(url.deletingPathExtension().lastPathComponent)-\(directorySize(url))-\(Int(modificationDate(url)))"
        let dir = try directory()
        let cached = dir.appendingPathComponent("\(key).mlmodelc", isDirectory: true)
        compileLock.lock()
        defer { compileLock.unlock() }
        // A caller that waited on the lock finds the first caller's compile here.
        if fm.fileExists(atPath: cached.path) { return Entry(compiledURL: cached, compileSeconds: nil) }
        let start = Date()
        let temporary: URL
        do {
            temporary = try MLModel.compileModel(at: url)
        } catch {
            throw MeshPoseError("Core ML could not compile \(url.lastPathComponent): \(error.localizedDescription)", kind: .model)
        }
        let seconds = Date().timeIntervalSince(start)
        // Staged beside the cache entry under a unique name (same volume), then renamed: the
        // entry appears whole or not at all, even if the app is killed half-way.
        let staging = dir.appendingPathComponent(".staging-\(UUID().uuidString).mlmodelc", isDirectory: true)
        defer { try? fm.removeItem(at: staging) }
        do {
            try fm.moveItem(at: temporary, to: staging)
        } catch {
            try? fm.removeItem(at: temporary)
            throw MeshPoseError("cannot store the compiled model in \(dir.path): \(error.localizedDescription)", kind: .io)
        }
        // Older compilations of the same model are dropped, never the entry being installed.
        let prefix = url.deletingPathExtension().lastPathComponent + "-"
        for old in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] where old.hasPrefix(prefix) && old != cached.lastPathComponent {
            try? fm.removeItem(at: dir.appendingPathComponent(old))
        }
        if !fm.fileExists(atPath: cached.path) {
            do {
                try fm.moveItem(at: staging, to: cached)
            } catch {
                throw MeshPoseError("cannot store the compiled model in \(dir.path): \(error.localizedDescription)", kind: .io)
            }
        }
        return Entry(compiledURL: cached, compileSeconds: seconds)
    }

    static func modificationDate(_ url: URL) -> Double {
        let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
        return (attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
    }
}

/// Bytes of all regular files under a folder (an .mlpackage is a folder).
public func directorySize(_ url: URL) -> Int {
    let keys: [URLResourceKey] = [.fileSizeKey, .isRegularFileKey]
    guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: keys) else { return 0 }
    var total = 0
    for case let file as URL in walker {
        let values = try? file.resourceValues(forKeys: Set(keys))
        if values?.isRegularFile == true { total += values?.fileSize ?? 0 }
    }
    return total
}

/// Physical footprint in MB: what iOS counts against an app's memory limit (Xcode's gauge).
public func physicalFootprintMB() -> Double? {
    var info = task_vm_info_data_t()
    var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<integer_t>.size)
    let kr = withUnsafeMutablePointer(to: &info) {
        $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
            task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count)
        }
    }
    return kr == KERN_SUCCESS ? Double(info.phys_footprint) / 1_048_576.0 : nil
}

public func thermalStateName(_ state: ProcessInfo.ThermalState = ProcessInfo.processInfo.thermalState) -> String {
    switch state {
    case .nominal: return "nominal"
    case .fair: return "fair"
    case .serious: return "serious"
    case .critical: return "critical"
    @unknown default: return "unknown"
    }
}

/// A mid-grey BGRA buffer: the warm-up input (every layer runs; latency does not depend on pixels).
public func makeGreyPixelBuffer(width: Int, height: Int) throws -> CVPixelBuffer {
    var buffer: CVPixelBuffer?
    let attrs = [kCVPixelBufferIOSurfacePropertiesKey: [String: Any]()] as CFDictionary
    let status = CVPixelBufferCreate(kCFAllocatorDefault, width, height, kCVPixelFormatType_32BGRA, attrs, &buffer)
    guard status == kCVReturnSuccess, let buffer else {
        throw MeshPoseError("CVPixelBufferCreate failed (\(status))", kind: .model)
    }
    CVPixelBufferLockBaseAddress(buffer, [])
    if let base = CVPixelBufferGetBaseAddress(buffer) {
        memset(base, 128, CVPixelBufferGetDataSize(buffer))
    }
    CVPixelBufferUnlockBaseAddress(buffer, [])
    return buffer
}

public enum MultiArrayReader {
    /// One MLMultiArray -> OutputTensor with its real strides (Neural Engine outputs are padded).
    public static func tensor(_ array: MLMultiArray) throws -> OutputTensor {
        let shape = array.shape.map { $0.intValue }
        let strides = array.strides.map { $0.intValue }
        var needed = 1
        for (n, s) in zip(shape, strides) { needed += (n - 1) * s }
        switch array.dataType {
        case .float16:
            // Raw bits, decoded by MeshPoseKit: Swift's Float16 does not exist on Intel Macs.
            return try OutputTensor(shape: shape, strides: strides, storage: .float16(copy(array, count: needed, zero: UInt16(0))))
        case .float32:
            return try OutputTensor(shape: shape, strides: strides, storage: .float32(copy(array, count: needed, zero: Float(0))))
        case .double:
            return try OutputTensor(shape: shape, strides: strides, storage: .float64(copy(array, count: needed, zero: Double(0))))
        default:
            throw MeshPoseError("model output of type \(array.dataType.rawValue) is not a float array; use a meshpose-export model", kind: .model)
        }
    }

    /// The first `count` elements of the array's storage (padding included), copied out.
    static func copy<T>(_ array: MLMultiArray, count: Int, zero: T) -> [T] {
        var out = [T](repeating: zero, count: count)
        array.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { dst in
                let n = min(dst.count, raw.count)
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw.prefix(n)))
            }
        }
        return out
    }

    /// Every multi-array output of a prediction, by name.
    public static func tensors(_ features: MLFeatureProvider) throws -> [String: OutputTensor] {
        var out: [String: OutputTensor] = [:]
        for name in features.featureNames {
            if let array = features.featureValue(for: name)?.multiArrayValue {
                out[name] = try tensor(array)
            }
        }
        return out
    }
}

/// A loaded MeshPose Core ML model: one MLModel for one compute-unit setting, loaded once.
public final class MeshPoseModel {
    public let model: MLModel
    public let sidecar: Sidecar
    public let inputName: String
    public let computeChoice: ComputeChoice
    /// Seconds from MLModel(contentsOf:) to the end of the first prediction (device specialisation
    /// happens on the first call, so it counts as loading).
    public private(set) var loadSeconds: Double?
    private let options = MLPredictionOptions()

    public init(compiledURL: URL, sidecar: Sidecar, computeChoice: ComputeChoice) throws {
        let config = MLModelConfiguration()
        config.computeUnits = computeChoice.units
        do {
            model = try MLModel(contentsOf: compiledURL, configuration: config)
        } catch {
            throw MeshPoseError("Core ML could not load \(compiledURL.lastPathComponent): \(error.localizedDescription)", kind: .model)
        }
        self.sidecar = sidecar
        self.computeChoice = computeChoice
        let imageInputs = model.modelDescription.inputDescriptionsByName.filter { $0.value.type == .image }
        if imageInputs[sidecar.input.name] != nil {
            inputName = sidecar.input.name
        } else if let only = imageInputs.keys.first, imageInputs.count == 1 {
            inputName = only
        } else {
            throw MeshPoseError(
                "\(compiledURL.lastPathComponent) has no image input named \"\(sidecar.input.name)\"; export with meshpose-export --target coreml",
                kind: .model
            )
        }
    }

    /// The sidecar beside a model, else the one rebuilt from the model's own metadata.
    public static func sidecar(for compiledURL: URL, besideFiles candidates: [URL], artifactName: String) throws -> Sidecar {
        for url in candidates where FileManager.default.fileExists(atPath: url.path) {
            return try Sidecar.load(contentsOf: url)
        }
        let probe = try MLModel(contentsOf: compiledURL)
        let meta = probe.modelDescription.metadata[MLModelMetadataKey.creatorDefinedKey] as? [String: String] ?? [:]
        let input = probe.modelDescription.inputDescriptionsByName.first { $0.value.type == .image }?.key ?? "image"
        return try Sidecar.fromModelMetadata(meta, inputName: input, artifact: artifactName)
    }

    /// One prediction on a crop pixel buffer (BGRA, the model's input size) -> outputs by name.
    public func predict(_ crop: CVPixelBuffer) throws -> [String: OutputTensor] {
        let start = Date()
        let input = try MLDictionaryFeatureProvider(dictionary: [inputName: MLFeatureValue(pixelBuffer: crop)])
        let result = try model.prediction(from: input, options: options)
        if loadSeconds == nil { loadSeconds = Date().timeIntervalSince(start) }
        return try MultiArrayReader.tensors(result)
    }

    /// Loads and runs once, so that `loadSeconds` covers the first-call specialisation.
    public static func load(compiledURL: URL, sidecar: Sidecar, computeChoice: ComputeChoice, warmInput: CVPixelBuffer) throws -> MeshPoseModel {
        let start = Date()
        let m = try MeshPoseModel(compiledURL: compiledURL, sidecar: sidecar, computeChoice: computeChoice)
        _ = try m.predict(warmInput)
        m.loadSeconds = Date().timeIntervalSince(start)
        return m
    }
}

/// Per-op device placement from MLComputePlan (iOS 17.4 / macOS 14.4 and later): how many ops
/// and how much of the estimated cost Core ML prefers to run on the Neural Engine, GPU and CPU.
public enum ComputePlacement {
    public static func summary(compiledURL: URL, computeChoice: ComputeChoice) async -> String {
        // MLComputePlan is declared only in the iOS 17.4 / macOS 14.4 SDKs (Xcode 15.3, Swift 5.10):
        // older Xcodes build the app without it and say so at run time.
        #if compiler(>=5.10)
        if #available(iOS 17.4, macOS 14.4, *) {
            do {
                let config = MLModelConfiguration()
                config.computeUnits = computeChoice.units
                let plan = try await MLComputePlan.load(contentsOf: compiledURL, configuration: config)
                guard case let .program(program) = plan.modelStructure else {
                    return "MLComputePlan: not an ML program"
                }
                var counts: [String: Int] = [:]
                var costs: [String: Double] = [:]
                func visit(_ block: MLModelStructure.Program.Block) {
                    for op in block.operations {
                        if let usage = plan.deviceUsage(for: op) {
                            let device: String
                            switch usage.preferred {
                            case .cpu: device = "CPU"
                            case .gpu: device = "GPU"
                            case .neuralEngine: device = "ANE"
                            @unknown default: device = "other"
                            }
                            counts[device, default: 0] += 1
                            costs[device, default: 0] += plan.estimatedCost(of: op)?.weight ?? 0
                        }
                        for inner in op.blocks { visit(inner) }
                    }
                }
                for name in program.functions.keys.sorted() {
                    if let function = program.functions[name] { visit(function.block) }
                }
                let total = costs.values.reduce(0, +)
                let parts = counts.keys.sorted().map { device -> String in
                    let share = total > 0 ? 100.0 * (costs[device] ?? 0) / total : 0
                    return "\(device) \(counts[device] ?? 0) ops (\(String(format: "%.0f", share))% of cost)"
                }
                return "MLComputePlan: " + (parts.isEmpty ? "no ops placed" : parts.joined(separator: ", "))
            } catch {
                return "MLComputePlan failed: \(error.localizedDescription)"
            }
        }
        return "MLComputePlan needs iOS 17.4 / macOS 14.4"
        #else
        return "MLComputePlan needs an app built with Xcode 15.3 or later (the iOS 17.4 SDK)"
        #endif
    }
}
#endif
