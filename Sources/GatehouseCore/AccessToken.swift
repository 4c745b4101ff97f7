/// What an access token stands for.
public enum AccessTokenKind: String, Codable, Sendable {
    /// The platform admin token made at bootstrap: every right on the whole tree.
    case platformAdmin = "platform_admin"
    /// A /v1 session of a user, made by signing in with e-mail and password.
    case userSession = "user_session"
    /// An OAuth access token (partner auth, password or refresh grant).
    case oauthAccess = "oauth_access"
    /// An OAuth refresh token: valid until the user logs out or it is revoked.
    case oauthRefresh = "oauth_refresh"
    /// An access token a dealer minted on behalf of an end user.
    case onBehalf = "on_behalf"
    /// An OAuth access token of the client_credentials grant: no user, it acts as the API
    /// client in the client's node, with the client's scopes (RFC 6749 §4.4).
    case clientCredentials = "client_credentials"
}

/// A bearer credential as the store keeps it: only the SHA-256 of the token is stored.
public struct AccessTokenRecord: Sendable, Hashable {
    public var id: Int64
    public var tokenHash: String
    public var kind: AccessTokenKind
    public var userId: Int64?
    public var expiresAt: Int64?
    public var revokedAt: Int64?
    public var createdAt: Int64
    /// The API client the token was issued to (OAuth tokens).
    public var clientId: Int64?
    /// Granted scopes.
    public var scopes: [Scope]
    /// For an access token: the refresh token it came from.
    public var refreshId: Int64?
    /// For an on-behalf token: the dealer admin user who minted it.
    public var mintedBy: Int64?

    public init(id: Int64 = 0, tokenHash: String, kind: AccessTokenKind, userId: Int64?, expiresAt: Int64?, revokedAt: Int64? = nil, createdAt: Int64,
                clientId: Int64? = nil, scopes: [Scope] = [], refreshId: Int64? = nil, mintedBy: Int64? = nil) {
        self.id = id
        self.clientId = clientId
        self.scopes = scopes
        self.refreshId = refreshId
        self.mintedBy = mintedBy
        self.tokenHash = tokenHash
        self.kind = kind
        self.userId = userId
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.createdAt = createdAt
    }

    /// Whether the token may be used at `now` (unix seconds).
    public func isUsable(at now: Int64) -> Bool {
        if revokedAt != nil { return false }
        if let expiresAt, expiresAt <= now { return false }
        return true
    }
}
