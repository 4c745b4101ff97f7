/// The rules of the tenant tree, users and API clients, on top of a ``ManagementStore``.
///
/// Every call takes the ``Caller``: objects outside the caller's subtree behave as if they
/// did not exist (`not_found`), and each change needs the matching ``Permission``.
public struct Management: Sendable {
    public let store: any ManagementStore
    public let hasher: PasswordHasher
    public let clock: any GatehouseClock
    /// Lifetime of a /v1 user session in seconds.
    public let sessionLifetime: Int64

    /// Creates the service over a store, with the password hasher and clock to use.
    public init(store: any ManagementStore, hasher: PasswordHasher, clock: any GatehouseClock = SystemClock(), sessionLifetime: Int64 = 12 * 3600) {
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.sessionLifetime = sessionLifetime
    }

    /// The id of the platform node, created by the first migration.
    public static let platformTenantId: Int64 = 1

    // MARK: Tenants

    /// Creates a node under `new.parentId`, which must be in the caller's subtree.
    public func createTenant(_ caller: Caller, _ new: NewTenant) async throws -> Tenant {
        try caller.require(.manageTenants)
        var new = new
        new.name = try Validation.name(new.name)
        let key = try new.key.map { try Validation.key($0) } ?? "t-" + Secrets.token(byteCount: 9).lowercased().replacingOccurrences(of: "_", with: "-")
        guard new.kind != .platform else { throw GatehouseError.invalid("kind", "there is only one platform node") }
        let parent = try await visibleTenant(caller, new.parentId, field: "parent_id")
        guard new.kind.allowedParents.contains(parent.kind) else {
            throw GatehouseError.invalid("parent_id", "a \(new.kind.rawValue) cannot be placed under a \(parent.kind.rawValue)")
        }
        return try await store.createTenant(new, key: key, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: "\(new.kind.rawValue) \(key)"))
    }

    /// A node visible to the caller.
    public func tenant(_ caller: Caller, id: Int64) async throws -> Tenant {
        try await visibleTenant(caller, id)
    }

    /// Updates a node's name or enabled flag. A caller cannot change its own node.
    public func updateTenant(_ caller: Caller, id: Int64, _ update: TenantUpdate) async throws -> Tenant {
        try caller.require(.manageTenants)
        let tenant = try await visibleTenant(caller, id)
        try requireBelowCaller(caller, tenant)
        var update = update
        if let name = update.name { update.name = try Validation.name(name) }
        if tenant.kind == .platform, update.enabled == false {
            throw GatehouseError.invalid("enabled", "the platform node cannot be disabled")
        }
        return try await store.updateTenant(id: id, update, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
    }

    /// Deletes a node that has no child nodes (its users and clients go with it).
    public func deleteTenant(_ caller: Caller, id: Int64) async throws {
        try caller.require(.manageTenants)
        let tenant = try await visibleTenant(caller, id)
        try requireBelowCaller(caller, tenant)
        guard tenant.kind != .platform else { throw GatehouseError(.conflict, "the platform node cannot be deleted") }
        try await store.deleteTenant(id: id, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: tenant.key))
    }

    /// Lists nodes in the caller's subtree, optionally of one kind or under one parent.
    public func listTenants(_ caller: Caller, kind: TenantKind?, parentId: Int64?, page: PageRequest) async throws -> Page<Tenant> {
        if let parentId { _ = try await visibleTenant(caller, parentId, field: "parent_id") }
        return try await store.listTenants(under: caller.scopePath, kind: kind, parentId: parentId, page: page)
    }

    /// The feature switches of a visible node (every known feature, on or off).
    public func features(_ caller: Caller, tenantId: Int64) async throws -> [FeatureSwitch] {
        _ = try await visibleTenant(caller, tenantId)
        let stored = try await store.features(tenantId: tenantId)
        return Feature.allCases.map { feature in
            FeatureSwitch(feature: feature, enabled: stored.first { $0.feature == feature }?.enabled ?? false)
        }
    }

    /// Switches a feature of a node on or off: the platform operator only.
    public func setFeature(_ caller: Caller, tenantId: Int64, _ feature: Feature, enabled: Bool) async throws -> [FeatureSwitch] {
        try caller.requireOperator(.manageTenants)
        _ = try await visibleTenant(caller, tenantId)
        try await store.setFeature(tenantId: tenantId, feature, enabled: enabled, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: "\(feature.rawValue)=\(enabled)"))
        return try await features(caller, tenantId: tenantId)
    }

    // MARK: Users

    /// Creates a user in a node of the caller's subtree, hashing its password.
    public func createUser(_ caller: Caller, tenantId: Int64, email: String, name: String, password: String?, permissions: [Permission],
                           scopes: [Scope] = [.read, .write], enabled: Bool) async throws -> User {
        try caller.require(.manageUsers)
        let tenant = try await visibleTenant(caller, tenantId, field: "tenant_id")
        let email = try Validation.email(email)
        let name = try Validation.name(name)
        let permissions = try checkPermissions(caller, permissions, for: tenant)
        let hash = try password.map { hasher.hash(try Validation.password($0)) }
        let new = NewUser(tenantId: tenant.id, email: email, name: name, permissions: permissions, scopes: try Validation.scopes(scopes),
                          enabled: enabled, passwordHash: hash)
        return try await store.createUser(new, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: email))
    }

    /// A user visible to the caller.
    public func user(_ caller: Caller, id: Int64) async throws -> User {
        try await visibleUser(caller, id).user
    }

    /// Updates a user; a new password is hashed here.
    public func updateUser(_ caller: Caller, id: Int64, name: String?, email: String?, password: String?, permissions: [Permission]?,
                           scopes: [Scope]? = nil, enabled: Bool?) async throws -> User {
        try caller.require(.manageUsers)
        let record = try await visibleUser(caller, id)
        let tenant = try await visibleTenant(caller, record.user.tenantId)
        var update = UserUpdate()
        update.name = try name.map { try Validation.name($0) }
        update.email = try email.map { try Validation.email($0) }
        update.permissions = try permissions.map { try checkPermissions(caller, $0, for: tenant) }
        update.enabled = enabled
        update.scopes = try scopes.map { try Validation.scopes($0) }
        update.passwordHash = try password.map { hasher.hash(try Validation.password($0)) }
        if case .user(let me, _) = caller, me.id == id, update.permissions != nil || enabled == false {
            throw GatehouseError(.forbidden, "users cannot change their own permissions or disable themselves")
        }
        return try await store.updateUser(id: id, update, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
    }

    /// Deletes a user (its sessions end with it).
    public func deleteUser(_ caller: Caller, id: Int64) async throws {
        try caller.require(.manageUsers)
        let record = try await visibleUser(caller, id)
        if case .user(let me, _) = caller, me.id == id {
            throw GatehouseError(.forbidden, "users cannot delete themselves")
        }
        try await store.deleteUser(id: id, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: record.user.email))
    }

    /// Lists users in the caller's subtree, optionally of one node or with one e-mail address.
    public func listUsers(_ caller: Caller, tenantId: Int64?, email: String?, page: PageRequest) async throws -> Page<User> {
        if let tenantId { _ = try await visibleTenant(caller, tenantId, field: "tenant_id") }
        let email = try email.map { try Validation.email($0) }
        return try await store.listUsers(under: caller.scopePath, tenantId: tenantId, email: email, page: page)
    }

    // MARK: API clients

    /// Creates an API client with a fresh secret, returned once.
    public func createClient(_ caller: Caller, tenantId: Int64, clientId: String?, name: String, scopes: [Scope], provisioning: Bool, enabled: Bool) async throws -> IssuedAPIClient {
        try caller.require(.manageClients)
        if provisioning { try caller.requireOperator(.manageClients) }
        let tenant = try await visibleTenant(caller, tenantId, field: "tenant_id")
        let clientId = try clientId.map { try Validation.clientId($0) } ?? "ghc-" + Secrets.token(byteCount: 12)
        let secret = Secrets.token(prefix: "ghs_")
        let new = NewAPIClient(clientId: clientId, tenantId: tenant.id, name: try Validation.name(name), scopes: try Validation.scopes(scopes),
                               provisioning: provisioning, enabled: enabled, secretHash: Secrets.hash(secret))
        let client = try await store.createClient(new, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: clientId))
        return IssuedAPIClient(client: client, secret: secret)
    }

    /// An API client visible to the caller.
    public func client(_ caller: Caller, id: Int64) async throws -> APIClient {
        try await visibleClient(caller, id).client
    }

    /// Updates a client; `provisioning` is the platform operator's to change.
    public func updateClient(_ caller: Caller, id: Int64, name: String?, scopes: [Scope]?, provisioning: Bool?, enabled: Bool?) async throws -> APIClient {
        try caller.require(.manageClients)
        let record = try await visibleClient(caller, id)
        if let provisioning, provisioning != record.client.provisioning { try caller.requireOperator(.manageClients) }
        let update = APIClientUpdate(name: try name.map { try Validation.name($0) }, scopes: try scopes.map { try Validation.scopes($0) },
                                     provisioning: provisioning, enabled: enabled)
        return try await store.updateClient(id: id, update, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
    }

    /// Replaces a client's secret: the old one stops working at once; the new one is returned once.
    public func rotateClientSecret(_ caller: Caller, id: Int64) async throws -> IssuedAPIClient {
        try caller.require(.manageClients)
        _ = try await visibleClient(caller, id)
        let secret = Secrets.token(prefix: "ghs_")
        let client = try await store.updateClient(id: id, APIClientUpdate(secretHash: Secrets.hash(secret)), at: clock.now(),
                                                  audit: AuditIntent(actor: caller.auditName, detail: "secret rotated"))
        return IssuedAPIClient(client: client, secret: secret)
    }

    /// Deletes a client.
    public func deleteClient(_ caller: Caller, id: Int64) async throws {
        try caller.require(.manageClients)
        let record = try await visibleClient(caller, id)
        try await store.deleteClient(id: id, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: record.client.clientId))
    }

    /// Lists clients in the caller's subtree.
    public func listClients(_ caller: Caller, tenantId: Int64?, page: PageRequest) async throws -> Page<APIClient> {
        if let tenantId { _ = try await visibleTenant(caller, tenantId, field: "tenant_id") }
        return try await store.listClients(under: caller.scopePath, tenantId: tenantId, page: page)
    }

    // MARK: Audit

    /// The audit log of the caller's subtree, oldest first.
    public func audit(_ caller: Caller, page: PageRequest) async throws -> Page<AuditEntry> {
        try caller.require(.readAudit)
        return try await store.listAudit(under: caller.scopePath, page: page)
    }

    // MARK: Sessions and bearer tokens

    /// A /v1 session token and when it expires.
    public struct Session: Sendable {
        public var token: String
        public var expiresAt: Int64
        public var user: User
    }

    /// Opens a /v1 session for a user whose password was checked (``PartnerAuth/checkPassword``).
    public func startSession(for user: User) async throws -> Session {
        let token = Secrets.token(prefix: "ghu_")
        let now = clock.now()
        try await store.insertAccessToken(AccessTokenRecord(tokenHash: Secrets.hash(token), kind: .userSession, userId: user.id,
                                                            expiresAt: now + sessionLifetime, createdAt: now))
        return Session(token: token, expiresAt: now + sessionLifetime, user: user)
    }

    /// Resolves a bearer token to its caller; `unauthenticated` when unknown, expired or revoked,
    /// or when its user or node is disabled.
    public func caller(bearer token: String) async throws -> Caller {
        let failure = GatehouseError(.unauthenticated, "the bearer token is not valid")
        guard !token.isEmpty, token.utf8.count <= 512, let record = try await store.accessToken(hash: Secrets.hash(token)),
              record.isUsable(at: clock.now())
        else { throw failure }
        switch record.kind {
        case .platformAdmin:
            return .platformAdmin
        case .userSession:
            guard let userId = record.userId, let user = try await store.user(id: userId)?.user, user.enabled,
                  let tenant = try await store.tenant(id: user.tenantId), tenant.enabled
            else { throw failure }
            return .user(user, tenant)
        case .oauthAccess, .oauthRefresh, .onBehalf, .clientCredentials:
            throw failure  // partner-API tokens do not open the management API
        }
    }

    /// Ends a session (or any bearer token) at once.
    public func revoke(bearer token: String) async throws {
        _ = try await store.revokeAccessToken(hash: Secrets.hash(token), at: clock.now())
    }

    // MARK: Helpers

    func visibleTenant(_ caller: Caller, _ id: Int64, field: String? = nil) async throws -> Tenant {
        guard let tenant = try await store.tenant(id: id), caller.canSee(tenant) else {
            if let field { throw GatehouseError(.notFound, "tenant \(id) not found", field: field) }
            throw GatehouseError.notFound("tenant", id)
        }
        return tenant
    }

    func visibleUser(_ caller: Caller, _ id: Int64) async throws -> UserRecord {
        guard let record = try await store.user(id: id), let tenant = try await store.tenant(id: record.user.tenantId), caller.canSee(tenant) else {
            throw GatehouseError.notFound("user", id)
        }
        return record
    }

    func visibleClient(_ caller: Caller, _ id: Int64) async throws -> APIClientRecord {
        guard let record = try await store.client(id: id), let tenant = try await store.tenant(id: record.client.tenantId), caller.canSee(tenant) else {
            throw GatehouseError.notFound("client", id)
        }
        return record
    }

    func requireBelowCaller(_ caller: Caller, _ tenant: Tenant) throws(GatehouseError) {
        if case .user(_, let own) = caller, own.id == tenant.id {
            throw GatehouseError(.forbidden, "a user cannot change or delete its own node")
        }
    }

    func checkPermissions(_ caller: Caller, _ permissions: [Permission], for tenant: Tenant) throws(GatehouseError) -> [Permission] {
        let unique = Array(Set(permissions)).sorted()
        if !unique.isEmpty, !tenant.kind.isDealer {
            throw GatehouseError.invalid("permissions", "members of an account have no admin permissions")
        }
        if case .user(let me, _) = caller, let extra = unique.first(where: { !me.permissions.contains($0) }) {
            throw GatehouseError(.forbidden, "cannot grant \(extra.rawValue), which the caller does not hold")
        }
        return unique
    }
}
