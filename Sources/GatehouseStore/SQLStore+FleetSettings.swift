import GatehouseCore
import SQLKit

/// Fleet settings changes: one patch merged into many devices' desired documents in one transaction.
extension SQLStore {
    public func settingsSchemas() async throws -> [Int64: String] {
        try await database.withConnection { db in
            var schemas: [Int64: String] = [:]
            for row in try await db.raw("SELECT model_id, schema_json FROM settings_schemas").all() {
                schemas[try row.decode(column: "model_id", as: Int64.self)] = try row.decode(column: "schema_json", as: String.self)
            }
            return schemas
        }
    }

    public func updateDesiredSettings(under path: String, tenantId: Int64, deviceIds: [Int64]?, limit: Int, at: Int64, audit: AuditIntent,
                                      _ change: @escaping @Sendable (FleetSettingsRow) throws -> String?) async throws -> FleetSettingsResult {
        let engine = database.engine
        return try await database.transaction { db in
            func matching(_ columns: String, _ joins: String, _ tail: String) -> SQLQueryString {
                var query = SQLQueryString("SELECT \(unsafeRaw: columns) FROM devices d JOIN tenants t ON t.id = d.tenant_id\(unsafeRaw: joins) ")
                query.appendInterpolation(unsafeRaw: "WHERE t.path LIKE ")
                query.appendInterpolation(bind: Self.likePrefix(path))
                if let deviceIds {
                    query.appendInterpolation(unsafeRaw: " AND d.id IN (")
                    for (index, id) in Set(deviceIds).sorted().enumerated() {
                        if index > 0 { query.appendInterpolation(unsafeRaw: ", ") }
                        query.appendInterpolation(bind: id)
                    }
                    query.appendInterpolation(unsafeRaw: ")")
                }
                query.appendInterpolation(unsafeRaw: " ORDER BY d.id LIMIT \(limit + 1)\(tail)")
                return query
            }
            if engine == .postgres {
                // The devices are locked first, in id order as single changes lock them (so two
                // changes cannot deadlock); their settings are read by the next statement, whose
                // snapshot sees every change committed before the locks were granted.
                _ = try await db.raw(matching("d.id", "", " FOR UPDATE OF d")).all()
            }
            let rows = try await db.raw(matching("d.id, p.model_id, s.desired, s.desired_version",
                                                 " LEFT JOIN device_settings s ON s.device_id = d.id LEFT JOIN provision_serials p ON p.device_id = d.id", "")).all().map { row in
                FleetSettingsRow(deviceId: try row.decode(column: "id", as: Int64.self), modelId: try row.decode(column: "model_id", as: Int64?.self),
                                 desired: try row.decode(column: "desired", as: String?.self) ?? "{}",
                                 desiredVersion: try row.decode(column: "desired_version", as: Int64?.self) ?? 0)
            }
            guard rows.count <= limit else {
                throw GatehouseError(.payloadTooLarge, "the change matches more than \(limit) devices: narrow it with tenant_id or device_ids")
            }
            if let deviceIds {
                let found = Set(rows.map(\.deviceId))
                if let missing = deviceIds.first(where: { !found.contains($0) }) { throw GatehouseError.notFound("device", missing) }
            }
            var changed: [(row: FleetSettingsRow, text: String)] = []
            for row in rows {
                if let text = try change(row) { changed.append((row, text)) }
            }
            for chunk in changed.chunked(500) where !chunk.isEmpty {
                var insert = MultiRowSQL.rows("INSERT INTO device_settings (device_id, desired, desired_version, desired_at) VALUES ", chunk) { item in
                    [item.row.deviceId, item.text, item.row.desiredVersion + 1, at]
                }
                insert.appendInterpolation(unsafeRaw: """
                     ON CONFLICT (device_id) DO UPDATE SET desired = excluded.desired, desired_version = excluded.desired_version, desired_at = excluded.desired_at
                    """)
                try await db.raw(insert).run()
            }
            try await Self.audit(db, at: at, intent: AuditIntent(actor: audit.actor, detail: String("\(changed.count) of \(rows.count) devices; \(audit.detail)".prefix(1024))),
                                 action: "device.settings.fleet_set", targetType: "tenant", targetId: String(tenantId), tenantId: tenantId)
            return FleetSettingsResult(changed: changed.map { .init(deviceId: $0.row.deviceId, desiredVersion: $0.row.desiredVersion + 1) }, matched: rows.count)
        }
    }
}
