import Foundation

/// Latency statistics exactly as export/bench/timing.py: median as Python's statistics.median
/// (mean of the two middle values for an even count), p90 nearest-rank (always an observed
/// latency), min, fps = 1000 / median.
public struct BenchTiming: Equatable {
    public let medianMs: Double
    public let p90Ms: Double
    public let minMs: Double
    public let runs: Int
    public let warmup: Int

    public var fps: Double { 1000.0 / medianMs }

    public init(samplesMs: [Double], warmup: Int) throws {
        guard !samplesMs.isEmpty else { throw MeshPoseError("no timed runs: runs must be >= 1") }
        guard warmup >= 0 else { throw MeshPoseError("warmup must be >= 0") }
        medianMs = BenchStats.median(samplesMs)
        p90Ms = BenchStats.p90(samplesMs)
        minMs = samplesMs.min() ?? 0
        runs = samplesMs.count
        self.warmup = warmup
    }
}

public enum BenchStats {
    public static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        let n = s.count
        if n == 0 { return .nan }
        if n % 2 == 1 { return s[n / 2] }
        return (s[n / 2 - 1] + s[n / 2]) / 2.0
    }

    /// Nearest rank: sorted[min(n - 1, ceil(0.9 n) - 1)].
    public static func p90(_ values: [Double]) -> Double {
        nearestRank(values, 0.9)
    }

    public static func nearestRank(_ values: [Double], _ q: Double) -> Double {
        let s = values.sorted()
        if s.isEmpty { return .nan }
        let rank = Int((q * Double(s.count)).rounded(.up)) - 1
        return s[max(0, min(s.count - 1, rank))]
    }
}

/// The stages of a whole-pipeline row in frame order (schema.py `STAGES`): finding the person,
/// the crop into the model's input, the model, decoding to image pixels (and smoothing), drawing
/// the overlay. Each holds the median milliseconds of that stage over the timed frames; nil,
/// written null, means the stage was not part of the run. A struct rather than a
/// `[String: Double?]`, where assigning nil would delete the key instead of storing null.
public struct BenchStages: Equatable {
    public static let names = ["detect", "preprocess", "inference", "postprocess", "render"]

    public var detect: Double?
    public var preprocess: Double?
    public var inference: Double?
    public var postprocess: Double?
    public var render: Double?

    public init(
        detect: Double? = nil, preprocess: Double? = nil, inference: Double? = nil, postprocess: Double? = nil,
        render: Double? = nil
    ) {
        self.detect = detect
        self.preprocess = preprocess
        self.inference = inference
        self.postprocess = postprocess
        self.render = render
    }

    /// The median of each stage's per-frame samples (BenchStats.median, as timing.py); a stage
    /// without samples stays nil. Unknown stage names are refused.
    public init(samplesMs: [String: [Double]]) throws {
        self.init()
        for (name, samples) in samplesMs {
            try set(name, samples.isEmpty ? nil : BenchStats.median(samples))
        }
    }

    /// A stage's median by its schema name; nil for a stage not in the run or an unknown name.
    public subscript(name: String) -> Double? {
        switch name {
        case "detect": return detect
        case "preprocess": return preprocess
        case "inference": return inference
        case "postprocess": return postprocess
        case "render": return render
        default: return nil
        }
    }

    mutating func set(_ name: String, _ value: Double?) throws {
        switch name {
        case "detect": detect = value
        case "preprocess": preprocess = value
        case "inference": inference = value
        case "postprocess": postprocess = value
        case "render": render = value
        default:
            throw MeshPoseError(
                "unknown pipeline stage \"\(name)\"; stages are \(BenchStages.names.joined(separator: ", "))",
                kind: .invalidResults
            )
        }
    }

    /// `stages_ms` of a results row, checked as schema.py `validate`: every key a stage, every
    /// value milliseconds >= 0 (finite, not a boolean) or null.
    public init(jsonObject d: [String: Any]) throws {
        self.init()
        var bad: [String] = []
        for (key, value) in d {
            guard BenchStages.names.contains(key) else {
                bad.append(key)
                continue
            }
            if value is NSNull { continue }
            guard !JSONRead.isBool(value), let ms = JSONRead.double(value), ms.isFinite, ms >= 0 else {
                bad.append(key)
                continue
            }
            try set(key, ms)
        }
        guard bad.isEmpty else {
            throw MeshPoseError(
                "stages_ms \(bad.sorted()) must be stages of \(BenchStages.names.joined(separator: ", ")) "
                    + "with milliseconds >= 0 or null",
                kind: .invalidResults
            )
        }
    }

    /// Every stage, in schema order, null where not part of the run (as the Android core writes).
    public func jsonValue() -> JSONValue {
        .object(BenchStages.names.map { name in (name, JSONValue.nullable(self[name])) })
    }
}

/// One (model, runtime, precision, compute, threads, scope) measurement: export/bench/schema.py
/// `Row` (schema version 2), every field, same names, same order. nil is written as null (not
/// measured); nothing is estimated.
public struct BenchRow: Equatable {
    public static let statuses = ["measured", "parity-failed", "not-runnable", "failed"]
    /// "model": the model call alone; "pipeline": a whole frame, image in, mesh in image pixels out.
    public static let scopes = ["model", "pipeline"]

    public var model: String
    public var runtime: String
    public var precision: String
    public var threads: Int?
    public var status: String = "measured"
    public var compute: String = "cpu"
    public var artifact: String = ""
    public var inputShape: [Int] = []
    public var vertices: Int?
    public var latencyMedianMs: Double?
    public var latencyP90Ms: Double?
    public var latencyMinMs: Double?
    public var fps: Double?
    public var runs: Int?
    public var warmup: Int?
    public var peakRssMb: Double?
    public var peakModelMb: Double?
    public var artifactBytes: Int?
    public var params: Int?
    public var macs: Int?
    public var macsPerS: Double?
    public var efficiency: Double?
    public var exportSeconds: Double?
    public var loadSeconds: Double?
    public var parityMaxPx: Double?
    public var parityP99Px: Double?
    public var note: String = ""
    public var scope: String = "model"
    /// Pipeline rows: the median of each stage; nil (null) for model rows.
    public var stagesMs: BenchStages?

    public init(model: String, runtime: String, precision: String, threads: Int?) {
        self.model = model
        self.runtime = runtime
        self.precision = precision
        self.threads = threads
    }

    /// Fills the latency fields from a timing.
    public mutating func record(_ timing: BenchTiming) {
        status = "measured"
        latencyMedianMs = timing.medianMs
        latencyP90Ms = timing.p90Ms
        latencyMinMs = timing.minMs
        fps = timing.fps
        runs = timing.runs
        warmup = timing.warmup
    }

    /// A whole-pipeline row: the per-frame timing and each stage's median (scope "pipeline").
    public mutating func recordPipeline(_ timing: BenchTiming, stages: BenchStages) {
        record(timing)
        scope = "pipeline"
        stagesMs = stages
    }

    /// Field names in schema.py's order.
    public static let fieldNames = [
        "model", "runtime", "precision", "threads", "status", "compute", "artifact", "input_shape", "vertices",
        "latency_median_ms", "latency_p90_ms", "latency_min_ms", "fps", "runs", "warmup", "peak_rss_mb",
        "peak_model_mb", "artifact_bytes", "params", "macs", "macs_per_s", "efficiency", "export_seconds",
        "load_seconds", "parity_max_px", "parity_p99_px", "note", "scope", "stages_ms",
    ]

    /// Every field in `fieldNames` order; numbers are written unrounded, as schema.py does.
    public func jsonValue() -> JSONValue {
        // One append per field keeps the type checker fast (a 29-element literal of tuples is not).
        var m: [(String, JSONValue)] = []
        m.append(("model", .string(model)))
        m.append(("runtime", .string(runtime)))
        m.append(("precision", .string(precision)))
        m.append(("threads", .nullable(threads)))
        m.append(("status", .string(status)))
        m.append(("compute", .string(compute)))
        m.append(("artifact", .string(artifact)))
        m.append(("input_shape", .array(inputShape.map { JSONValue.int($0) })))
        m.append(("vertices", .nullable(vertices)))
        m.append(("latency_median_ms", .nullable(latencyMedianMs)))
        m.append(("latency_p90_ms", .nullable(latencyP90Ms)))
        m.append(("latency_min_ms", .nullable(latencyMinMs)))
        m.append(("fps", .nullable(fps)))
        m.append(("runs", .nullable(runs)))
        m.append(("warmup", .nullable(warmup)))
        m.append(("peak_rss_mb", .nullable(peakRssMb)))
        m.append(("peak_model_mb", .nullable(peakModelMb)))
        m.append(("artifact_bytes", .nullable(artifactBytes)))
        m.append(("params", .nullable(params)))
        m.append(("macs", .nullable(macs)))
        m.append(("macs_per_s", .nullable(macsPerS)))
        m.append(("efficiency", .nullable(efficiency)))
        m.append(("export_seconds", .nullable(exportSeconds)))
        m.append(("load_seconds", .nullable(loadSeconds)))
        m.append(("parity_max_px", .nullable(parityMaxPx)))
        m.append(("parity_p99_px", .nullable(parityP99Px)))
        m.append(("note", .string(note)))
        m.append(("scope", .string(scope)))
        m.append(("stages_ms", stagesMs?.jsonValue() ?? .null))
        return .object(m)
    }

    /// A row from a results file of version 1 or 2, rejecting unknown fields as schema.py
    /// `Row.from_dict` does; a missing `scope` (version 1) is "model", missing numbers are null.
    public init(jsonObject d: [String: Any]) throws {
        let unknown = Set(d.keys).subtracting(BenchRow.fieldNames)
        guard unknown.isEmpty else {
            throw MeshPoseError(
                "results row has unknown field(s) \(unknown.sorted()); schema \(BenchDocument.schema) v\(BenchDocument.schemaVersion)",
                kind: .invalidResults
            )
        }
        guard let model = try BenchRow.string(d, "model"), let runtime = try BenchRow.string(d, "runtime"),
            let precision = try BenchRow.string(d, "precision")
        else { throw MeshPoseError("results row lacks model, runtime or precision", kind: .invalidResults) }
        let threads = try BenchRow.whole(d, "threads")
        self.init(model: model, runtime: runtime, precision: precision, threads: threads)
        // schema.py defaults a missing status / scope but refuses null, which is not one of the names.
        for key in ["status", "scope"] where d[key] is NSNull {
            throw MeshPoseError("row \(model)/\(runtime)/\(precision): \(key) is null", kind: .invalidResults)
        }
        status = try BenchRow.string(d, "status") ?? "measured"
        compute = try BenchRow.string(d, "compute") ?? "cpu"
        artifact = try BenchRow.string(d, "artifact") ?? ""
        if let shape = d["input_shape"], !(shape is NSNull) {
            guard let dims = JSONRead.ints(shape) else {
                throw MeshPoseError("results row field input_shape must be a list of whole numbers", kind: .invalidResults)
            }
            inputShape = dims
        }
        vertices = try BenchRow.whole(d, "vertices")
        latencyMedianMs = try BenchRow.number(d, "latency_median_ms")
        latencyP90Ms = try BenchRow.number(d, "latency_p90_ms")
        latencyMinMs = try BenchRow.number(d, "latency_min_ms")
        fps = try BenchRow.number(d, "fps")
        runs = try BenchRow.whole(d, "runs")
        warmup = try BenchRow.whole(d, "warmup")
        peakRssMb = try BenchRow.number(d, "peak_rss_mb")
        peakModelMb = try BenchRow.number(d, "peak_model_mb")
        artifactBytes = try BenchRow.whole(d, "artifact_bytes")
        params = try BenchRow.whole(d, "params")
        macs = try BenchRow.whole(d, "macs")
        macsPerS = try BenchRow.number(d, "macs_per_s")
        efficiency = try BenchRow.number(d, "efficiency")
        exportSeconds = try BenchRow.number(d, "export_seconds")
        loadSeconds = try BenchRow.number(d, "load_seconds")
        parityMaxPx = try BenchRow.number(d, "parity_max_px")
        parityP99Px = try BenchRow.number(d, "parity_p99_px")
        note = try BenchRow.string(d, "note") ?? ""
        scope = try BenchRow.string(d, "scope") ?? "model"
        if let stages = d["stages_ms"], !(stages is NSNull) {
            guard let obj = JSONRead.object(stages) else {
                throw MeshPoseError(
                    "row \(model)/\(runtime)/\(precision): stages_ms must be an object of stage -> milliseconds",
                    kind: .invalidResults
                )
            }
            stagesMs = try BenchStages(jsonObject: obj)
        }
    }

    /// nil when absent or null; a value of another JSON type is an error, not a silent null.
    private static func string(_ d: [String: Any], _ key: String) throws -> String? {
        guard let value = d[key], !(value is NSNull) else { return nil }
        guard let s = value as? String else {
            throw MeshPoseError("results row field \(key) must be a string", kind: .invalidResults)
        }
        return s
    }

    private static func number(_ d: [String: Any], _ key: String) throws -> Double? {
        guard let value = d[key], !(value is NSNull) else { return nil }
        guard !JSONRead.isBool(value), let x = JSONRead.double(value) else {
            throw MeshPoseError("results row field \(key) must be a number or null", kind: .invalidResults)
        }
        return x
    }

    private static func whole(_ d: [String: Any], _ key: String) throws -> Int? {
        guard let value = d[key], !(value is NSNull) else { return nil }
        guard !JSONRead.isBool(value), let x = JSONRead.int(value) else {
            throw MeshPoseError("results row field \(key) must be a whole number or null", kind: .invalidResults)
        }
        return x
    }
}

/// schema.py `Machine`.
public struct BenchMachine: Equatable {
    public var name: String
    public var cpu: String
    public var cores: Int
    public var os: String
    public var runtimes: [String: String]
    public var note: String

    public init(name: String, cpu: String, cores: Int, os: String, runtimes: [String: String] = [:], note: String = "") {
        self.name = name
        self.cpu = cpu
        self.cores = cores
        self.os = os
        self.runtimes = runtimes
        self.note = note
    }

    /// The `machine` object of a results file (its name is checked by BenchDocument.validate).
    public init(jsonObject d: [String: Any]) throws {
        var runtimes: [String: String] = [:]
        for (key, value) in JSONRead.object(d["runtimes"]) ?? [:] {
            guard let version = value as? String else {
                throw MeshPoseError("machine.runtimes.\(key) must be a version string", kind: .invalidResults)
            }
            runtimes[key] = version
        }
        self.init(
            name: JSONRead.string(d["name"]) ?? "", cpu: JSONRead.string(d["cpu"]) ?? "",
            cores: JSONRead.int(d["cores"]) ?? 0, os: JSONRead.string(d["os"]) ?? "", runtimes: runtimes,
            note: JSONRead.string(d["note"]) ?? ""
        )
    }

    /// schema.py field order; `runtimes` by sorted name (a Swift dictionary keeps no order).
    public func jsonValue() -> JSONValue {
        var m: [(String, JSONValue)] = []
        m.append(("name", .string(name)))
        m.append(("cpu", .string(cpu)))
        m.append(("cores", .int(cores)))
        m.append(("os", .string(os)))
        m.append(("runtimes", .object(runtimes.keys.sorted().map { key in (key, JSONValue.string(runtimes[key] ?? "")) })))
        m.append(("note", .string(note)))
        return .object(m)
    }
}

/// A whole `meshpose-bench` results file: {"schema", "schema_version", "machine", "peak", "rows"}.
/// Writes version 2; reads versions 1 and 2 (version 1 rows have no scope / stages_ms: model rows).
public struct BenchDocument {
    public static let schema = "meshpose-bench"
    public static let schemaVersion = 2
    public static let readableVersions = [1, 2]

    public var machine: BenchMachine
    /// Free-form peak-throughput facts (schema.py leaves it a dict); JSON-serialisable values only.
    public var peak: [String: Any]
    public var rows: [BenchRow]

    public init(machine: BenchMachine, rows: [BenchRow], peak: [String: Any] = [:]) {
        self.machine = machine
        self.rows = rows
        self.peak = peak
    }

    /// A results file read back (any readable version), checked as schema.py `validate`.
    public init(jsonObject doc: [String: Any]) throws {
        let rows = try BenchDocument.validate(doc)
        let machine = try BenchMachine(jsonObject: JSONRead.object(doc["machine"]) ?? [:])
        self.init(machine: machine, rows: rows, peak: JSONRead.object(doc["peak"]) ?? [:])
    }

    public func jsonValue() throws -> JSONValue {
        let peakValue = try JSONValue(any: peak)
        var m: [(String, JSONValue)] = []
        m.append(("schema", .string(BenchDocument.schema)))
        m.append(("schema_version", .int(BenchDocument.schemaVersion)))
        m.append(("machine", machine.jsonValue()))
        m.append(("peak", peakValue))
        m.append(("rows", .array(rows.map { $0.jsonValue() })))
        return .object(m)
    }

    /// The file's text: the bytes schema.py `write_json_atomic` writes for the same document
    /// (`json.dumps(doc, indent=2)` and a newline), after the checks of schema.py `validate` on
    /// the text itself read back.
    public func jsonText() throws -> String {
        let text: String
        do {
            text = try PythonJSON.dumps(jsonValue()) + "\n"
        } catch let error as MeshPoseError {
            throw MeshPoseError("results not written: \(error.message)", kind: .invalidResults)
        }
        guard let parsed = try JSONRead.object(JSONRead.parse(Data(text.utf8), what: "the results JSON")) else {
            throw MeshPoseError("the results JSON is not an object", kind: .invalidResults)
        }
        try BenchDocument.validate(parsed)
        return text
    }

    public func jsonData() throws -> Data {
        let text = try jsonText()
        return Data(text.utf8)
    }

    /// Writes to a temporary file beside `url` and renames it, so a crash never leaves half a file.
    public func write(to url: URL) throws {
        let data = try jsonData()
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp")
            try data.write(to: tmp)
            // POSIX rename replaces the target in one step.
            guard rename(tmp.path, url.path) == 0 else {
                try? FileManager.default.removeItem(at: tmp)
                throw MeshPoseError("cannot rename \(tmp.lastPathComponent) to \(url.lastPathComponent)", kind: .io)
            }
        } catch let error as MeshPoseError {
            throw MeshPoseError("cannot write \(url.path) (\(error.message)); choose a writable folder", kind: .io)
        } catch {
            throw MeshPoseError("cannot write \(url.path) (\(error.localizedDescription)); choose a writable folder", kind: .io)
        }
    }

    /// The rows of a results file, or a one-line error saying what is wrong (schema.py `validate`).
    @discardableResult
    public static func validate(_ doc: [String: Any]) throws -> [BenchRow] {
        let version = JSONRead.isBool(doc["schema_version"]) ? nil : JSONRead.int(doc["schema_version"])
        guard JSONRead.string(doc["schema"]) == schema, let v = version, readableVersions.contains(v) else {
            throw MeshPoseError(
                "not a \(schema) results file of version \(readableVersions.map { String($0) }.joined(separator: " or ")) "
                    + "(schema=\(String(describing: doc["schema"] ?? "none")), "
                    + "schema_version=\(String(describing: doc["schema_version"] ?? "none")))",
                kind: .invalidResults
            )
        }
        guard let machine = JSONRead.object(doc["machine"]), let name = JSONRead.string(machine["name"]), !name.isEmpty else {
            throw MeshPoseError("results file names no machine (machine.name)", kind: .invalidResults)
        }
        var rawRows: [Any] = []
        if let value = doc["rows"], !(value is NSNull) {
            guard let list = value as? [Any] else { throw MeshPoseError("results rows must be a list", kind: .invalidResults) }
            rawRows = list
        }
        var rows: [BenchRow] = []
        for item in rawRows {
            guard let obj = JSONRead.object(item) else { throw MeshPoseError("results rows must be JSON objects", kind: .invalidResults) }
            let row = try BenchRow(jsonObject: obj)
            let id = "row \(row.model)/\(row.runtime)/\(row.precision)"
            guard BenchRow.statuses.contains(row.status) else {
                throw MeshPoseError("\(id): unknown status \"\(row.status)\"", kind: .invalidResults)
            }
            if row.status == "measured" && !((row.latencyMedianMs ?? 0) > 0) {
                throw MeshPoseError("\(id): status measured but no latency", kind: .invalidResults)
            }
            guard BenchRow.scopes.contains(row.scope) else {
                throw MeshPoseError(
                    "\(id): unknown scope \"\(row.scope)\"; scopes are \(BenchRow.scopes.joined(separator: ", "))",
                    kind: .invalidResults
                )
            }
            rows.append(row)
        }
        return rows
    }
}
