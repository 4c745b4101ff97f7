import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// A JSON object body of the tiered-access API, read with typed getters that name the field
/// at fault. Bodies are read with JSONSerialization (not Codable) so that metadata keys and
/// event payloads keep their exact spelling and shape.
struct TieredBody: Sendable {
    let object: [String: any Sendable]

    /// Reads a JSON object body of at most `limit` bytes; an absent body is `{}` when `optional`.
    static func read(_ request: Request, limit: Int, optional: Bool = false) async throws -> TieredBody {
        if let contentType = request.headers[.contentType] {
            let media = RequestMediaType.essence(contentType)
            guard media == "application/json" else { throw GatehouseError(.unsupportedMediaType, "the body must be application/json") }
        }
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        if buffer.readableBytes == 0 {
            if optional { return TieredBody(object: [:]) }
            throw GatehouseError(.malformedBody, "the body is empty; a JSON object is required")
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(buffer: buffer), options: [.fragmentsAllowed]) else {
            throw GatehouseError(.malformedBody, "the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw GatehouseError(.validationFailed, "the body must be a JSON object") }
        // Keys are trimmed: the seed's own example sends `" limits"`.
        var trimmed: [String: any Sendable] = [:]
        for (key, value) in object { trimmed[Self.trimmed(key)] = Self.sendable(value) }
        return TieredBody(object: trimmed)
    }

    /// `key` without surrounding white space; keys that start and end with a visible ASCII
    /// character (nearly all) are answered as they are, without a Foundation call.
    static func trimmed(_ key: String) -> String {
        let visible = { (byte: UInt8) in byte > 0x20 && byte < 0x7F }
        if let first = key.utf8.first, let last = key.utf8.last, visible(first), visible(last) { return key }
        return key.trimmingCharacters(in: .whitespaces)
    }

    static func sendable(_ value: Any) -> any Sendable {
        switch value {
        case let dictionary as [String: Any]: return dictionary.mapValues(sendable) as [String: any Sendable]
        case let array as [Any]: return array.map(sendable) as [any Sendable]
        case let string as String: return string
        case let number as NSNumber: return number
        default: return NSNull()
        }
    }

    func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    func string(_ key: String, field: String? = nil) throws(GatehouseError) -> String? {
        guard has(key) else { return nil }
        guard let value = object[key] as? String else { throw .invalid(field ?? key, "\(field ?? key) must be a string") }
        return value
    }

    func int(_ key: String, field: String? = nil) throws(GatehouseError) -> Int64? {
        guard has(key) else { return nil }
        if let number = object[key] as? NSNumber, !Self.isBool(number), let value = Int64(exactly: number.doubleValue) { return value }
        if let text = object[key] as? String, let value = Int64(text) { return value }
        throw .invalid(field ?? key, "\(field ?? key) must be an integer")
    }

    func bool(_ key: String) throws(GatehouseError) -> Bool? {
        guard has(key) else { return nil }
        guard let number = object[key] as? NSNumber, Self.isBool(number) else { throw .invalid(key, "\(key) must be true or false") }
        return number.boolValue
    }

    func object(_ key: String) throws(GatehouseError) -> TieredBody? {
        guard has(key) else { return nil }
        guard let value = object[key] as? [String: any Sendable] else { throw .invalid(key, "\(key) must be a JSON object") }
        return TieredBody(object: value)
    }

    /// A string-to-string map (metadata).
    func stringMap(_ key: String) throws(GatehouseError) -> [String: String]? {
        guard let inner = try object(key) else { return nil }
        return try inner.asStringMap(field: key)
    }

    func asStringMap(field: String) throws(GatehouseError) -> [String: String] {
        var map: [String: String] = [:]
        for (name, value) in object {
            guard let text = value as? String else { throw .invalid("\(field).\(name)", "\(field) values must be strings") }
            map[name] = text
        }
        return map
    }

    func intArray(_ key: String) throws(GatehouseError) -> [Int64]? {
        guard has(key) else { return nil }
        guard let array = object[key] as? [any Sendable] else { throw .invalid(key, "\(key) must be an array of ids") }
        var ids: [Int64] = []
        for element in array {
            guard let number = element as? NSNumber, !Self.isBool(number), let id = Int64(exactly: number.doubleValue), id > 0 else {
                throw .invalid(key, "\(key) must be an array of positive integer ids")
            }
            ids.append(id)
        }
        return ids
    }

    /// A nested value as compact JSON text.
    func jsonText(_ key: String) throws(GatehouseError) -> String? {
        guard has(key) else { return nil }
        guard let value = object[key] as? [String: any Sendable] else { throw .invalid(key, "\(key) must be a JSON object") }
        return JSONText.string(value)
    }

    static func isBool(_ number: NSNumber) -> Bool { JSONText.isBool(number) }
}

/// Answers of the tiered-access API.
enum TieredJSON {
    static func response(_ object: [String: Any], status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: JSONText.bytes(object))))
    }

    /// The seed's list shape: `{"meta":{"limit","offset","total_count","next","previous"},"objects":[…]}`.
    static func list<T: Sendable>(_ page: OffsetPage<T>, path: String, query: String = "", _ item: (T) throws -> [String: Any]) throws -> Response {
        func link(_ offset: Int) -> Any {
            "\(path)?limit=\(page.limit)&offset=\(offset)\(query)"
        }
        let next: Any = Int64(page.offset + page.limit) < page.total ? link(page.offset + page.limit) : NSNull()
        let previous: Any = page.offset > 0 ? link(max(0, page.offset - page.limit)) : NSNull()
        return try response([
            "meta": ["limit": page.limit, "offset": page.offset, "total_count": page.total, "next": next, "previous": previous] as [String: Any],
            "objects": try page.items.map(item),
        ])
    }

    static let isoFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: false)
    static let isoMillis = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Unix seconds as ISO 8601 UTC.
    static func time(seconds: Int64) -> String { Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(isoFormat) }
    /// Unix milliseconds as ISO 8601 UTC with milliseconds.
    static func time(millis: Int64) -> String { Date(timeIntervalSince1970: TimeInterval(millis) / 1000).formatted(isoMillis) }

    /// A time parameter: ISO 8601 (`2026-11-23T10:00:00Z`, fractions allowed, no zone means UTC) or unix milliseconds.
    static func parseTime(_ text: String, field: String) throws(GatehouseError) -> Int64 {
        if let millis = Int64(text), millis >= 0 { return millis }
        var candidate = text
        if !candidate.hasSuffix("Z"), !candidate.contains("+"), candidate.split(separator: "T").last.map({ !$0.contains("-") }) ?? false {
            candidate += "Z"
        }
        if let date = try? isoMillis.parse(candidate) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        if let date = try? isoFormat.parse(candidate) { return Int64(date.timeIntervalSince1970 * 1000) }
        throw .invalid(field, "\(field) must be an ISO 8601 time such as 2026-11-23T10:00:00Z, or unix milliseconds")
    }
}
