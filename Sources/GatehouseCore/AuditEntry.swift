/// One line of the audit log: who did what to which object, and when.
public struct AuditEntry: Codable, Hashable, Sendable {
    public var id: Int64
    /// Unix time in seconds.
    public var at: Int64
    /// `platform-admin`, `user:<id>`, `import`, `system`, ...
    public var actor: String
    /// Dotted action name, e.g. `tenant.create`.
    public var action: String
    public var targetType: String
    public var targetId: String
    /// The node the action happened in (for subtree filtering), if any.
    public var tenantId: Int64?
    /// Short, secret-free detail.
    public var detail: String

    public init(id: Int64 = 0, at: Int64, actor: String, action: String, targetType: String, targetId: String, tenantId: Int64?, detail: String = "") {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.targetType = targetType
        self.targetId = targetId
        self.tenantId = tenantId
        self.detail = detail
    }
}

/// What a mutation should write to the audit log; the store fills in the target id and time.
public struct AuditIntent: Sendable, Hashable {
    public var actor: String
    public var detail: String
    public init(actor: String, detail: String = "") {
        self.actor = actor
        self.detail = detail
    }
}
