/// The one error type of Gatehouse's core.
///
/// Every failure the core reports is a `GatehouseError` with a stable ``Code``; each
/// surface maps the code to its own wire format (HTTP status and body) at the edge.
/// The `message` is meant for the caller and never carries secrets or internals.
public struct GatehouseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The request is syntactically wrong (bad parameter, bad query string).
        public static let invalidRequest = Code(rawValue: "invalid_request")
        /// The body is not valid JSON.
        public static let malformedBody = Code(rawValue: "malformed_body")
        /// A field is missing, has the wrong type, or a value breaks a rule.
        public static let validationFailed = Code(rawValue: "validation_failed")
        /// No credential, or a credential that is unknown, expired or revoked.
        public static let unauthenticated = Code(rawValue: "unauthenticated")
        /// The credential is valid but may not do this.
        public static let forbidden = Code(rawValue: "forbidden")
        /// The addressed object does not exist (or is outside the caller's subtree).
        public static let notFound = Code(rawValue: "not_found")
        /// The route exists, but not for this method.
        public static let methodNotAllowed = Code(rawValue: "method_not_allowed")
        /// The object already exists or the change conflicts with the current state.
        public static let conflict = Code(rawValue: "conflict")
        /// The body is larger than the configured limit.
        public static let payloadTooLarge = Code(rawValue: "payload_too_large")
        /// The request's headers are larger than the server accepts (HTTP 431).
        public static let headersTooLarge = Code(rawValue: "headers_too_large")
        /// The body has a content type the route does not take.
        public static let unsupportedMediaType = Code(rawValue: "unsupported_media_type")
        /// Too many attempts; try again later.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// An account or channel limit (cameras, storage, bandwidth) would be exceeded.
        public static let limitExceeded = Code(rawValue: "limit_exceeded")
        /// Storing this would pass the channel's or the account's storage limit (HTTP 507).
        public static let insufficientStorage = Code(rawValue: "insufficient_storage")
        /// The database (or another dependency) is unreachable.
        public static let unavailable = Code(rawValue: "unavailable")
        /// OAuth: the client could not be authenticated (RFC 6749 `invalid_client`).
        public static let invalidClient = Code(rawValue: "invalid_client")
        /// OAuth: the grant (password, refresh token) is invalid, expired or revoked.
        public static let invalidGrant = Code(rawValue: "invalid_grant")
        /// OAuth: the grant type is not supported.
        public static let unsupportedGrantType = Code(rawValue: "unsupported_grant_type")
        /// OAuth: the requested scope exceeds what the client and user allow.
        public static let invalidScope = Code(rawValue: "invalid_scope")
        /// Something went wrong inside Gatehouse; details are only in the server log.
        public static let `internal` = Code(rawValue: "internal_error")
    }

    /// The stable code.
    public var code: Code
    /// A short human-readable explanation, safe to show to the caller.
    public var message: String
    /// The request field at fault, when there is one.
    public var field: String?

    /// Creates an error with a code, a message and optionally the field at fault.
    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String {
        if let field { return "\(code): \(message) (field \(field))" }
        return "\(code): \(message)"
    }

    /// A field failed validation.
    public static func invalid(_ field: String, _ message: String) -> GatehouseError {
        GatehouseError(.validationFailed, message, field: field)
    }

    /// An object of `kind` with `id` does not exist for this caller.
    public static func notFound(_ kind: String, _ id: some CustomStringConvertible) -> GatehouseError {
        GatehouseError(.notFound, "\(kind) \(id) not found")
    }
}
