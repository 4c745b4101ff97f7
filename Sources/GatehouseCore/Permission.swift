/// What an admin user of a dealer node may do within its subtree.
public enum Permission: String, Codable, Sendable, CaseIterable, Comparable {
    /// Create, edit and delete nodes below the user's own node.
    case manageTenants = "manage_tenants"
    /// Create, edit and delete users in the subtree.
    case manageUsers = "manage_users"
    /// Create, edit, rotate and delete API clients in the subtree.
    case manageClients = "manage_clients"
    /// Read the audit log of the subtree.
    case readAudit = "read_audit"
    /// The seed-001 "Generate access token" permission (needs the node's feature switch).
    case generateAccessToken = "generate_access_token"

    public static func < (lhs: Permission, rhs: Permission) -> Bool { lhs.rawValue < rhs.rawValue }
}
