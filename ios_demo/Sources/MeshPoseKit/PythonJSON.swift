import Foundation

/// A JSON value whose objects keep their key order. JSONSerialization cannot write one (its
/// dictionaries are unordered, `.sortedKeys` sorts them), and synthesized `Encodable` leaves nil
/// optionals out instead of writing null; the results files need every field, in schema order.
public indirect enum JSONValue {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func nullable(_ value: Int?) -> JSONValue { value.map { JSONValue.int($0) } ?? .null }
    public static func nullable(_ value: Double?) -> JSONValue { value.map { JSONValue.double($0) } ?? .null }

    /// A value from `JSONSerialization` output or plain Swift values; dictionaries are written
    /// with sorted keys, since `[String: Any]` has no order of its own.
    public init(any value: Any) throws {
        if value is NSNull {
            self = .null
        } else if let s = value as? String {
            self = .string(s)
        } else if let n = value as? NSNumber {
            // Darwin bridges every Swift number and Bool to NSNumber, and `as? Int` would turn
            // true into 1: the number's own type decides ("c" = BOOL, "f" / "d" = floating).
            switch String(cString: n.objCType) {
            case "c", "B": self = .bool(n.boolValue)
            case "f", "d": self = .double(n.doubleValue)
            default: self = .int(n.intValue)
            }
        } else if let b = value as? Bool {
            self = .bool(b)
        } else if let i = value as? Int {
            self = .int(i)
        } else if let d = value as? Double {
            self = .double(d)
        } else if let list = value as? [Any] {
            self = .array(try list.map { try JSONValue(any: $0) })
        } else if let dict = value as? [String: Any] {
            self = .object(try dict.sorted { $0.key < $1.key }.map { member -> (String, JSONValue) in
                let element = try JSONValue(any: member.value)
                return (member.key, element)
            })
        } else {
            throw MeshPoseError("\(type(of: value)) is not a JSON value; store numbers, strings, lists or dictionaries")
        }
    }
}

/// Writes JSON the way Python's `json.dumps(value, indent=2)` does (export/bench/schema.py
/// `write_json_atomic`), byte for byte: two-space indent with every list and object item on its
/// own line ("," at the end of the line, no trailing space), ": " after keys, "[]" and "{}" when
/// empty, strings with non-ASCII escaped (`ensure_ascii`), floats as Python's `repr`. The same document written
/// on a phone and on the desktop is then the same file, and `diff` shows only measured numbers.
public enum PythonJSON {
    public static func dumps(_ value: JSONValue, indent: Int = 2) throws -> String {
        var out = ""
        try write(value, level: 0, indent: indent, into: &out)
        return out
    }

    static func write(_ value: JSONValue, level: Int, indent: Int, into out: inout String) throws {
        switch value {
        case .null:
            out += "null"
        case .bool(let b):
            out += b ? "true" : "false"
        case .int(let i):
            out += String(i)
        case .double(let d):
            guard d.isFinite else {
                throw MeshPoseError("JSON has no \(d); store null for a value that was not measured")
            }
            out += float(d)
        case .string(let s):
            out += quote(s)
        case .array(let items):
            guard !items.isEmpty else {
                out += "[]"
                return
            }
            let inner = "\n" + String(repeating: " ", count: indent * (level + 1))
            out += "["
            for (i, item) in items.enumerated() {
                out += (i == 0 ? "" : ",") + inner
                try write(item, level: level + 1, indent: indent, into: &out)
            }
            out += "\n" + String(repeating: " ", count: indent * level) + "]"
        case .object(let members):
            guard !members.isEmpty else {
                out += "{}"
                return
            }
            let inner = "\n" + String(repeating: " ", count: indent * (level + 1))
            out += "{"
            for (i, member) in members.enumerated() {
                out += (i == 0 ? "" : ",") + inner + quote(member.0) + ": "
                try write(member.1, level: level + 1, indent: indent, into: &out)
            }
            out += "\n" + String(repeating: " ", count: indent * level) + "}"
        }
    }

    /// Python's `repr(float)`: the shortest digits that read back as the same Double (which
    /// Swift's `description` also gives), laid out as Python does: positional when the decimal
    /// point falls within -4 < decpt <= 16, else `d.ddde+XX` with at least two exponent digits;
    /// a whole number keeps ".0". Swift's own layout differs (1e+16 vs 1e16 thresholds, "5e-05"),
    /// so only its digits are used.
    public static func float(_ d: Double) -> String {
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        let text = d.magnitude.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let point = mantissa.firstIndex(of: ".")
        let whole: Substring = point.map { mantissa[..<$0] } ?? mantissa
        let fraction: Substring = point.map { mantissa[mantissa.index(after: $0)...] } ?? ""
        // value = 0.DIGITS x 10^decpt
        var digits = Array(whole) + Array(fraction)
        var decpt = whole.count + exponent
        while let first = digits.first, first == "0" {
            digits.removeFirst()
            decpt -= 1
        }
        while let last = digits.last, last == "0" {
            digits.removeLast()
        }
        if digits.isEmpty { return d.sign == .minus ? "-0.0" : "0.0" }
        let n = digits.count
        let body: String
        if decpt <= -4 || decpt > 16 {
            var m = String(digits[0])
            if n > 1 { m += "." + String(digits[1...]) }
            let e = decpt - 1
            let magnitude = String(Swift.abs(e))
            body = m + (e < 0 ? "e-" : "e+") + (magnitude.count < 2 ? "0" + magnitude : magnitude)
        } else if decpt <= 0 {
            body = "0." + String(repeating: "0", count: -decpt) + String(digits)
        } else if decpt >= n {
            body = String(digits) + String(repeating: "0", count: decpt - n) + ".0"
        } else {
            body = String(digits[..<decpt]) + "." + String(digits[decpt...])
        }
        return (d < 0 ? "-" : "") + body
    }

    /// A JSON string as Python's `json.dumps` writes it with `ensure_ascii=True`: printable ASCII
    /// as is, the short escapes for quote, backslash, \n \r \t \b \f, every other UTF-16 unit as
    /// \u followed by four lowercase hex digits (characters beyond the BMP as surrogate pairs).
    public static func quote(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20...0x7E: out.append(Character(Unicode.Scalar(UInt8(unit))))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }
}
