import GatehouseCore

/// A token-issue target: the operator, the organization and the preset asked for.
struct IssueTargetKey: Hashable, Sendable {
    var operatorId: Int64
    var organizationId: Int64
    var presetId: Int64
}

/// The hot look-ups of a server database, each gathered into multi-key queries (see
/// ``ReadCoalescer``): session and bearer tokens, activation operators and token-issue
/// targets. The embedded engine caches these instead (``CredentialCache``).
struct CoalescedReads: Sendable {
    let bearers: ReadCoalescer<String, BearerContext>
    let operators: ReadCoalescer<Int64, CredentialCache.ActivationOperator>
    let issueTargets: ReadCoalescer<IssueTargetKey, IssueTarget>

    init(database: any Database) {
        bearers = ReadCoalescer { try await SQLStore.readBearers(database, hashes: $0) }
        operators = ReadCoalescer { try await SQLStore.readActivationOperators(database, ids: $0) }
        issueTargets = ReadCoalescer { try await SQLStore.readIssueTargets(database, keys: $0) }
    }
}
