import GatehouseCore
import SQLKit

/// A serial activation to write: the serial (read as enabled and inside its window) and the new CIK's hash.
struct SerialActivationRequest: Sendable {
    var serialId: Int64
    var cikHash: String
    var at: Int64
    var connection: String
    var ownerId: Int64?
    var ownerPath: String?
    var deviceId: Int64?
}

/// What `/provision/activate` writes: an activation, or the log line of a refused attempt.
enum SerialActivationWrite: Sendable {
    case activation(SerialActivationRequest)
    case refusal(serialId: Int64, at: Int64, connection: String, status: SerialStatus)

    var serialId: Int64 {
        switch self {
        case .activation(let request): request.serialId
        case .refusal(let serialId, _, _, _): serialId
        }
    }
}

/// Activations queued together are written in one transaction: one `UPDATE` claims every
/// serial still enabled and inside its window (so each enablement activates exactly once,
/// against other batches and other nodes too), then the log lines and audit entries go in
/// multi-row. Refused attempts are logged once per serial and minute.
///
/// On PostgreSQL the batch first locks its serials in id order (as removals and model
/// deletions do), so it never deadlocks with them or with other batches, and a serial
/// removed since it was read is simply skipped instead of failing the whole batch.
enum SerialActivationBatch {
    static func commit(_ database: any Database, _ batch: [SerialActivationWrite]) async throws -> [Result<Bool, any Error>] {
        try await database.transaction { db in
            var results = [Result<Bool, any Error>](repeating: .success(false), count: batch.count)
            let lock = database.engine == .postgres ? " ORDER BY id FOR NO KEY UPDATE" : ""
            var present = Set<Int64>()
            for chunk in Set(batch.map(\.serialId)).sorted().chunked(1000) {
                let ids = chunk.map(String.init).joined(separator: ", ")
                for row in try await db.raw("SELECT id FROM provision_serials WHERE id IN (\(unsafeRaw: ids))\(unsafeRaw: lock)").all() {
                    present.insert(try row.decode(column: "id", as: Int64.self))
                }
            }
            var claims: [(index: Int, request: SerialActivationRequest)] = []
            var claimed = Set<Int64>()
            for (index, write) in batch.enumerated() where present.contains(write.serialId) {
                guard case .activation(let request) = write else { continue }
                // The same serial twice in one batch: only the first may win.
                if claimed.insert(request.serialId).inserted { claims.append((index, request)) }
            }
            var won = Set<Int64>()
            for chunk in claims.chunked(200) {
                var query = SQLQueryString("UPDATE provision_serials SET state = 'activated', cik_hash = CASE id")
                for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.request.serialId) THEN "); query.appendInterpolation(bind: claim.request.cikHash) }
                query.appendInterpolation(unsafeRaw: " END, activated_at = CASE id")
                for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.request.serialId) THEN \(claim.request.at)") }
                // Each serial's window is checked against its own request's time.
                query.appendInterpolation(unsafeRaw: " END WHERE state = 'enabled' AND window_ends_at > CASE id")
                for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.request.serialId) THEN \(claim.request.at)") }
                query.appendInterpolation(unsafeRaw: " END AND id IN (")
                query.appendInterpolation(unsafeRaw: chunk.map { String($0.request.serialId) }.sorted().joined(separator: ", "))
                query.appendInterpolation(unsafeRaw: ") RETURNING id")
                for row in try await db.raw(query).all() { won.insert(try row.decode(column: "id", as: Int64.self)) }
            }
            var logs: [(Int64, Int64, String, String)] = []
            var audits: [AuditRow] = []
            for claim in claims where won.contains(claim.request.serialId) {
                results[claim.index] = .success(true)
                let request = claim.request
                logs.append((request.serialId, request.at, request.connection, "activated"))
                audits.append(AuditRow(at: request.at, actor: "serial:\(request.serialId)", action: "provision.serial.activate", targetType: "device",
                                       targetId: String(request.deviceId ?? 0), tenantId: request.ownerId, tenantPath: request.ownerPath, detail: request.connection))
            }
            for chunk in logs.chunked(200) {
                try await db.raw(MultiRowSQL.rows("INSERT INTO provision_serial_log (serial_id, at, connection, entry) VALUES ", chunk) { [$0.0, $0.1, $0.2, $0.3] }).run()
            }
            for chunk in audits.chunked(100) {
                try await db.raw(MultiRowSQL.rows("INSERT INTO audit_log (at, actor, action, target_type, target_id, tenant_id, tenant_path, detail) VALUES ",
                                                  chunk) { [$0.at, $0.actor, $0.action, $0.targetType, $0.targetId, $0.tenantId, $0.tenantPath, $0.detail] }).run()
            }
            // A serial removed since it was read gets no line (and does not fail the batch's activations).
            for write in batch where present.contains(write.serialId) {
                guard case .refusal(let serialId, let at, let connection, let status) = write else { continue }
                let entry = "activation refused: \(status.rawValue)"
                try await db.raw("""
                    INSERT INTO provision_serial_log (serial_id, at, connection, entry)
                    SELECT \(bind: serialId), \(bind: at), \(bind: connection), \(bind: entry)
                    WHERE NOT EXISTS (SELECT 1 FROM provision_serial_log WHERE serial_id = \(bind: serialId) AND entry = \(bind: entry) AND at > \(bind: at - 60))
                    """).run()
            }
            return results
        }
    }
}
