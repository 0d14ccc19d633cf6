import Foundation
import XCTest
@testable import MeshPoseKit

/// MeshPoseKit against golden/schema/, the JSON Schemas Python validates with (export/formats.py)
/// and the Android core's SchemaContractTest checks too: every golden file MeshPoseKit reads
/// follows its schema, the schemas reject what Sidecar and BenchDocument reject (golden cases), and
/// every field the readers require is a required property of the type they parse. Checked with
/// MiniSchema below (the subset of JSON Schema these files use).
final class SchemaContractTests: XCTestCase {
    /// The golden files MeshPoseKit's tests read, as golden/README.md's table "Which core reads
    /// which file" says; tests/test_ios_sources.py holds this list to that table.
    static let goldenFiles = ["bench", "crop", "decode", "geometry", "one_euro", "sidecar", "tracker"]
    /// Sidecar rules across fields that JSON Schema cannot state; Sidecar.parse checks them.
    static let acrossFields: Set<String> = ["crop_size_mismatch", "vertex_count_mismatch", "face_index_out_of_range"]

    func testEveryGoldenFileMeshPoseKitReadsFollowsItsSchema() throws {
        for name in SchemaContractTests.goldenFiles {
            let schema = try MiniSchema.load("golden-\(name).schema.json")
            let doc = try JSONValue(any: try Golden.load(name))
            XCTAssertEqual(try schema.errors(doc), [], name)
        }
    }

    func testSidecarSchemaAcceptsWhatTheReaderAcceptsAndRejectsWhatItRejectsStructurally() throws {
        let schema = try MiniSchema.load("sidecar.schema.json")
        var valid = 0
        var rejected = 0
        for c in Golden.cases(try Golden.load("sidecar")) {
            let name = c["name"] as? String ?? "?"
            let raw: Any = c["sidecar"] ?? NSNull()
            let errors = try schema.errors(try JSONValue(any: raw))
            if c["valid"] as? Bool == true {
                XCTAssertEqual(errors, [], name)
                XCTAssertNoThrow(try Sidecar.parse(jsonObject: raw, source: name), name)
                valid += 1
            } else {
                // The schema rejects every invalid case except those only a rule across fields catches.
                let acrossFields = SchemaContractTests.acrossFields.contains(name)
                XCTAssertEqual(errors.isEmpty, acrossFields, "\(name): \(errors)")
                XCTAssertNotNil(errorKind { try Sidecar.parse(jsonObject: raw, source: name) }, name)
                rejected += errors.isEmpty ? 0 : 1
            }
        }
        XCTAssertTrue(valid >= 6 && rejected >= 9, "\(valid) valid, \(rejected) rejected")
    }

    func testEveryFieldTheSidecarReaderNeedsIsRequiredWithItsType() throws {
        let schema = try MiniSchema.load("sidecar.schema.json")
        let needs: [(String, String?)] = [
            ("format", nil), ("format_version", nil),
            ("input", "object"), ("input.name", "string"), ("input.height", "integer"), ("input.width", "integer"),
            ("input.normalization", "object"), ("input.normalization.mean", "array"),
            ("input.normalization.std", "array"),
            ("crop", "object"), ("crop.input_height", "integer"), ("crop.input_width", "integer"),
            ("crop.box_scale", "number"),
            ("mesh", "object"), ("mesh.num_vertices", "integer"),
            ("outputs", "array"), ("outputs[].name", "string"), ("outputs[].shape", "array"),
        ]
        for (path, type) in needs {
            try assertRequired(schema, path, type: type)
        }
    }

    func testBenchSchemaMatchesBenchDocument() throws {
        let schema = try MiniSchema.load("bench-results.schema.json")
        let bench = try Golden.load("bench")
        let written: Any = (bench["document_case"] as? [String: Any])?["expected"] ?? NSNull()
        let v1: Any = bench["valid_v1"] ?? NSNull()
        for (what, doc) in [("document_case.expected", written), ("valid_v1", v1)] {
            XCTAssertEqual(try schema.errors(try JSONValue(any: doc)), [], what)
            XCTAssertNoThrow(try BenchDocument(jsonObject: doc as? [String: Any] ?? [:]), what)
        }
        let invalid = Golden.cases(bench, "invalid")
        XCTAssertGreaterThanOrEqual(invalid.count, 10)
        for c in invalid {
            let errors = try schema.errors(try JSONValue(any: c["document"] ?? NSNull()))
            XCTAssertFalse(errors.isEmpty, c["name"] as? String ?? "?")
        }
        let needs: [(String, String?)] = [
            ("schema", nil), ("schema_version", nil), ("machine", "object"), ("machine.name", "string"),
            // rows may be absent (no rows); a row needs these.
            ("rows?[].model", "string"), ("rows?[].runtime", "string"), ("rows?[].precision", "string"),
        ]
        for (path, type) in needs {
            try assertRequired(schema, path, type: type)
        }
        // The row fields BenchRow writes and accepts are the schema's. Key sets only: JSONSerialization
        // keeps no key order (tests/test_ios_sources.py compares the order from the sources).
        guard let row = schema.root.member("$defs")?.member("row") else {
            return XCTFail("bench-results.schema.json has no $defs.row")
        }
        XCTAssertEqual(row.member("properties")?.memberNames.sorted(), BenchRow.fieldNames.sorted())
        let stagesForms = try MiniSchema.list(row.member("properties")?.member("stages_ms")?.member("anyOf"), "stages_ms")
        let stages = stagesForms.first(where: { $0.member("properties") != nil })?.member("properties")
        XCTAssertEqual(stages?.memberNames.sorted(), BenchStages.names.sorted())
    }

    func testTheCheckerRejectsABrokenFile() throws {
        var crop = try Golden.load("crop")
        var cases = Golden.cases(crop)
        guard !cases.isEmpty else { return XCTFail("crop.json has no cases") }
        var contract = cases[0]["contract"] as? [String: Any] ?? [:]
        contract["box_scale"] = "big"
        cases[0]["contract"] = contract
        crop["cases"] = cases
        crop.removeValue(forKey: "images")
        let errors = try MiniSchema.load("golden-crop.schema.json").errors(try JSONValue(any: crop))
        // The case matches neither the expected nor the error form of a case.
        XCTAssertTrue(errors.contains { $0.hasPrefix("$.cases[0]") }, "\(errors)")
        XCTAssertTrue(errors.contains { $0.contains("images") }, "\(errors)")
    }

    func testTypesAreJSONSchemasAndBooleansStayBooleans() throws {
        let integer = MiniSchema(root: .object([("type", .string("integer"))]))
        XCTAssertEqual(try integer.errors(.double(3.0)), [])
        XCTAssertFalse(try integer.errors(.double(3.5)).isEmpty)
        XCTAssertFalse(try integer.errors(.bool(true)).isEmpty)
        // Foundation parses true to an NSNumber; it must stay a boolean here, not the number 1.
        let parsed = try JSONValue(any: try JSONSerialization.jsonObject(with: Data("[true, 1, 1.5]".utf8)))
        let numbers = MiniSchema(root: .object([("items", .object([("type", .string("number"))]))]))
        XCTAssertEqual(try numbers.errors(parsed), ["$[0]: not of type \"number\""])
    }

    func testAKeywordTheCheckerDoesNotImplementFailsLoudly() {
        let pattern = MiniSchema(root: .object([("type", .string("string")), ("pattern", .string("^a"))]))
        XCTAssertThrowsError(try pattern.errors(.string("b")))
        let outside = MiniSchema(root: .object([("$ref", .string("other.schema.json#/x"))]))
        XCTAssertThrowsError(try outside.errors(.null))
        let unknownType = MiniSchema(root: .object([("type", .string("float"))]))
        XCTAssertThrowsError(try unknownType.errors(.double(1)))
    }

    /// `path` ("a.b", "rows?[].model") is required at every step not marked "?", its last schema of `type`.
    private func assertRequired(
        _ schema: MiniSchema, _ path: String, type: String?, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        var s = schema.root
        for part in path.split(separator: ".").map(String.init) {
            let item = part.hasSuffix("[]")
            var key = item ? String(part.dropLast(2)) : part
            let optional = key.hasSuffix("?")
            if optional { key = String(key.dropLast()) }
            s = try schema.resolve(s)
            let required = try MiniSchema.strings(s.member("required"), path)
            XCTAssertTrue(optional || required.contains(key), "\(path): \(key) is not required", file: file, line: line)
            guard let next = s.member("properties")?.member(key) else {
                return XCTFail("\(path): the schema has no property \(key)", file: file, line: line)
            }
            s = try schema.resolve(next)
            if item {
                guard let each = s.member("items") else {
                    return XCTFail("\(path): \(key) has no items schema", file: file, line: line)
                }
                s = try schema.resolve(each)
            }
        }
        guard let type = type else { return }
        var declared: [String] = []
        switch s.member("type") {
        case .some(.string(let name)): declared = [name]
        case .some(.array(let names)): declared = try MiniSchema.strings(.array(names), path)
        default: break
        }
        XCTAssertTrue(declared.contains(type), "\(path) is not of type \(type) in the schema: \(declared)", file: file, line: line)
    }
}

/// A schema asks for something MiniSchema does not check: a failure, never a silent pass.
struct SchemaNotImplemented: Error, CustomStringConvertible {
    let what: String
    var description: String { "MiniSchema does not implement \(what)" }
}

/// The subset of JSON Schema draft 2020-12 that golden/schema/ uses, checked by hand as the Android
/// core's MiniSchema.java does: Foundation has no JSON Schema validator and MeshPoseKit takes no
/// dependencies. Keywords: type, required, properties, additionalProperties, items, minItems,
/// maxItems, enum, const, minimum, maximum, exclusiveMinimum, minLength, anyOf, allOf, not, contains
/// and $ref to "#/$defs/...". A keyword outside this set throws, so a schema cannot quietly ask for
/// more than is checked here.
struct MiniSchema {
    static let annotations: Set<String> = ["$schema", "$id", "title", "description", "$defs"]
    static let keywords: Set<String> = [
        "type", "required", "properties", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
        "minimum", "maximum", "exclusiveMinimum", "minLength", "anyOf", "allOf", "not", "contains", "$ref",
    ]
    static let types: Set<String> = ["object", "array", "string", "boolean", "null", "number", "integer"]

    let root: JSONValue

    /// `name`: a file in golden/schema/, found beside the golden files (GoldenSupport.swift).
    static func load(_ name: String) throws -> MiniSchema {
        let url = Golden.directory.appendingPathComponent("schema", isDirectory: true).appendingPathComponent(name)
        let data = try Data(contentsOf: url)
        return MiniSchema(root: try JSONValue(any: try JSONSerialization.jsonObject(with: data)))
    }

    /// Violations of the schema by `doc`: empty when it validates.
    func errors(_ doc: JSONValue) throws -> [String] {
        var out: [String] = []
        try check(root, doc, "$", &out)
        return out
    }

    func resolve(_ schema: JSONValue) throws -> JSONValue {
        let prefix = "#/$defs/"
        var s = schema
        while let ref = s.member("$ref") {
            guard case .string(let path) = ref, path.hasPrefix(prefix),
                let target = root.member("$defs")?.member(String(path.dropFirst(prefix.count)))
            else { throw SchemaNotImplemented(what: "the reference \(ref.compactText)") }
            s = target
        }
        return s
    }

    private func check(_ schemaValue: JSONValue, _ v: JSONValue, _ at: String, _ out: inout [String]) throws {
        if case .bool(let allowed) = schemaValue {  // the true / false schemas
            if !allowed { out.append("\(at): not allowed") }
            return
        }
        let s = try resolve(schemaValue)
        guard case .object(let members) = s else {
            throw SchemaNotImplemented(what: "a schema that is \(s.compactText) (at \(at))")
        }
        for (key, _) in members where !MiniSchema.keywords.contains(key) && !MiniSchema.annotations.contains(key) {
            throw SchemaNotImplemented(what: "the keyword \(key) (at \(at))")
        }
        if let type = s.member("type") {
            let matches = try MiniSchema.typeMatches(type, v)
            if !matches {
                out.append("\(at): not of type \(type.compactText)")
                return
            }
        }
        if let c = s.member("const"), !sameJSON(c, v) {
            out.append("\(at): is not \(c.compactText)")
        }
        if let e = s.member("enum") {
            let options = try MiniSchema.list(e, at)
            if !options.contains(where: { sameJSON($0, v) }) {
                out.append("\(at): \(String(v.compactText.prefix(80))) is not one of \(e.compactText)")
            }
        }
        if let x = v.schemaNumber {
            if let m = s.member("minimum")?.schemaNumber, x < m { out.append("\(at): below the minimum \(m)") }
            if let m = s.member("maximum")?.schemaNumber, x > m { out.append("\(at): above the maximum \(m)") }
            if let m = s.member("exclusiveMinimum")?.schemaNumber, x <= m {
                out.append("\(at): not above the exclusive minimum \(m)")
            }
        }
        if case .string(let text) = v, let n = s.member("minLength")?.schemaNumber, Double(text.unicodeScalars.count) < n {
            out.append("\(at): shorter than \(n) characters")
        }
        if case .object(let fields) = v {
            let required = try MiniSchema.strings(s.member("required"), at)
            for key in required where !fields.contains(where: { $0.0 == key }) {
                out.append("\(at): lacks the required field \(key)")
            }
            let properties = s.member("properties")
            for (key, value) in fields {
                if let sub = properties?.member(key) {
                    try check(sub, value, "\(at).\(key)", &out)
                } else if let extra = s.member("additionalProperties") {
                    try check(extra, value, "\(at).\(key)", &out)
                }
            }
        }
        if case .array(let items) = v {
            if let n = s.member("minItems")?.schemaNumber, Double(items.count) < n {
                out.append("\(at): fewer than \(n) items")
            }
            if let n = s.member("maxItems")?.schemaNumber, Double(items.count) > n {
                out.append("\(at): more than \(n) items")
            }
            if let each = s.member("items") {
                for (i, item) in items.enumerated() {
                    try check(each, item, "\(at)[\(i)]", &out)
                }
            }
            if let wanted = s.member("contains") {
                // Every item is checked, not only up to the first match, so that a keyword MiniSchema
                // lacks cannot hide behind an early match.
                var found = false
                for item in items {
                    let ok = try valid(wanted, item)
                    found = found || ok
                }
                if !found { out.append("\(at): contains no item matching \(wanted.compactText)") }
            }
        }
        let allOf = try MiniSchema.list(s.member("allOf"), at)
        for sub in allOf {
            try check(sub, v, at, &out)
        }
        if let anyOf = s.member("anyOf") {
            let forms = try MiniSchema.list(anyOf, at)
            var matched = false
            for sub in forms {
                let ok = try valid(sub, v)
                matched = matched || ok
            }
            if !matched { out.append("\(at): matches none of anyOf") }
        }
        if let excluded = s.member("not") {
            let matches = try valid(excluded, v)
            if matches { out.append("\(at): matches what 'not' excludes") }
        }
    }

    private func valid(_ schema: JSONValue, _ v: JSONValue) throws -> Bool {
        var sub: [String] = []
        try check(schema, v, "", &sub)
        return sub.isEmpty
    }

    /// JSON Schema's types: an integer is any number without a fractional part (3.0 included), a
    /// boolean is never a number.
    static func typeMatches(_ type: JSONValue, _ v: JSONValue) throws -> Bool {
        if case .array(let options) = type {
            var matched = false
            for option in options {
                let ok = try typeMatches(option, v)
                matched = matched || ok
            }
            return matched
        }
        guard case .string(let name) = type, types.contains(name) else {
            throw SchemaNotImplemented(what: "the type \(type.compactText)")
        }
        switch v {
        case .null: return name == "null"
        case .bool: return name == "boolean"
        case .int: return name == "integer" || name == "number"
        case .double(let d): return name == "number" || (name == "integer" && d.rounded() == d)
        case .string: return name == "string"
        case .array: return name == "array"
        case .object: return name == "object"
        }
    }

    /// The strings of a `required` list; none when absent.
    static func strings(_ value: JSONValue?, _ at: String) throws -> [String] {
        return try list(value, at).map { item -> String in
            guard case .string(let s) = item else {
                throw SchemaNotImplemented(what: "a list of names holding \(item.compactText) (at \(at))")
            }
            return s
        }
    }

    /// The schemas of `allOf` / `anyOf` / `enum`; none when absent.
    static func list(_ value: JSONValue?, _ at: String) throws -> [JSONValue] {
        guard let value = value else { return [] }
        guard case .array(let items) = value else {
            throw SchemaNotImplemented(what: "\(value.compactText) where a list belongs (at \(at))")
        }
        return items
    }
}

extension JSONValue {
    /// A member of an object; nil for a missing key or a value that is not an object.
    func member(_ key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.0 == key })?.1
    }

    var memberNames: [String] {
        guard case .object(let members) = self else { return [] }
        return members.map { $0.0 }
    }

    var schemaNumber: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// One line of JSON, for messages.
    var compactText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return PythonJSON.quote(s)
        case .array(let items): return "[" + items.map { $0.compactText }.joined(separator: ", ") + "]"
        case .object(let members):
            return "{" + members.map { PythonJSON.quote($0.0) + ": " + $0.1.compactText }.joined(separator: ", ") + "}"
        }
    }
}

/// JSON values equal as const and enum compare them: numbers by value (1 == 1.0), objects by
/// their members whatever the order.
func sameJSON(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case let (.bool(x), .bool(y)): return x == y
    case let (.string(x), .string(y)): return x == y
    case let (.array(x), .array(y)):
        return x.count == y.count && zip(x, y).allSatisfy { sameJSON($0.0, $0.1) }
    case let (.object(x), .object(y)):
        return x.count == y.count && x.allSatisfy { field in y.contains { $0.0 == field.0 && sameJSON($0.1, field.1) } }
    default:
        guard let x = a.schemaNumber, let y = b.schemaNumber else { return false }
        return x == y
    }
}
