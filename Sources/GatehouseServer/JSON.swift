import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// JSON in and out of Gatehouse's own API: snake_case keys, a size limit, a content type check.
enum JSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    /// Reads and decodes a JSON request body of at most `limit` bytes.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        if let contentType = request.headers[.contentType] {
            let media = RequestMediaType.essence(contentType)
            guard media == "application/json" else {
                throw GatehouseError(.unsupportedMediaType, "the body must be application/json")
            }
        }
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        guard buffer.readableBytes > 0 else { throw GatehouseError(.malformedBody, "the body is empty; a JSON object is required") }
        do {
            return try decoder.decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw ErrorMiddleware.map(decoding: error)
        }
    }

    /// Like ``decode(_:from:limit:)``, but an empty body is `nil` (for routes whose body is optional).
    static func decodeOptional<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T? {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        guard buffer.readableBytes > 0 else { return nil }
        if let contentType = request.headers[.contentType], RequestMediaType.essence(contentType) != "application/json" {
            throw GatehouseError(.unsupportedMediaType, "the body must be application/json")
        }
        do {
            return try decoder.decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw ErrorMiddleware.map(decoding: error)
        }
    }

    /// A JSON response.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A page of items as the /v1 list routes answer it.
struct PageBody<Item: Encodable & Sendable>: Encodable {
    let items: [Item]
    let nextCursor: String?

    init(_ page: Page<Item>) {
        items = page.items
        nextCursor = page.nextCursor
    }

    enum CodingKeys: String, CodingKey { case items, nextCursor }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)  // always present, null on the last page
    }
}

extension Request {
    /// A query parameter, or `nil`.
    func query(_ name: String) -> String? { uri.queryParameters[Substring(name)].map(String.init) }
}

extension GatehouseRequestContext {
    /// A numeric path parameter.
    func id(_ name: String = "id") throws -> Int64 {
        guard let text = parameters.get(name), let value = Int64(text), value > 0 else {
            throw GatehouseError(.invalidRequest, "\(name) must be a positive integer", field: name)
        }
        return value
    }
}
