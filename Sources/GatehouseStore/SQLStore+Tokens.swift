import GatehouseCore
import SQLKit

extension SQLStore {
    static let tokenColumns = "t.id, t.token_hash, t.kind, t.user_id, t.expires_at, t.revoked_at, t.created_at, t.client_id, t.scope, t.refresh_id, t.minted_by"

    static func token(from row: any SQLRow) throws -> AccessTokenRecord {
        guard let kind = AccessTokenKind(rawValue: try row.decode(column: "kind", as: String.self)) else {
            throw GatehouseError(.internal, "unknown token kind in the database")
        }
        return AccessTokenRecord(
            id: try row.decode(column: "id", as: Int64.self),
            tokenHash: try row.decode(column: "token_hash", as: String.self),
            kind: kind,
            userId: try row.decode(column: "user_id", as: Int64?.self),
            expiresAt: try row.decode(column: "expires_at", as: Int64?.self),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            clientId: try row.decode(column: "client_id", as: Int64?.self),
            scopes: try row.decode(column: "scope", as: String.self).split(separator: " ").compactMap { Scope(rawValue: String($0)) },
            refreshId: try row.decode(column: "refresh_id", as: Int64?.self),
            mintedBy: try row.decode(column: "minted_by", as: Int64?.self))
    }

    public func insertAccessToken(_ token: AccessTokenRecord) async throws {
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO access_tokens (token_hash, kind, user_id, expires_at, revoked_at, created_at, client_id, scope, refresh_id, minted_by)
                VALUES (\(bind: token.tokenHash), \(bind: token.kind.rawValue), \(bind: token.userId), \(bind: token.expiresAt), \(bind: token.revokedAt),
                        \(bind: token.createdAt), \(bind: token.clientId), \(bind: Self.scopesText(token.scopes)), \(bind: token.refreshId), \(bind: token.mintedBy))
                """).run()
        }
    }

    public func accessToken(hash: String) async throws -> AccessTokenRecord? {
        try await database.withConnection { db in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: Self.tokenColumns) FROM access_tokens t WHERE t.token_hash = \(bind: hash)
                """).first()
            else { return nil }
            return try Self.token(from: row)
        }
    }

    public func revokeAccessToken(hash: String, at: Int64) async throws -> Bool {
        try await invalidating { try await database.transaction { db in
            let rows = try await db.raw("""
                UPDATE access_tokens SET revoked_at = \(bind: at) WHERE token_hash = \(bind: hash) AND revoked_at IS NULL RETURNING id
                """).all()
            return !rows.isEmpty
        } }
    }

    public func listAudit(under path: String?, page: PageRequest) async throws -> Page<AuditEntry> {
        try await database.withConnection { db in
            var query = SQLQueryString("""
                SELECT id, at, actor, action, target_type, target_id, tenant_id, detail FROM audit_log WHERE id > \(bind: page.after ?? 0)
                """)
            if let path { query.appendInterpolation(unsafeRaw: " AND tenant_path LIKE "); query.appendInterpolation(bind: Self.likePrefix(path)) }
            query.appendInterpolation(unsafeRaw: " ORDER BY id LIMIT \(page.limit + 1)")
            let entries = try await db.raw(query).all().map { row in
                AuditEntry(
                    id: try row.decode(column: "id", as: Int64.self),
                    at: try row.decode(column: "at", as: Int64.self),
                    actor: try row.decode(column: "actor", as: String.self),
                    action: try row.decode(column: "action", as: String.self),
                    targetType: try row.decode(column: "target_type", as: String.self),
                    targetId: try row.decode(column: "target_id", as: String.self),
                    tenantId: try row.decode(column: "tenant_id", as: Int64?.self),
                    detail: try row.decode(column: "detail", as: String.self))
            }
            return Self.page(entries, limit: page.limit, id: \.id)
        }
    }
}
