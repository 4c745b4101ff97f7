import Foundation
import GatehouseCore
import SQLKit

extension SQLStore {
    static let channelColumns = """
        c.device_id, c.tenant_id, d.name, c.timezone, c.rec_mode, c.source_url, c.source_login, c.source_password_sealed, c.meta,
        c.storage_limit, c.records_max_age, c.storage_used, d.created_at, d.updated_at
        """

    static func channelRecord(from row: any SQLRow, tokens: [ChannelAccess: SealedSecret]) throws -> ChannelRecord {
        let metaText = try row.decode(column: "meta", as: String.self)
        let meta = (try? JSONDecoder().decode([String: String].self, from: Data(metaText.utf8))) ?? [:]
        return ChannelRecord(
            id: try row.decode(column: "device_id", as: Int64.self),
            accountId: try row.decode(column: "tenant_id", as: Int64.self),
            name: try row.decode(column: "name", as: String.self),
            timezone: try row.decode(column: "timezone", as: String.self),
            recMode: RecordingMode(rawValue: try row.decode(column: "rec_mode", as: String.self)) ?? .off,
            sourceURL: try row.decode(column: "source_url", as: String?.self),
            sourceLogin: try row.decode(column: "source_login", as: String?.self),
            sourcePasswordSealed: try row.decode(column: "source_password_sealed", as: String?.self),
            meta: meta,
            limits: ChannelLimits(storageBytes: try row.decode(column: "storage_limit", as: Int64?.self),
                                  recordsMaxAge: try row.decode(column: "records_max_age", as: Int64?.self)),
            storageBytes: try row.decode(column: "storage_used", as: Int64.self),
            tokens: tokens,
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    static func metaText(_ meta: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(meta)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The channels with `ids` (tokens included), in id order.
    static func fetchChannels(_ db: any SQLDatabase, ids: [Int64]) async throws -> [ChannelRecord] {
        guard !ids.isEmpty else { return [] }
        // Ids are integers, so listing them inline is safe and keeps one statement per table.
        let list = ids.map(String.init).joined(separator: ",")
        let rows = try await db.raw("""
            SELECT \(unsafeRaw: channelColumns) FROM channels c JOIN devices d ON d.id = c.device_id
            WHERE c.device_id IN (\(unsafeRaw: list)) ORDER BY c.device_id
            """).all()
        let tokenRows = try await db.raw("""
            SELECT device_id, access, token_hash, token_sealed FROM channel_tokens WHERE device_id IN (\(unsafeRaw: list))
            """).all()
        var tokens: [Int64: [ChannelAccess: SealedSecret]] = [:]
        for row in tokenRows {
            guard let access = ChannelAccess(rawValue: try row.decode(column: "access", as: String.self)) else { continue }
            tokens[try row.decode(column: "device_id", as: Int64.self), default: [:]][access] = SealedSecret(
                hash: try row.decode(column: "token_hash", as: String.self), sealed: try row.decode(column: "token_sealed", as: String.self))
        }
        return try rows.map { row in try channelRecord(from: row, tokens: tokens[try row.decode(column: "device_id", as: Int64.self)] ?? [:]) }
    }

    static func insertChannelTokens(_ db: any SQLDatabase, id: Int64, tokens: [ChannelAccess: SealedSecret], at: Int64) async throws {
        for (access, token) in tokens.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            try await db.raw("""
                INSERT INTO channel_tokens (device_id, access, token_hash, token_sealed, created_at)
                VALUES (\(bind: id), \(bind: access.rawValue), \(bind: token.hash), \(bind: token.sealed), \(bind: at))
                """).run()
        }
    }

    /// Creates a channel (a camera device of the account) with its tokens, refusing one past
    /// the account's `hosted_cameras`. Concurrent creations share transactions (``ChannelCreationBatch``).
    public func createChannel(accountId: Int64, name: String, timezone: String, recMode: RecordingMode, sourceURL: String?, sourceLogin: String?,
                              sourcePasswordSealed: String?, meta: [String: String], tokens: [ChannelAccess: SealedSecret],
                              at: Int64, audit: AuditIntent) async throws -> ChannelRecord {
        try await channelCreations.submit(ChannelCreation(
            accountId: accountId, name: name, timezone: timezone, recMode: recMode, sourceURL: sourceURL, sourceLogin: sourceLogin,
            sourcePasswordSealed: sourcePasswordSealed, meta: meta, tokens: tokens, at: at, audit: audit))
    }

    /// One channel; served from the in-process cache on SQLite (dropped by every write to a channel).
    public func channel(id: Int64) async throws -> ChannelRecord? {
        if let cached = cache?.channel(id) { return cached }
        let generation = cache?.channelGeneration ?? 0
        let found = try await database.withConnection { db in try await Self.fetchChannels(db, ids: [id]).first }
        if let found { cache?.store(channel: found, readAt: generation) }
        return found
    }

    /// Runs a write that changes channel records (not credentials), then drops the cached records.
    func invalidatingChannels<T: Sendable>(_ write: () async throws -> T) async throws -> T {
        defer { cache?.invalidateChannels() }
        return try await write()
    }

    public func channels(accountId: Int64, ids: [Int64]?, limit: Int, offset: Int) async throws -> OffsetPage<ChannelRecord> {
        if let ids, ids.isEmpty { return OffsetPage(items: [], total: 0, limit: limit, offset: offset) }
        return try await database.withConnection { db in
            var filter = SQLQueryString("tenant_id = \(bind: accountId)")
            if let ids {
                filter.appendInterpolation(unsafeRaw: " AND device_id IN (")
                filter.appendInterpolation(unsafeRaw: ids.map(String.init).joined(separator: ","))
                filter.appendInterpolation(unsafeRaw: ")")
            }
            let total = try await db.raw("SELECT COUNT(*) AS n FROM channels WHERE \(filter)").first()?.decode(column: "n", as: Int64.self) ?? 0
            let page = try await db.raw("""
                SELECT device_id FROM channels WHERE \(filter) ORDER BY device_id LIMIT \(unsafeRaw: String(limit)) OFFSET \(unsafeRaw: String(offset))
                """).all().map { try $0.decode(column: "device_id", as: Int64.self) }
            return OffsetPage(items: try await Self.fetchChannels(db, ids: page), total: total, limit: limit, offset: offset)
        }
    }

    public func updateChannel(_ record: ChannelRecord, at: Int64, audit: AuditIntent) async throws -> ChannelRecord {
        try await invalidatingChannels { try await database.transaction { db in
            guard try await db.raw("UPDATE devices SET name = \(bind: record.name), updated_at = \(bind: at) WHERE id = \(bind: record.id) RETURNING id").first() != nil else {
                throw GatehouseError.notFound("channel", record.id)
            }
            try await db.raw("""
                UPDATE channels SET timezone = \(bind: record.timezone), rec_mode = \(bind: record.recMode.rawValue), source_url = \(bind: record.sourceURL),
                    source_login = \(bind: record.sourceLogin), source_password_sealed = \(bind: record.sourcePasswordSealed), meta = \(bind: Self.metaText(record.meta)),
                    storage_limit = \(bind: record.limits.storageBytes), records_max_age = \(bind: record.limits.recordsMaxAge)
                WHERE device_id = \(bind: record.id)
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "channel.update", targetType: "device", targetId: String(record.id), tenantId: record.accountId)
            guard let updated = try await Self.fetchChannels(db, ids: [record.id]).first else { throw GatehouseError.notFound("channel", record.id) }
            return updated
        } }
    }

    public func deleteChannel(id: Int64, at: Int64, audit: AuditIntent) async throws {
        // A channel attached to an existing device (SQLStore+Media) goes without the device.
        if try await detachChannel(id: id, at: at, audit: audit) { return }
        try await deleteDevice(id: id, at: at, audit: audit)
    }

    /// Releases what a device held against its account's counters (inside the deleting transaction).
    static func releaseChannelUsage(_ db: any SQLDatabase, deviceId: Int64) async throws {
        guard let row = try await db.raw("SELECT tenant_id, storage_used FROM channels WHERE device_id = \(bind: deviceId)").first() else { return }
        let used = try row.decode(column: "storage_used", as: Int64.self)
        try await db.raw("""
            UPDATE tiered_accounts SET storage_used = CASE WHEN storage_used > \(bind: used) THEN storage_used - \(bind: used) ELSE 0 END
            WHERE tenant_id = \(bind: try row.decode(column: "tenant_id", as: Int64.self))
            """).run()
    }

    public func replaceChannelTokens(id: Int64, tokens: [ChannelAccess: SealedSecret], at: Int64, audit: AuditIntent) async throws -> ChannelRecord {
        try await invalidating { try await database.transaction { db in
            guard let existing = try await Self.fetchChannels(db, ids: [id]).first else { throw GatehouseError.notFound("channel", id) }
            for access in tokens.keys {
                try await db.raw("DELETE FROM channel_tokens WHERE device_id = \(bind: id) AND access = \(bind: access.rawValue)").run()
            }
            try await Self.insertChannelTokens(db, id: id, tokens: tokens, at: at)
            try await db.raw("UPDATE tiered_accounts SET tokens_issued = tokens_issued + \(bind: Int64(tokens.count)) WHERE tenant_id = \(bind: existing.accountId)").run()
            try await Self.audit(db, at: at, intent: audit, action: "channel.tokens", targetType: "device", targetId: String(id), tenantId: existing.accountId)
            guard let updated = try await Self.fetchChannels(db, ids: [id]).first else { throw GatehouseError.notFound("channel", id) }
            return updated
        } }
    }
}
