import Foundation
import GatehouseCore
import SQLKit

/// One queued activation token (see ``SQLStore/insertActivationToken``).
struct TokenIssue: Sendable {
    var record: ActivationTokenRecord
    var tokenHash: String
    var audit: AuditIntent
}

/// Writes a batch of new activation tokens in one transaction: a multi-row `INSERT … ON
/// CONFLICT DO NOTHING` (a token that collides with a live one of its operator, or with an
/// earlier one of the same batch, is answered `conflict` and drawn again by the caller), then
/// the audit entries and `token.issued` deliveries of those written.
enum TokenIssueBatch {
    static func commit(_ database: any Database, _ batch: [TokenIssue]) async throws -> [Result<ActivationTokenRecord, any Error>] {
        try await database.transaction { db in
            var ids: [RedemptionBatch.Key: Int64] = [:]
            for chunk in batch.chunked(100) {
                var query = RedemptionBatch.rows("""
                    INSERT INTO activation_tokens (operator_id, token_hash, organization_id, preset_id, title, valid_till, created_by, created_at) VALUES
                    """, chunk) {
                    [$0.record.operatorId, $0.tokenHash, $0.record.organizationId, $0.record.presetId, $0.record.title, $0.record.validTill,
                     Int64?.none, $0.record.createdAt]
                }
                query.appendInterpolation(unsafeRaw: " ON CONFLICT (operator_id, token_hash) DO NOTHING RETURNING id, operator_id, token_hash")
                for row in try await db.raw(query).all() {
                    ids[RedemptionBatch.Key(try row.decode(column: "operator_id", as: Int64.self), try row.decode(column: "token_hash", as: String.self))] =
                        try row.decode(column: "id", as: Int64.self)
                }
            }
            var results: [Result<ActivationTokenRecord, any Error>] = []
            var written: [ActivationTokenRecord] = []
            var audits: [AuditIntent] = []
            for issue in batch {
                // `removeValue`: a second request of the batch with the same hash was not written.
                guard let id = ids.removeValue(forKey: RedemptionBatch.Key(issue.record.operatorId, issue.tokenHash)) else {
                    results.append(.failure(GatehouseError(.conflict, "this token is already in use")))
                    continue
                }
                var record = issue.record
                record.id = id
                results.append(.success(record))
                written.append(record)
                audits.append(issue.audit)
            }
            guard !written.isEmpty else { return results }
            let paths = try await ChannelCreationBatch.tenantPaths(db, ids: Set(written.map(\.organizationId)))
            for chunk in Array(zip(written, audits)).chunked(100) {
                try await db.raw(RedemptionBatch.rows("INSERT INTO audit_log (at, actor, action, target_type, target_id, tenant_id, tenant_path, detail) VALUES ",
                                                      chunk) { token, audit in
                    [token.createdAt, audit.actor, "token.issue", "activation_token", String(token.id), token.organizationId, paths[token.organizationId],
                     audit.detail]
                }).run()
            }
            try await SQLStore.enqueueWebhookEvents(db, written.map { token in
                (operatorId: token.operatorId, event: WebhookEvent.tokenIssued, payload: SQLStore.tokenEventPayload(token), at: token.createdAt)
            })
            return results
        }
    }
}
