import Foundation
import GatehouseCore
import SQLKit

/// One queued activation token (see ``SQLStore/insertActivationToken``).
struct TokenIssue: Sendable {
    var record: ActivationTokenRecord
    var tokenHash: String
    var audit: AuditIntent
    /// The organization's path in the tree, for the audit entry.
    var organizationPath: String?
}

/// Writes a batch of new activation tokens inside the caller's transaction: a multi-row
/// `INSERT … ON CONFLICT DO NOTHING` (a token that collides with a live one of its operator,
/// or with an earlier one of the same batch, is answered `conflict` and drawn again by the
/// caller); the audit entries and `token.issued` events of those written are gathered.
///
/// Only tokens whose preset still belongs to their organization are written: one deleted
/// since the caller checked it (with its organization, or the operator) is answered
/// `not_found` instead of failing the whole batch on its foreign key.
enum TokenIssueBatch {
    static func write(_ db: any SQLDatabase, _ batch: [TokenIssue], audits: inout [AuditRow], events: inout [QueuedEvent]) async throws
        -> [Result<ActivationTokenRecord, any Error>] {
        guard !batch.isEmpty else { return [] }
        var ids: [TokenKey: Int64] = [:]
        // On PostgreSQL one prepared statement; elsewhere multi-row inserts of 100 rows.
        let chunks = db is GuardedPostgresSQL ? [batch[...]] : batch.chunked(100)
        for chunk in chunks {
            let rows = try await db.rows(PostgresActivationStatements.InsertTokens(issues: Array(chunk)), portable: portableInsert(chunk))
            for row in rows {
                ids[TokenKey(try row.decode(column: "operator_id", as: Int64.self), try row.decode(column: "token_hash", as: String.self))] =
                    try row.decode(column: "id", as: Int64.self)
            }
        }
        let unwritten = batch.filter { ids[TokenKey($0.record.operatorId, $0.tokenHash)] == nil }
        let presets = try await presetOrganizations(db, Set(unwritten.map(\.record.presetId)))
        var results: [Result<ActivationTokenRecord, any Error>] = []
        for issue in batch {
            // `removeValue`: a second request of the batch with the same hash was not written.
            guard let id = ids.removeValue(forKey: TokenKey(issue.record.operatorId, issue.tokenHash)) else {
                results.append(.failure(presets[issue.record.presetId] == issue.record.organizationId
                    ? GatehouseError(.conflict, "this token is already in use")
                    : GatehouseError(.notFound, "preset \(issue.record.presetId) does not belong to organization \(issue.record.organizationId)",
                                     field: "preset_id")))
                continue
            }
            var token = issue.record
            token.id = id
            results.append(.success(token))
            audits.append(AuditRow(at: token.createdAt, actor: issue.audit.actor, action: "token.issue", targetType: "activation_token",
                                   targetId: String(token.id), tenantId: token.organizationId, tenantPath: issue.organizationPath, detail: issue.audit.detail))
            let issued = token
            events.append((token.operatorId, .tokenIssued, { SQLStore.tokenEventPayload(issued) }, token.createdAt))
        }
        return results
    }

    /// The organization of each of `presets` that still exists.
    static func presetOrganizations(_ db: any SQLDatabase, _ presets: Set<Int64>) async throws -> [Int64: Int64] {
        guard !presets.isEmpty else { return [:] }
        var found: [Int64: Int64] = [:]
        for row in try await db.raw("SELECT id, tenant_id FROM presets WHERE id IN (\(unsafeRaw: presets.sorted().map(String.init).joined(separator: ",")))").all() {
            found[try row.decode(column: "id", as: Int64.self)] = try row.decode(column: "tenant_id", as: Int64.self)
        }
        return found
    }

    static func portableInsert(_ chunk: ArraySlice<TokenIssue>) -> SQLQueryString {
        var query = MultiRowSQL.rows("""
            INSERT INTO activation_tokens (operator_id, token_hash, organization_id, preset_id, title, valid_till, created_by, created_at)
            SELECT * FROM (VALUES
            """, chunk) {
            [$0.record.operatorId, $0.tokenHash, $0.record.organizationId, $0.record.presetId, $0.record.title, $0.record.validTill,
             Int64?.none, $0.record.createdAt]
        }
        query.appendInterpolation(unsafeRaw: """
            ) AS v WHERE (SELECT p.tenant_id FROM presets p WHERE p.id = v.column4) = v.column3
            ON CONFLICT (operator_id, token_hash) DO NOTHING RETURNING id, operator_id, token_hash
            """)
        return query
    }
}
