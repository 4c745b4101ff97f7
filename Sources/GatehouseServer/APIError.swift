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
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .rateLimited: .tooManyRequests
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
