import Foundation
import GatehouseCore
import Hummingbird

/// The agent's local API (seed 000), for the app on the camera's network:
/// `POST /activate` and `GET /agent-status`.
public enum AgentLocalAPI {
    /// The largest `/activate` body, in bytes.
    public static let bodyLimit = 16 * 1024

    /// The router of the local API over `agent`.
    public static func router(_ agent: DeviceAgent) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/agent-status") { _, _ in
            try await statusResponse(agent)
        }
        router.post("/activate") { request, _ in
            try await activate(request, agent)
        }
        return router
    }

    /// `{"version","status","serial"}`.
    static func statusResponse(_ agent: DeviceAgent, status code: HTTPResponse.Status = .ok) async throws -> Response {
        let status = await agent.status
        return json(["version": agent.version, "status": status.rawValue, "serial": agent.serial], status: code)
    }

    /// `POST /activate`: a form (`application/x-www-form-urlencoded`, charset UTF-8 if one is
    /// named) with `operatorid`, `sign` and optionally `abonentid`. 200 as soon as the request
    /// is held in the state file; the server is called afterwards.
    static func activate(_ request: Request, _ agent: DeviceAgent) async throws -> Response {
        guard let contentType = request.headers[.contentType], isUTF8Form(contentType) else {
            return error(.unsupportedMediaType, "unsupported_media_type",
                         "the body must be application/x-www-form-urlencoded (charset UTF-8)")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: bodyLimit)
        } catch {
            return Self.error(.contentTooLarge, "payload_too_large", "the body must be at most \(bodyLimit) bytes")
        }
        guard let text = String(validating: body.readableBytesView, as: UTF8.self), let pairs = FormEncoding.parse(text) else {
            return error(.badRequest, "invalid_request", "the form body is not validly encoded UTF-8")
        }
        var fields: [String: String] = [:]
        for (key, value) in pairs {
            guard fields[key] == nil else { return error(.badRequest, "invalid_request", "\(key) is given more than once") }
            fields[key] = value
        }
        guard let operatorText = fields["operatorid"], !operatorText.isEmpty else {
            return error(.badRequest, "invalid_request", "operatorid is required")
        }
        guard operatorText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let operatorId = Int64(operatorText), operatorId > 0 else {
            return error(.badRequest, "invalid_request", "operatorid must be a positive integer")
        }
        guard let sign = fields["sign"], !sign.isEmpty else { return error(.badRequest, "invalid_request", "sign is required") }
        guard AgentInput.isToken(sign) else { return error(.badRequest, "invalid_request", "sign must be 1 to 128 printable ASCII characters") }
        let abonent = fields["abonentid"].flatMap { $0.isEmpty ? nil : $0 }
        if let abonent, abonent.utf8.count > 254 || abonent.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return error(.badRequest, "invalid_request", "abonentid must be an e-mail address of at most 254 bytes")
        }
        do {
            try await agent.submit(PendingActivation(operatorId: operatorId, token: sign, abonentId: abonent))
        } catch {
            return Self.error(.internalServerError, "internal", "the agent cannot write its state directory")
        }
        return try await statusResponse(agent)
    }

    /// `application/x-www-form-urlencoded`, with no charset or charset UTF-8 (any case, quoted or not).
    public static func isUTF8Form(_ contentType: String) -> Bool {
        let parts = contentType.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard parts.first == "application/x-www-form-urlencoded" else { return false }
        for parameter in parts.dropFirst() where !parameter.isEmpty {
            let pieces = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pieces.count == 2 else { return false }
            if pieces[0] == "charset" {
                let value = pieces[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                guard value == "utf-8" || value == "utf8" else { return false }
            }
        }
        return true
    }

    static func json(_ object: [String: String], status: HTTPResponse.Status) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        let object: [String: Any] = ["error": ["code": code, "message": message]]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
