import Foundation
import GatehouseCore
import NIOCore
import SQLKit

extension SQLStore: MediaStore {
    static let mediaColumns = "id, device_id, tenant_id, kind, at, duration, content_type, size, sha256, chunk_size, created_at"

    static func mediaItem(from row: any SQLRow) throws -> MediaItem {
        MediaItem(id: try row.decode(column: "id", as: Int64.self), channelId: try row.decode(column: "device_id", as: Int64.self),
                  accountId: try row.decode(column: "tenant_id", as: Int64.self),
                  kind: MediaKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .image,
                  time: try row.decode(column: "at", as: Int64.self), duration: try row.decode(column: "duration", as: Int64?.self),
                  contentType: try row.decode(column: "content_type", as: String.self), size: try row.decode(column: "size", as: Int64.self),
                  sha256: try row.decode(column: "sha256", as: String?.self) ?? "", chunkSize: try row.decode(column: "chunk_size", as: Int64.self),
                  createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    // MARK: Device credentials

    public func mediaAgent(id: Int64) async throws -> (keyHash: String, active: Bool, deviceId: Int64?)? {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT key_hash, status, device_id FROM agents WHERE id = \(bind: id)").first() else { return nil }
            return (try row.decode(column: "key_hash", as: String.self), try row.decode(column: "status", as: String.self) == "active",
                    try row.decode(column: "device_id", as: Int64?.self))
        }
    }

    public func mediaDeviceId(cikHash: String) async throws -> Int64? {
        try await database.withConnection { db in
            try await db.raw("SELECT device_id FROM provision_serials WHERE cik_hash = \(bind: cikHash) AND state = 'activated'").first()?
                .decode(column: "device_id", as: Int64?.self)
        }
    }

    // MARK: Uploads

    public func beginMedia(_ new: NewMedia) async throws -> Int64 {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO media_items (device_id, tenant_id, kind, at, duration, content_type, size, state, chunk_size, created_at)
                VALUES (\(bind: new.channelId), \(bind: new.accountId), \(bind: new.kind.rawValue), \(bind: new.time), \(bind: new.duration),
                        \(bind: new.contentType), 0, 'uploading', \(bind: new.chunkSize), \(bind: new.at))
                RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            return try row.decode(column: "id", as: Int64.self)
        }
    }

    public func appendMediaChunk(mediaId: Int64, seq: Int64, data: ByteBuffer) async throws {
        try await database.transaction { db in
            try await db.raw("INSERT INTO media_chunks (media_id, seq, data) VALUES (\(bind: mediaId), \(bind: seq), \(bind: data))").run()
        }
    }

    public func finishMedia(mediaId: Int64, size: Int64, sha256: String, at: Int64) async throws -> MediaItem {
        try await invalidatingChannels { try await database.transaction { db in
            guard let pending = try await db.raw("SELECT device_id FROM media_items WHERE id = \(bind: mediaId) AND state = 'uploading'").first() else {
                throw GatehouseError(.notFound, "the upload was removed before it finished")
            }
            let channelId = try pending.decode(column: "device_id", as: Int64.self)
            // Conditional updates keep both storage limits exact under concurrent uploads and across nodes.
            guard let channel = try await db.raw("""
                UPDATE channels SET storage_used = storage_used + \(bind: size)
                WHERE device_id = \(bind: channelId) AND (storage_limit IS NULL OR storage_used + \(bind: size) <= storage_limit)
                RETURNING tenant_id
                """).first() else {
                if try await db.raw("SELECT device_id FROM channels WHERE device_id = \(bind: channelId)").first() == nil {
                    throw GatehouseError(.notFound, "the channel was deleted during the upload")
                }
                throw GatehouseError(.insufficientStorage, "the channel's storage limit is reached")
            }
            guard try await db.raw("""
                UPDATE tiered_accounts SET storage_used = storage_used + \(bind: size)
                WHERE tenant_id = \(bind: try channel.decode(column: "tenant_id", as: Int64.self))
                    AND (storage_limit IS NULL OR storage_used + \(bind: size) <= storage_limit)
                RETURNING tenant_id
                """).first() != nil else { throw GatehouseError(.insufficientStorage, "the account's storage limit is reached") }
            guard let row = try await db.raw("""
                UPDATE media_items SET state = 'stored', size = \(bind: size), sha256 = \(bind: sha256) WHERE id = \(bind: mediaId)
                RETURNING \(unsafeRaw: Self.mediaColumns)
                """).first() else { throw GatehouseError(.notFound, "the upload was removed before it finished") }
            return try Self.mediaItem(from: row)
        } }
    }

    public func discardMedia(mediaId: Int64) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM media_items WHERE id = \(bind: mediaId) AND state = 'uploading'").run()
        }
    }

    // MARK: Reading and deleting

    public func mediaItems(_ query: MediaQuery) async throws -> OffsetPage<MediaItem> {
        try await database.withConnection { db in
            var filter = SQLQueryString("device_id = \(bind: query.channelId) AND kind = \(bind: query.kind.rawValue) AND state = 'stored'")
            if let start = query.start { filter.appendInterpolation(unsafeRaw: " AND at >= "); filter.appendInterpolation(bind: start) }
            if let end = query.end { filter.appendInterpolation(unsafeRaw: " AND at <= "); filter.appendInterpolation(bind: end) }
            let total = try await db.raw("SELECT COUNT(*) AS n FROM media_items WHERE \(filter)").first()?.decode(column: "n", as: Int64.self) ?? 0
            let rows = try await db.raw("""
                SELECT \(unsafeRaw: Self.mediaColumns) FROM media_items WHERE \(filter)
                ORDER BY at DESC, id DESC LIMIT \(unsafeRaw: String(query.limit)) OFFSET \(unsafeRaw: String(query.offset))
                """).all()
            return OffsetPage(items: try rows.map(Self.mediaItem(from:)), total: total, limit: query.limit, offset: query.offset)
        }
    }

    public func mediaItem(id: Int64) async throws -> MediaItem? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.mediaColumns) FROM media_items WHERE id = \(bind: id) AND state = 'stored'").first()
                .map(Self.mediaItem(from:))
        }
    }

    public func mediaChunk(mediaId: Int64, seq: Int64) async throws -> ByteBuffer? {
        try await database.withConnection { db in
            try await db.raw("SELECT data FROM media_chunks WHERE media_id = \(bind: mediaId) AND seq = \(bind: seq)").first()?
                .decode(column: "data", as: ByteBuffer.self)
        }
    }

    /// Subtracts what removed items held from their channels and accounts (inside the caller's transaction).
    static func releaseMedia(_ db: any SQLDatabase, perChannel: [Int64: Int64]) async throws {
        for (channel, size) in perChannel.sorted(by: { $0.key < $1.key }) where size > 0 {
            guard let row = try await db.raw("""
                UPDATE channels SET storage_used = CASE WHEN storage_used > \(bind: size) THEN storage_used - \(bind: size) ELSE 0 END
                WHERE device_id = \(bind: channel) RETURNING tenant_id
                """).first() else { continue }
            try await db.raw("""
                UPDATE tiered_accounts SET storage_used = CASE WHEN storage_used > \(bind: size) THEN storage_used - \(bind: size) ELSE 0 END
                WHERE tenant_id = \(bind: try row.decode(column: "tenant_id", as: Int64.self))
                """).run()
        }
    }

    public func deleteMedia(id: Int64, at: Int64, audit: AuditIntent) async throws {
        try await invalidatingChannels { try await database.transaction { db in
            guard let row = try await db.raw("""
                DELETE FROM media_items WHERE id = \(bind: id) AND state = 'stored' RETURNING device_id, tenant_id, kind, size
                """).first() else { throw GatehouseError.notFound("media item", id) }
            let channel = try row.decode(column: "device_id", as: Int64.self)
            try await Self.releaseMedia(db, perChannel: [channel: try row.decode(column: "size", as: Int64.self)])
            try await Self.audit(db, at: at, intent: audit, action: "media.delete", targetType: "device", targetId: String(channel),
                                 tenantId: try row.decode(column: "tenant_id", as: Int64.self))
        } }
    }

    public func purgeExpiredMedia(now: Int64, staleBefore: Int64) async throws -> Int {
        try await invalidatingChannels { try await database.transaction { db in
            let expired = try await db.raw("""
                SELECT m.id, m.device_id, m.size FROM media_items m JOIN channels c ON c.device_id = m.device_id
                WHERE m.state = 'stored' AND c.records_max_age IS NOT NULL AND m.at < \(bind: now) - c.records_max_age * 3600
                LIMIT 10000
                """).all()
            var perChannel: [Int64: Int64] = [:]
            for row in expired {
                perChannel[try row.decode(column: "device_id", as: Int64.self), default: 0] += try row.decode(column: "size", as: Int64.self)
                try await db.raw("DELETE FROM media_items WHERE id = \(bind: try row.decode(column: "id", as: Int64.self))").run()
            }
            try await Self.releaseMedia(db, perChannel: perChannel)
            try await db.raw("DELETE FROM media_items WHERE state = 'uploading' AND created_at < \(bind: staleBefore)").run()
            return expired.count
        } }
    }

    // MARK: Channels of existing devices

    public func accountDevices(accountId: Int64, limit: Int, offset: Int) async throws -> OffsetPage<AccountDevice> {
        try await database.withConnection { db in
            let total = try await db.raw("SELECT COUNT(*) AS n FROM devices WHERE tenant_id = \(bind: accountId)").first()?.decode(column: "n", as: Int64.self) ?? 0
            let rows = try await db.raw("""
                SELECT d.id, d.kind, d.name, d.serial, c.device_id AS channel FROM devices d LEFT JOIN channels c ON c.device_id = d.id
                WHERE d.tenant_id = \(bind: accountId) ORDER BY d.id LIMIT \(unsafeRaw: String(limit)) OFFSET \(unsafeRaw: String(offset))
                """).all()
            let items = try rows.map { row in
                AccountDevice(id: try row.decode(column: "id", as: Int64.self), kind: try row.decode(column: "kind", as: String.self),
                              name: try row.decode(column: "name", as: String.self), serial: try row.decode(column: "serial", as: String?.self),
                              hasChannel: try row.decode(column: "channel", as: Int64?.self) != nil)
            }
            return OffsetPage(items: items, total: total, limit: limit, offset: offset)
        }
    }

    public func attachChannel(deviceId: Int64, accountId: Int64, timezone: String, recMode: RecordingMode, meta: [String: String],
                              tokens: [ChannelAccess: SealedSecret], at: Int64, audit: AuditIntent) async throws -> ChannelRecord {
        try await invalidating { try await database.transaction { db in
            // The account row first: it serializes channel creations of the account (hosted_cameras).
            guard let account = try await db.raw("""
                UPDATE tiered_accounts SET tokens_issued = tokens_issued + \(bind: Int64(tokens.count)) WHERE tenant_id = \(bind: accountId)
                RETURNING hosted_cameras
                """).first() else { throw GatehouseError.notFound("account", accountId) }
            guard try await db.raw("SELECT id FROM devices WHERE id = \(bind: deviceId) AND tenant_id = \(bind: accountId)").first() != nil else {
                throw GatehouseError.notFound("device", deviceId)
            }
            if try await db.raw("SELECT device_id FROM channels WHERE device_id = \(bind: deviceId)").first() != nil {
                throw GatehouseError(.conflict, "device \(deviceId) is a channel already")
            }
            if let hosted = try account.decode(column: "hosted_cameras", as: Int64?.self) {
                let count = try await db.raw("SELECT COUNT(*) AS n FROM channels WHERE tenant_id = \(bind: accountId)").first()?.decode(column: "n", as: Int64.self) ?? 0
                guard count < hosted else { throw GatehouseError(.limitExceeded, "the account may hold at most \(hosted) channels (hosted_cameras)") }
            }
            try await db.raw("""
                INSERT INTO channels (device_id, tenant_id, timezone, rec_mode, meta, attached)
                VALUES (\(bind: deviceId), \(bind: accountId), \(bind: timezone), \(bind: recMode.rawValue), \(bind: Self.metaText(meta)), 1)
                """).run()
            try await Self.insertChannelTokens(db, id: deviceId, tokens: tokens, at: at)
            try await Self.audit(db, at: at, intent: audit, action: "channel.attach", targetType: "device", targetId: String(deviceId), tenantId: accountId)
            guard let record = try await Self.fetchChannels(db, ids: [deviceId]).first else { throw GatehouseError.notFound("channel", deviceId) }
            return record
        } }
    }

    /// Deletes an attached channel without its device: its tokens, group memberships, events
    /// and media go, and what they held is released. Answers false for a channel that owns its device.
    func detachChannel(id: Int64, at: Int64, audit: AuditIntent) async throws -> Bool {
        try await invalidating { try await database.transaction { db in
            guard let row = try await db.raw("SELECT tenant_id, attached FROM channels WHERE device_id = \(bind: id)").first(),
                  try row.decode(column: "attached", as: Int64.self) != 0 else { return false }
            try await Self.audit(db, at: at, intent: audit, action: "channel.detach", targetType: "device", targetId: String(id),
                                 tenantId: try row.decode(column: "tenant_id", as: Int64.self))
            try await Self.releaseChannelUsage(db, deviceId: id)
            for table in ["channel_tokens", "channel_group_members", "channel_events", "media_items", "channels"] {
                try await db.raw("DELETE FROM \(unsafeRaw: table) WHERE device_id = \(bind: id)").run()
            }
            return true
        } }
    }

    // MARK: Live video

    public func liveTemplates(accountId: Int64) async throws -> [String: String] {
        try await database.withConnection { db in
            guard let text = try await db.raw("SELECT live_url_templates FROM tiered_accounts WHERE tenant_id = \(bind: accountId)").first()?
                .decode(column: "live_url_templates", as: String?.self) else { return [:] }
            return (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
        }
    }

    public func setLiveTemplates(accountId: Int64, templates: [String: String], at: Int64, audit: AuditIntent) async throws {
        try await database.transaction { db in
            let text: String? = templates.isEmpty ? nil : Self.metaText(templates)
            guard try await db.raw("""
                UPDATE tiered_accounts SET live_url_templates = \(bind: text), updated_at = \(bind: at) WHERE tenant_id = \(bind: accountId) RETURNING tenant_id
                """).first() != nil else { throw GatehouseError.notFound("account", accountId) }
            try await Self.audit(db, at: at, intent: audit, action: "account.live_templates", targetType: "tenant", targetId: String(accountId), tenantId: accountId)
        }
    }
}
