import GatehouseCore
import SQLKit

extension SQLStore {
    static func fetchChannelGroup(_ db: any SQLDatabase, id: Int64) async throws -> ChannelGroupRecord? {
        guard let row = try await db.raw("""
            SELECT id, tenant_id, name, token_hash, token_sealed, created_at, updated_at FROM channel_groups WHERE id = \(bind: id)
            """).first() else { return nil }
        let members = try await db.raw("SELECT device_id FROM channel_group_members WHERE group_id = \(bind: id) ORDER BY device_id").all()
        return ChannelGroupRecord(
            id: id, accountId: try row.decode(column: "tenant_id", as: Int64.self), name: try row.decode(column: "name", as: String.self),
            channelIds: try members.map { try $0.decode(column: "device_id", as: Int64.self) },
            token: SealedSecret(hash: try row.decode(column: "token_hash", as: String.self), sealed: try row.decode(column: "token_sealed", as: String.self)),
            createdAt: try row.decode(column: "created_at", as: Int64.self), updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    static func setGroupMembers(_ db: any SQLDatabase, groupId: Int64, accountId: Int64, channelIds: [Int64]) async throws {
        try await db.raw("DELETE FROM channel_group_members WHERE group_id = \(bind: groupId)").run()
        for channel in channelIds {
            // Only the account's own channels can join (checked again here, inside the transaction).
            try await db.raw("""
                INSERT INTO channel_group_members (group_id, device_id)
                SELECT \(bind: groupId), device_id FROM channels WHERE device_id = \(bind: channel) AND tenant_id = \(bind: accountId)
                """).run()
        }
    }

    public func createChannelGroup(accountId: Int64, name: String, channelIds: [Int64], token: SealedSecret, at: Int64, audit: AuditIntent) async throws -> ChannelGroupRecord {
        try await database.transaction { db in
            guard try await db.raw("""
                UPDATE tiered_accounts SET tokens_issued = tokens_issued + 1 WHERE tenant_id = \(bind: accountId) RETURNING tenant_id
                """).first() != nil else { throw GatehouseError.notFound("account", accountId) }
            guard let row = try await db.raw("""
                INSERT INTO channel_groups (tenant_id, name, token_hash, token_sealed, created_at, updated_at)
                VALUES (\(bind: accountId), \(bind: name), \(bind: token.hash), \(bind: token.sealed), \(bind: at), \(bind: at)) RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let id = try row.decode(column: "id", as: Int64.self)
            try await Self.setGroupMembers(db, groupId: id, accountId: accountId, channelIds: channelIds)
            try await Self.audit(db, at: at, intent: audit, action: "channel_group.create", targetType: "channel_group", targetId: String(id), tenantId: accountId)
            guard let record = try await Self.fetchChannelGroup(db, id: id) else { throw GatehouseError(.internal, "created group vanished") }
            return record
        }
    }

    public func channelGroup(id: Int64) async throws -> ChannelGroupRecord? {
        try await database.withConnection { db in try await Self.fetchChannelGroup(db, id: id) }
    }

    public func channelGroups(accountId: Int64, limit: Int, offset: Int) async throws -> OffsetPage<ChannelGroupRecord> {
        try await database.withConnection { db in
            let total = try await db.raw("SELECT COUNT(*) AS n FROM channel_groups WHERE tenant_id = \(bind: accountId)").first()?.decode(column: "n", as: Int64.self) ?? 0
            let ids = try await db.raw("""
                SELECT id FROM channel_groups WHERE tenant_id = \(bind: accountId) ORDER BY id LIMIT \(unsafeRaw: String(limit)) OFFSET \(unsafeRaw: String(offset))
                """).all().map { try $0.decode(column: "id", as: Int64.self) }
            var items: [ChannelGroupRecord] = []
            for id in ids { if let group = try await Self.fetchChannelGroup(db, id: id) { items.append(group) } }
            return OffsetPage(items: items, total: total, limit: limit, offset: offset)
        }
    }

    public func updateChannelGroup(id: Int64, name: String?, channelIds: [Int64]?, token: SealedSecret?, at: Int64, audit: AuditIntent) async throws -> ChannelGroupRecord {
        try await invalidating { try await database.transaction { db in
            guard let existing = try await Self.fetchChannelGroup(db, id: id) else { throw GatehouseError.notFound("channel group", id) }
            let newToken = token ?? existing.token
            try await db.raw("""
                UPDATE channel_groups SET name = \(bind: name ?? existing.name), token_hash = \(bind: newToken.hash), token_sealed = \(bind: newToken.sealed),
                    updated_at = \(bind: at) WHERE id = \(bind: id)
                """).run()
            if token != nil {
                try await db.raw("UPDATE tiered_accounts SET tokens_issued = tokens_issued + 1 WHERE tenant_id = \(bind: existing.accountId)").run()
            }
            if let channelIds { try await Self.setGroupMembers(db, groupId: id, accountId: existing.accountId, channelIds: channelIds) }
            try await Self.audit(db, at: at, intent: audit, action: "channel_group.update", targetType: "channel_group", targetId: String(id), tenantId: existing.accountId)
            guard let record = try await Self.fetchChannelGroup(db, id: id) else { throw GatehouseError.notFound("channel group", id) }
            return record
        } }
    }

    public func deleteChannelGroup(id: Int64, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            guard let existing = try await Self.fetchChannelGroup(db, id: id) else { throw GatehouseError.notFound("channel group", id) }
            try await Self.audit(db, at: at, intent: audit, action: "channel_group.delete", targetType: "channel_group", targetId: String(id), tenantId: existing.accountId)
            try await db.raw("DELETE FROM channel_groups WHERE id = \(bind: id)").run()
        } }
    }
}
