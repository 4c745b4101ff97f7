import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Turns every error into Gatehouse's JSON error body with the right 4xx/5xx status.
///
/// Core errors keep their code; the framework's HTTP errors (unknown route, body too
/// large) and JSON decoding errors get a matching code; a route matched with the wrong
/// method answers 405 with `Allow`. Anything else is a 500 that says nothing about
/// internals and is logged with the request id.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    let routes: RouteTableBox

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var headers = HTTPFields()
            let mapped = map(error, request: request, context: context, headers: &headers)
            return ErrorFormat(path: request.uri.path).response(mapped, requestID: context.requestID, headers: headers)
        }
    }

    func map(_ error: any Error, request: Request, context: Context, headers: inout HTTPFields) -> GatehouseError {
        switch error {
        case let error as GatehouseError:
            if error.code == .internal { context.logger.error("internal error", metadata: ["error": "\(error.message)"]) }
            if error.code == .unauthenticated {
                let path = request.uri.path
                headers[.wwwAuthenticate] = ErrorFormat(path: path) == .onboarding ? "Bearer realm=\"gatehouse\""
                    : path.hasPrefix("/api/") ? "LKey realm=\"gatehouse\", Acc, SI"
                    : path.hasPrefix("/provision/") ? "X-Exosite-Token realm=\"gatehouse\"" : "Bearer realm=\"gatehouse\""
            }
            if error.code == .invalidClient { headers[.wwwAuthenticate] = "Basic realm=\"gatehouse\"" }
            return error
        case let error as DecodingError:
            return Self.map(decoding: error)
        case let error as HTTPError:
            if error.status == .notFound {
                let allowed = routes.table.methods(for: request.uri.path)
                if !allowed.isEmpty {
                    headers[.allow] = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                    return GatehouseError(.methodNotAllowed, "\(request.method.rawValue) is not allowed here; allowed: \(headers[.allow] ?? "")")
                }
            }
            return GatehouseError.fromHTTP(error.status, message: error.body)
        case is NIOTooManyBytesError:
            return GatehouseError(.payloadTooLarge, "the request body is larger than the limit")
        case is CancellationError:
            return GatehouseError(.unavailable, "the request was cancelled")
        default:
            context.logger.error("internal error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return GatehouseError(.internal, "internal error; quote the request id when reporting it")
        }
    }

    /// A JSON decoding failure as `malformed_body` (not JSON) or `validation_failed` (wrong shape).
    static func map(decoding error: DecodingError) -> GatehouseError {
        func path(_ codingPath: [any CodingKey], _ key: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (key.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = Self.snake(path(context.codingPath, key))
            return GatehouseError.invalid(field, "\(field) is required")
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            if context.codingPath.isEmpty { return GatehouseError(.validationFailed, "the body must be a JSON object") }
            let field = Self.snake(path(context.codingPath))
            return GatehouseError.invalid(field, "\(field) has the wrong type")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return GatehouseError(.malformedBody, "the body is not valid JSON") }
            let field = Self.snake(path(context.codingPath))
            return GatehouseError.invalid(field, "\(field) has an invalid value")
        @unknown default:
            return GatehouseError(.malformedBody, "the body could not be read")
        }
    }

    static func snake(_ text: String) -> String {
        var out = ""
        for character in text {
            if character.isUppercase { out += "_" + character.lowercased() } else { out.append(character) }
        }
        return out
    }

    static func response(_ error: GatehouseError, requestID: String, headers: HTTPFields = [:]) -> Response {
        ErrorFormat.gatehouse.response(error, requestID: requestID, headers: headers)
    }
}

/// Adds `X-Request-Id` to every answer and logs one structured line per request:
/// method, route, status and duration, with the request id (never headers or bodies).
/// The provisioning device routes go without it: old firmware reads only ~200 bytes.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    static let bareRoutes: Set<String> = ["/provision/activate", "/provision/download", "/timestamp"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        let path = request.uri.path
        if !Self.bareRoutes.contains(path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path) { response.headers[.requestID] = context.requestID }
        let elapsed = ContinuousClock.now - start
        let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        context.logger.info("request", metadata: [
            "method": "\(request.method.rawValue)",
            "path": "\(request.uri.path)",
            "status": "\(response.status.code)",
            "duration_us": "\(micros)",
        ])
        return response
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
}
