import GatehouseCore
import SQLKit

/// A signed request to record as seen (see ``OnboardingStore/recordSignedRequest(fingerprint:at:expiresAt:)``).
struct SignedRequestRecord: Sendable {
    let fingerprint: String
    let at: Int64
    let expiresAt: Int64
}

/// Group commit of seen signed requests: one transaction drops a few expired fingerprints and
/// inserts the batch's new ones with one multi-row statement; each item answers whether it was
/// new (a live fingerprint, or one earlier in the same batch, is a replay).
enum SignedRequestBatch {
    static func commit(_ database: any Database, _ batch: [SignedRequestRecord]) async throws -> [Result<Bool, any Error>] {
        let skipLocked = database.engine == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        var unique: [SignedRequestRecord] = [], seen = Set<String>()
        for record in batch where seen.insert(record.fingerprint).inserted { unique.append(record) }
        let firsts = unique
        let now = batch.map(\.at).max() ?? 0
        let inserted = try await database.transaction { db -> Set<String> in
            // Expired fingerprints go with new ones (indexed; other nodes' ones are skipped, not waited for).
            try await db.raw("""
                DELETE FROM signed_requests WHERE fingerprint IN (
                    SELECT fingerprint FROM signed_requests WHERE expires_at < \(bind: now) LIMIT \(unsafeRaw: String(64 + firsts.count))\(unsafeRaw: skipLocked))
                """).run()
            var inserted = Set<String>()
            for chunk in firsts.chunked(500) {
                var query = MultiRowSQL.rows("INSERT INTO signed_requests (fingerprint, expires_at) VALUES ", chunk) { [$0.fingerprint, $0.expiresAt] }
                // An expired fingerprint not yet dropped is taken over: only a live one makes a replay.
                query.appendInterpolation(unsafeRaw: """
                     ON CONFLICT (fingerprint) DO UPDATE SET expires_at = excluded.expires_at WHERE signed_requests.expires_at < \(now) RETURNING fingerprint
                    """)
                for row in try await db.raw(query).all() { inserted.insert(try row.decode(column: "fingerprint", as: String.self)) }
            }
            return inserted
        }
        var answered = Set<String>()
        return batch.map { record in .success(inserted.contains(record.fingerprint) && answered.insert(record.fingerprint).inserted) }
    }
}
