import GatehouseCore
import SQLKit

/// The device channel: credentials that open it, open connections and node heartbeats,
/// settings documents and commands.
extension SQLStore: DeviceChannelStore {
    public func channelDevice(agentId: Int64) async throws -> (device: ChannelDevice, keyHash: String, status: String)? {
        try await database.withConnection { db in
            guard let row = try await db.raw("""
                SELECT a.key_hash, a.status, d.id AS device_id, d.tenant_id FROM agents a JOIN devices d ON d.id = a.device_id WHERE a.id = \(bind: agentId)
                """).first() else { return nil }
            let keyHash = try row.decode(column: "key_hash", as: String.self)
            let device = ChannelDevice(deviceId: try row.decode(column: "device_id", as: Int64.self), tenantId: try row.decode(column: "tenant_id", as: Int64.self),
                                       credential: ChannelCredentialCheck(kind: "agent", reference: agentId, check: keyHash))
            return (device, keyHash, try row.decode(column: "status", as: String.self))
        }
    }

    public func channelDevice(cikHash: String) async throws -> ChannelDevice? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT s.id, d.id AS device_id, d.tenant_id FROM provision_serials s JOIN devices d ON d.id = s.device_id
                WHERE s.cik_hash = \(bind: cikHash) AND s.state = 'activated'
                """).first().map { row in
                ChannelDevice(deviceId: try row.decode(column: "device_id", as: Int64.self), tenantId: try row.decode(column: "tenant_id", as: Int64.self),
                              credential: ChannelCredentialCheck(kind: "serial", reference: try row.decode(column: "id", as: Int64.self), check: cikHash))
            }
        }
    }

    public func channelDevice(certificateSerial: String) async throws -> ChannelDevice? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT e.id, d.id AS device_id, d.tenant_id FROM onboarded_endpoints e JOIN devices d ON d.id = e.device_id
                JOIN issued_certificates c ON c.serial = e.certificate_serial
                WHERE e.certificate_serial = \(bind: certificateSerial) AND e.status = 'active' AND c.revoked_at IS NULL
                """).first().map { row in
                ChannelDevice(deviceId: try row.decode(column: "device_id", as: Int64.self), tenantId: try row.decode(column: "tenant_id", as: Int64.self),
                              credential: ChannelCredentialCheck(kind: "endpoint", reference: try row.decode(column: "id", as: Int64.self), check: certificateSerial))
            }
        }
    }

    // MARK: Nodes and connections

    public func nodeHeartbeat(nodeId: String, at: Int64) async throws {
        try await database.write { db in
            try await db.raw("""
                INSERT INTO channel_nodes (node_id, heartbeat_at) VALUES (\(bind: nodeId), \(bind: at))
                ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
                """).run()
        }
    }

    public func removeNode(nodeId: String) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM device_connections WHERE node_id = \(bind: nodeId)").run()
            try await db.raw("DELETE FROM channel_nodes WHERE node_id = \(bind: nodeId)").run()
        }
    }

    public func connect(_ connection: ChannelConnection) async throws -> (connectionId: String, nodeId: String)? {
        let lock = database.engine == .postgres ? " FOR UPDATE" : ""
        let device = connection.device
        return try await database.transaction { db in
            // The device row orders concurrent connections of one device (and must still exist).
            guard try await db.raw("SELECT id FROM devices WHERE id = \(bind: device.deviceId)\(unsafeRaw: lock)").first() != nil else {
                throw GatehouseError(.unauthenticated, "the device is gone")
            }
            let previous = try await db.raw("SELECT connection_id, node_id FROM device_connections WHERE device_id = \(bind: device.deviceId)").first().map {
                (connectionId: try $0.decode(column: "connection_id", as: String.self), nodeId: try $0.decode(column: "node_id", as: String.self))
            }
            try await db.raw("DELETE FROM device_connections WHERE device_id = \(bind: device.deviceId)").run()
            try await db.raw("""
                INSERT INTO device_connections (device_id, tenant_id, connection_id, node_id, credential_kind, credential_ref, credential_check, agent_version, connected_at, last_seen_at)
                VALUES (\(bind: device.deviceId), \(bind: device.tenantId), \(bind: connection.connectionId), \(bind: connection.nodeId), \(bind: device.credential.kind),
                        \(bind: device.credential.reference), \(bind: device.credential.check), \(bind: connection.agentVersion), \(bind: connection.connectedAt), \(bind: connection.connectedAt))
                """).run()
            return previous
        }
    }

    public func disconnect(deviceId: Int64, connectionId: String) async throws {
        try await database.write { db in
            try await db.raw("DELETE FROM device_connections WHERE device_id = \(bind: deviceId) AND connection_id = \(bind: connectionId)").run()
        }
    }

    public func touch(deviceIds: [Int64], at: Int64) async throws {
        guard !deviceIds.isEmpty else { return }
        try await database.write { db in
            for chunk in deviceIds.chunked(500) where !chunk.isEmpty {
                let ids = chunk.map(String.init).joined(separator: ", ")
                try await db.raw("UPDATE device_connections SET last_seen_at = \(bind: at) WHERE device_id IN (\(unsafeRaw: ids))").run()
            }
        }
    }

    public func checkConnections(nodeId: String, _ connections: [Int64: String]) async throws -> [Int64: ConnectionCheck] {
        guard !connections.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var found: [Int64: (connectionId: String, valid: Bool)] = [:]
            for chunk in Array(connections.keys).sorted().chunked(500) where !chunk.isEmpty {
                let ids = chunk.map(String.init).joined(separator: ", ")
                let rows = try await db.raw("""
                    SELECT c.device_id, c.connection_id, CASE WHEN
                        (c.credential_kind = 'agent' AND EXISTS (SELECT 1 FROM agents a WHERE a.id = c.credential_ref AND a.device_id = c.device_id
                            AND a.status = 'active' AND a.key_hash = c.credential_check))
                        OR (c.credential_kind = 'serial' AND EXISTS (SELECT 1 FROM provision_serials s WHERE s.id = c.credential_ref AND s.device_id = c.device_id
                            AND s.state = 'activated' AND s.cik_hash = c.credential_check))
                        OR (c.credential_kind = 'endpoint' AND EXISTS (SELECT 1 FROM onboarded_endpoints e JOIN issued_certificates ic ON ic.serial = e.certificate_serial
                            WHERE e.id = c.credential_ref AND e.device_id = c.device_id AND e.status = 'active' AND e.certificate_serial = c.credential_check
                            AND ic.revoked_at IS NULL))
                        THEN 1 ELSE 0 END AS valid
                    FROM device_connections c WHERE c.device_id IN (\(unsafeRaw: ids))
                    """).all()
                for row in rows {
                    found[try row.decode(column: "device_id", as: Int64.self)] = (try row.decode(column: "connection_id", as: String.self),
                                                                                 try row.decode(column: "valid", as: Int.self) == 1)
                }
            }
            var checks: [Int64: ConnectionCheck] = [:]
            for (deviceId, connectionId) in connections {
                guard let row = found[deviceId] else { checks[deviceId] = .revoked; continue }
                if row.connectionId != connectionId { checks[deviceId] = .replaced } else { checks[deviceId] = row.valid ? .valid : .revoked }
            }
            return checks
        }
    }

    private static let presenceColumns = "c.device_id, c.node_id, c.connected_at, c.last_seen_at, c.agent_version, n.heartbeat_at"

    private static func presence(from row: any SQLRow, freshAfter: Int64) throws -> DevicePresence {
        let heartbeat = try row.decode(column: "heartbeat_at", as: Int64?.self)
        let online = (heartbeat ?? Int64.min) > freshAfter
        return DevicePresence(deviceId: try row.decode(column: "device_id", as: Int64.self), online: online,
                              node: online ? try row.decode(column: "node_id", as: String.self) : nil,
                              connectedAt: online ? try row.decode(column: "connected_at", as: Int64.self) : nil,
                              lastSeen: try row.decode(column: "last_seen_at", as: Int64.self), agentVersion: try row.decode(column: "agent_version", as: String?.self))
    }

    public func presence(deviceId: Int64, freshAfter: Int64) async throws -> DevicePresence {
        try await database.withConnection { db in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: Self.presenceColumns) FROM device_connections c LEFT JOIN channel_nodes n ON n.node_id = c.node_id
                WHERE c.device_id = \(bind: deviceId)
                """).first() else {
                return DevicePresence(deviceId: deviceId, online: false, node: nil, connectedAt: nil, lastSeen: nil, agentVersion: nil)
            }
            return try Self.presence(from: row, freshAfter: freshAfter)
        }
    }

    public func onlineDevices(under path: String, tenantId: Int64?, freshAfter: Int64, page: PageRequest) async throws -> Page<DevicePresence> {
        try await database.withConnection { db in
            var query = SQLQueryString("""
                SELECT \(unsafeRaw: Self.presenceColumns) FROM device_connections c JOIN channel_nodes n ON n.node_id = c.node_id
                JOIN tenants t ON t.id = c.tenant_id
                WHERE t.path LIKE \(bind: Self.likePrefix(path)) AND n.heartbeat_at > \(bind: freshAfter) AND c.device_id > \(bind: page.after ?? 0)
                """)
            if let tenantId { query.appendInterpolation(unsafeRaw: " AND c.tenant_id = "); query.appendInterpolation(bind: tenantId) }
            query.appendInterpolation(unsafeRaw: " ORDER BY c.device_id LIMIT \(page.limit + 1)")
            let rows = try await db.raw(query).all().map { try Self.presence(from: $0, freshAfter: freshAfter) }
            return Self.page(rows, limit: page.limit, id: \.deviceId)
        }
    }

    // MARK: Settings

    public func settings(deviceId: Int64) async throws -> DeviceSettings {
        try await database.withConnection { db in try await Self.settings(db, deviceId: deviceId) }
    }

    public func settings(deviceIds: [Int64]) async throws -> [Int64: DeviceSettings] {
        var found: [Int64: DeviceSettings] = [:]
        for chunk in deviceIds.chunked(500) where !chunk.isEmpty {
            let rows = try await database.withConnection { db in
                var query = SQLQueryString("""
                    SELECT device_id, desired, desired_version, desired_at, reported, reported_version, reported_error, reported_at FROM device_settings WHERE device_id IN (
                    """)
                for (index, id) in chunk.enumerated() {
                    if index > 0 { query.appendInterpolation(unsafeRaw: ", ") }
                    query.appendInterpolation(bind: id)
                }
                query.appendInterpolation(unsafeRaw: ")")
                return try await db.raw(query).all().map { row in
                    let id = try row.decode(column: "device_id", as: Int64.self)
                    return try Self.settings(from: row, deviceId: id)
                }
            }
            for settings in rows { found[settings.deviceId] = settings }
        }
        return found
    }

    static func settings(_ db: any SQLDatabase, deviceId: Int64) async throws -> DeviceSettings {
        guard let row = try await db.raw("""
            SELECT desired, desired_version, desired_at, reported, reported_version, reported_error, reported_at FROM device_settings WHERE device_id = \(bind: deviceId)
            """).first() else { return .empty(deviceId: deviceId) }
        return try settings(from: row, deviceId: deviceId)
    }

    static func settings(from row: any SQLRow, deviceId: Int64) throws -> DeviceSettings {
        DeviceSettings(deviceId: deviceId, desired: try row.decode(column: "desired", as: String.self),
                              desiredVersion: try row.decode(column: "desired_version", as: Int64.self), desiredAt: try row.decode(column: "desired_at", as: Int64?.self),
                              reported: try row.decode(column: "reported", as: String?.self), reportedVersion: try row.decode(column: "reported_version", as: Int64?.self),
                              reportedError: try row.decode(column: "reported_error", as: String?.self), reportedAt: try row.decode(column: "reported_at", as: Int64?.self))
    }

    public func setDesiredSettings(deviceId: Int64, tenantId: Int64, expectedVersion: Int64, desired: String, at: Int64, audit: AuditIntent) async throws -> DeviceSettings {
        let lock = database.engine == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { db in
            guard try await db.raw("SELECT id FROM devices WHERE id = \(bind: deviceId)\(unsafeRaw: lock)").first() != nil else {
                throw GatehouseError.notFound("device", deviceId)
            }
            let current = try await Self.settings(db, deviceId: deviceId)
            guard current.desiredVersion == expectedVersion else {
                throw GatehouseError(.conflict, "the settings are at version \(current.desiredVersion), not \(expectedVersion): read them again", field: "version")
            }
            let next = expectedVersion + 1
            try await db.raw("""
                INSERT INTO device_settings (device_id, desired, desired_version, desired_at) VALUES (\(bind: deviceId), \(bind: desired), \(bind: next), \(bind: at))
                ON CONFLICT (device_id) DO UPDATE SET desired = excluded.desired, desired_version = excluded.desired_version, desired_at = excluded.desired_at
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "device.settings.set", targetType: "device", targetId: String(deviceId), tenantId: tenantId)
            var updated = current
            updated.desired = desired
            updated.desiredVersion = next
            updated.desiredAt = at
            return updated
        }
    }

    public func recordReportedSettings(deviceId: Int64, version: Int64, reported: String, error: String?, at: Int64) async throws {
        try await database.write { db in
            try await db.raw("""
                INSERT INTO device_settings (device_id, desired, desired_version, reported, reported_version, reported_error, reported_at)
                VALUES (\(bind: deviceId), '{}', 0, \(bind: reported), \(bind: version), \(bind: error), \(bind: at))
                ON CONFLICT (device_id) DO UPDATE SET reported = excluded.reported, reported_version = excluded.reported_version,
                    reported_error = excluded.reported_error, reported_at = excluded.reported_at
                """).run()
        }
    }

    public func settingsSchema(modelId: Int64) async throws -> String? {
        try await database.withConnection { db in
            try await db.raw("SELECT schema_json FROM settings_schemas WHERE model_id = \(bind: modelId)").first()?.decode(column: "schema_json", as: String.self)
        }
    }

    public func setSettingsSchema(modelId: Int64, tenantId: Int64, schema: String?, at: Int64, audit: AuditIntent) async throws {
        try await database.transaction { db in
            if let schema {
                try await db.raw("""
                    INSERT INTO settings_schemas (model_id, schema_json, updated_at) VALUES (\(bind: modelId), \(bind: schema), \(bind: at))
                    ON CONFLICT (model_id) DO UPDATE SET schema_json = excluded.schema_json, updated_at = excluded.updated_at
                    """).run()
            } else {
                try await db.raw("DELETE FROM settings_schemas WHERE model_id = \(bind: modelId)").run()
            }
            try await Self.audit(db, at: at, intent: audit, action: schema == nil ? "model.settings_schema.delete" : "model.settings_schema.set",
                                 targetType: "provision_model", targetId: String(modelId), tenantId: tenantId)
        }
    }

    public func modelId(deviceId: Int64) async throws -> Int64? {
        try await database.withConnection { db in
            try await db.raw("SELECT model_id FROM provision_serials WHERE device_id = \(bind: deviceId)").first()?.decode(column: "model_id", as: Int64.self)
        }
    }

    // MARK: Commands

    private static let commandColumns = "id, command_id, device_id, tenant_id, name, params, state, result, error, created_by, created_at, expires_at, sent_at, finished_at"

    private static func command(from row: any SQLRow) throws -> DeviceCommand {
        DeviceCommand(sequence: try row.decode(column: "id", as: Int64.self), id: try row.decode(column: "command_id", as: String.self),
                      deviceId: try row.decode(column: "device_id", as: Int64.self), tenantId: try row.decode(column: "tenant_id", as: Int64.self),
                      name: try row.decode(column: "name", as: String.self), params: try row.decode(column: "params", as: String.self),
                      state: CommandState(rawValue: try row.decode(column: "state", as: String.self)) ?? .failed,
                      result: try row.decode(column: "result", as: String?.self), error: try row.decode(column: "error", as: String?.self),
                      createdBy: try row.decode(column: "created_by", as: String.self), createdAt: try row.decode(column: "created_at", as: Int64.self),
                      expiresAt: try row.decode(column: "expires_at", as: Int64.self), sentAt: try row.decode(column: "sent_at", as: Int64?.self),
                      finishedAt: try row.decode(column: "finished_at", as: Int64?.self))
    }

    public func createCommand(_ command: DeviceCommand, audit: AuditIntent) async throws {
        try await database.transaction { db in
            guard try await db.raw("SELECT id FROM devices WHERE id = \(bind: command.deviceId)").first() != nil else {
                throw GatehouseError.notFound("device", command.deviceId)
            }
            try await db.raw("""
                INSERT INTO device_commands (command_id, device_id, tenant_id, name, params, state, created_by, created_at, expires_at)
                VALUES (\(bind: command.id), \(bind: command.deviceId), \(bind: command.tenantId), \(bind: command.name), \(bind: command.params),
                        \(bind: command.state.rawValue), \(bind: command.createdBy), \(bind: command.createdAt), \(bind: command.expiresAt))
                """).run()
            try await Self.audit(db, at: command.createdAt, intent: audit, action: "device.command.send", targetType: "device", targetId: String(command.deviceId),
                                 tenantId: command.tenantId)
        }
    }

    public func takeCommands(deviceId: Int64, at: Int64, includeSent: Bool) async throws -> [DeviceCommand] {
        let states = includeSent ? "'queued', 'sent'" : "'queued'"
        return try await database.write { db in
            try await db.raw("""
                UPDATE device_commands SET state = 'sent', sent_at = \(bind: at)
                WHERE device_id = \(bind: deviceId) AND state IN (\(unsafeRaw: states)) AND expires_at > \(bind: at)
                RETURNING \(unsafeRaw: Self.commandColumns)
                """).all().map(Self.command(from:)).sorted { $0.sequence < $1.sequence }
        }
    }

    public func recordCommandResult(deviceId: Int64, commandId: String, succeeded: Bool, result: String?, error: String?, at: Int64) async throws -> Bool {
        try await database.write { db in
            try await db.raw("""
                UPDATE device_commands SET state = \(bind: succeeded ? "succeeded" : "failed"), result = \(bind: result), error = \(bind: error), finished_at = \(bind: at)
                WHERE command_id = \(bind: commandId) AND device_id = \(bind: deviceId) AND state IN ('queued', 'sent') AND expires_at > \(bind: at)
                RETURNING id
                """).first() != nil
        }
    }

    public func command(deviceId: Int64, commandId: String) async throws -> DeviceCommand? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.commandColumns) FROM device_commands WHERE command_id = \(bind: commandId) AND device_id = \(bind: deviceId)")
                .first().map(Self.command(from:))
        }
    }

    public func commands(deviceId: Int64, page: PageRequest) async throws -> Page<DeviceCommand> {
        try await database.withConnection { db in
            let rows = try await db.raw("""
                SELECT \(unsafeRaw: Self.commandColumns) FROM device_commands WHERE device_id = \(bind: deviceId) AND id < \(bind: page.after ?? Int64.max)
                ORDER BY id DESC LIMIT \(unsafeRaw: String(page.limit + 1))
                """).all().map(Self.command(from:))
            return Self.page(rows, limit: page.limit, id: \.sequence)
        }
    }

    public func expireCommands(at: Int64) async throws -> Int {
        try await database.write { db in
            try await db.raw("""
                UPDATE device_commands SET state = 'timed_out', finished_at = expires_at WHERE state IN ('queued', 'sent') AND expires_at <= \(bind: at) RETURNING id
                """).all().count
        }
    }
}
