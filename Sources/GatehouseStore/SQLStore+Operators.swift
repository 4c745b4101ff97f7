import Foundation
import GatehouseCore
import PostgresNIO
import SQLKit

extension SQLStore: ActivationStore {
    // MARK: Settings and API keys

    public func operatorSettings(operatorId: Int64) async throws -> OperatorSettings {
        try await database.withConnection { db in
            guard let row = try await db.raw("""
                SELECT token_alphabet, token_length, token_validity, watcher_url FROM operator_settings WHERE tenant_id = \(bind: operatorId)
                """).first() else { return .default }
            return try Self.operatorSettings(from: row)
        }
    }

    /// Settings from a row with the four setting columns (all null: the defaults).
    static func operatorSettings(from row: any SQLRow) throws -> OperatorSettings {
        guard let alphabet = try row.decode(column: "token_alphabet", as: String?.self) else { return .default }
        return OperatorSettings(tokenAlphabet: alphabet, tokenLength: Int(try row.decode(column: "token_length", as: Int64.self)),
                                tokenValidity: try row.decode(column: "token_validity", as: Int64.self),
                                watcherURL: try row.decode(column: "watcher_url", as: String?.self))
    }

    public func activationOperator(id: Int64) async throws -> (node: Tenant, settings: OperatorSettings)? {
        if let cached = cache?.activationOperator(id) { return cached }
        if let reads = coalescedReads { return try await reads.operators.read(id) }
        let generation = cache?.generation ?? 0
        let found = try await Self.readActivationOperators(database, ids: [id])[id]
        if let found { cache?.store(activationOperator: found, readAt: generation) }
        return found
    }

    /// Operator nodes with their activation settings, by id: one round trip for all of them.
    static func readActivationOperators(_ database: any Database, ids: [Int64]) async throws -> [Int64: CredentialCache.ActivationOperator] {
        guard !ids.isEmpty else { return [:] }
        return try await database.withLookupConnection { db in
            var found: [Int64: CredentialCache.ActivationOperator] = [:]
            let rows = try await db.rows(PreparedActivationOperators(keys: ids),
                                         portable: "\(unsafeRaw: activationOperatorSelect) WHERE t.id IN (\(unsafeRaw: ids.map(String.init).joined(separator: ",")))")
            for row in rows {
                let node = try Self.tenant(from: row)
                found[node.id] = (node, try Self.operatorSettings(from: row))
            }
            return found
        }
    }

    public func issueTarget(operatorId: Int64, organizationId: Int64, presetId: Int64) async throws -> IssueTarget {
        let key = IssueTargetKey(operatorId: operatorId, organizationId: organizationId, presetId: presetId)
        if let cached = cache?.issueTarget(key) { return cached }
        if let reads = coalescedReads, let found = try await reads.issueTargets.read(key) { return found }
        let generation = cache?.generation ?? 0
        guard let found = try await Self.readIssueTargets(database, keys: [key])[key] else {
            throw GatehouseError(.internal, "the issue-target query returned no row")
        }
        if found.organization != nil, found.presetOrganizationId != nil { cache?.store(issueTarget: found, for: key, readAt: generation) }
        return found
    }

    /// The columns of an operator node (`t`) with its activation settings (`s`).
    static let activationOperatorColumns = """
        SELECT t.id, t.key, t.kind, t.parent_id, t.name, t.enabled, t.path, t.created_at, t.updated_at,
               s.token_alphabet, s.token_length, s.token_validity, s.watcher_url
        """

    /// Operator nodes with their activation settings (the `WHERE` on `t.id` follows).
    static let activationOperatorSelect = activationOperatorColumns + " FROM tenants t LEFT JOIN operator_settings s ON s.tenant_id = t.id"

    /// ``activationOperatorSelect`` for an array of ids, prepared on PostgreSQL.
    struct PreparedActivationOperators: PreparedKeyRead {
        static let sql = """
            \(SQLStore.activationOperatorColumns) FROM unnest($1::bigint[]) AS k(key)
            \(keyedProbe("tenants", as: "t", where: "x.id = k.key")) \(keyedProbe("operator_settings", as: "s", where: "x.tenant_id = t.id", optional: true))
            """
        let keys: [Int64]
    }

    /// The issue-target columns and joins on `q` (k, org, preset, op), whatever `q` is; on
    /// PostgreSQL (`keyed`) each table is read by a ``keyedProbe(_:as:where:optional:)``.
    static func issueTargetSelect(from asked: String, keyed: Bool = false) -> String {
        let joins = keyed
            ? [keyedProbe("tenants", as: "t", where: "x.id = q.org", optional: true), keyedProbe("presets", as: "p", where: "x.id = q.preset", optional: true),
               keyedProbe("operator_settings", as: "s", where: "x.tenant_id = q.op", optional: true)]
            : ["LEFT JOIN tenants t ON t.id = q.org", "LEFT JOIN presets p ON p.id = q.preset", "LEFT JOIN operator_settings s ON s.tenant_id = q.op"]
        return """
            SELECT q.k, t.id, t.key, t.kind, t.parent_id, t.name, t.enabled, t.path, t.created_at, t.updated_at, p.tenant_id AS preset_organization,
                   s.token_alphabet, s.token_length, s.token_validity, s.watcher_url
            FROM \(asked)
            \(joins.joined(separator: "\n"))
            """
    }

    /// Issue targets for three arrays (organizations, presets, operators), prepared on
    /// PostgreSQL; `k` is the key's index.
    struct PreparedIssueTargets: PreparedRowStatement {
        static let sql = SQLStore.issueTargetSelect(from: "(SELECT k - 1 AS k, org, preset, op FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS u(org, preset, op, k)) q",
                                                     keyed: true)
        let keys: [IssueTargetKey]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            bindings.append(keys.map(\.organizationId))
            bindings.append(keys.map(\.presetId))
            bindings.append(keys.map(\.operatorId))
            return bindings
        }
    }

    /// The keys as a derived table `q` of integer literals (ids are integers).
    static func portableIssueTargetKeys(_ keys: [IssueTargetKey]) -> String {
        "(" + keys.enumerated().map { index, key in
            "SELECT \(index) AS k, \(key.organizationId) AS org, \(key.presetId) AS preset, \(key.operatorId) AS op"
        }.joined(separator: " UNION ALL ") + ") q"
    }

    /// What tokens would be issued for, one row per key (ids are integers, written as literals).
    static func readIssueTargets(_ database: any Database, keys: [IssueTargetKey]) async throws -> [IssueTargetKey: IssueTarget] {
        guard !keys.isEmpty else { return [:] }
        return try await database.withLookupConnection { db in
            var found: [IssueTargetKey: IssueTarget] = [:]
            let rows = try await db.rows(PreparedIssueTargets(keys: keys), portable: "\(unsafeRaw: issueTargetSelect(from: portableIssueTargetKeys(keys)))")
            for row in rows {
                let index = Int(try row.decode(column: "k", as: Int64.self))
                guard keys.indices.contains(index) else { continue }
                let organization = try row.decode(column: "id", as: Int64?.self) == nil ? nil : try Self.tenant(from: row)
                found[keys[index]] = IssueTarget(organization: organization, presetOrganizationId: try row.decode(column: "preset_organization", as: Int64?.self),
                                                 settings: try Self.operatorSettings(from: row))
            }
            return found
        }
    }

    public func setOperatorSettings(operatorId: Int64, _ settings: OperatorSettings, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            try await db.raw("""
                INSERT INTO operator_settings (tenant_id, token_alphabet, token_length, token_validity, watcher_url, updated_at)
                VALUES (\(bind: operatorId), \(bind: settings.tokenAlphabet), \(bind: Int64(settings.tokenLength)), \(bind: settings.tokenValidity),
                        \(bind: settings.watcherURL), \(bind: at))
                ON CONFLICT (tenant_id) DO UPDATE SET token_alphabet = excluded.token_alphabet, token_length = excluded.token_length,
                    token_validity = excluded.token_validity, watcher_url = excluded.watcher_url, updated_at = excluded.updated_at
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "operator.settings", targetType: "tenant", targetId: String(operatorId), tenantId: operatorId)
        } }
    }

    static func operatorAPIKey(from row: any SQLRow) throws -> OperatorAPIKey {
        OperatorAPIKey(id: try row.decode(column: "id", as: Int64.self), operatorId: try row.decode(column: "tenant_id", as: Int64.self),
                       name: try row.decode(column: "name", as: String.self), createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    public func createOperatorAPIKey(operatorId: Int64, name: String, keyHash: String, at: Int64, audit: AuditIntent) async throws -> OperatorAPIKey {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO operator_api_keys (tenant_id, key_hash, name, created_at) VALUES (\(bind: operatorId), \(bind: keyHash), \(bind: name), \(bind: at))
                RETURNING id, tenant_id, name, created_at
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let key = try Self.operatorAPIKey(from: row)
            try await Self.audit(db, at: at, intent: audit, action: "operator.api_key.create", targetType: "operator_api_key", targetId: String(key.id), tenantId: operatorId)
            return key
        }
    }

    public func operatorAPIKeys(operatorId: Int64) async throws -> [OperatorAPIKey] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT id, tenant_id, name, created_at FROM operator_api_keys WHERE tenant_id = \(bind: operatorId) AND revoked_at IS NULL ORDER BY id
                """).all().map(Self.operatorAPIKey(from:))
        }
    }

    public func revokeOperatorAPIKey(id: Int64, operatorId: Int64, at: Int64, audit: AuditIntent) async throws {
        try await database.transaction { db in
            guard try await db.raw("""
                UPDATE operator_api_keys SET revoked_at = \(bind: at) WHERE id = \(bind: id) AND tenant_id = \(bind: operatorId) AND revoked_at IS NULL RETURNING id
                """).first() != nil else { throw GatehouseError.notFound("API key", id) }
            try await Self.audit(db, at: at, intent: audit, action: "operator.api_key.revoke", targetType: "operator_api_key", targetId: String(id), tenantId: operatorId)
        }
    }

    public func operatorAPIKey(hash: String) async throws -> (key: OperatorAPIKey, operator: Tenant)? {
        try await database.withConnection { db in
            guard let row = try await db.raw("""
                SELECT id, tenant_id, name, created_at FROM operator_api_keys WHERE key_hash = \(bind: hash) AND revoked_at IS NULL
                """).first() else { return nil }
            let key = try Self.operatorAPIKey(from: row)
            guard let tenant = try await Self.fetchTenant(db, id: key.operatorId) else { return nil }
            return (key, tenant)
        }
    }

    // MARK: Organization profiles

    public func organizationProfiles(ids: [Int64]) async throws -> [Int64: (note: String, ownerId: Int64?, cameraLimit: Int64?, userLimit: Int64?)] {
        guard !ids.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var profiles: [Int64: (note: String, ownerId: Int64?, cameraLimit: Int64?, userLimit: Int64?)] = [:]
            for row in try await db.raw("""
                SELECT tenant_id, note, owner_id, camera_limit, user_limit FROM organization_profiles
                WHERE tenant_id IN (\(unsafeRaw: ids.map(String.init).joined(separator: ",")))
                """).all() {
                profiles[try row.decode(column: "tenant_id", as: Int64.self)] = (
                    try row.decode(column: "note", as: String.self), try row.decode(column: "owner_id", as: Int64?.self),
                    try row.decode(column: "camera_limit", as: Int64?.self), try row.decode(column: "user_limit", as: Int64?.self))
            }
            return profiles
        }
    }

    public func saveOrganizationProfile(id: Int64, note: String, ownerId: Int64?, cameraLimit: Int64?, userLimit: Int64?) async throws {
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO organization_profiles (tenant_id, note, owner_id, camera_limit, user_limit)
                VALUES (\(bind: id), \(bind: note), \(bind: ownerId), \(bind: cameraLimit), \(bind: userLimit))
                ON CONFLICT (tenant_id) DO UPDATE SET note = excluded.note, owner_id = excluded.owner_id,
                    camera_limit = excluded.camera_limit, user_limit = excluded.user_limit
                """).run()
        }
    }

    // MARK: Presets

    static func preset(from row: any SQLRow) throws -> Preset {
        let settingsText = try row.decode(column: "settings", as: String.self)
        return Preset(id: try row.decode(column: "id", as: Int64.self), organizationId: try row.decode(column: "tenant_id", as: Int64.self),
                      title: try row.decode(column: "title", as: String.self),
                      settings: (try? JSONDecoder().decode([String: String].self, from: Data(settingsText.utf8))) ?? [:],
                      createdAt: try row.decode(column: "created_at", as: Int64.self), updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    static let presetColumnList = "id, tenant_id, title, settings, created_at, updated_at"
    static let presetColumns = "p.id, p.tenant_id, p.title, p.settings, p.created_at, p.updated_at"

    public func createPreset(organizationId: Int64, title: String, settings: [String: String], at: Int64, audit: AuditIntent) async throws -> Preset {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO presets (tenant_id, title, settings, created_at, updated_at)
                VALUES (\(bind: organizationId), \(bind: title), \(bind: Self.metaText(settings)), \(bind: at), \(bind: at))
                RETURNING \(unsafeRaw: Self.presetColumnList)
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let preset = try Self.preset(from: row)
            try await Self.audit(db, at: at, intent: audit, action: "preset.create", targetType: "preset", targetId: String(preset.id), tenantId: organizationId)
            return preset
        }
    }

    public func preset(id: Int64) async throws -> Preset? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.presetColumns) FROM presets p WHERE p.id = \(bind: id)").first().map(Self.preset(from:))
        }
    }

    public func presets(under path: String, organizationId: Int64?, limit: Int, offset: Int) async throws -> OffsetPage<Preset> {
        try await database.withConnection { db in
            var filter = SQLQueryString("t.path LIKE \(bind: Self.likePrefix(path))")
            if let organizationId { filter.appendInterpolation(unsafeRaw: " AND p.tenant_id = "); filter.appendInterpolation(bind: organizationId) }
            let total = try await db.raw("SELECT COUNT(*) AS n FROM presets p JOIN tenants t ON t.id = p.tenant_id WHERE \(filter)").first()?
                .decode(column: "n", as: Int64.self) ?? 0
            let items = try await db.raw("""
                SELECT \(unsafeRaw: Self.presetColumns) FROM presets p JOIN tenants t ON t.id = p.tenant_id WHERE \(filter)
                ORDER BY p.id LIMIT \(unsafeRaw: String(limit)) OFFSET \(unsafeRaw: String(offset))
                """).all().map(Self.preset(from:))
            return OffsetPage(items: items, total: total, limit: limit, offset: offset)
        }
    }

    public func updatePreset(_ preset: Preset, at: Int64, audit: AuditIntent) async throws -> Preset {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                UPDATE presets SET title = \(bind: preset.title), settings = \(bind: Self.metaText(preset.settings)), updated_at = \(bind: at)
                WHERE id = \(bind: preset.id) RETURNING \(unsafeRaw: Self.presetColumnList)
                """).first() else { throw GatehouseError.notFound("preset", preset.id) }
            try await Self.audit(db, at: at, intent: audit, action: "preset.update", targetType: "preset", targetId: String(preset.id), tenantId: preset.organizationId)
            return try Self.preset(from: row)
        }
    }

    public func deletePreset(id: Int64, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            guard let row = try await db.raw("DELETE FROM presets WHERE id = \(bind: id) RETURNING tenant_id").first() else {
                throw GatehouseError.notFound("preset", id)
            }
            try await Self.audit(db, at: at, intent: audit, action: "preset.delete", targetType: "preset", targetId: String(id),
                                 tenantId: try row.decode(column: "tenant_id", as: Int64.self))
        } }
    }
}
