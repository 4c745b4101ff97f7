import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// The JSON error body of Gatehouse's own API (/v1 and the operations routes):
/// `{"error":{"code":"…","message":"…","field":"…","request_id":"…"}}`.
struct APIErrorBody: Encodable {
    struct Detail: Encodable {
        let code: String
        let message: String
        let field: String?
        let requestId: String
    }
    let error: Detail
}

extension GatehouseError.Code {
    /// The HTTP status of each code on Gatehouse's own API.
    var httpStatus: HTTPResponse.Status {
        switch self {
        case .invalidRequest, .malformedBody: .badRequest
        case .validationFailed: .unprocessableContent
        case .unauthenticated: .unauthorized
        case .forbidden, .limitExceeded: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .insufficientStorage: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        case .rateLimited: .tooManyRequests
        case .invalidClient: .unauthorized
        case .invalidGrant, .unsupportedGrantType, .invalidScope: .badRequest
        case .unavailable: .serviceUnavailable
        default: .internalServerError
        }
    }
}

extension GatehouseError {
    /// The core error for an HTTP status raised by the framework (404, 413, ...).
    static func fromHTTP(_ status: HTTPResponse.Status, message: String?) -> GatehouseError {
        switch status {
        case .notFound: GatehouseError(.notFound, message ?? "no such route")
        case .methodNotAllowed: GatehouseError(.methodNotAllowed, message ?? "method not allowed")
        case .contentTooLarge: GatehouseError(.payloadTooLarge, message ?? "the request body is too large")
        case .unsupportedMediaType: GatehouseError(.unsupportedMediaType, message ?? "unsupported content type")
        case .unauthorized: GatehouseError(.unauthenticated, message ?? "authentication required")
        case .forbidden: GatehouseError(.forbidden, message ?? "forbidden")
        case .conflict: GatehouseError(.conflict, message ?? "conflict")
        case .tooManyRequests: GatehouseError(.rateLimited, message ?? "too many requests")
        case .serviceUnavailable: GatehouseError(.unavailable, message ?? "service unavailable")
        default:
            status.code >= 500 ? GatehouseError(.internal, "internal error") : GatehouseError(.invalidRequest, message ?? status.reasonPhrase)
        }
    }
}

/// Each surface renders errors in its own dialect; the path says which surface a request is for.
enum ErrorFormat {
    /// Gatehouse's own API: `{"error":{"code","message","field","request_id"}}`.
    case gatehouse
    /// The OAuth endpoints (RFC 6749 §5.2): `{"error":"invalid_grant","error_description":"…"}`.
    case oauth
    /// The partner REST API (seed 001): `{"code":401,"title":"Unauthorized","detail":"…"}`.
    case partner
    /// The tiered-access API (seed 002): `{"status":403,"errorType":"forbidden","errorDetail":"…"}`.
    case tiered
    /// Serial provisioning (seed 003): a short `text/plain` line; old firmware reads only
    /// the status line and a few bytes more.
    case provisioning
    /// Signed onboarding (seed 004): `{"error":{"code":"0110","message":"…","target":"","details":[]}}`.
    case onboarding

    init(path: String) {
        if path.hasPrefix("/api/v1.0/registration/") || path.hasPrefix("/registration/") || path.hasPrefix("/api/v1.0/gateway/") {
            self = .onboarding
        } else if path.hasPrefix("/oauth/") {
            self = .oauth
        } else if path.hasPrefix("/rest/") {
            self = .partner
        } else if path.hasPrefix("/api/") {
            self = .tiered
        } else if path.hasPrefix("/provision/") || path == "/timestamp" || path == "/timestamp/" {
            self = .provisioning
        } else {
            self = .gatehouse
        }
    }

    func response(_ error: GatehouseError, requestID: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        if case .provisioning = self {
            // The vendor API answers bad input with 400 (its clients know no 422).
            let status: HTTPResponse.Status = error.code == .validationFailed ? .badRequest : error.code.httpStatus
            headers[.contentType] = ProvisioningReply.textType
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: error.message)))
        }
        headers[.contentType] = "application/json; charset=utf-8"
        if case .onboarding = self {
            let wire = error.onboardingWire
            let body: [String: Any] = ["error": ["code": wire.code, "message": error.message, "target": error.field ?? "", "details": [Any]()] as [String: Any]]
            let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return Response(status: HTTPResponse.Status(code: wire.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        let status = error.code.httpStatus
        let data: Data?
        switch self {
        case .gatehouse:
            data = try? JSON.encoder.encode(APIErrorBody(error: .init(code: error.code.rawValue, message: error.message, field: error.field, requestId: requestID)))
        case .oauth:
            headers[.cacheControl] = "no-store"
            let code: String
            switch error.code {
            case .invalidClient, .invalidGrant, .unsupportedGrantType, .invalidScope: code = error.code.rawValue
            case .unavailable: code = "temporarily_unavailable"
            case .internal: code = "server_error"
            default: code = "invalid_request"
            }
            data = try? JSONSerialization.data(withJSONObject: ["error": code, "error_description": error.message], options: [.sortedKeys, .withoutEscapingSlashes])
        case .partner:
            data = try? JSONSerialization.data(
                withJSONObject: ["code": Int(status.code), "title": status.reasonPhrase, "detail": error.message] as [String: Any],
                options: [.sortedKeys, .withoutEscapingSlashes])
        case .tiered:
            var body: [String: Any] = ["status": Int(status.code), "errorType": error.code.rawValue, "errorDetail": error.message]
            if let field = error.field { body["field"] = field }
            data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        case .provisioning, .onboarding:
            data = nil
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data ?? Data("{}".utf8))))
    }
}
