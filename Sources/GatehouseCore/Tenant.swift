/// A node of the tenant tree.
public struct Tenant: Codable, Hashable, Sendable {
    /// Database id, stable for the node's life.
    public var id: Int64
    /// Operator-chosen stable key (a slug), unique on the platform; used by import files.
    public var key: String
    public var kind: TenantKind
    /// The parent node; `nil` only for the platform.
    public var parentId: Int64?
    public var name: String
    /// Disabled nodes keep their data but their credentials stop working.
    public var enabled: Bool
    /// Materialised path of ids, `/1/4/9/`, used for subtree checks.
    public var path: String
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: Int64, key: String, kind: TenantKind, parentId: Int64?, name: String, enabled: Bool, path: String, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.key = key
        self.kind = kind
        self.parentId = parentId
        self.name = name
        self.enabled = enabled
        self.path = path
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Whether `other` is this node or lies below it.
    public func contains(_ other: Tenant) -> Bool { other.path.hasPrefix(path) }
}

/// The fields of a node to create.
public struct NewTenant: Sendable, Hashable {
    public var key: String?
    public var kind: TenantKind
    public var parentId: Int64
    public var name: String
    public var enabled: Bool

    public init(key: String? = nil, kind: TenantKind, parentId: Int64, name: String, enabled: Bool = true) {
        self.key = key
        self.kind = kind
        self.parentId = parentId
        self.name = name
        self.enabled = enabled
    }
}

/// A partial update of a node; `nil` leaves a field as it is.
public struct TenantUpdate: Sendable, Hashable {
    public var name: String?
    public var enabled: Bool?
    public init(name: String? = nil, enabled: Bool? = nil) {
        self.name = name
        self.enabled = enabled
    }
}
