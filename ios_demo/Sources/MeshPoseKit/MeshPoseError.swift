import Foundation

/// One-line errors that name the problem and the fix; shown as they are in the app and the CLI.
/// `kind` names the class of problem with the same strings the golden vectors use
/// (golden/README.md), so tests check why something was rejected, not only that it was.
public struct MeshPoseError: Error, CustomStringConvertible, LocalizedError, Equatable {
    public enum Kind: String, Equatable {
        case notASidecar = "not_a_sidecar"
        case unsupportedVersion = "unsupported_version"
        case missingField = "missing_field"
        case missingOutput = "missing_output"
        case invalidValue = "invalid_value"
        case invalidBox = "invalid_box"
        case invalidRotation = "invalid_rotation"
        case invalidSize = "invalid_size"
        case invalidResults = "invalid_results"
        case invalidParams = "invalid_params"
        case io
        case model
    }

    public let kind: Kind
    public let message: String

    public init(_ message: String, kind: Kind = .invalidValue) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
    public var errorDescription: String? { message }
}

/// Typed reads from `JSONSerialization` output. Numbers arrive as NSNumber on Darwin and as
/// Int / Double on some corelibs-foundation versions; both are accepted here so that the package
/// behaves the same on macOS, iOS and Linux.
enum JSONRead {
    static func object(_ value: Any?) -> [String: Any]? {
        value as? [String: Any]
    }

    static func double(_ value: Any?) -> Double? {
        if let d = value as? Double { return d }
        if let i = value as? Int { return Double(i) }
        if let n = value as? NSNumber { return n.doubleValue }
        return nil
    }

    /// An integer, also when written as 3.0; nil for 3.5.
    static func int(_ value: Any?) -> Int? {
        if let i = value as? Int { return i }
        guard let d = double(value), d.isFinite, d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }

    static func string(_ value: Any?) -> String? {
        value as? String
    }

    /// A JSON true / false. Darwin parses them to NSNumber, which `as? Double` reads as 1 / 0, so
    /// number fields ask this first; the number's own type code says "c" (BOOL) for booleans.
    static func isBool(_ value: Any?) -> Bool {
        guard let value = value else { return false }
        if let n = value as? NSNumber {
            let type = String(cString: n.objCType)
            return type == "c" || type == "B"
        }
        return value is Bool
    }

    static func bool(_ value: Any?) -> Bool? {
        if let b = value as? Bool { return b }
        return nil
    }

    static func doubles(_ value: Any?) -> [Double]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Double] = []
        out.reserveCapacity(list.count)
        for item in list {
            guard let d = double(item) else { return nil }
            out.append(d)
        }
        return out
    }

    static func ints(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Int] = []
        out.reserveCapacity(list.count)
        for item in list {
            guard let i = int(item) else { return nil }
            out.append(i)
        }
        return out
    }

    static func isNull(_ value: Any?) -> Bool {
        value == nil || value is NSNull
    }

    static func parse(_ data: Data, what: String) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw MeshPoseError("\(what) is not valid JSON; write it again from its source")
        }
    }
}
