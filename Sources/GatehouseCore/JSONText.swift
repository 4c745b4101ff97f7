import Foundation

/// A compact JSON writer for the loosely typed bodies of the tiered-access API
/// (`[String: Any]` trees of strings, integers, booleans, doubles, arrays, objects and
/// `NSNull`), with keys sorted by code point and slashes left unescaped.
///
/// It replaces `JSONSerialization.data(withJSONObject:options: .sortedKeys)`, which on Linux
/// sorts keys with a locale-aware (ICU) comparison and costs several times as much as the
/// rest of a cached read.
public enum JSONText {
    /// The JSON bytes of `value`; values of other types are written as `null`.
    public static func bytes(_ value: Any) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return out
    }

    /// The JSON text of `value`.
    public static func string(_ value: Any) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    /// Appends the JSON of `value` to `out`.
    public static func write(_ value: Any, into out: inout [UInt8]) {
        switch value {
        case let string as String: writeString(string, into: &out)
        // Exact Swift types first: a bridging cast would turn NSNumber(1) into `true`.
        case _ where type(of: value) == Bool.self: out.append(contentsOf: (value as! Bool) ? Array("true".utf8) : Array("false".utf8))
        case _ where type(of: value) == Int.self: out.append(contentsOf: String(value as! Int).utf8)
        case _ where type(of: value) == Int64.self: out.append(contentsOf: String(value as! Int64).utf8)
        case _ where type(of: value) == Int32.self: out.append(contentsOf: String(value as! Int32).utf8)
        case _ where type(of: value) == Double.self: writeDouble(value as! Double, into: &out)
        // A metatype check: `as? NSNumber` on a Swift collection would bridge it to Foundation first.
        case _ where type(of: value) is NSNumber.Type: writeNumber(unsafeDowncast(value as AnyObject, to: NSNumber.self), into: &out)
        case let object as [String: Any]: writeObject(object.map { ($0.key, $0.value) }, into: &out)
        case let array as [Any]:
            out.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        default: out.append(contentsOf: "null".utf8)
        }
    }

    private static func writeObject(_ pairs: [(String, Any)], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (index, pair) in pairs.sorted(by: { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            writeString(pair.0, into: &out)
            out.append(UInt8(ascii: ":"))
            write(pair.1, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    private static func writeNumber(_ number: NSNumber, into out: inout [UInt8]) {
        if isBool(number) {
            out.append(contentsOf: number.boolValue ? Array("true".utf8) : Array("false".utf8))
            return
        }
        switch String(cString: number.objCType) {
        case "d", "f": writeDouble(number.doubleValue, into: &out)
        case "Q", "L", "I", "S", "C": out.append(contentsOf: String(number.uint64Value).utf8)
        default: out.append(contentsOf: String(number.int64Value).utf8)
        }
    }

    private static func writeDouble(_ double: Double, into out: inout [UInt8]) {
        guard double.isFinite else { out.append(contentsOf: "null".utf8); return }
        if double == double.rounded(), abs(double) < 1e15 {
            out.append(contentsOf: String(Int64(double)).utf8)
        } else {
            out.append(contentsOf: "\(double)".utf8)
        }
    }

    /// Whether an `NSNumber` holds a boolean (JSON `true`/`false`).
    public static func isBool(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c" || type(of: number) == type(of: NSNumber(value: true))
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static func writeString(_ string: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
