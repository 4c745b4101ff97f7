import GatehouseCore
import SQLKit

extension SQLStore {
    public func addChannelEvent(channelId: Int64, type: String, time: Int64, payload: String, at: Int64) async throws -> ChannelEvent {
        let size = Int64(payload.utf8.count + type.utf8.count)
        return try await invalidatingChannels { try await database.transaction { db in
            // Conditional updates keep both storage limits exact under concurrent writers and across nodes.
            guard let channel = try await db.raw("""
                UPDATE channels SET storage_used = storage_used + \(bind: size)
                WHERE device_id = \(bind: channelId) AND (storage_limit IS NULL OR storage_used + \(bind: size) <= storage_limit)
                RETURNING tenant_id
                """).first() else {
                if try await db.raw("SELECT device_id FROM channels WHERE device_id = \(bind: channelId)").first() == nil {
                    throw GatehouseError.notFound("channel", channelId)
                }
                throw GatehouseError(.limitExceeded, "the channel's storage limit is reached")
            }
            let accountId = try channel.decode(column: "tenant_id", as: Int64.self)
            guard try await db.raw("""
                UPDATE tiered_accounts SET storage_used = storage_used + \(bind: size)
                WHERE tenant_id = \(bind: accountId) AND (storage_limit IS NULL OR storage_used + \(bind: size) <= storage_limit)
                RETURNING tenant_id
                """).first() != nil else { throw GatehouseError(.limitExceeded, "the account's storage limit is reached") }
            guard let row = try await db.raw("""
                INSERT INTO channel_events (device_id, type, at, payload, size, created_at)
                VALUES (\(bind: channelId), \(bind: type), \(bind: time), \(bind: payload), \(bind: size), \(bind: at)) RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            return ChannelEvent(id: try row.decode(column: "id", as: Int64.self), channelId: channelId, type: type, time: time, payload: payload, createdAt: at)
        } }
    }

    public func channelEvents(_ query: EventQuery) async throws -> OffsetPage<ChannelEvent> {
        guard !query.channelIds.isEmpty else { return OffsetPage(items: [], total: 0, limit: query.limit, offset: query.offset) }
        return try await database.withConnection { db in
            var filter = SQLQueryString("device_id IN (\(unsafeRaw: query.channelIds.map(String.init).joined(separator: ",")))")
            if let type = query.type { filter.appendInterpolation(unsafeRaw: " AND type = "); filter.appendInterpolation(bind: type) }
            if let start = query.start { filter.appendInterpolation(unsafeRaw: " AND at >= "); filter.appendInterpolation(bind: start) }
            if let end = query.end { filter.appendInterpolation(unsafeRaw: " AND at <= "); filter.appendInterpolation(bind: end) }
            let total = try await db.raw("SELECT COUNT(*) AS n FROM channel_events WHERE \(filter)").first()?.decode(column: "n", as: Int64.self) ?? 0
            let rows = try await db.raw("""
                SELECT id, device_id, type, at, payload, created_at FROM channel_events WHERE \(filter)
                ORDER BY at DESC, id DESC LIMIT \(unsafeRaw: String(query.limit)) OFFSET \(unsafeRaw: String(query.offset))
                """).all()
            let items = try rows.map { row in
                ChannelEvent(id: try row.decode(column: "id", as: Int64.self), channelId: try row.decode(column: "device_id", as: Int64.self),
                             type: try row.decode(column: "type", as: String.self), time: try row.decode(column: "at", as: Int64.self),
                             payload: try row.decode(column: "payload", as: String.self), createdAt: try row.decode(column: "created_at", as: Int64.self))
            }
            return OffsetPage(items: items, total: total, limit: query.limit, offset: query.offset)
        }
    }

    public func purgeExpiredEvents(now: Int64) async throws -> Int {
        try await invalidatingChannels { try await database.transaction { db in
            let expired = try await db.raw("""
                SELECT e.id, e.device_id, e.size, c.tenant_id FROM channel_events e JOIN channels c ON c.device_id = e.device_id
                WHERE c.records_max_age IS NOT NULL AND e.at < (\(bind: now) - c.records_max_age * 3600) * 1000
                LIMIT 10000
                """).all()
            var perChannel: [Int64: Int64] = [:], perAccount: [Int64: Int64] = [:]
            for row in expired {
                let size = try row.decode(column: "size", as: Int64.self)
                perChannel[try row.decode(column: "device_id", as: Int64.self), default: 0] += size
                perAccount[try row.decode(column: "tenant_id", as: Int64.self), default: 0] += size
                try await db.raw("DELETE FROM channel_events WHERE id = \(bind: try row.decode(column: "id", as: Int64.self))").run()
            }
            for (channel, size) in perChannel {
                try await db.raw("UPDATE channels SET storage_used = storage_used - \(bind: size) WHERE device_id = \(bind: channel)").run()
            }
            for (account, size) in perAccount {
                try await db.raw("UPDATE tiered_accounts SET storage_used = storage_used - \(bind: size) WHERE tenant_id = \(bind: account)").run()
            }
            return expired.count
        } }
    }
}
