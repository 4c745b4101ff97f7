/// Applies a ``TreeDocument`` to a store (`gatehouse import`) and reads one back (`gatehouse export`).
///
/// The whole document is checked against itself and the store before anything is written,
/// so a bad file writes nothing. Applying the same document twice changes nothing the
/// second time.
public struct TreeImporter: Sendable {
    public let store: any ManagementStore
    /// Where applications and their certification versions are kept; a store that keeps both is
    /// found by itself. A document with applications is refused without one.
    public let onboarding: (any OnboardingStore)?
    public let hasher: PasswordHasher
    public let clock: any GatehouseClock

    /// Creates an importer over a store (and its applications, when `store` keeps them too).
    public init(store: any ManagementStore, hasher: PasswordHasher, clock: any GatehouseClock = SystemClock(), onboarding: (any OnboardingStore)? = nil) {
        self.store = store
        self.onboarding = onboarding ?? store as? any OnboardingStore
        self.hasher = hasher
        self.clock = clock
    }

    /// What an import did.
    public struct Report: Codable, Sendable, Equatable {
        public var created = 0
        public var updated = 0
        public var unchanged = 0
        public init() {}
    }

    static let platformKey = "platform"
    var audit: AuditIntent { AuditIntent(actor: "import") }

    /// Checks and applies `document`.
    public func apply(_ document: TreeDocument) async throws -> Report {
        let tenants = try await plan(document)
        let applications = try await planApplications(document)
        var report = Report()
        var ids: [String: Int64] = [:]
        if let platform = try await store.tenant(id: Management.platformTenantId) { ids[platform.key] = platform.id }
        // Stored parents the file names without listing them (checked by `plan`).
        let listed = Set(document.tenants.map(\.key))
        for parent in Set(document.tenants.compactMap(\.parent)) where !listed.contains(parent) {
            if let stored = try await store.tenant(key: parent) { ids[parent] = stored.id }
        }
        for entry in tenants {
            let tenantId: Int64
            if entry.key == Self.platformKey {
                tenantId = Management.platformTenantId
            } else if let existing = try await store.tenant(key: entry.key) {
                tenantId = existing.id
                let update = TenantUpdate(name: existing.name == entry.name ? nil : entry.name,
                                          enabled: entry.enabled.flatMap { $0 == existing.enabled ? nil : $0 })
                if update.name != nil || update.enabled != nil {
                    _ = try await store.updateTenant(id: existing.id, update, at: clock.now(), audit: audit)
                    report.updated += 1
                } else {
                    report.unchanged += 1
                }
            } else {
                guard let parentId = ids[entry.parent ?? Self.platformKey] else {
                    throw GatehouseError.invalid("tenants", "parent \(entry.parent ?? "") of \(entry.key) is unknown")
                }
                let created = try await store.createTenant(
                    NewTenant(key: entry.key, kind: entry.kind, parentId: parentId, name: entry.name, enabled: entry.enabled ?? true),
                    key: entry.key, at: clock.now(), audit: audit)
                tenantId = created.id
                report.created += 1
            }
            ids[entry.key] = tenantId
            if let features = entry.features {
                let current = try await store.features(tenantId: tenantId)
                for (name, enabled) in features.sorted(by: { $0.key < $1.key }) {
                    guard let feature = Feature(rawValue: name) else { continue }
                    let now = current.first { $0.feature == feature }?.enabled ?? false
                    if now != enabled {
                        try await store.setFeature(tenantId: tenantId, feature, enabled: enabled, at: clock.now(), audit: audit)
                    }
                }
            }
        }
        for entry in document.users {
            try await applyUser(entry, ids: ids, report: &report)
        }
        for entry in document.clients {
            try await applyClient(entry, ids: ids, report: &report)
        }
        try await applyApplications(applications, ids: ids, report: &report)
        return report
    }

    func applyUser(_ entry: TreeDocument.UserEntry, ids: [String: Int64], report: inout Report) async throws {
        let email = try Validation.email(entry.email)
        guard let tenantId = ids[entry.tenant] else { throw GatehouseError.invalid("users", "tenant \(entry.tenant) of \(email) is unknown") }
        let permissions = Array(Set(entry.permissions ?? [])).sorted()
        if let existing = try await store.user(email: email) {
            guard existing.user.tenantId == tenantId else {
                throw GatehouseError(.conflict, "user \(email) exists in another node; moving users is not supported")
            }
            var update = UserUpdate()
            if existing.user.name != entry.name { update.name = entry.name }
            if existing.user.permissions != permissions { update.permissions = permissions }
            if let scopes = entry.scopes.map({ Array(Set($0)).sorted() }), scopes != existing.user.scopes { update.scopes = scopes }
            if let enabled = entry.enabled, enabled != existing.user.enabled { update.enabled = enabled }
            if let hash = entry.passwordHash, hash != existing.passwordHash { update.passwordHash = hash }
            if let password = entry.password, !hasher.verify(password, against: existing.passwordHash ?? hasher.dummyHash) {
                update.passwordHash = hasher.hash(password)
            }
            if update != UserUpdate() {
                _ = try await store.updateUser(id: existing.user.id, update, at: clock.now(), audit: audit)
                report.updated += 1
            } else {
                report.unchanged += 1
            }
        } else {
            let hash = entry.passwordHash ?? entry.password.map { hasher.hash($0) }
            _ = try await store.createUser(NewUser(tenantId: tenantId, email: email, name: entry.name, permissions: permissions,
                                                   scopes: Array(Set(entry.scopes ?? [.read, .write])).sorted(),
                                                   enabled: entry.enabled ?? true, passwordHash: hash), at: clock.now(), audit: audit)
            report.created += 1
        }
    }

    func applyClient(_ entry: TreeDocument.ClientEntry, ids: [String: Int64], report: inout Report) async throws {
        guard let tenantId = ids[entry.tenant] else { throw GatehouseError.invalid("clients", "tenant \(entry.tenant) of \(entry.clientId) is unknown") }
        let scopes = try Validation.scopes(entry.scopes)
        if let existing = try await store.client(clientId: entry.clientId) {
            guard existing.client.tenantId == tenantId else {
                throw GatehouseError(.conflict, "client \(entry.clientId) exists in another node; moving clients is not supported")
            }
            var update = APIClientUpdate()
            if existing.client.name != entry.name { update.name = entry.name }
            if existing.client.scopes != scopes { update.scopes = scopes }
            if let provisioning = entry.provisioning, provisioning != existing.client.provisioning { update.provisioning = provisioning }
            if let enabled = entry.enabled, enabled != existing.client.enabled { update.enabled = enabled }
            if let hash = entry.secretHash, hash != existing.secretHash { update.secretHash = hash }
            if let secret = entry.secret, !Secrets.matches(secret, hash: existing.secretHash) { update.secretHash = Secrets.hash(secret) }
            if update != APIClientUpdate() {
                _ = try await store.updateClient(id: existing.client.id, update, at: clock.now(), audit: audit)
                report.updated += 1
            } else {
                report.unchanged += 1
            }
        } else {
            guard let hash = entry.secretHash ?? entry.secret.map({ Secrets.hash($0) }) else {
                throw GatehouseError.invalid("clients", "client \(entry.clientId) needs a secret or a secret_hash")
            }
            _ = try await store.createClient(NewAPIClient(clientId: entry.clientId, tenantId: tenantId, name: entry.name, scopes: scopes,
                                                          provisioning: entry.provisioning ?? false, enabled: entry.enabled ?? true, secretHash: hash),
                                             at: clock.now(), audit: audit)
            report.created += 1
        }
    }

    /// Validates the document against itself and the store; returns the nodes parents-first.
    func plan(_ document: TreeDocument) async throws -> [TreeDocument.TenantEntry] {
        guard document.version == 1 else { throw GatehouseError.invalid("version", "only version 1 import files are understood") }
        var byKey: [String: TreeDocument.TenantEntry] = [:]
        for (index, entry) in document.tenants.enumerated() {
            let field = "tenants[\(index)]"
            _ = try Validation.key(entry.key, field: "\(field).key")
            _ = try Validation.name(entry.name, field: "\(field).name")
            guard byKey[entry.key] == nil else { throw GatehouseError.invalid("\(field).key", "key \(entry.key) appears twice") }
            if entry.key == Self.platformKey {
                guard entry.kind == .platform, entry.parent == nil else { throw GatehouseError.invalid(field, "the platform node has kind platform and no parent") }
            } else if entry.kind == .platform {
                throw GatehouseError.invalid("\(field).kind", "only the node with key platform is of kind platform")
            }
            for name in (entry.features ?? [:]).keys where Feature(rawValue: name) == nil {
                throw GatehouseError.invalid("\(field).features", "unknown feature \(name)")
            }
            byKey[entry.key] = entry
        }
        // Resolve parents (in the document or in the store) and check kinds; order parents first.
        var ordered: [TreeDocument.TenantEntry] = []
        var placed: Set<String> = [Self.platformKey]
        if let platform = byKey[Self.platformKey] { ordered.append(platform) }
        var pending = document.tenants.filter { $0.key != Self.platformKey }
        var existingKinds: [String: TenantKind] = [Self.platformKey: .platform]
        for entry in pending {
            if let existing = try await store.tenant(key: entry.key) {
                guard existing.kind == entry.kind else {
                    throw GatehouseError(.conflict, "node \(entry.key) exists as a \(existing.kind.rawValue), not a \(entry.kind.rawValue)")
                }
                let parentKey = try await existing.parentId.asyncMap { try await store.tenant(id: $0)?.key }
                guard parentKey == (entry.parent ?? Self.platformKey) else {
                    throw GatehouseError(.conflict, "node \(entry.key) exists under another parent; moving nodes is not supported")
                }
            }
            if let parent = entry.parent, byKey[parent] == nil, existingKinds[parent] == nil {
                guard let stored = try await store.tenant(key: parent) else {
                    throw GatehouseError.invalid("tenants", "parent \(parent) of \(entry.key) is neither in the file nor in the store")
                }
                existingKinds[parent] = stored.kind
                placed.insert(parent)
            }
        }
        while !pending.isEmpty {
            let ready = pending.filter { placed.contains($0.parent ?? Self.platformKey) }
            guard !ready.isEmpty else { throw GatehouseError.invalid("tenants", "the parents of \(pending.map(\.key).sorted().joined(separator: ", ")) form a cycle") }
            for entry in ready {
                let parentKey = entry.parent ?? Self.platformKey
                let parentKind = byKey[parentKey]?.kind ?? existingKinds[parentKey] ?? .platform
                guard entry.kind.allowedParents.contains(parentKind) else {
                    throw GatehouseError.invalid("tenants", "a \(entry.kind.rawValue) (\(entry.key)) cannot be placed under a \(parentKind.rawValue)")
                }
                placed.insert(entry.key)
                ordered.append(entry)
            }
            pending.removeAll { placed.contains($0.key) }
        }
        var emails: Set<String> = []
        for (index, entry) in document.users.enumerated() {
            let field = "users[\(index)]"
            let email = try Validation.email(entry.email, field: "\(field).email")
            guard emails.insert(email).inserted else { throw GatehouseError.invalid("\(field).email", "\(email) appears twice") }
            _ = try Validation.name(entry.name, field: "\(field).name")
            guard placed.contains(entry.tenant) else { throw GatehouseError.invalid("\(field).tenant", "unknown tenant \(entry.tenant)") }
            if entry.password != nil, entry.passwordHash != nil { throw GatehouseError.invalid(field, "give password or password_hash, not both") }
            if let password = entry.password { _ = try Validation.password(password, field: "\(field).password") }
            if let hash = entry.passwordHash, !hash.hasPrefix("pbkdf2-sha256$") || hash.split(separator: "$").count != 4 {
                throw GatehouseError.invalid("\(field).password_hash", "not a pbkdf2-sha256 hash")
            }
            let kind = byKey[entry.tenant]?.kind ?? existingKinds[entry.tenant] ?? .platform
            if let scopes = entry.scopes, scopes.isEmpty { throw GatehouseError.invalid("\(field).scopes", "scopes must name at least one scope") }
            if !(entry.permissions ?? []).isEmpty, !kind.isDealer {
                throw GatehouseError.invalid("\(field).permissions", "members of an account have no admin permissions")
            }
        }
        var clientIds: Set<String> = []
        for (index, entry) in document.clients.enumerated() {
            let field = "clients[\(index)]"
            _ = try Validation.clientId(entry.clientId, field: "\(field).client_id")
            guard clientIds.insert(entry.clientId).inserted else { throw GatehouseError.invalid("\(field).client_id", "\(entry.clientId) appears twice") }
            _ = try Validation.name(entry.name, field: "\(field).name")
            _ = try Validation.scopes(entry.scopes, field: "\(field).scopes")
            guard placed.contains(entry.tenant) else { throw GatehouseError.invalid("\(field).tenant", "unknown tenant \(entry.tenant)") }
            if entry.secret != nil, entry.secretHash != nil { throw GatehouseError.invalid(field, "give secret or secret_hash, not both") }
            if let hash = entry.secretHash, hash.utf8.count != 64 || !hash.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) {
                throw GatehouseError.invalid("\(field).secret_hash", "not a lower-case hex SHA-256")
            }
        }
        return ordered
    }

    /// Reads the whole tree back as a document (secrets as hashes only).
    public func export() async throws -> TreeDocument {
        var document = TreeDocument()
        var keys: [Int64: String] = [:]
        for tenant in try await Self.all({ try await store.listTenants(under: nil, kind: nil, parentId: nil, page: $0) }) {
            keys[tenant.id] = tenant.key
            let features = try await store.features(tenantId: tenant.id)
            let featureMap = features.isEmpty ? nil : Dictionary(uniqueKeysWithValues: features.map { ($0.feature.rawValue, $0.enabled) })
            if tenant.kind == .platform {
                if featureMap != nil {
                    document.tenants.append(.init(key: tenant.key, kind: .platform, parent: nil, name: tenant.name, enabled: nil, features: featureMap))
                }
                continue
            }
            document.tenants.append(.init(key: tenant.key, kind: tenant.kind, parent: tenant.parentId.flatMap { keys[$0] },
                                          name: tenant.name, enabled: tenant.enabled, features: featureMap))
        }
        for user in try await Self.all({ try await store.listUsers(under: nil, tenantId: nil, email: nil, page: $0) }) {
            let hash = try await store.user(id: user.id)?.passwordHash
            document.users.append(.init(email: user.email, tenant: keys[user.tenantId] ?? "", name: user.name,
                                        permissions: user.permissions, scopes: user.scopes, enabled: user.enabled, passwordHash: hash))
        }
        for client in try await Self.all({ try await store.listClients(under: nil, tenantId: nil, page: $0) }) {
            let hash = try await store.client(id: client.id)?.secretHash
            document.clients.append(.init(clientId: client.clientId, tenant: keys[client.tenantId] ?? "", name: client.name, scopes: client.scopes,
                                          provisioning: client.provisioning, enabled: client.enabled, secretHash: hash))
        }
        document.applications = try await exportApplications(keys: keys)
        return document
    }

    /// Every item of a paged listing, page by page.
    static func all<T: Sendable>(_ fetch: (PageRequest) async throws -> Page<T>) async throws -> [T] {
        var items: [T] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let result = try await fetch(page)
            items += result.items
            guard let next = result.nextCursor, let after = Int64(next) else { return items }
            page.after = after
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
