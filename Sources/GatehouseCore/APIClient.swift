/// An OAuth scope a client or token can hold.
public enum Scope: String, Codable, Sendable, CaseIterable, Comparable {
    case read
    case write
    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An API client (id + secret, sent with HTTP Basic) belonging to a node of the tree.
public struct APIClient: Codable, Hashable, Sendable {
    public var id: Int64
    /// The public client id (the part before the colon in HTTP Basic).
    public var clientId: String
    public var tenantId: Int64
    public var name: String
    /// The most a token issued to this client may carry.
    public var scopes: [Scope]
    /// Enabled for provisioning (minting on-behalf tokens) by the platform operator.
    public var provisioning: Bool
    public var enabled: Bool
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: Int64, clientId: String, tenantId: Int64, name: String, scopes: [Scope], provisioning: Bool, enabled: Bool, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.clientId = clientId
        self.tenantId = tenantId
        self.name = name
        self.scopes = scopes
        self.provisioning = provisioning
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A client with the SHA-256 hash of its secret, as the store keeps it.
public struct APIClientRecord: Sendable, Hashable {
    public var client: APIClient
    public var secretHash: String
    public init(client: APIClient, secretHash: String) {
        self.client = client
        self.secretHash = secretHash
    }
}

/// The fields of a client to create.
public struct NewAPIClient: Sendable, Hashable {
    public var clientId: String
    public var tenantId: Int64
    public var name: String
    public var scopes: [Scope]
    public var provisioning: Bool
    public var enabled: Bool
    public var secretHash: String

    public init(clientId: String, tenantId: Int64, name: String, scopes: [Scope], provisioning: Bool = false, enabled: Bool = true, secretHash: String) {
        self.clientId = clientId
        self.tenantId = tenantId
        self.name = name
        self.scopes = scopes
        self.provisioning = provisioning
        self.enabled = enabled
        self.secretHash = secretHash
    }
}

/// A partial update of a client; `nil` leaves a field as it is.
public struct APIClientUpdate: Sendable, Hashable {
    public var name: String?
    public var scopes: [Scope]?
    public var provisioning: Bool?
    public var enabled: Bool?
    public var secretHash: String?
    public init(name: String? = nil, scopes: [Scope]? = nil, provisioning: Bool? = nil, enabled: Bool? = nil, secretHash: String? = nil) {
        self.name = name
        self.scopes = scopes
        self.provisioning = provisioning
        self.enabled = enabled
        self.secretHash = secretHash
    }
}

/// A client and its secret in plain text: returned once, when created or rotated.
public struct IssuedAPIClient: Sendable, Hashable {
    public var client: APIClient
    public var secret: String
    public init(client: APIClient, secret: String) {
        self.client = client
        self.secret = secret
    }
}
