import GatehouseCore

/// The model of `dealer.mustache`: a dealer admin's accounts and users (issue 10, point 3),
/// the user search by e-mail, and the "Generate access token" form with a token just minted.
struct ConsoleDealerPage: Sendable {
    struct AccountRow: Sendable {
        let id: Int64
        let name: String
        let key: String
        let enabled: Bool
        let devicesHref: String
    }

    struct UserRow: Sendable {
        let id: Int64
        let email: String
        let name: String
        let node: String
        let nodeId: Int64
        let enabled: Bool
        /// Set when the user belongs to an account (an on-behalf token can act as it).
        let accountId: Int64?
    }

    struct ClientOption: Sendable {
        let clientId: String
        let name: String
        let selected: Bool
    }

    /// The "Generate access token" form: what was typed and its errors.
    struct MintForm: Sendable {
        var accountId = ""
        var userId = ""
        var clientId = ""
        var write = false
        var errors: [String: String] = [:]
    }

    /// A token just minted: shown once.
    struct Minted: Sendable {
        let token: String
        let userEmail: String
        let scopes: String
        let expires: ConsoleTime?
    }

    let frame: ConsoleFrame
    let csrf: String
    let accounts: [AccountRow]
    let users: [UserRow]
    let email: String
    let searchError: String?
    let searched: Bool
    /// Whether the dealer may mint: the node's module is on and the user holds the permission.
    let canMint: Bool
    let clients: [ClientOption]
    let mint: MintForm
    let minted: Minted?
}

/// The model of `audit.mustache`: one page of the audit log of the user's subtree.
struct ConsoleAuditPage: Sendable {
    struct Row: Sendable {
        let id: Int64
        let at: ConsoleTime
        let actor: String
        let action: String
        let target: String
        let tenantId: String
        let detail: String
    }

    let frame: ConsoleFrame
    let rows: [Row]
    let next: String?
    let first: Bool
}
