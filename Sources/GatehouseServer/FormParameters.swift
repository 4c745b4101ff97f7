import Foundation
import GatehouseCore
import Hummingbird

/// Request parameters of the OAuth endpoints: the query string and, for
/// `application/x-www-form-urlencoded` bodies, the form fields (a form field wins).
struct FormParameters: Sendable {
    var values: [String: String]

    subscript(_ name: String) -> String? { values[name] }

    /// Reads the query string and the form body (at most `limit` bytes).
    static func read(_ request: Request, limit: Int) async throws -> FormParameters {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { values[String(key)] = String(value) }
        if let text = try await body(request, limit: limit) {
            for (key, value) in try parse(text) { values[key] = value }
        }
        return FormParameters(values: values)
    }

    /// The text of an `application/x-www-form-urlencoded` body of at most `limit` bytes; nil when there is none.
    static func body(_ request: Request, limit: Int) async throws -> String? {
        var request = request
        let body = try await request.collectBody(upTo: limit)
        guard body.readableBytes > 0 else { return nil }
        let media = RequestMediaType.of(request.headers)
        guard media == "application/x-www-form-urlencoded" else {
            throw GatehouseError(.unsupportedMediaType, "the body must be application/x-www-form-urlencoded")
        }
        guard let text = body.getString(at: body.readerIndex, length: body.readableBytes) else {
            throw GatehouseError(.invalidRequest, "the form body is not valid UTF-8")
        }
        return text
    }

    /// Parses `a=1&b=two+words`: `+` is a space, `%XX` an escaped byte.
    static func parse(_ text: String) throws(GatehouseError) -> [(String, String)] {
        var pairs: [(String, String)] = []
        for part in text.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = decode(pieces[0]), let value = decode(pieces.count > 1 ? pieces[1] : "") else {
                throw GatehouseError(.invalidRequest, "the form body is not validly encoded")
            }
            pairs.append((key, value))
        }
        return pairs
    }

    static func decode(_ text: Substring) -> String? { FormEncoding.decode(text) }
}
