import HTTPTypes

/// The media type of a `Content-Type` value without its parameters, lower-cased:
/// `Application/JSON; charset=utf-8` → `application/json` (no Foundation on this hot path).
enum RequestMediaType {
    static func essence(_ contentType: String) -> String {
        let type = contentType.utf8.prefix { $0 != UInt8(ascii: ";") }
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let start = type.firstIndex(where: { !isSpace($0) }), let end = type.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(decoding: type[start...end], as: UTF8.self).lowercased()
    }

    /// The media type of a request's `Content-Type`; nil when it has none.
    static func of(_ fields: HTTPFields) -> String? {
        fields[.contentType].map(essence)
    }
}
