import GatehouseCore

/// A token-issue target: the operator, the organization and the preset asked for.
struct IssueTargetKey: Hashable, Sendable {
    var operatorId: Int64
    var organizationId: Int64
    var presetId: Int64
}

/// An API client as client authentication reads it: with its node's `enabled`.
struct AuthenticatingClient: Sendable {
    var record: APIClientRecord
    var tenantEnabled: Bool
    var pair: (record: APIClientRecord, tenantEnabled: Bool) { (record, tenantEnabled) }
}

/// The hot look-ups of a server database, each gathered into multi-key queries (see
/// ``ReadCoalescer``): session and bearer tokens, API clients, activation operators and
/// token-issue targets. The embedded engine caches these instead (``CredentialCache``).
struct CoalescedReads: Sendable {
    let bearers: ReadCoalescer<String, BearerContext>
    let clients: ReadCoalescer<String, AuthenticatingClient>
    let operators: ReadCoalescer<Int64, CredentialCache.ActivationOperator>
    let issueTargets: ReadCoalescer<IssueTargetKey, IssueTarget>

    init(database: any Database) {
        bearers = ReadCoalescer { try await SQLStore.readBearers(database, hashes: $0) }
        clients = ReadCoalescer { try await SQLStore.readClientsForAuthentication(database, clientIds: $0) }
        operators = ReadCoalescer { try await SQLStore.readActivationOperators(database, ids: $0) }
        issueTargets = ReadCoalescer { try await SQLStore.readIssueTargets(database, keys: $0) }
    }
}
