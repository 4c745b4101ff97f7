extension AgentActivation {
    // MARK: The account's side: its own cameras (the console's end-user pages)

    /// Cameras as an account sees them: the account's own users and the dealers above it.
    ///
    /// The operator API (seed 000) is the dealers'; the console also lets an account's user
    /// add a camera to its own account ("Add camera" gives an activation token), delete one,
    /// and see them all. Such a token is issued by the account's parent node (a dealer node,
    /// its operator: the `operator_id` of the QR code) for the account, with one of the
    /// account's presets, exactly as if that operator had asked for it; the audit log names
    /// the user. `not_found` when the caller cannot see the account.
    public func accountScope(_ caller: Caller, accountId: Int64) async throws -> OperatorCaller {
        let account = try await management.tenant(caller, id: accountId)
        guard account.kind == .account else { throw GatehouseError.invalid("tenant_id", "cameras belong to accounts") }
        guard let parentId = account.parentId, let parent = try await management.store.tenant(id: parentId), parent.kind.isDealer else {
            throw GatehouseError(.conflict, "the account has no operator node above it")
        }
        guard parent.enabled else { throw GatehouseError(.forbidden, "the account's operator node is disabled") }
        return OperatorCaller(operatorTenant: parent, credential: .management, caller: caller)
    }

    /// Issues an activation token for a camera `title` in the account, with one of its presets.
    public func issueAccountToken(_ caller: Caller, accountId: Int64, title: String, presetId: Int64) async throws
        -> (token: String, record: ActivationTokenRecord, operatorId: Int64) {
        let scope = try await accountScope(caller, accountId: accountId)
        let issued = try await issueToken(scope, title: title, organizationId: accountId, presetId: presetId)
        return (issued.token, issued.record, scope.operatorId)
    }

    /// The account's presets (what "Add camera" offers), in id order.
    public func accountPresets(_ caller: Caller, accountId: Int64) async throws -> [Preset] {
        let account = try await management.tenant(caller, id: accountId)
        return try await store.presets(under: account.path, organizationId: account.id, limit: 500, offset: 0).items
    }

    /// Every camera of the account, whichever operator above it made it, by creation time.
    public func accountCameras(_ caller: Caller, accountId: Int64) async throws -> [Camera] {
        let account = try await management.tenant(caller, id: accountId)
        var cameras: [Camera] = []
        for operatorId in Self.ancestorIds(of: account) {
            var offset = 0
            while true {
                let page = try await store.cameras(operatorId: operatorId, organizationId: account.id, limit: 500, offset: offset)
                cameras += page.items
                offset += page.items.count
                if page.items.isEmpty || Int64(offset) >= page.total { break }
            }
        }
        return cameras.sorted { ($0.createdAt, $0.deviceId) < ($1.createdAt, $1.deviceId) }
    }

    /// Deletes one camera of the account by its device id; its agent is deactivated at once.
    /// `not_found` when it is not a camera of this account.
    public func deleteAccountCamera(_ caller: Caller, accountId: Int64, deviceId: Int64) async throws -> Camera {
        guard let camera = try await accountCameras(caller, accountId: accountId).first(where: { $0.deviceId == deviceId }) else {
            throw GatehouseError.notFound("camera", deviceId)
        }
        try await store.deleteCamera(operatorId: camera.operatorId, name: camera.name, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
        return camera
    }

    /// The ids of the nodes above `tenant` (its possible operators), nearest first.
    static func ancestorIds(of tenant: Tenant) -> [Int64] {
        tenant.path.split(separator: "/").compactMap { Int64($0) }.filter { $0 != tenant.id }.reversed()
    }
}
