import Foundation
import GatehouseCore
import SQLKit

/// One queued channel creation (see ``SQLStore/createChannel``).
struct ChannelCreation: Sendable {
    var accountId: Int64
    var name: String
    var timezone: String
    var recMode: RecordingMode
    var sourceURL: String?
    var sourceLogin: String?
    var sourcePasswordSealed: String?
    var meta: [String: String]
    var tokens: [ChannelAccess: SealedSecret]
    var at: Int64
    var audit: AuditIntent
}

/// Writes a batch of channel creations in one transaction.
///
/// Each account in the batch is touched once, in id order: the first statement locks its
/// row (PostgreSQL; SQLite has one writer) before its channels are counted, so
/// `hosted_cameras` stays exact under concurrent creation on every node. Creations past the
/// limit are refused with `limit_exceeded` and write nothing; the others are inserted with
/// multi-row `INSERT`s for devices, channels, tokens and audit entries, so a batch costs
/// the same handful of statements whatever its size.
enum ChannelCreationBatch {
    static func commit(_ database: any Database, _ batch: [ChannelCreation]) async throws -> [Result<ChannelRecord, any Error>] {
        let engine = database.engine
        return try await database.transaction { db in
            var results = [Result<ChannelRecord, any Error>?](repeating: nil, count: batch.count)
            var accepted: [Int] = []
            let byAccount = Dictionary(grouping: batch.indices, by: { batch[$0].accountId })
            for accountId in byAccount.keys.sorted() {
                let indices = byAccount[accountId]!
                let tokensIssued = indices.reduce(Int64(0)) { $0 + Int64(batch[$1].tokens.count) }
                guard let account = try await db.raw("""
                    UPDATE tiered_accounts SET tokens_issued = tokens_issued + \(bind: tokensIssued) WHERE tenant_id = \(bind: accountId)
                    RETURNING hosted_cameras
                    """).first() else {
                    for index in indices { results[index] = .failure(GatehouseError.notFound("account", accountId)) }
                    continue
                }
                var allowed = indices.count
                if let hosted = try account.decode(column: "hosted_cameras", as: Int64?.self) {
                    let count = try await db.raw("SELECT COUNT(*) AS n FROM channels WHERE tenant_id = \(bind: accountId)").first()?.decode(column: "n", as: Int64.self) ?? 0
                    allowed = Int(max(0, min(Int64(indices.count), hosted - count)))
                    let refused = indices.dropFirst(allowed)
                    if !refused.isEmpty {
                        let unissued = refused.reduce(Int64(0)) { $0 + Int64(batch[$1].tokens.count) }
                        try await db.raw("UPDATE tiered_accounts SET tokens_issued = tokens_issued - \(bind: unissued) WHERE tenant_id = \(bind: accountId)").run()
                        for index in refused {
                            results[index] = .failure(GatehouseError(.limitExceeded, "the account may hold at most \(hosted) channels (hosted_cameras)"))
                        }
                    }
                }
                accepted.append(contentsOf: indices.prefix(allowed))
            }
            accepted.sort()
            if !accepted.isEmpty {
                let paths = try await tenantPaths(db, ids: Set(accepted.map { batch[$0].accountId }))
                var ids: [Int: Int64] = [:]
                for (index, id) in zip(accepted, try await MultiRowSQL.reserveIds(db, engine, tables: ["devices"], count: accepted.count)["devices"]!) { ids[index] = id }
                for chunk in accepted.chunked(100) {
                    try await db.raw(deviceRows(chunk.map { (ids[$0]!, batch[$0]) })).run()
                }
                for chunk in accepted.chunked(100) {
                    try await db.raw(channelRows(chunk.map { (ids[$0]!, batch[$0]) })).run()
                    try await db.raw(tokenRows(chunk.map { (ids[$0]!, batch[$0]) })).run()
                    try await db.raw(auditRows(chunk.map { (ids[$0]!, batch[$0]) }, paths: paths)).run()
                }
                for index in accepted {
                    let creation = batch[index]
                    results[index] = .success(ChannelRecord(
                        id: ids[index]!, accountId: creation.accountId, name: creation.name, timezone: creation.timezone, recMode: creation.recMode,
                        sourceURL: creation.sourceURL, sourceLogin: creation.sourceLogin, sourcePasswordSealed: creation.sourcePasswordSealed,
                        meta: creation.meta, limits: ChannelLimits(), storageBytes: 0, tokens: creation.tokens, createdAt: creation.at, updatedAt: creation.at))
                }
            }
            return results.map { $0! }
        }
    }

    static func deviceRows(_ rows: [(Int64, ChannelCreation)]) -> SQLQueryString {
        MultiRowSQL.rows("INSERT INTO devices (id, tenant_id, kind, name, serial, created_at, updated_at) VALUES ", rows) { id, creation in
            [id, creation.accountId, "camera", creation.name, String?.none, creation.at, creation.at]
        }
    }

    static func tenantPaths(_ db: any SQLDatabase, ids: Set<Int64>) async throws -> [Int64: String] {
        let list = ids.sorted().map(String.init).joined(separator: ",")
        var paths: [Int64: String] = [:]
        for row in try await db.raw("SELECT id, path FROM tenants WHERE id IN (\(unsafeRaw: list))").all() {
            paths[try row.decode(column: "id", as: Int64.self)] = try row.decode(column: "path", as: String.self)
        }
        return paths
    }

    static func channelRows(_ rows: [(Int64, ChannelCreation)]) -> SQLQueryString {
        MultiRowSQL.rows("INSERT INTO channels (device_id, tenant_id, timezone, rec_mode, source_url, source_login, source_password_sealed, meta) VALUES ",
                         rows) { id, creation in
            [id, creation.accountId, creation.timezone, creation.recMode.rawValue, creation.sourceURL, creation.sourceLogin,
             creation.sourcePasswordSealed, SQLStore.metaText(creation.meta)]
        }
    }

    static func tokenRows(_ rows: [(Int64, ChannelCreation)]) -> SQLQueryString {
        var query = SQLQueryString("INSERT INTO channel_tokens (device_id, access, token_hash, token_sealed, created_at) VALUES ")
        var first = true
        for (id, creation) in rows {
            for (access, token) in creation.tokens.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                query.appendInterpolation(unsafeRaw: first ? "(" : ", (")
                first = false
                let values: [any Encodable & Sendable] = [id, access.rawValue, token.hash, token.sealed, creation.at]
                query.appendInterpolation(binds: values)
                query.appendInterpolation(unsafeRaw: ")")
            }
        }
        return query
    }

    static func auditRows(_ rows: [(Int64, ChannelCreation)], paths: [Int64: String]) -> SQLQueryString {
        MultiRowSQL.rows("INSERT INTO audit_log (at, actor, action, target_type, target_id, tenant_id, tenant_path, detail) VALUES ", rows) { id, creation in
            [creation.at, creation.audit.actor, "channel.create", "device", String(id), creation.accountId, paths[creation.accountId], creation.audit.detail]
        }
    }
}

