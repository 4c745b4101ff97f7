/// The kind of a node in the tenant tree.
///
/// The tree is platform → distributors → resellers → accounts. An account is what the
/// protocols call an organization, an account, or a license key's user; it may also hang
/// directly under the platform or a distributor.
public enum TenantKind: String, Codable, Sendable, CaseIterable {
    case platform
    case distributor
    case reseller
    case account

    /// The kinds a node of this kind may have as its parent.
    public var allowedParents: Set<TenantKind> {
        switch self {
        case .platform: []
        case .distributor: [.platform]
        case .reseller: [.platform, .distributor]
        case .account: [.platform, .distributor, .reseller]
        }
    }

    /// Whether users of a node of this kind are dealer (admin) users rather than end users.
    public var isDealer: Bool { self != .account }
}
