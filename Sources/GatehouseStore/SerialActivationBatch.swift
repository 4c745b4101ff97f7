import GatehouseCore
import SQLKit

/// An activation attempt as the device sent it, with the hash of the CIK it would get.
struct SerialActivationRequest: Sendable {
    var vendorName: String
    var modelName: String
    var sn: String
    var cikHash: String
    var at: Int64
    var connection: String
}

/// Activation attempts queued together are decided and written in one transaction, so a
/// device's activation costs no database round trip of its own:
///
/// 1. the batch's models and serials are read with a few multi-value queries (on PostgreSQL
///    the serials are then locked in id order, as removals and model deletions lock them, so
///    none of these ever deadlock);
/// 2. each attempt is decided against its own request time: unknown, refused (not enabled,
///    window closed, already activated, disabled) or a claim — the same serial twice in one
///    batch: only the first may claim it;
/// 3. one `UPDATE` per 200 claims sets the serials activated with their CIK hashes, guarded by
///    `state = 'enabled'` and the window, so each enablement activates exactly once against
///    other batches and other nodes too;
/// 4. the log lines and audit entries go in multi-row; refused attempts are logged once per
///    serial and minute.
enum SerialActivationBatch {
    struct ModelKey: Hashable {
        let vendor: String
        let model: String
    }

    struct Found {
        let id: Int64
        let state: String
        let windowEndsAt: Int64?
        let ownerId: Int64?
        let ownerPath: String?
        let deviceId: Int64?
    }

    static func commit(_ database: any Database, _ batch: [SerialActivationRequest]) async throws -> [Result<SerialActivation, any Error>] {
        try await database.transaction { db in
            let models = try await modelIds(db, Set(batch.map { ModelKey(vendor: $0.vendorName, model: $0.modelName) }))
            let serials = try await serials(db, batch, models: models)
            // SQLite reads inside its write lock (BEGIN IMMEDIATE); PostgreSQL locks what it read and
            // skips serials removed in between (a log line for them would fail the whole batch).
            var present = Set(serials.values.map(\.id))
            if database.engine == .postgres { present = try await SQLStore.lockSerials(db, ids: Array(present)) }

            var results = [Result<SerialActivation, any Error>](repeating: .success(.unknown), count: batch.count)
            var claims: [(index: Int, request: SerialActivationRequest, serial: Found)] = []
            var refusals: [(serialId: Int64, request: SerialActivationRequest, status: SerialStatus)] = []
            var claimed = Set<Int64>()
            for (index, request) in batch.enumerated() {
                guard let modelId = models[ModelKey(vendor: request.vendorName, model: request.modelName)],
                      let serial = serials[SerialKey(modelId: modelId, sn: request.sn)], present.contains(serial.id) else { continue }
                let status = SerialStatus(state: serial.state, windowEndsAt: serial.windowEndsAt, at: request.at)
                if status == .enabled, claimed.insert(serial.id).inserted {
                    claims.append((index, request, serial))
                } else if status == .enabled {
                    // Lost to an earlier attempt in this batch: that one activates it.
                    results[index] = .success(.refused(.activated))
                } else {
                    results[index] = .success(.refused(status))
                    refusals.append((serial.id, request, status))
                }
            }

            var won = Set<Int64>()
            for chunk in claims.chunked(200) {
                var query = SQLQueryString("UPDATE provision_serials SET state = 'activated', cik_hash = CASE id")
                for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.serial.id) THEN "); query.appendInterpolation(bind: claim.request.cikHash) }
                query.appendInterpolation(unsafeRaw: " END, activated_at = CASE id")
                for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.serial.id) THEN \(claim.request.at)") }
                // Each serial's window is checked against its own request's time.
                query.appendInterpolation(unsafeRaw: " END WHERE state = 'enabled' AND window_ends_at > CASE id")
                for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.serial.id) THEN \(claim.request.at)") }
                query.appendInterpolation(unsafeRaw: " END AND id IN (")
                query.appendInterpolation(unsafeRaw: chunk.map { String($0.serial.id) }.sorted().joined(separator: ", "))
                query.appendInterpolation(unsafeRaw: ") RETURNING id")
                for row in try await db.raw(query).all() { won.insert(try row.decode(column: "id", as: Int64.self)) }
            }
            var logs: [(Int64, Int64, String, String)] = []
            var audits: [AuditRow] = []
            for claim in claims {
                guard won.contains(claim.serial.id) else {
                    // Another node activated it since it was read.
                    results[claim.index] = .success(.refused(.activated))
                    continue
                }
                results[claim.index] = .success(.activated)
                let (request, serial) = (claim.request, claim.serial)
                logs.append((serial.id, request.at, request.connection, "activated"))
                audits.append(AuditRow(at: request.at, actor: "serial:\(serial.id)", action: "provision.serial.activate", targetType: "device",
                                       targetId: String(serial.deviceId ?? 0), tenantId: serial.ownerId, tenantPath: serial.ownerPath, detail: request.connection))
            }
            for chunk in logs.chunked(200) {
                try await db.raw(MultiRowSQL.rows("INSERT INTO provision_serial_log (serial_id, at, connection, entry) VALUES ", chunk) { [$0.0, $0.1, $0.2, $0.3] }).run()
            }
            for chunk in audits.chunked(100) {
                try await db.raw(MultiRowSQL.rows("INSERT INTO audit_log (at, actor, action, target_type, target_id, tenant_id, tenant_path, detail) VALUES ",
                                                  chunk) { [$0.at, $0.actor, $0.action, $0.targetType, $0.targetId, $0.tenantId, $0.tenantPath, $0.detail] }).run()
            }
            for refusal in refusals {
                let entry = "activation refused: \(refusal.status.rawValue)"
                let (serialId, at, connection) = (refusal.serialId, refusal.request.at, refusal.request.connection)
                try await db.raw("""
                    INSERT INTO provision_serial_log (serial_id, at, connection, entry)
                    SELECT \(bind: serialId), \(bind: at), \(bind: connection), \(bind: entry)
                    WHERE NOT EXISTS (SELECT 1 FROM provision_serial_log WHERE serial_id = \(bind: serialId) AND entry = \(bind: entry) AND at > \(bind: at - 60))
                    """).run()
            }
            return results
        }
    }

    /// The ids of the models the batch names, by vendor and model name.
    static func modelIds(_ db: any SQLDatabase, _ keys: Set<ModelKey>) async throws -> [ModelKey: Int64] {
        var ids: [ModelKey: Int64] = [:]
        for chunk in Array(keys).chunked(100) {
            var query = SQLQueryString("SELECT m.id, v.name AS vendor, m.name AS model FROM provision_models m JOIN vendors v ON v.tenant_id = m.vendor_id WHERE ")
            for (position, key) in chunk.enumerated() {
                query.appendInterpolation(unsafeRaw: position == 0 ? "(v.name = " : " OR (v.name = ")
                query.appendInterpolation(bind: key.vendor)
                query.appendInterpolation(unsafeRaw: " AND m.name = ")
                query.appendInterpolation(bind: key.model)
                query.appendInterpolation(unsafeRaw: ")")
            }
            for row in try await db.raw(query).all() {
                ids[ModelKey(vendor: try row.decode(column: "vendor", as: String.self), model: try row.decode(column: "model", as: String.self))] =
                    try row.decode(column: "id", as: Int64.self)
            }
        }
        return ids
    }

    struct SerialKey: Hashable {
        let modelId: Int64
        let sn: String
    }

    /// The serials the batch names, with what deciding and auditing an activation needs.
    static func serials(_ db: any SQLDatabase, _ batch: [SerialActivationRequest], models: [ModelKey: Int64]) async throws -> [SerialKey: Found] {
        var byModel: [Int64: Set<String>] = [:]
        for request in batch {
            guard let modelId = models[ModelKey(vendor: request.vendorName, model: request.modelName)] else { continue }
            byModel[modelId, default: []].insert(request.sn)
        }
        var found: [SerialKey: Found] = [:]
        for (modelId, sns) in byModel {
            for chunk in Array(sns).chunked(500) {
                var query = SQLQueryString("""
                    SELECT s.id, s.sn, s.state, s.window_ends_at, s.owner_id, s.device_id, o.path AS owner_path
                    FROM provision_serials s LEFT JOIN tenants o ON o.id = s.owner_id WHERE s.model_id = \(bind: modelId) AND s.sn IN (
                    """)
                for (position, sn) in chunk.enumerated() {
                    if position > 0 { query.appendInterpolation(unsafeRaw: ", ") }
                    query.appendInterpolation(bind: sn)
                }
                query.appendInterpolation(unsafeRaw: ")")
                for row in try await db.raw(query).all() {
                    found[SerialKey(modelId: modelId, sn: try row.decode(column: "sn", as: String.self))] = Found(
                        id: try row.decode(column: "id", as: Int64.self), state: try row.decode(column: "state", as: String.self),
                        windowEndsAt: try row.decode(column: "window_ends_at", as: Int64?.self), ownerId: try row.decode(column: "owner_id", as: Int64?.self),
                        ownerPath: try row.decode(column: "owner_path", as: String?.self), deviceId: try row.decode(column: "device_id", as: Int64?.self))
                }
            }
        }
        return found
    }
}
