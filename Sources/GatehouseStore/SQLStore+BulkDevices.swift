import GatehouseCore
import SQLKit

/// The device rows of an import file (``BulkDeviceStore``): each batch costs one read of the
/// stored rows it names and one multi-row `INSERT` per table, inside one transaction (on
/// SQLite under the process-wide writer lock, `BEGIN IMMEDIATE`).
extension SQLStore: BulkDeviceStore {
    /// The page cache (KiB) of the connection that writes a bulk import on SQLite.
    static let bulkCacheKiB = 65_536

    public func provisionModel(vendorName: String, modelName: String) async throws -> ProvisionModel? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT m.id, m.vendor_id, m.name, m.activation_window, m.created_at FROM vendors v JOIN provision_models m ON m.vendor_id = v.tenant_id
                WHERE v.name = \(bind: vendorName) AND m.name = \(bind: modelName)
                """).first().map(Self.provisionModel(from:))
        }
    }

    public func withBulkDeviceWriter<T: Sendable>(at: Int64, _ body: @Sendable (any BulkDeviceWriter) async throws -> T) async throws -> T {
        let engine = database.engine
        // One transaction for the whole bulk part: on PostgreSQL it may take far longer than one
        // request's operation timeout.
        return try await invalidating { try await OperationTimeout.$override.withValue(OperationTimeout.bulkImport) { try await database.transaction { db in
            // SQLite: a larger page cache for this connection while it writes; the random
            // agent-key index of a million cameras otherwise thrashes the 16 MiB one.
            guard engine == .sqlite else { return try await body(SQLBulkDeviceWriter(db: db, engine: engine, at: at)) }
            try await db.raw("PRAGMA cache_size = -\(unsafeRaw: String(Self.bulkCacheKiB))").run()
            do {
                let result = try await body(SQLBulkDeviceWriter(db: db, engine: engine, at: at))
                try await db.raw("PRAGMA cache_size = -\(unsafeRaw: String(SQLiteDatabasePool.cacheKiB))").run()
                return result
            } catch {
                try? await db.raw("PRAGMA cache_size = -\(unsafeRaw: String(SQLiteDatabasePool.cacheKiB))").run()
                throw error
            }
        } } }
    }
}

extension OperationTimeout {
    /// The bound for the one transaction of a bulk import (millions of rows).
    static let bulkImport: Duration = .seconds(3 * 3600)
}

/// Writes batches of device rows on the connection of one transaction.
struct SQLBulkDeviceWriter: BulkDeviceWriter {
    let db: any SQLDatabase
    let engine: DatabaseEngine
    let at: Int64

    /// A stored camera as a row of the import names it.
    struct StoredCamera {
        var deviceId: Int64
        var organizationId: Int64
        var agentId: Int64?
        var title: String
        var serial: String?
        var version: String?
        var mac: String?
        var keyHash: String?
    }

    func cameras(_ rows: [BulkCamera]) async throws -> TreeImporter.Report {
        var report = TreeImporter.Report()
        guard !rows.isEmpty else { return report }
        return try await named(rows.map(\.line)) {
            let stored = try await storedCameras(rows)
            var fresh: [BulkCamera] = []
            for row in rows {
                guard let camera = stored[CameraKey(row.operatorId, row.name)] else {
                    fresh.append(row)
                    continue
                }
                guard camera.organizationId == row.organizationId else {
                    throw GatehouseError(.conflict, "line \(row.line): camera \(row.name) exists in another organization; moving cameras is not supported",
                                         field: "line \(row.line).organization")
                }
                if try await update(camera, to: row) { report.updated += 1 } else { report.unchanged += 1 }
            }
            try await insert(fresh)
            report.created += fresh.count
            return report
        }
    }

    struct CameraKey: Hashable {
        let operatorId: Int64
        let name: String
        init(_ operatorId: Int64, _ name: String) {
            self.operatorId = operatorId
            self.name = name
        }
    }

    /// The stored cameras a batch names, by operator and name (the `UNIQUE (operator_id, name)` index answers).
    func storedCameras(_ rows: [BulkCamera]) async throws -> [CameraKey: StoredCamera] {
        let operators = Set(rows.map(\.operatorId)).sorted().map(String.init).joined(separator: ",")
        var query = SQLQueryString("""
            SELECT c.device_id, c.operator_id, c.name, c.organization_id, c.agent_id, d.name AS title, a.serial, a.version, a.mac, a.key_hash
            FROM cameras c JOIN devices d ON d.id = c.device_id LEFT JOIN agents a ON a.id = c.agent_id
            WHERE c.operator_id IN (\(unsafeRaw: operators)) AND c.name IN (
            """)
        query.appendInterpolation(binds: rows.map(\.name))
        query.appendInterpolation(unsafeRaw: ")")
        var stored: [CameraKey: StoredCamera] = [:]
        for row in try await db.raw(query).all() {
            stored[CameraKey(try row.decode(column: "operator_id", as: Int64.self), try row.decode(column: "name", as: String.self))] = StoredCamera(
                deviceId: try row.decode(column: "device_id", as: Int64.self), organizationId: try row.decode(column: "organization_id", as: Int64.self),
                agentId: try row.decode(column: "agent_id", as: Int64?.self), title: try row.decode(column: "title", as: String.self),
                serial: try row.decode(column: "serial", as: String?.self), version: try row.decode(column: "version", as: String?.self),
                mac: try row.decode(column: "mac", as: String?.self), keyHash: try row.decode(column: "key_hash", as: String?.self))
        }
        return stored
    }

    /// Updates what differs between a stored camera and its row (absent version, mac or key
    /// leave the stored ones); answers whether anything did.
    func update(_ camera: StoredCamera, to row: BulkCamera) async throws -> Bool {
        var changed = false
        if camera.title != row.title {
            try await db.raw("UPDATE devices SET name = \(bind: row.title), updated_at = \(bind: at) WHERE id = \(bind: camera.deviceId)").run()
            changed = true
        }
        guard let agentId = camera.agentId else {
            // A camera without an agent: the row gives it one.
            let agent = try await MultiRowSQL.reserveIds(db, engine, tables: ["agents"], count: 1)["agents"]![0]
            try await db.raw("""
                INSERT INTO agents (id, operator_id, key_hash, serial, version, mac, status, device_id, created_at)
                VALUES (\(bind: agent), \(bind: row.operatorId), \(bind: row.keyHash ?? Self.unknownKeyHash()), \(bind: row.serial), \(bind: row.version),
                        \(bind: row.mac), 'active', \(bind: camera.deviceId), \(bind: at))
                """).run()
            try await db.raw("UPDATE cameras SET agent_id = \(bind: agent) WHERE device_id = \(bind: camera.deviceId)").run()
            return true
        }
        let serial = camera.serial != row.serial, version = row.version.map { $0 != camera.version } ?? false
        let mac = row.mac.map { $0 != camera.mac } ?? false
        let key = row.keyHash.map { !Secrets.constantTimeEquals(Array($0.utf8), Array((camera.keyHash ?? "").utf8)) } ?? false
        guard serial || version || mac || key else { return changed }
        try await db.raw("""
            UPDATE agents SET serial = \(bind: row.serial), version = \(bind: row.version ?? camera.version), mac = \(bind: row.mac ?? camera.mac),
                key_hash = \(bind: row.keyHash ?? camera.keyHash ?? Self.unknownKeyHash())
            WHERE id = \(bind: agentId)
            """).run()
        if serial { try await db.raw("UPDATE devices SET serial = \(bind: row.serial), updated_at = \(bind: at) WHERE id = \(bind: camera.deviceId)").run() }
        return true
    }

    /// The hash of a key nobody holds: a new camera whose row gives none.
    static func unknownKeyHash() -> String { Secrets.hash(Secrets.token(prefix: "unknown_")) }

    /// New cameras: their devices, agents and camera entries, one multi-row `INSERT` each.
    func insert(_ rows: [BulkCamera]) async throws {
        guard !rows.isEmpty else { return }
        let ids = try await MultiRowSQL.reserveIds(db, engine, tables: ["devices", "agents"], count: rows.count)
        let planned = rows.enumerated().map { (row: $1, device: ids["devices"]![$0], agent: ids["agents"]![$0]) }
        try await db.raw(MultiRowSQL.rows("INSERT INTO devices (id, tenant_id, kind, name, serial, created_at, updated_at) VALUES ", planned) {
            [$0.device, $0.row.organizationId, "camera", $0.row.title, $0.row.serial, at, at]
        }).run()
        try await db.raw(MultiRowSQL.rows("INSERT INTO agents (id, operator_id, key_hash, serial, version, mac, status, device_id, created_at) VALUES ", planned) {
            [$0.agent, $0.row.operatorId, $0.row.keyHash ?? Self.unknownKeyHash(), $0.row.serial, $0.row.version, $0.row.mac, "active", $0.device, at]
        }).run()
        try await db.raw(MultiRowSQL.rows("INSERT INTO cameras (device_id, operator_id, name, organization_id, agent_id) VALUES ", planned) {
            [$0.device, $0.row.operatorId, $0.row.name, $0.row.organizationId, $0.agent]
        }).run()
    }

    func serials(_ rows: [BulkSerial]) async throws -> TreeImporter.Report {
        var report = TreeImporter.Report()
        guard !rows.isEmpty else { return report }
        return try await named(rows.map(\.line)) {
            let models = Set(rows.map(\.modelId)).sorted().map(String.init).joined(separator: ",")
            var query = SQLQueryString("SELECT id, model_id, sn, extra FROM provision_serials WHERE model_id IN (\(unsafeRaw: models)) AND sn IN (")
            query.appendInterpolation(binds: rows.map(\.sn))
            query.appendInterpolation(unsafeRaw: ")")
            var stored: [SerialKey: (id: Int64, extra: String)] = [:]
            for row in try await db.raw(query).all() {
                stored[SerialKey(try row.decode(column: "model_id", as: Int64.self), try row.decode(column: "sn", as: String.self))] =
                    (try row.decode(column: "id", as: Int64.self), try row.decode(column: "extra", as: String.self))
            }
            var fresh: [BulkSerial] = []
            for row in rows {
                guard let serial = stored[SerialKey(row.modelId, row.sn)] else {
                    fresh.append(row)
                    continue
                }
                if serial.extra == row.extra {
                    report.unchanged += 1
                } else {
                    try await db.raw("UPDATE provision_serials SET extra = \(bind: row.extra) WHERE id = \(bind: serial.id)").run()
                    report.updated += 1
                }
            }
            if !fresh.isEmpty {
                try await db.raw(MultiRowSQL.rows("INSERT INTO provision_serials (model_id, sn, extra, state, created_at) VALUES ", fresh) {
                    [$0.modelId, $0.sn, $0.extra, "added", at]
                }).run()
            }
            report.created += fresh.count
            return report
        }
    }

    struct SerialKey: Hashable {
        let modelId: Int64
        let sn: String
        init(_ modelId: Int64, _ sn: String) {
            self.modelId = modelId
            self.sn = sn
        }
    }

    func audit(action: String, detail: String) async throws {
        try await SQLStore.audit(db, at: at, intent: AuditIntent(actor: "import", detail: detail), action: action, targetType: "import", targetId: "",
                                 tenantId: nil)
    }

    /// Runs a batch's statements; a driver error (a key taken by a row stored meanwhile, an
    /// agent key held by another agent) is answered naming the batch's lines.
    func named<T>(_ lines: [Int], _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as GatehouseError {
            throw error
        } catch {
            let mapped = StoreError.map(error)
            guard let known = mapped as? GatehouseError else { throw error }
            let range = "lines \(lines.min() ?? 0)-\(lines.max() ?? 0)"
            throw GatehouseError(known.code, "\(range): \(known.message) (an agent key or a name that another row holds)", field: range)
        }
    }
}
