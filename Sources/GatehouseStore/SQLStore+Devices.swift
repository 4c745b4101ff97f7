import GatehouseCore
import SQLKit

extension SQLStore {
    static let deviceColumns = "d.id, d.tenant_id, d.kind, d.name, d.serial, d.created_at, d.updated_at"

    static func device(from row: any SQLRow) throws -> Device {
        Device(
            id: try row.decode(column: "id", as: Int64.self),
            tenantId: try row.decode(column: "tenant_id", as: Int64.self),
            kind: try row.decode(column: "kind", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            serial: try row.decode(column: "serial", as: String?.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    public func createDevice(tenantId: Int64, kind: String, name: String, serial: String?, at: Int64, audit: AuditIntent) async throws -> Device {
        try await database.transaction { db in
            guard try await Self.fetchTenant(db, id: tenantId) != nil else { throw GatehouseError.notFound("tenant", tenantId) }
            guard let row = try await db.raw("""
                INSERT INTO devices (tenant_id, kind, name, serial, created_at, updated_at)
                VALUES (\(bind: tenantId), \(bind: kind), \(bind: name), \(bind: serial), \(bind: at), \(bind: at)) RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let id = try row.decode(column: "id", as: Int64.self)
            try await Self.audit(db, at: at, intent: audit, action: "device.create", targetType: "device", targetId: String(id), tenantId: tenantId)
            return Device(id: id, tenantId: tenantId, kind: kind, name: name, serial: serial, createdAt: at, updatedAt: at)
        }
    }

    public func device(id: Int64) async throws -> Device? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.deviceColumns) FROM devices d WHERE d.id = \(bind: id)").first().map(Self.device(from:))
        }
    }

    public func deleteDevice(id: Int64, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.deviceColumns) FROM devices d WHERE d.id = \(bind: id)").first() else {
                throw GatehouseError.notFound("device", id)
            }
            let device = try Self.device(from: row)
            try await Self.audit(db, at: at, intent: audit, action: "device.delete", targetType: "device", targetId: String(id), tenantId: device.tenantId)
            try await Self.releaseChannelUsage(db, deviceId: id)
            try await db.raw("DELETE FROM devices WHERE id = \(bind: id)").run()
        } }
    }

    public func devices(under path: String?, tenantId: Int64?, kind: String?, page: PageRequest) async throws -> Page<Device> {
        try await database.withConnection { db in
            var query = SQLQueryString("SELECT \(unsafeRaw: Self.deviceColumns) FROM devices d JOIN tenants t ON t.id = d.tenant_id WHERE d.id > \(bind: page.after ?? 0)")
            if let path { query.appendInterpolation(unsafeRaw: " AND t.path LIKE "); query.appendInterpolation(bind: Self.likePrefix(path)) }
            if let tenantId { query.appendInterpolation(unsafeRaw: " AND d.tenant_id = "); query.appendInterpolation(bind: tenantId) }
            if let kind { query.appendInterpolation(unsafeRaw: " AND d.kind = "); query.appendInterpolation(bind: kind) }
            query.appendInterpolation(unsafeRaw: " ORDER BY d.id LIMIT \(page.limit + 1)")
            return Self.page(try await db.raw(query).all().map(Self.device(from:)), limit: page.limit, id: \.id)
        }
    }
}
