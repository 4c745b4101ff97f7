/// Who is making a management call, after authentication.
public enum Caller: Sendable {
    /// The platform admin credential made at bootstrap: every right on the whole tree.
    case platformAdmin
    /// A signed-in user acting within its own node's subtree, with its permissions.
    case user(User, Tenant)
    /// Gatehouse itself (import, bootstrap), named for the audit log.
    case system(String)

    /// How the caller appears in the audit log.
    public var auditName: String {
        switch self {
        case .platformAdmin: "platform-admin"
        case .user(let user, _): "user:\(user.id)"
        case .system(let name): name
        }
    }

    /// The path prefix of the subtree the caller may see, or `nil` for the whole tree.
    public var scopePath: String? {
        switch self {
        case .platformAdmin, .system: nil
        case .user(_, let tenant): tenant.path
        }
    }

    /// Whether the caller may see `tenant` (it lies in the caller's subtree).
    public func canSee(_ tenant: Tenant) -> Bool {
        guard let scopePath else { return true }
        return tenant.path.hasPrefix(scopePath)
    }

    /// Throws `forbidden` unless the caller holds `permission`. Account members hold none.
    public func require(_ permission: Permission) throws(GatehouseError) {
        switch self {
        case .platformAdmin, .system: return
        case .user(let user, let tenant):
            guard tenant.kind.isDealer, user.permissions.contains(permission) else {
                throw GatehouseError(.forbidden, "this call needs the \(permission.rawValue) permission")
            }
        }
    }

    /// Throws `forbidden` unless the caller is the platform operator (the admin credential,
    /// or an admin user of the platform node holding `permission`).
    public func requireOperator(_ permission: Permission) throws(GatehouseError) {
        switch self {
        case .platformAdmin, .system: return
        case .user(let user, let tenant):
            guard tenant.kind == .platform, user.permissions.contains(permission) else {
                throw GatehouseError(.forbidden, "only the platform operator may do this")
            }
        }
    }
}
