import Foundation
import XCTest
@testable import MeshPoseKit

/// The shared golden vectors (golden/ at the repository root, written by scripts/make_golden.py
/// from the project's Python code), found relative to this file so that `swift test` works from
/// any directory.
enum Golden {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // MeshPoseKitTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // ios_demo
        .deletingLastPathComponent()  // repository root
        .appendingPathComponent("golden", isDirectory: true)

    static func load(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let url = directory.appendingPathComponent("\(name).json")
        let data = try Data(contentsOf: url)
        guard let doc = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw MeshPoseError("\(url.path) is not a JSON object")
        }
        XCTAssertEqual(doc["format"] as? String, "meshpose-golden", "\(name).json", file: file, line: line)
        return doc
    }

    static func cases(_ doc: [String: Any], _ key: String = "cases") -> [[String: Any]] {
        (doc[key] as? [Any])?.compactMap { $0 as? [String: Any] } ?? []
    }
}

/// A number from a golden file; the string "NaN" stands for not-a-number.
func num(_ value: Any?) -> Double {
    if let s = value as? String, s == "NaN" { return .nan }
    return JSONRead.double(value) ?? .nan
}

func nums(_ value: Any?) -> [Double] {
    (value as? [Any])?.map { num($0) } ?? []
}

func ints(_ value: Any?) -> [Int] {
    JSONRead.ints(value) ?? []
}

func affine(_ value: Any?) throws -> Affine2D {
    let rows = (value as? [Any])?.map { nums($0) } ?? []
    return try Affine2D(rows: rows)
}

/// |a - b| <= abs + rel * |b| for every element, with the first failure reported.
func assertClose(
    _ actual: [Double], _ expected: [Double], abs absTol: Double, rel: Double = 0, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "\(what): count", file: file, line: line)
    var worst = 0.0
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let err = Swift.abs(a - e)
        worst = max(worst, err)
        if !(err <= absTol + rel * Swift.abs(e)) {
            XCTFail("\(what)[\(i)]: \(a) vs expected \(e) (tolerance \(absTol) + \(rel) rel)", file: file, line: line)
            return
        }
    }
}

func assertClose(
    _ actual: Affine2D, _ expected: Affine2D, abs absTol: Double = 1e-6, rel: Double = 1e-6, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    assertClose(actual.rows.flatMap { $0 }, expected.rows.flatMap { $0 }, abs: absTol, rel: rel, what, file: file, line: line)
}

func assertClose(
    _ actual: BoxXYWH, _ expected: [Double], abs absTol: Double = 1e-6, rel: Double = 1e-6, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    assertClose(actual.values, expected, abs: absTol, rel: rel, what, file: file, line: line)
}

/// The error kind a throwing call failed with, or nil when it did not throw.
func errorKind<T>(_ body: () throws -> T) -> String? {
    do {
        _ = try body()
        return nil
    } catch let error as MeshPoseError {
        return error.kind.rawValue
    } catch {
        return "unexpected: \(error)"
    }
}

/// Parsed JSON values equal, numbers to a tolerance, key order free.
func assertJSONEqual(
    _ actual: Any?, _ expected: Any?, path: String = "$", file: StaticString = #filePath, line: UInt = #line
) {
    guard let actual = actual, let expected = expected else {
        XCTAssertTrue(actual == nil && expected == nil, "\(path): one side is missing", file: file, line: line)
        return
    }
    switch (actual, expected) {
    case let (a as [String: Any], e as [String: Any]):
        XCTAssertEqual(Set(a.keys), Set(e.keys), "\(path): keys", file: file, line: line)
        for key in e.keys.sorted() where a[key] != nil {
            assertJSONEqual(a[key], e[key], path: "\(path).\(key)", file: file, line: line)
        }
    case let (a as [Any], e as [Any]):
        XCTAssertEqual(a.count, e.count, "\(path): length", file: file, line: line)
        for (i, (x, y)) in zip(a, e).enumerated() {
            assertJSONEqual(x, y, path: "\(path)[\(i)]", file: file, line: line)
        }
    case let (a as String, e as String):
        XCTAssertEqual(a, e, path, file: file, line: line)
    case (is NSNull, is NSNull):
        return
    default:
        if actual is NSNull || expected is NSNull || actual is String || expected is String {
            XCTFail("\(path): \(String(describing: actual)) vs expected \(String(describing: expected))", file: file, line: line)
            return
        }
        guard let a = JSONRead.double(actual), let e = JSONRead.double(expected) else {
            XCTFail("\(path): \(String(describing: actual)) vs expected \(String(describing: expected))", file: file, line: line)
            return
        }
        XCTAssertEqual(a, e, accuracy: 1e-6 + 1e-6 * Swift.abs(e), path, file: file, line: line)
    }
}

/// Float -> IEEE half bits, round to nearest even (test-side only: the package only decodes).
func halfBits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xFF) - 127 + 15
    var mantissa = bits & 0x7F_FFFF
    if value.isNaN { return sign | 0x7E00 }
    if exponent >= 31 { return sign | 0x7C00 }
    if exponent <= 0 {
        if exponent < -10 { return sign }
        mantissa |= 0x80_0000
        let shift = UInt32(14 - exponent)
        var half = mantissa >> shift
        let rest = mantissa & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        if rest > halfway || (rest == halfway && (half & 1) == 1) { half += 1 }
        return sign | UInt16(half)
    }
    var half = UInt32(exponent) << 10 | (mantissa >> 13)
    let rest = mantissa & 0x1FFF
    if rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1) { half += 1 }
    return sign | UInt16(truncatingIfNeeded: half)
}

/// Flat (x, y) pairs through an affine.
func mapPoints(_ m: Affine2D, _ points: [Double]) -> [Double] {
    var out: [Double] = []
    for i in stride(from: 0, to: points.count - 1, by: 2) {
        let p = m.apply(x: points[i], y: points[i + 1])
        out += [p.x, p.y]
    }
    return out
}
