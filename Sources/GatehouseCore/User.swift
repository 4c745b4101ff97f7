/// A person who signs in: a member of an account (an end user), or an admin user of a
/// dealer node (platform, distributor, reseller) with permissions over its subtree.
public struct User: Codable, Hashable, Sendable {
    public var id: Int64
    public var tenantId: Int64
    /// Lower-cased e-mail address, unique on the platform; the login name.
    public var email: String
    public var name: String
    /// Permissions; meaningful for admin users of dealer nodes only.
    public var permissions: [Permission]
    /// The most an OAuth token of this user may carry (`read`, `write`).
    public var scopes: [Scope]
    public var enabled: Bool
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: Int64, tenantId: Int64, email: String, name: String, permissions: [Permission], scopes: [Scope] = [.read, .write], enabled: Bool, createdAt: Int64, updatedAt: Int64) {
        self.scopes = scopes
        self.id = id
        self.tenantId = tenantId
        self.email = email
        self.name = name
        self.permissions = permissions
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A user together with its stored password hash, as the store keeps it.
public struct UserRecord: Sendable, Hashable {
    public var user: User
    /// PHC-style PBKDF2 string (see ``PasswordHasher``), or `nil` when no password is set.
    public var passwordHash: String?
    public init(user: User, passwordHash: String?) {
        self.user = user
        self.passwordHash = passwordHash
    }
}

/// The fields of a user to create; the password is hashed before it reaches the store.
public struct NewUser: Sendable, Hashable {
    public var tenantId: Int64
    public var email: String
    public var name: String
    public var permissions: [Permission]
    public var scopes: [Scope]
    public var enabled: Bool
    public var passwordHash: String?

    public init(tenantId: Int64, email: String, name: String, permissions: [Permission] = [], scopes: [Scope] = [.read, .write], enabled: Bool = true, passwordHash: String?) {
        self.scopes = scopes
        self.tenantId = tenantId
        self.email = email
        self.name = name
        self.permissions = permissions
        self.enabled = enabled
        self.passwordHash = passwordHash
    }
}

/// A partial update of a user; `nil` leaves a field as it is.
public struct UserUpdate: Sendable, Hashable {
    public var name: String?
    public var email: String?
    public var permissions: [Permission]?
    public var scopes: [Scope]?
    public var enabled: Bool?
    /// A new password hash (the caller hashes).
    public var passwordHash: String?

    public init(name: String? = nil, email: String? = nil, permissions: [Permission]? = nil, scopes: [Scope]? = nil, enabled: Bool? = nil, passwordHash: String? = nil) {
        self.scopes = scopes
        self.name = name
        self.email = email
        self.permissions = permissions
        self.enabled = enabled
        self.passwordHash = passwordHash
    }
}
