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

/// One (model, runtime, precision, compute, threads) measurement: export/bench/schema.py `Row`,
/// every field, same names. nil is written as null (not measured); nothing is estimated.
public struct BenchRow: Equatable {
    public static let statuses = ["measured", "parity-failed", "not-runnable", "failed"]

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

    /// Field names in schema.py's order.
    public static let fieldNames = [
        "model", "runtime", "precision", "threads", "status", "compute", "artifact", "input_shape", "vertices",
        "latency_median_ms", "latency_p90_ms", "latency_min_ms", "fps", "runs", "warmup", "peak_rss_mb",
        "peak_model_mb", "artifact_bytes", "params", "macs", "macs_per_s", "efficiency", "export_seconds",
        "load_seconds", "parity_max_px", "parity_p99_px", "note",
    ]

    public func jsonObject() -> [String: Any] {
        func opt<T>(_ v: T?) -> Any { v.map { $0 as Any } ?? NSNull() }
        return [
            "model": model, "runtime": runtime, "precision": precision, "threads": opt(threads), "status": status,
            "compute": compute, "artifact": artifact, "input_shape": inputShape, "vertices": opt(vertices),
            "latency_median_ms": opt(latencyMedianMs), "latency_p90_ms": opt(latencyP90Ms),
            "latency_min_ms": opt(latencyMinMs), "fps": opt(fps), "runs": opt(runs), "warmup": opt(warmup),
            "peak_rss_mb": opt(peakRssMb), "peak_model_mb": opt(peakModelMb), "artifact_bytes": opt(artifactBytes),
            "params": opt(params), "macs": opt(macs), "macs_per_s": opt(macsPerS), "efficiency": opt(efficiency),
            "export_seconds": opt(exportSeconds), "load_seconds": opt(loadSeconds),
            "parity_max_px": opt(parityMaxPx), "parity_p99_px": opt(parityP99Px), "note": note,
        ]
    }

    /// A row from a results file, rejecting unknown fields as schema.py `Row.from_dict` does.
    public init(jsonObject d: [String: Any]) throws {
        let unknown = Set(d.keys).subtracting(BenchRow.fieldNames)
        guard unknown.isEmpty else {
            throw MeshPoseError(
                "results row has unknown field(s) \(unknown.sorted()); schema \(BenchDocument.schema) v\(BenchDocument.schemaVersion)",
                kind: .invalidResults
            )
        }
        guard let model = JSONRead.string(d["model"]), let runtime = JSONRead.string(d["runtime"]),
            let precision = JSONRead.string(d["precision"])
        else { throw MeshPoseError("results row lacks model, runtime or precision", kind: .invalidResults) }
        self.init(model: model, runtime: runtime, precision: precision, threads: JSONRead.int(d["threads"]))
        status = JSONRead.string(d["status"]) ?? "measured"
        compute = JSONRead.string(d["compute"]) ?? "cpu"
        artifact = JSONRead.string(d["artifact"]) ?? ""
        inputShape = JSONRead.ints(d["input_shape"]) ?? []
        vertices = JSONRead.int(d["vertices"])
        latencyMedianMs = JSONRead.double(d["latency_median_ms"])
        latencyP90Ms = JSONRead.double(d["latency_p90_ms"])
        latencyMinMs = JSONRead.double(d["latency_min_ms"])
        fps = JSONRead.double(d["fps"])
        runs = JSONRead.int(d["runs"])
        warmup = JSONRead.int(d["warmup"])
        peakRssMb = JSONRead.double(d["peak_rss_mb"])
        peakModelMb = JSONRead.double(d["peak_model_mb"])
        artifactBytes = JSONRead.int(d["artifact_bytes"])
        params = JSONRead.int(d["params"])
        macs = JSONRead.int(d["macs"])
        macsPerS = JSONRead.double(d["macs_per_s"])
        efficiency = JSONRead.double(d["efficiency"])
        exportSeconds = JSONRead.double(d["export_seconds"])
        loadSeconds = JSONRead.double(d["load_seconds"])
        parityMaxPx = JSONRead.double(d["parity_max_px"])
        parityP99Px = JSONRead.double(d["parity_p99_px"])
        note = JSONRead.string(d["note"]) ?? ""
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

    public func jsonObject() -> [String: Any] {
        ["name": name, "cpu": cpu, "cores": cores, "os": os, "runtimes": runtimes, "note": note]
    }
}

/// A whole `meshpose-bench` results file: {"schema", "schema_version", "machine", "peak", "rows"}.
public struct BenchDocument {
    public static let schema = "meshpose-bench"
    public static let schemaVersion = 1

    public var machine: BenchMachine
    /// Free-form peak-throughput facts (schema.py leaves it a dict); JSON-serialisable values only.
    public var peak: [String: Any]
    public var rows: [BenchRow]

    public init(machine: BenchMachine, rows: [BenchRow], peak: [String: Any] = [:]) {
        self.machine = machine
        self.rows = rows
        self.peak = peak
    }

    public func jsonObject() -> [String: Any] {
        [
            "schema": BenchDocument.schema,
            "schema_version": BenchDocument.schemaVersion,
            "machine": machine.jsonObject(),
            "peak": peak,
            "rows": rows.map { $0.jsonObject() },
        ]
    }

    /// Pretty, key-sorted JSON with a trailing newline, as the desktop bench writes.
    public func jsonData() throws -> Data {
        try BenchDocument.validate(jsonObject())
        var data = try JSONSerialization.data(withJSONObject: jsonObject(), options: [.prettyPrinted, .sortedKeys])
        data.append(0x0A)
        return data
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
        guard JSONRead.string(doc["schema"]) == schema, JSONRead.int(doc["schema_version"]) == schemaVersion else {
            throw MeshPoseError("not a \(schema) v\(schemaVersion) results file (schema=\(doc["schema"] ?? "none"))", kind: .invalidResults)
        }
        guard let machine = JSONRead.object(doc["machine"]), let name = JSONRead.string(machine["name"]), !name.isEmpty else {
            throw MeshPoseError("results file names no machine (machine.name)", kind: .invalidResults)
        }
        let rawRows = (doc["rows"] as? [Any]) ?? []
        var rows: [BenchRow] = []
        for item in rawRows {
            guard let obj = JSONRead.object(item) else { throw MeshPoseError("results rows must be JSON objects", kind: .invalidResults) }
            let row = try BenchRow(jsonObject: obj)
            guard BenchRow.statuses.contains(row.status) else {
                throw MeshPoseError("row \(row.model)/\(row.runtime)/\(row.precision): unknown status \"\(row.status)\"", kind: .invalidResults)
            }
            if row.status == "measured" && !((row.latencyMedianMs ?? 0) > 0) {
                throw MeshPoseError("row \(row.model)/\(row.runtime)/\(row.precision): status measured but no latency", kind: .invalidResults)
            }
            rows.append(row)
        }
        return rows
    }
}
