import GatehouseCore
import SQLKit

extension SQLStore {
    static let serialColumns = """
        s.id, s.model_id, s.sn, s.extra, s.state, s.owner_id, o.key AS owner_key, s.device_id, s.enabled_at, s.window_ends_at, s.activated_at, s.created_at
        """

    static func serial(from row: any SQLRow) throws -> SerialRecord {
        SerialRecord(id: try row.decode(column: "id", as: Int64.self), modelId: try row.decode(column: "model_id", as: Int64.self),
                     sn: try row.decode(column: "sn", as: String.self), extra: try row.decode(column: "extra", as: String.self),
                     state: try row.decode(column: "state", as: String.self), ownerId: try row.decode(column: "owner_id", as: Int64?.self),
                     ownerKey: try row.decode(column: "owner_key", as: String?.self), deviceId: try row.decode(column: "device_id", as: Int64?.self),
                     enabledAt: try row.decode(column: "enabled_at", as: Int64?.self), windowEndsAt: try row.decode(column: "window_ends_at", as: Int64?.self),
                     activatedAt: try row.decode(column: "activated_at", as: Int64?.self), createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    /// Appends a line to a serial's log inside the caller's transaction.
    static func serialLog(_ db: any SQLDatabase, serialId: Int64, at: Int64, connection: String, entry: String) async throws {
        try await db.raw("""
            INSERT INTO provision_serial_log (serial_id, at, connection, entry) VALUES (\(bind: serialId), \(bind: at), \(bind: connection), \(bind: entry))
            """).run()
    }

    // MARK: Adding and removing

    public func addSerials(modelId: Int64, _ serials: [(sn: String, extra: String)], at: Int64, audit: AuditIntent) async throws {
        do {
            // All or none in one transaction, bounded as a bulk import: on PostgreSQL a large
            // list takes longer than one request's operation timeout.
            try await OperationTimeout.$override.withValue(OperationTimeout.bulkImport) { try await database.transaction { db in
                // Constant columns are literals (integers this code made); only the vendor's text is bound.
                for chunk in serials.chunked(1000) {
                    try await db.raw(MultiRowSQL.rows("INSERT INTO provision_serials (model_id, sn, extra, state, created_at) VALUES ", chunk) {
                        [modelId, $0.sn, $0.extra, "added", at]
                    }).run()
                }
                try await Self.audit(db, at: at, intent: audit, action: "provision.serial.add", targetType: "provision_model", targetId: String(modelId),
                                     tenantId: nil)
            } }
        } catch let error as GatehouseError where error.code == .conflict {
            // Nothing was written; name a serial that is already present.
            for chunk in serials.chunked(500) {
                var query = SQLQueryString("SELECT sn FROM provision_serials WHERE model_id = \(bind: modelId) AND sn IN (")
                query.appendInterpolation(binds: chunk.map(\.sn))
                query.appendInterpolation(unsafeRaw: ") ORDER BY sn LIMIT 1")
                let found = query
                if let row = try await database.withConnection({ db in try await db.raw(found).first() }) {
                    throw GatehouseError(.conflict, "serial number \(try row.decode(column: "sn", as: String.self)) already exists", field: "sn")
                }
            }
            throw error
        }
    }

    public func addSerials(modelId: Int64, batches: any SerialBatches, at: Int64, audit: @Sendable (Int) -> AuditIntent) async throws {
        do {
            // One transaction for a body of up to millions of serials: on PostgreSQL that takes
            // far longer than one request's operation timeout (a million took more than 10 s).
            try await OperationTimeout.$override.withValue(OperationTimeout.bulkImport) { try await database.transaction { db in
                let count = try await batches.forEachBatch { chunk in
                    try await db.raw(MultiRowSQL.rows("INSERT INTO provision_serials (model_id, sn, extra, state, created_at) VALUES ", chunk) {
                        [modelId, $0.sn, $0.extra, "added", at]
                    }).run()
                }
                try await Self.audit(db, at: at, intent: audit(count), action: "provision.serial.add", targetType: "provision_model",
                                     targetId: String(modelId), tenantId: nil)
            } }
        } catch let error as GatehouseError where error.code == .conflict {
            // Nothing was written; name a serial that is already present, else one named twice
            // (read again batch by batch: only a refused body pays for the search).
            let found: String? = try await OperationTimeout.$override.withValue(OperationTimeout.bulkImport) { try await database.withConnection { db in
                var present: String?
                _ = try await batches.forEachBatch { chunk in
                    guard present == nil else { return }
                    var query = SQLQueryString("SELECT sn FROM provision_serials WHERE model_id = \(bind: modelId) AND sn IN (")
                    query.appendInterpolation(binds: chunk.map(\.sn))
                    query.appendInterpolation(unsafeRaw: ") ORDER BY sn LIMIT 1")
                    present = try await db.raw(query).first()?.decode(column: "sn", as: String.self)
                }
                return present
            } }
            if let found { throw GatehouseError(.conflict, "serial number \(found) already exists", field: "sn") }
            var seen = Set<String>(), twice: String?
            _ = try await batches.forEachBatch { chunk in
                for serial in chunk where twice == nil && !seen.insert(serial.sn).inserted { twice = serial.sn }
            }
            if let twice { throw GatehouseError(.conflict, "serial number \(twice) is named twice", field: "sn") }
            throw error
        }
    }

    @discardableResult
    public func removeSerials(modelId: Int64, sns: [String], at: Int64, audit: AuditIntent) async throws -> Int {
        let engine = database.engine
        return try await invalidating { try await database.transaction { db in
            if engine == .postgres {
                // Lock the serials in id order first, as activation batches do, so neither waits on the other in a cycle.
                var ids: [Int64] = []
                for chunk in sns.chunked(500) {
                    var inList = SQLQueryString("")
                    inList.appendInterpolation(binds: Array(chunk))
                    ids += try await db.raw("SELECT id FROM provision_serials WHERE model_id = \(bind: modelId) AND sn IN (\(inList))").all()
                        .map { try $0.decode(column: "id", as: Int64.self) }
                }
                try await Self.lockSerials(db, ids: ids)
            }
            var removed = 0
            for chunk in sns.chunked(500) {
                var inList = SQLQueryString("")
                inList.appendInterpolation(binds: Array(chunk))
                try await db.raw("""
                    DELETE FROM devices WHERE id IN (SELECT device_id FROM provision_serials WHERE model_id = \(bind: modelId) AND sn IN (\(inList)))
                    """).run()
                try await db.raw("""
                    DELETE FROM provision_group_members WHERE member_type = 'sn' AND member_id IN (\(inList))
                        AND group_id IN (SELECT id FROM provision_groups WHERE model_id = \(bind: modelId))
                    """).run()
                removed += try await db.raw("DELETE FROM provision_serials WHERE model_id = \(bind: modelId) AND sn IN (\(inList)) RETURNING id").all().count
            }
            try await Self.audit(db, at: at, intent: audit, action: "provision.serial.remove", targetType: "provision_model", targetId: String(modelId),
                                 tenantId: nil)
            return removed
        } }
    }

    /// PostgreSQL: locks serial rows in id order (every multi-serial writer takes its locks this
    /// way); answers the ids that still exist.
    @discardableResult
    static func lockSerials(_ db: any SQLDatabase, ids: [Int64]) async throws -> Set<Int64> {
        var present = Set<Int64>()
        for chunk in Set(ids).sorted().chunked(1000) {
            let list = chunk.map(String.init).joined(separator: ", ")
            for row in try await db.raw("SELECT id FROM provision_serials WHERE id IN (\(unsafeRaw: list)) ORDER BY id FOR UPDATE").all() {
                present.insert(try row.decode(column: "id", as: Int64.self))
            }
        }
        return present
    }

    // MARK: Reading

    public func serials(modelId: Int64, offset: Int, limit: Int) async throws -> [SerialRecord] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.serialColumns) FROM provision_serials s LEFT JOIN tenants o ON o.id = s.owner_id
                WHERE s.model_id = \(bind: modelId) ORDER BY s.sn LIMIT \(bind: Int64(limit)) OFFSET \(bind: Int64(offset))
                """).all().map(Self.serial(from:))
        }
    }

    public func serial(modelId: Int64, sn: String) async throws -> SerialRecord? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.serialColumns) FROM provision_serials s LEFT JOIN tenants o ON o.id = s.owner_id
                WHERE s.model_id = \(bind: modelId) AND s.sn = \(bind: sn)
                """).first().map(Self.serial(from:))
        }
    }

    public func serial(vendorName: String, modelName: String, sn: String) async throws -> (serial: SerialRecord, model: ProvisionModel)? {
        try await database.withConnection { db in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: Self.serialColumns), m.vendor_id, m.name AS model_name, m.activation_window, m.created_at AS model_created_at
                FROM vendors v JOIN provision_models m ON m.vendor_id = v.tenant_id JOIN provision_serials s ON s.model_id = m.id
                LEFT JOIN tenants o ON o.id = s.owner_id
                WHERE v.name = \(bind: vendorName) AND m.name = \(bind: modelName) AND s.sn = \(bind: sn)
                """).first() else { return nil }
            let serial = try Self.serial(from: row)
            let model = ProvisionModel(id: serial.modelId, vendorId: try row.decode(column: "vendor_id", as: Int64.self),
                                       name: try row.decode(column: "model_name", as: String.self),
                                       activationWindow: try row.decode(column: "activation_window", as: Int64.self),
                                       createdAt: try row.decode(column: "model_created_at", as: Int64.self))
            return (serial, model)
        }
    }

    public func heldSerials(ownerId: Int64) async throws -> [HeldSerial] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.serialColumns), v.name AS vendor_name, m.name AS model_name
                FROM provision_serials s JOIN provision_models m ON m.id = s.model_id JOIN vendors v ON v.tenant_id = m.vendor_id
                LEFT JOIN tenants o ON o.id = s.owner_id
                WHERE s.owner_id = \(bind: ownerId) ORDER BY v.name, m.name, s.sn LIMIT 10000
                """).all().map { row in
                HeldSerial(serial: try Self.serial(from: row), vendor: try row.decode(column: "vendor_name", as: String.self),
                           model: try row.decode(column: "model_name", as: String.self))
            }
        }
    }

    public func serialLog(serialId: Int64, offset: Int, limit: Int) async throws -> [SerialLogEntry] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT at, connection, entry FROM provision_serial_log WHERE serial_id = \(bind: serialId) ORDER BY id
                LIMIT \(bind: Int64(limit)) OFFSET \(bind: Int64(offset))
                """).all().map { row in
                SerialLogEntry(at: try row.decode(column: "at", as: Int64.self), connection: try row.decode(column: "connection", as: String.self),
                               entry: try row.decode(column: "entry", as: String.self))
            }
        }
    }

    // MARK: Enabling and disabling

    public func enableSerial(modelId: Int64, sn: String, owner: Tenant?, deviceName: String, windowEndsAt: Int64, at: Int64, audit: AuditIntent) async throws
        -> SerialRecord {
        // Enablements of one serial run one after the other (SQLite's write lock; the row lock on
        // PostgreSQL), so racing ones never both make a device.
        let lock = database.engine == .postgres ? " FOR UPDATE OF s" : ""
        return try await invalidating { try await database.transaction { db in
            guard let row = try await db.raw("""
                SELECT s.id, s.owner_id, s.device_id, s.state, o.key AS owner_key FROM provision_serials s LEFT JOIN tenants o ON o.id = s.owner_id
                WHERE s.model_id = \(bind: modelId) AND s.sn = \(bind: sn)\(unsafeRaw: lock)
                """).first() else { throw GatehouseError.notFound("serial number", sn) }
            let id = try row.decode(column: "id", as: Int64.self)
            let currentOwner = try row.decode(column: "owner_id", as: Int64?.self)
            var deviceId = try row.decode(column: "device_id", as: Int64?.self)
            guard let ownerId = owner?.id ?? currentOwner else {
                throw GatehouseError(.conflict, "serial number \(sn) has no owner yet: enable it with owner=<account>", field: "owner")
            }
            if ownerId != currentOwner, let old = deviceId {
                try await db.raw("DELETE FROM devices WHERE id = \(bind: old)").run()
                deviceId = nil
            }
            if deviceId == nil {
                deviceId = try await db.raw("""
                    INSERT INTO devices (tenant_id, kind, name, serial, created_at, updated_at)
                    VALUES (\(bind: ownerId), 'serial', \(bind: deviceName), \(bind: sn), \(bind: at), \(bind: at)) RETURNING id
                    """).first()?.decode(column: "id", as: Int64.self)
            }
            try await db.raw("""
                UPDATE provision_serials SET state = 'enabled', owner_id = \(bind: ownerId), device_id = \(bind: deviceId), enabled_at = \(bind: at),
                    window_ends_at = \(bind: windowEndsAt), activated_at = NULL, cik_hash = NULL
                WHERE id = \(bind: id)
                """).run()
            let previousState = try row.decode(column: "state", as: String.self)
            // The log names the owner by key, whether it was named now or is the one the serial has.
            let ownerKey = try owner?.key ?? row.decode(column: "owner_key", as: String?.self) ?? String(ownerId)
            let again = currentOwner == ownerId && previousState != "added"
            try await Self.serialLog(db, serialId: id, at: at, connection: audit.actor,
                                     entry: "\(again ? "re-enabled" : "enabled") for owner \(ownerKey) until \(windowEndsAt)")
            try await Self.audit(db, at: at, intent: audit, action: "provision.serial.enable", targetType: "device", targetId: String(deviceId ?? 0),
                                 tenantId: ownerId)
            guard let record = try await db.raw("""
                SELECT \(unsafeRaw: Self.serialColumns) FROM provision_serials s LEFT JOIN tenants o ON o.id = s.owner_id WHERE s.id = \(bind: id)
                """).first() else { throw GatehouseError(.internal, "the serial vanished") }
            return try Self.serial(from: record)
        } }
    }

    public func disableSerial(modelId: Int64, sn: String, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            guard let row = try await db.raw("""
                UPDATE provision_serials SET state = 'disabled', cik_hash = NULL, window_ends_at = NULL
                WHERE model_id = \(bind: modelId) AND sn = \(bind: sn) RETURNING id, owner_id, device_id
                """).first() else { throw GatehouseError.notFound("serial number", sn) }
            let id = try row.decode(column: "id", as: Int64.self)
            try await Self.serialLog(db, serialId: id, at: at, connection: audit.actor, entry: "disabled")
            try await Self.audit(db, at: at, intent: audit, action: "provision.serial.disable", targetType: "device",
                                 targetId: String(try row.decode(column: "device_id", as: Int64?.self) ?? 0), tenantId: try row.decode(column: "owner_id", as: Int64?.self))
        } }
    }

    // MARK: Devices

    public func activateSerial(vendorName: String, modelName: String, sn: String, cikHash: String, at: Int64, connection: String) async throws
        -> SerialActivation {
        // Decided and written in the group commit: no round trip of its own.
        try await serialActivations.submit(SerialActivationRequest(vendorName: vendorName, modelName: modelName, sn: sn, cikHash: cikHash, at: at,
                                                                   connection: connection))
    }

    static let provisionedColumns = "s.id AS serial_id, s.sn, s.model_id, m.name AS model_name, v.name AS vendor_name"

    static func provisionedDevice(from row: any SQLRow) throws -> ProvisionedDevice {
        ProvisionedDevice(serialId: try row.decode(column: "serial_id", as: Int64.self), sn: try row.decode(column: "sn", as: String.self),
                          modelId: try row.decode(column: "model_id", as: Int64.self), modelName: try row.decode(column: "model_name", as: String.self),
                          vendorName: try row.decode(column: "vendor_name", as: String.self))
    }

    public func provisionedDevice(cikHash: String) async throws -> ProvisionedDevice? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.provisionedColumns)
                FROM provision_serials s JOIN provision_models m ON m.id = s.model_id JOIN vendors v ON v.tenant_id = m.vendor_id
                WHERE s.cik_hash = \(bind: cikHash) AND s.state = 'activated'
                """).first().map(Self.provisionedDevice(from:))
        }
    }

    public func deviceContentList(cikHash: String, at: Int64) async throws -> (device: ProvisionedDevice, contents: [String])? {
        if let cached = cache?.deviceContents(cikHash, at: at) { return (cached.device, cached.contents) }
        let generation = cache?.provisioningGeneration ?? 0
        let found = try await database.withConnection { db -> CredentialCache.DeviceContents? in
            let rows = try await db.raw("""
                SELECT \(unsafeRaw: Self.provisionedColumns), c.name AS content,
                    (SELECT MIN(gm.expire) FROM provision_groups g JOIN provision_group_members gm ON gm.group_id = g.id
                     WHERE g.model_id = s.model_id AND gm.expire > \(bind: at)) AS stable_until
                FROM provision_serials s JOIN provision_models m ON m.id = s.model_id JOIN vendors v ON v.tenant_id = m.vendor_id
                LEFT JOIN provision_contents c ON c.model_id = s.model_id AND c.blob_id IS NOT NULL
                    AND (c.protected = 0 OR \(Self.sharedGroup(content: "c.name", sn: "s.sn", model: "s.model_id", at: at)))
                WHERE s.cik_hash = \(bind: cikHash) AND s.state = 'activated'
                ORDER BY c.name
                """).all()
            guard let first = rows.first else { return nil }
            return (try Self.provisionedDevice(from: first), try rows.compactMap { try $0.decode(column: "content", as: String?.self) },
                    try first.decode(column: "stable_until", as: Int64?.self))
        }
        guard let found else { return nil }
        cache?.store(deviceContents: found, for: cikHash, readAt: generation)
        return (found.device, found.contents)
    }

    /// `EXISTS (…)`: a group of the model holds both the content and the serial, neither membership expired.
    /// `content`, `sn` and `model` are column names; `sn` may instead be bound with `boundSN`.
    static func sharedGroup(content: String, sn: String? = nil, boundSN: String? = nil, model: String, at: Int64) -> SQLQueryString {
        var query = SQLQueryString("""
            EXISTS (SELECT 1 FROM provision_groups g JOIN provision_group_members gc ON gc.group_id = g.id JOIN provision_group_members gs ON gs.group_id = g.id
            WHERE g.model_id = \(unsafeRaw: model) AND gc.member_type = 'content' AND gc.member_id = \(unsafeRaw: content) AND gs.member_type = 'sn' AND gs.member_id = 
            """)
        if let boundSN { query.appendInterpolation(bind: boundSN) } else { query.appendInterpolation(unsafeRaw: sn ?? "NULL") }
        query.appendInterpolation(unsafeRaw: " AND (gc.expire = 0 OR gc.expire > \(at)) AND (gs.expire = 0 OR gs.expire > \(at)))")
        return query
    }
}
