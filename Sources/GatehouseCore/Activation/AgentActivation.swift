/// The rules of agent activation (seed 000): operator sessions and API keys, organizations
/// and presets, short single-use activation tokens, the activation endpoint agents call,
/// cameras (deleting one deactivates its agent), and limits on guessing tokens.
public struct AgentActivation: Sendable {
    public let store: any ActivationStore
    public let management: Management
    public let clock: any GatehouseClock
    /// Where agents connect when the operator has not set a `watcher_url`.
    public let defaultWatcherURL: String
    public let limits: GuessLimits

    /// How many failed redemptions are tolerated per source address and per operator within `window` seconds.
    public struct GuessLimits: Sendable {
        public var perAddress: Int64
        public var perOperator: Int64
        public var windowMinutes: Int64
        /// Seconds after a redemption during which the same agent may ask again for its credentials.
        public var retryWindow: Int64
        public init(perAddress: Int64 = 20, perOperator: Int64 = 500, windowMinutes: Int64 = 15, retryWindow: Int64 = 600) {
            self.perAddress = perAddress
            self.perOperator = perOperator
            self.windowMinutes = windowMinutes
            self.retryWindow = retryWindow
        }
    }

    /// The service over its store and the tree's management rules.
    public init(store: any ActivationStore, management: Management, clock: any GatehouseClock, defaultWatcherURL: String, limits: GuessLimits = GuessLimits()) {
        self.store = store
        self.management = management
        self.clock = clock
        self.defaultWatcherURL = defaultWatcherURL
        self.limits = limits
    }

    // MARK: Callers

    /// The operator behind a session key (`x-vsaas-session`): a user of a dealer node.
    public func caller(session: String) async throws -> OperatorCaller {
        let invalid = GatehouseError(.unauthenticated, "the session is not valid")
        // One look-up (cached on the embedded engine) of the token, its user and the user's node.
        guard !session.isEmpty, session.utf8.count <= 512, let context = try await store.bearer(hash: Secrets.hash(session)),
              context.token.kind == .userSession, context.token.isUsable(at: clock.now()),
              let user = context.user, user.enabled, let tenant = context.tenant, tenant.enabled
        else { throw invalid }
        guard tenant.kind.isDealer else { throw GatehouseError(.forbidden, "only operator users may use this API") }
        return OperatorCaller(operatorTenant: tenant, credential: .session(userId: user.id), caller: .user(user, tenant))
    }

    /// The operator behind an API key (`x-vsaas-api-key`).
    public func caller(apiKey: String) async throws -> OperatorCaller {
        guard !apiKey.isEmpty, apiKey.utf8.count <= 256, let found = try await store.operatorAPIKey(hash: Secrets.hash(apiKey)), found.operator.enabled else {
            throw GatehouseError(.unauthenticated, "the API key is not valid")
        }
        return OperatorCaller(operatorTenant: found.operator, credential: .apiKey(keyId: found.key.id), caller: .system("operator-api-key:\(found.key.id)"))
    }

    /// Creates an API key for an operator node the core caller manages; the key is shown once.
    public func createAPIKey(_ caller: Caller, operatorId: Int64, name: String) async throws -> (key: OperatorAPIKey, secret: String) {
        try caller.require(.manageClients)
        let node = try await management.tenant(caller, id: operatorId)
        guard node.kind.isDealer else { throw GatehouseError.invalid("tenant_id", "API keys belong to operator (dealer) nodes") }
        let secret = Secrets.token(prefix: "gvk_", byteCount: 32)
        let key = try await store.createOperatorAPIKey(operatorId: node.id, name: try Validation.name(name), keyHash: Secrets.hash(secret), at: clock.now(),
                                                       audit: AuditIntent(actor: caller.auditName, detail: name))
        return (key, secret)
    }

    /// An operator node's live API keys.
    public func apiKeys(_ caller: Caller, operatorId: Int64) async throws -> [OperatorAPIKey] {
        try await store.operatorAPIKeys(operatorId: try await management.tenant(caller, id: operatorId).id)
    }

    /// Revokes an API key; it stops working at once.
    public func revokeAPIKey(_ caller: Caller, operatorId: Int64, keyId: Int64) async throws {
        try caller.require(.manageClients)
        let node = try await management.tenant(caller, id: operatorId)
        try await store.revokeOperatorAPIKey(id: keyId, operatorId: node.id, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
    }

    /// Token format, validity and watcher URL of an operator node.
    public func settings(_ caller: Caller, operatorId: Int64) async throws -> OperatorSettings {
        try await store.operatorSettings(operatorId: try await management.tenant(caller, id: operatorId).id)
    }

    /// Changes an operator node's activation settings.
    public func setSettings(_ caller: Caller, operatorId: Int64, _ settings: OperatorSettings) async throws -> OperatorSettings {
        try caller.require(.manageTenants)
        let node = try await management.tenant(caller, id: operatorId)
        guard node.kind.isDealer else { throw GatehouseError.invalid("tenant_id", "activation settings belong to operator (dealer) nodes") }
        let valid = try ActivationValidation.settings(settings)
        try await store.setOperatorSettings(operatorId: node.id, valid, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
        return valid
    }

    // MARK: Organizations

    /// An organization (account node) under the operator.
    public func organization(_ caller: OperatorCaller, id: Int64, field: String? = nil) async throws -> Organization {
        guard let tenant = try await management.store.tenant(id: id), tenant.kind == .account, tenant.path.hasPrefix(caller.operatorTenant.path) else {
            if let field { throw GatehouseError(.notFound, "organization \(id) not found", field: field) }
            throw GatehouseError.notFound("organization", id)
        }
        return try await organizations(of: [tenant])[0]
    }

    func organizations(of tenants: [Tenant]) async throws -> [Organization] {
        let profiles = try await store.organizationProfiles(ids: tenants.map(\.id))
        return tenants.map { tenant in
            let profile = profiles[tenant.id]
            return Organization(tenant: tenant, note: profile?.note ?? "", ownerId: profile?.ownerId ?? nil,
                                cameraLimit: profile?.cameraLimit ?? nil, userLimit: profile?.userLimit ?? nil)
        }
    }

    /// The operator's organizations, in id order (at most 500 from `after`).
    public func organizations(_ caller: OperatorCaller, after: Int64?) async throws -> Page<Organization> {
        let page = try await management.store.listTenants(under: caller.operatorTenant.path, kind: .account, parentId: nil,
                                                          page: PageRequest(limit: PageRequest.maxLimit, after: after))
        return Page(items: try await organizations(of: page.items), nextCursor: page.nextCursor)
    }

    /// Creates an organization directly under the operator.
    public func createOrganization(_ caller: OperatorCaller, _ input: OrganizationInput) async throws -> Organization {
        guard let title = input.title else { throw GatehouseError.invalid("title", "title is required") }
        // The profile is checked before the node is made, so a bad one leaves nothing behind.
        _ = try ActivationValidation.text(input.note ?? "", field: "note", max: 2000)
        _ = try ActivationValidation.limit(input.cameraLimit ?? nil, field: "camera_limit")
        _ = try ActivationValidation.limit(input.userLimit ?? nil, field: "user_limit")
        let tenant = try await management.createTenant(caller.caller, NewTenant(kind: .account, parentId: caller.operatorId, name: title))
        try await saveProfile(tenant.id, input, base: nil)
        return try await organization(caller, id: tenant.id)
    }

    /// Edits an organization (absent fields keep their value).
    public func updateOrganization(_ caller: OperatorCaller, id: Int64, _ input: OrganizationInput) async throws -> Organization {
        let existing = try await organization(caller, id: id)
        // The profile is checked before the title changes, so a bad one changes nothing.
        _ = try ActivationValidation.text(input.note ?? existing.note, field: "note", max: 2000)
        _ = try ActivationValidation.limit(input.cameraLimit ?? existing.cameraLimit, field: "camera_limit")
        _ = try ActivationValidation.limit(input.userLimit ?? existing.userLimit, field: "user_limit")
        if let title = input.title { _ = try await management.updateTenant(caller.caller, id: id, TenantUpdate(name: title)) }
        try await saveProfile(id, input, base: existing)
        return try await organization(caller, id: id)
    }

    func saveProfile(_ id: Int64, _ input: OrganizationInput, base: Organization?) async throws {
        let note = try ActivationValidation.text(input.note ?? base?.note ?? "", field: "note", max: 2000)
        let cameraLimit = try ActivationValidation.limit(input.cameraLimit ?? base?.cameraLimit, field: "camera_limit")
        let userLimit = try ActivationValidation.limit(input.userLimit ?? base?.userLimit, field: "user_limit")
        try await store.saveOrganizationProfile(id: id, note: note, ownerId: input.ownerId ?? base?.ownerId, cameraLimit: cameraLimit, userLimit: userLimit)
    }

    /// Deletes an organization without cameras or child nodes.
    public func deleteOrganization(_ caller: OperatorCaller, id: Int64) async throws {
        _ = try await organization(caller, id: id)
        guard try await store.cameras(operatorId: caller.operatorId, organizationId: id, limit: 1, offset: 0).total == 0 else {
            throw GatehouseError(.conflict, "organization \(id) still has cameras; delete them first")
        }
        try await management.deleteTenant(caller.caller, id: id)
    }

    // MARK: Presets

    /// The presets of organization (account) node `organizationId` as a /v1 caller sees
    /// them: the node must be visible to the caller; writes need `manage_tenants`.
    public func organizationScope(_ caller: Caller, organizationId: Int64, write: Bool) async throws -> OperatorCaller {
        if write { try caller.require(.manageTenants) }
        let node = try await management.tenant(caller, id: organizationId)
        guard node.kind == .account else { throw GatehouseError.invalid("id", "presets belong to organization (account) nodes") }
        return OperatorCaller(operatorTenant: node, credential: .management, caller: caller)
    }

    /// The scope of a preset for a /v1 caller (`not_found` when the caller cannot see it).
    public func presetScope(_ caller: Caller, presetId: Int64, write: Bool) async throws -> OperatorCaller {
        guard let preset = try await store.preset(id: presetId), (try? await management.tenant(caller, id: preset.organizationId)) != nil else {
            throw GatehouseError.notFound("preset", presetId)
        }
        return try await organizationScope(caller, organizationId: preset.organizationId, write: write)
    }

    /// A preset of one of the operator's organizations.
    public func preset(_ caller: OperatorCaller, id: Int64, field: String? = nil) async throws -> Preset {
        guard let preset = try await store.preset(id: id), (try? await organization(caller, id: preset.organizationId)) != nil else {
            if let field { throw GatehouseError(.notFound, "preset \(id) not found", field: field) }
            throw GatehouseError.notFound("preset", id)
        }
        return preset
    }

    /// The operator's presets, optionally of one organization.
    public func presets(_ caller: OperatorCaller, organizationId: Int64?, limit: Int?, offset: Int?) async throws -> OffsetPage<Preset> {
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        if let organizationId { _ = try await organization(caller, id: organizationId, field: "organization_id") }
        return try await store.presets(under: caller.operatorTenant.path, organizationId: organizationId, limit: paging.limit, offset: paging.offset)
    }

    /// Creates a preset for an organization.
    public func createPreset(_ caller: OperatorCaller, organizationId: Int64, title: String, settings: [String: String]) async throws -> Preset {
        let organization = try await organization(caller, id: organizationId, field: "organization_id")
        return try await store.createPreset(organizationId: organization.tenant.id, title: try Validation.name(title, field: "title"),
                                            settings: try ActivationValidation.settingsMap(settings), at: clock.now(),
                                            audit: AuditIntent(actor: caller.auditName, detail: title))
    }

    /// Edits a preset's title or settings.
    public func updatePreset(_ caller: OperatorCaller, id: Int64, title: String?, settings: [String: String]?) async throws -> Preset {
        var preset = try await preset(caller, id: id)
        if let title { preset.title = try Validation.name(title, field: "title") }
        if let settings { preset.settings = try ActivationValidation.settingsMap(settings) }
        return try await store.updatePreset(preset, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
    }

    /// Deletes a preset (cameras made with it keep their settings).
    public func deletePreset(_ caller: OperatorCaller, id: Int64) async throws {
        _ = try await preset(caller, id: id)
        try await store.deletePreset(id: id, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
    }
}
