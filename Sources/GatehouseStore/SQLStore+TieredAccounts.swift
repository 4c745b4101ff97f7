import GatehouseCore
import SQLKit

extension SQLStore: TieredStore {
    static let tieredAccountColumns = """
        a.tenant_id, a.suid, a.usrc, a.license_hash, a.license_sealed, a.hosted_cameras, a.storage_limit, a.bandwidth_limit,
        a.tokens_issued, a.api_calls, a.storage_used, a.bandwidth_used, a.bandwidth_month, a.created_at, a.updated_at, t.enabled,
        (SELECT COUNT(*) FROM channels c WHERE c.tenant_id = a.tenant_id) AS channel_count
        """

    static func tieredAccount(from row: any SQLRow) throws -> TieredAccountRecord {
        TieredAccountRecord(
            tenantId: try row.decode(column: "tenant_id", as: Int64.self),
            suid: try row.decode(column: "suid", as: String.self),
            usrc: try row.decode(column: "usrc", as: String.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            licenseHash: try row.decode(column: "license_hash", as: String.self),
            licenseSealed: try row.decode(column: "license_sealed", as: String.self),
            limits: AccountLimits(
                hostedCameras: try row.decode(column: "hosted_cameras", as: Int64?.self),
                storageBytes: try row.decode(column: "storage_limit", as: Int64?.self),
                bandwidthBytes: try row.decode(column: "bandwidth_limit", as: Int64?.self)),
            usage: AccountUsage(
                channels: try row.decode(column: "channel_count", as: Int64.self),
                tokensIssued: try row.decode(column: "tokens_issued", as: Int64.self),
                apiCalls: try row.decode(column: "api_calls", as: Int64.self),
                storageBytes: try row.decode(column: "storage_used", as: Int64.self),
                bandwidthBytes: try row.decode(column: "bandwidth_used", as: Int64.self),
                bandwidthMonth: try row.decode(column: "bandwidth_month", as: Int64.self)),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    static func fetchTieredAccount(_ db: any SQLDatabase, id: Int64) async throws -> TieredAccountRecord? {
        try await db.raw("""
            SELECT \(unsafeRaw: tieredAccountColumns) FROM tiered_accounts a JOIN tenants t ON t.id = a.tenant_id WHERE a.tenant_id = \(bind: id)
            """).first().map(tieredAccount(from:))
    }

    public func createTieredAccount(parentId: Int64, suid: String, usrc: String, license: SealedSecret, limits: AccountLimits,
                                    at: Int64, audit: AuditIntent) async throws -> TieredAccountRecord {
        try await database.transaction { db in
            guard let parent = try await Self.fetchTenant(db, id: parentId) else { throw GatehouseError.invalid("parent", "no such parent node") }
            guard TenantKind.account.allowedParents.contains(parent.kind) else {
                throw GatehouseError.invalid("parent", "an account cannot be placed under a \(parent.kind.rawValue)")
            }
            if try await db.raw("SELECT tenant_id FROM tiered_accounts WHERE suid = \(bind: suid)").first() != nil {
                throw GatehouseError(.conflict, "an account with suid \(suid) already exists", field: "suid")
            }
            if try await db.raw("SELECT tenant_id FROM tiered_accounts WHERE license_hash = \(bind: license.hash)").first() != nil {
                throw GatehouseError(.conflict, "this license key is already in use", field: "license_key.value")
            }
            let key = "lk-" + Secrets.randomString(length: 12, alphabet: Array("abcdefghijklmnopqrstuvwxyz0123456789"))
            let tenant = try await Self.insertTenant(db, NewTenant(key: key, kind: .account, parentId: parentId, name: usrc), key: key, at: at, audit: audit)
            try await db.raw("""
                INSERT INTO tiered_accounts (tenant_id, suid, usrc, license_hash, license_sealed, hosted_cameras, storage_limit, bandwidth_limit,
                                             bandwidth_month, created_at, updated_at)
                VALUES (\(bind: tenant.id), \(bind: suid), \(bind: usrc), \(bind: license.hash), \(bind: license.sealed), \(bind: limits.hostedCameras),
                        \(bind: limits.storageBytes), \(bind: limits.bandwidthBytes), \(bind: Int64.usageMonth(of: at)), \(bind: at), \(bind: at))
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "tiered_account.create", targetType: "tenant", targetId: String(tenant.id), tenantId: tenant.id)
            guard let record = try await Self.fetchTieredAccount(db, id: tenant.id) else { throw GatehouseError(.internal, "created account vanished") }
            return record
        }
    }

    public func tieredAccount(id: Int64) async throws -> TieredAccountRecord? {
        try await database.withConnection { db in try await Self.fetchTieredAccount(db, id: id) }
    }

    public func tieredAccounts(suid: String?, licenseHash: String?, limit: Int, offset: Int) async throws -> OffsetPage<TieredAccountRecord> {
        try await database.withConnection { db in
            var filter = SQLQueryString("")
            if let suid { filter.appendInterpolation(unsafeRaw: " AND a.suid = "); filter.appendInterpolation(bind: suid) }
            if let licenseHash { filter.appendInterpolation(unsafeRaw: " AND a.license_hash = "); filter.appendInterpolation(bind: licenseHash) }
            let total = try await db.raw("SELECT COUNT(*) AS n FROM tiered_accounts a WHERE 1 = 1\(filter)").first()?.decode(column: "n", as: Int64.self) ?? 0
            let rows = try await db.raw("""
                SELECT \(unsafeRaw: Self.tieredAccountColumns) FROM tiered_accounts a JOIN tenants t ON t.id = a.tenant_id
                WHERE 1 = 1\(filter) ORDER BY a.tenant_id LIMIT \(unsafeRaw: String(limit)) OFFSET \(unsafeRaw: String(offset))
                """).all()
            return OffsetPage(items: try rows.map(Self.tieredAccount(from:)), total: total, limit: limit, offset: offset)
        }
    }

    public func updateTieredAccount(id: Int64, usrc: String?, limits: AccountLimits?, at: Int64, audit: AuditIntent) async throws -> TieredAccountRecord {
        try await invalidating { try await database.transaction { db in
            guard var record = try await Self.fetchTieredAccount(db, id: id) else { throw GatehouseError.notFound("account", id) }
            if let usrc { record.usrc = usrc }
            if let limits { record.limits = limits }
            try await db.raw("""
                UPDATE tiered_accounts SET usrc = \(bind: record.usrc), hosted_cameras = \(bind: record.limits.hostedCameras),
                    storage_limit = \(bind: record.limits.storageBytes), bandwidth_limit = \(bind: record.limits.bandwidthBytes), updated_at = \(bind: at)
                WHERE tenant_id = \(bind: id)
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "tiered_account.update", targetType: "tenant", targetId: String(id), tenantId: id)
            guard let updated = try await Self.fetchTieredAccount(db, id: id) else { throw GatehouseError.notFound("account", id) }
            return updated
        } }
    }

    public func replaceLicenseKey(id: Int64, license: SealedSecret, at: Int64, audit: AuditIntent) async throws -> TieredAccountRecord {
        try await invalidating { try await database.transaction { db in
            guard try await Self.fetchTieredAccount(db, id: id) != nil else { throw GatehouseError.notFound("account", id) }
            if try await db.raw("SELECT tenant_id FROM tiered_accounts WHERE license_hash = \(bind: license.hash)").first() != nil {
                throw GatehouseError(.conflict, "this license key is already in use", field: "license_key.value")
            }
            try await db.raw("""
                UPDATE tiered_accounts SET license_hash = \(bind: license.hash), license_sealed = \(bind: license.sealed), updated_at = \(bind: at)
                WHERE tenant_id = \(bind: id)
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "tiered_account.license_key", targetType: "tenant", targetId: String(id), tenantId: id)
            guard let updated = try await Self.fetchTieredAccount(db, id: id) else { throw GatehouseError.notFound("account", id) }
            return updated
        } }
    }

    // MARK: Credentials

    static let principalAccountColumns = "a.tenant_id AS account_id, t.enabled, a.hosted_cameras, a.storage_limit, a.bandwidth_limit, a.bandwidth_used, a.bandwidth_month"

    static func accountPrincipal(from row: any SQLRow) throws -> AccountPrincipal {
        AccountPrincipal(
            accountId: try row.decode(column: "account_id", as: Int64.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            limits: AccountLimits(
                hostedCameras: try row.decode(column: "hosted_cameras", as: Int64?.self),
                storageBytes: try row.decode(column: "storage_limit", as: Int64?.self),
                bandwidthBytes: try row.decode(column: "bandwidth_limit", as: Int64?.self)),
            bandwidthBytes: try row.decode(column: "bandwidth_used", as: Int64.self),
            bandwidthMonth: try row.decode(column: "bandwidth_month", as: Int64.self))
    }

    /// A principal from the cache (SQLite) or the database; misses are not cached.
    func cachedPrincipal(_ key: String, read: () async throws -> TieredPrincipal?) async throws -> TieredPrincipal? {
        if let cached = cache?.tiered(key) { return cached }
        let generation = cache?.generation ?? 0
        let found = try await read()
        if let found { cache?.store(tiered: found, for: key, readAt: generation) }
        return found
    }

    public func accountPrincipal(licenseHash: String) async throws -> AccountPrincipal? {
        let found = try await cachedPrincipal("l:" + licenseHash) {
            try await database.withConnection { db in
                try await db.raw("""
                    SELECT \(unsafeRaw: Self.principalAccountColumns) FROM tiered_accounts a JOIN tenants t ON t.id = a.tenant_id
                    WHERE a.license_hash = \(bind: licenseHash)
                    """).first().map { .account(try Self.accountPrincipal(from: $0)) }
            }
        }
        if case .account(let account) = found { return account }
        return nil
    }

    public func channelPrincipal(tokenHash: String) async throws -> ChannelPrincipal? {
        let found = try await cachedPrincipal("c:" + tokenHash) {
            try await database.withConnection { db in
                guard let row = try await db.raw("""
                    SELECT k.device_id, k.access, \(unsafeRaw: Self.principalAccountColumns)
                    FROM channel_tokens k JOIN channels c ON c.device_id = k.device_id
                    JOIN tiered_accounts a ON a.tenant_id = c.tenant_id JOIN tenants t ON t.id = a.tenant_id
                    WHERE k.token_hash = \(bind: tokenHash)
                    """).first(),
                    let access = ChannelAccess(rawValue: try row.decode(column: "access", as: String.self)) else { return nil }
                return .channel(ChannelPrincipal(channelId: try row.decode(column: "device_id", as: Int64.self), access: access,
                                                 account: try Self.accountPrincipal(from: row)))
            }
        }
        if case .channel(let channel) = found { return channel }
        return nil
    }

    public func groupPrincipal(tokenHash: String) async throws -> GroupPrincipal? {
        let found = try await cachedPrincipal("g:" + tokenHash) {
            try await database.withConnection { db in
                guard let row = try await db.raw("""
                    SELECT g.id AS group_id, \(unsafeRaw: Self.principalAccountColumns)
                    FROM channel_groups g JOIN tiered_accounts a ON a.tenant_id = g.tenant_id JOIN tenants t ON t.id = a.tenant_id
                    WHERE g.token_hash = \(bind: tokenHash)
                    """).first() else { return nil }
                let groupId = try row.decode(column: "group_id", as: Int64.self)
                let members = try await db.raw("SELECT device_id FROM channel_group_members WHERE group_id = \(bind: groupId) ORDER BY device_id").all()
                return .group(GroupPrincipal(groupId: groupId, channelIds: try members.map { try $0.decode(column: "device_id", as: Int64.self) },
                                             account: try Self.accountPrincipal(from: row)))
            }
        }
        if case .group(let group) = found { return group }
        return nil
    }

    // MARK: Usage

    public func addUsage(_ usage: [Int64: (apiCalls: Int64, bandwidthBytes: Int64)], month: Int64) async throws {
        guard !usage.isEmpty else { return }
        try await database.transaction { db in
            for (account, delta) in usage.sorted(by: { $0.key < $1.key }) {
                try await db.raw("""
                    UPDATE tiered_accounts SET api_calls = api_calls + \(bind: delta.apiCalls),
                        bandwidth_used = CASE WHEN bandwidth_month = \(bind: month) THEN bandwidth_used + \(bind: delta.bandwidthBytes) ELSE \(bind: delta.bandwidthBytes) END,
                        bandwidth_month = \(bind: month)
                    WHERE tenant_id = \(bind: account)
                    """).run()
            }
        }
    }
}
