import GatehouseCore
import SQLKit

extension SQLStore: CredentialStore {
    public func clientForAuthentication(clientId: String) async throws -> (record: APIClientRecord, tenantEnabled: Bool)? {
        if let cached = cache?.client(clientId) { return cached }
        if let reads = coalescedReads { return try await reads.clients.read(clientId)?.pair }
        let generation = cache?.generation ?? 0
        let found = try await Self.readClientsForAuthentication(database, clientIds: [clientId])[clientId]?.pair
        if let found { cache?.store(client: found, for: clientId, readAt: generation) }
        return found
    }

    /// API clients with their node's `enabled`, by `client_id`, in one query.
    static func readClientsForAuthentication(_ database: any Database, clientIds: [String]) async throws -> [String: AuthenticatingClient] {
        guard !clientIds.isEmpty else { return [:] }
        return try await database.withLookupConnection { db in
            let rows = try await db.rows(PreparedClients(keys: clientIds),
                                         portable: "\(unsafeRaw: Self.authenticatingClientSelect) WHERE c.client_id IN (\(binds: clientIds))")
            var found: [String: AuthenticatingClient] = [:]
            for row in rows {
                let record = try Self.clientRecord(from: row)
                found[record.client.clientId] = AuthenticatingClient(record: record, tenantEnabled: try row.decode(column: "tenant_enabled", as: Bool.self))
            }
            return found
        }
    }

    /// API clients with their node's `enabled` (the `WHERE` on `c` follows).
    static let authenticatingClientSelect = "SELECT \(clientColumns), n.enabled AS tenant_enabled FROM api_clients c JOIN tenants n ON n.id = c.tenant_id"

    /// ``authenticatingClientSelect`` for an array of `client_id`s, prepared on PostgreSQL.
    struct PreparedClients: PreparedKeyRead {
        static let sql = """
            SELECT \(SQLStore.clientColumns), n.enabled AS tenant_enabled FROM unnest($1::text[]) AS k(key)
            \(keyedProbe("api_clients", as: "c", where: "x.client_id = k.key")) \(keyedProbe("tenants", as: "n", where: "x.id = c.tenant_id"))
            """
        let keys: [String]
    }

    public func bearer(hash: String) async throws -> BearerContext? {
        if let cached = cache?.bearer(hash) { return cached }
        if let reads = coalescedReads { return try await reads.bearers.read(hash) }
        let generation = cache?.generation ?? 0
        let found = try await Self.readBearers(database, hashes: [hash])[hash]
        if let found { cache?.store(bearer: found, for: hash, readAt: generation) }
        return found
    }

    /// Tokens by hash with their user and the user's node, their client and the client's
    /// node: one round trip for all of them.
    static func readBearers(_ database: any Database, hashes: [String]) async throws -> [String: BearerContext] {
        guard !hashes.isEmpty else { return [:] }
        return try await database.withLookupConnection { db in
            let rows = try await db.rows(PreparedBearers(keys: hashes),
                                         portable: "\(unsafeRaw: Self.bearerSelect) WHERE t.token_hash IN (\(binds: hashes))")
            var found: [String: BearerContext] = [:]
            for row in rows {
                let context = try bearerContext(from: row)
                found[context.token.tokenHash] = context
            }
            return found
        }
    }

    /// The columns of a token with its user and the user's node (`u`, `n`), its client and
    /// the client's node (`c`, `cn`), on `t`, `u`, `n`, `c` and `cn`.
    static let bearerColumns = """
        SELECT \(tokenColumns),
               u.id AS u_id, u.tenant_id AS u_tenant_id, u.email AS u_email, u.name AS u_name, u.permissions AS u_permissions, u.scopes AS u_scopes, u.enabled AS u_enabled, u.created_at AS u_created_at, u.updated_at AS u_updated_at,
               n.id AS n_id, n.key AS n_key, n.kind AS n_kind, n.parent_id AS n_parent_id, n.name AS n_name, n.enabled AS n_enabled, n.path AS n_path, n.created_at AS n_created_at, n.updated_at AS n_updated_at,
               c.id AS c_id, c.client_id AS c_client_id, c.tenant_id AS c_tenant_id, c.name AS c_name, c.scopes AS c_scopes, c.provisioning AS c_provisioning, c.enabled AS c_enabled, c.created_at AS c_created_at, c.updated_at AS c_updated_at,
               cn.enabled AS cn_enabled
        """

    /// Tokens with their user and the user's node, their client and the client's node (the
    /// `WHERE` follows).
    static let bearerSelect = """
        \(bearerColumns)
        FROM access_tokens t
        LEFT JOIN users u ON u.id = t.user_id
        LEFT JOIN tenants n ON n.id = u.tenant_id
        LEFT JOIN api_clients c ON c.id = t.client_id
        LEFT JOIN tenants cn ON cn.id = c.tenant_id
        """

    /// ``bearerSelect`` for an array of token hashes, prepared on PostgreSQL.
    struct PreparedBearers: PreparedKeyRead {
        static let sql = """
            \(SQLStore.bearerColumns)
            FROM unnest($1::text[]) AS k(key)
            \(keyedProbe("access_tokens", as: "t", where: "x.token_hash = k.key"))
            \(keyedProbe("users", as: "u", where: "x.id = t.user_id", optional: true))
            \(keyedProbe("tenants", as: "n", where: "x.id = u.tenant_id", optional: true))
            \(keyedProbe("api_clients", as: "c", where: "x.id = t.client_id", optional: true))
            \(keyedProbe("tenants", as: "cn", where: "x.id = c.tenant_id", optional: true))
            """
        let keys: [String]
    }

    static func bearerContext(from row: any SQLRow) throws -> BearerContext {
        let token = try Self.token(from: row)
        var user: User?
        if let id = try row.decode(column: "u_id", as: Int64?.self) {
            user = User(
                id: id, tenantId: try row.decode(column: "u_tenant_id", as: Int64.self), email: try row.decode(column: "u_email", as: String.self),
                name: try row.decode(column: "u_name", as: String.self),
                permissions: try row.decode(column: "u_permissions", as: String.self).split(separator: ",").compactMap { Permission(rawValue: String($0)) },
                scopes: try row.decode(column: "u_scopes", as: String.self).split(separator: " ").compactMap { Scope(rawValue: String($0)) },
                enabled: try row.decode(column: "u_enabled", as: Bool.self),
                createdAt: try row.decode(column: "u_created_at", as: Int64.self), updatedAt: try row.decode(column: "u_updated_at", as: Int64.self))
        }
        var tenant: Tenant?
        if let id = try row.decode(column: "n_id", as: Int64?.self), let kind = TenantKind(rawValue: try row.decode(column: "n_kind", as: String.self)) {
            tenant = Tenant(
                id: id, key: try row.decode(column: "n_key", as: String.self), kind: kind, parentId: try row.decode(column: "n_parent_id", as: Int64?.self),
                name: try row.decode(column: "n_name", as: String.self), enabled: try row.decode(column: "n_enabled", as: Bool.self),
                path: try row.decode(column: "n_path", as: String.self),
                createdAt: try row.decode(column: "n_created_at", as: Int64.self), updatedAt: try row.decode(column: "n_updated_at", as: Int64.self))
        }
        var client: APIClient?
        if let id = try row.decode(column: "c_id", as: Int64?.self) {
            client = APIClient(
                id: id, clientId: try row.decode(column: "c_client_id", as: String.self), tenantId: try row.decode(column: "c_tenant_id", as: Int64.self),
                name: try row.decode(column: "c_name", as: String.self),
                scopes: try row.decode(column: "c_scopes", as: String.self).split(separator: " ").compactMap { Scope(rawValue: String($0)) },
                provisioning: try row.decode(column: "c_provisioning", as: Bool.self), enabled: try row.decode(column: "c_enabled", as: Bool.self),
                createdAt: try row.decode(column: "c_created_at", as: Int64.self), updatedAt: try row.decode(column: "c_updated_at", as: Int64.self))
        }
        let clientTenantEnabled = try row.decode(column: "cn_enabled", as: Bool?.self) ?? false
        return BearerContext(token: token, user: user, tenant: tenant, client: client, clientTenantEnabled: clientTenantEnabled)
    }

    public func issue(_ tokens: [AccessTokenRecord], audit: (AuditIntent, action: String, tenantId: Int64?)?) async throws -> [Int64] {
        return try await database.transaction { db in
            var ids: [Int64] = []
            for token in tokens {
                let refreshId = token.refreshId == -1 ? ids.first : token.refreshId
                guard let row = try await db.raw("""
                    INSERT INTO access_tokens (token_hash, kind, user_id, expires_at, revoked_at, created_at, client_id, scope, refresh_id, minted_by)
                    VALUES (\(bind: token.tokenHash), \(bind: token.kind.rawValue), \(bind: token.userId), \(bind: token.expiresAt), \(bind: token.revokedAt),
                            \(bind: token.createdAt), \(bind: token.clientId), \(bind: Self.scopesText(token.scopes)), \(bind: refreshId), \(bind: token.mintedBy))
                    RETURNING id
                    """).first() else { throw GatehouseError(.internal, "insert returned no id") }
                ids.append(try row.decode(column: "id", as: Int64.self))
            }
            if let (intent, action, tenantId) = audit, let id = ids.last {
                try await Self.audit(db, at: tokens.last?.createdAt ?? 0, intent: intent, action: action, targetType: "token", targetId: String(id), tenantId: tenantId)
            }
            return ids
        }
    }

    public func issueOne(_ token: AccessTokenRecord) async throws {
        try await tokenBatcher.insert(token)
    }

    public func revokeToken(id: Int64, at: Int64) async throws -> Bool {
        try await invalidating { try await database.transaction { db in
            let revoked = try await db.raw("""
                UPDATE access_tokens SET revoked_at = \(bind: at) WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING id
                """).all()
            // A refresh token takes the access tokens made from it along.
            try await db.raw("UPDATE access_tokens SET revoked_at = \(bind: at) WHERE refresh_id = \(bind: id) AND revoked_at IS NULL").run()
            return !revoked.isEmpty
        } }
    }

    public func onBehalfTokens(under path: String?, page: PageRequest) async throws -> Page<AccessTokenRecord> {
        try await database.withConnection { db in
            var query = SQLQueryString("""
                SELECT \(unsafeRaw: Self.tokenColumns) FROM access_tokens t JOIN users u ON u.id = t.user_id JOIN tenants n ON n.id = u.tenant_id
                WHERE t.kind = 'on_behalf' AND t.id > \(bind: page.after ?? 0)
                """)
            if let path { query.appendInterpolation(unsafeRaw: " AND n.path LIKE "); query.appendInterpolation(bind: Self.likePrefix(path)) }
            query.appendInterpolation(unsafeRaw: " ORDER BY t.id LIMIT \(page.limit + 1)")
            return Self.page(try await db.raw(query).all().map(Self.token(from:)), limit: page.limit, id: \.id)
        }
    }

    public func lockedKeys(_ keys: [String], at now: Int64) async throws -> [String] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT key FROM auth_throttle WHERE key IN (\(binds: keys)) AND locked_until > \(bind: now)
                """).all().map { try $0.decode(column: "key", as: String.self) }
        }
    }

    @discardableResult
    public func recordFailure(key: String, at now: Int64, limit: Int, window: Int64, lockout: Int64) async throws -> Int {
        try await database.transaction { db in
            // One atomic upsert per failure, so concurrent nodes never lose a count.
            guard let row = try await db.raw("""
                INSERT INTO auth_throttle (key, failures, window_start, locked_until) VALUES (\(bind: key), 1, \(bind: now), NULL)
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN auth_throttle.window_start + \(bind: window) <= \(bind: now) THEN 1 ELSE auth_throttle.failures + 1 END,
                    window_start = CASE WHEN auth_throttle.window_start + \(bind: window) <= \(bind: now) THEN \(bind: now) ELSE auth_throttle.window_start END
                RETURNING failures
                """).first() else { return 0 }
            let failures = try row.decode(column: "failures", as: Int.self)
            if failures >= limit {
                try await db.raw("UPDATE auth_throttle SET locked_until = \(bind: now + lockout) WHERE key = \(bind: key)").run()
            }
            return failures
        }
    }

    public func forgiveFailure(key: String, limit: Int) async throws {
        try await database.transaction { db in
            try await db.raw("""
                UPDATE auth_throttle SET failures = failures - 1,
                    locked_until = CASE WHEN failures - 1 < \(bind: limit) THEN NULL ELSE locked_until END
                WHERE key = \(bind: key) AND failures > 0
                """).run()
        }
    }

    public func clearFailures(key: String) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM auth_throttle WHERE key = \(bind: key) AND (locked_until IS NULL OR locked_until > 0)").run()
        }
    }

    public func purge(before: Int64, now: Int64) async throws -> Int {
        try await database.transaction { db in
            let tokens = try await db.raw("""
                DELETE FROM access_tokens WHERE (expires_at IS NOT NULL AND expires_at < \(bind: before))
                    OR (revoked_at IS NOT NULL AND revoked_at < \(bind: before)) RETURNING id
                """).all().count
            let counters = try await db.raw("""
                DELETE FROM auth_throttle WHERE window_start < \(bind: before) AND (locked_until IS NULL OR locked_until < \(bind: now)) RETURNING key
                """).all().count
            return tokens + counters
        }
    }

    public func usersInAccounts(under path: String, parentId: Int64?, email: String?, page: PageRequest) async throws -> Page<UserInAccount> {
        try await database.withConnection { db in
            var query = SQLQueryString("""
                SELECT \(unsafeRaw: Self.userColumns), \(unsafeRaw: Self.prefixed(Self.tenantColumns, "n"))
                FROM users u JOIN tenants n ON n.id = u.tenant_id
                WHERE n.kind = 'account' AND n.path LIKE \(bind: Self.likePrefix(path)) AND u.id > \(bind: page.after ?? 0)
                """)
            if let parentId { query.appendInterpolation(unsafeRaw: " AND n.parent_id = "); query.appendInterpolation(bind: parentId) }
            if let email { query.appendInterpolation(unsafeRaw: " AND u.email = "); query.appendInterpolation(bind: email) }
            query.appendInterpolation(unsafeRaw: " ORDER BY u.id LIMIT \(page.limit + 1)")
            let found = try await db.raw(query).all().map { row in
                UserInAccount(user: try Self.userRecord(from: row).user, account: try Self.tenant(from: PrefixedRow(row: row, prefix: "n_")))
            }
            return Self.page(found, limit: page.limit, id: \.user.id)
        }
    }
}
