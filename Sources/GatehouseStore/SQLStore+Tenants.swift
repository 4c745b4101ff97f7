import Foundation
import GatehouseCore
import SQLKit

extension SQLStore {
    static let tenantColumns = "id, key, kind, parent_id, name, enabled, path, created_at, updated_at"

    static func tenant(from row: any SQLRow) throws -> Tenant {
        let kindText = try row.decode(column: "kind", as: String.self)
        guard let kind = TenantKind(rawValue: kindText) else { throw GatehouseError(.internal, "unknown tenant kind in the database") }
        return Tenant(
            id: try row.decode(column: "id", as: Int64.self),
            key: try row.decode(column: "key", as: String.self),
            kind: kind,
            parentId: try row.decode(column: "parent_id", as: Int64?.self),
            name: try row.decode(column: "name", as: String.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            path: try row.decode(column: "path", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    static func fetchTenant(_ db: any SQLDatabase, id: Int64) async throws -> Tenant? {
        try await db.raw("SELECT \(unsafeRaw: tenantColumns) FROM tenants WHERE id = \(bind: id)").first().map(tenant(from:))
    }

    public func tenant(id: Int64) async throws -> Tenant? {
        try await database.withConnection { db in try await Self.fetchTenant(db, id: id) }
    }

    public func tenant(key: String) async throws -> Tenant? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.tenantColumns) FROM tenants WHERE key = \(bind: key)").first().map(Self.tenant(from:))
        }
    }

    public func createTenant(_ new: NewTenant, key: String, at: Int64, audit: AuditIntent) async throws -> Tenant {
        try await database.transaction { db in try await Self.insertTenant(db, new, key: key, at: at, audit: audit) }
    }

    /// Inserts a node under its parent inside the caller's transaction, with its path and audit entry.
    static func insertTenant(_ db: any SQLDatabase, _ new: NewTenant, key: String, at: Int64, audit: AuditIntent) async throws -> Tenant {
        guard let parent = try await Self.fetchTenant(db, id: new.parentId) else { throw GatehouseError.notFound("tenant", new.parentId) }
        if try await db.raw("SELECT id FROM tenants WHERE key = \(bind: key)").first() != nil {
            throw GatehouseError(.conflict, "a tenant with key \(key) already exists", field: "key")
        }
        guard let row = try await db.raw("""
            INSERT INTO tenants (key, kind, parent_id, name, enabled, path, created_at, updated_at)
            VALUES (\(bind: key), \(bind: new.kind.rawValue), \(bind: parent.id), \(bind: new.name), \(bind: new.enabled), '', \(bind: at), \(bind: at))
            RETURNING id
            """).first() else { throw GatehouseError(.internal, "insert returned no id") }
        let id = try row.decode(column: "id", as: Int64.self)
        let path = parent.path + "\(id)/"
        try await db.raw("UPDATE tenants SET path = \(bind: path) WHERE id = \(bind: id)").run()
        try await Self.audit(db, at: at, intent: audit, action: "tenant.create", targetType: "tenant", targetId: String(id), tenantId: id)
        guard let tenant = try await Self.fetchTenant(db, id: id) else { throw GatehouseError(.internal, "created tenant vanished") }
        return tenant
    }

    public func updateTenant(id: Int64, _ update: TenantUpdate, at: Int64, audit: AuditIntent) async throws -> Tenant {
        try await invalidating { try await database.transaction { db in
            guard var tenant = try await Self.fetchTenant(db, id: id) else { throw GatehouseError.notFound("tenant", id) }
            if let name = update.name { tenant.name = name }
            if let enabled = update.enabled { tenant.enabled = enabled }
            tenant.updatedAt = at
            try await db.raw("""
                UPDATE tenants SET name = \(bind: tenant.name), enabled = \(bind: tenant.enabled), updated_at = \(bind: at) WHERE id = \(bind: id)
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "tenant.update", targetType: "tenant", targetId: String(id), tenantId: id)
            return tenant
        } }
    }

    public func deleteTenant(id: Int64, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            guard try await Self.fetchTenant(db, id: id) != nil else { throw GatehouseError.notFound("tenant", id) }
            if try await db.raw("SELECT id FROM tenants WHERE parent_id = \(bind: id) LIMIT 1").first() != nil {
                throw GatehouseError(.conflict, "tenant \(id) has child nodes; delete them first")
            }
            try await Self.audit(db, at: at, intent: audit, action: "tenant.delete", targetType: "tenant", targetId: String(id), tenantId: id)
            try await db.raw("DELETE FROM access_tokens WHERE user_id IN (SELECT id FROM users WHERE tenant_id = \(bind: id))").run()
            try await db.raw("DELETE FROM users WHERE tenant_id = \(bind: id)").run()
            try await db.raw("DELETE FROM api_clients WHERE tenant_id = \(bind: id)").run()
            try await db.raw("DELETE FROM tenant_features WHERE tenant_id = \(bind: id)").run()
            try await db.raw("DELETE FROM tenants WHERE id = \(bind: id)").run()
        } }
    }

    public func listTenants(under path: String?, kind: TenantKind?, parentId: Int64?, page: PageRequest) async throws -> Page<Tenant> {
        try await database.withConnection { db in
            var query = SQLQueryString("SELECT \(unsafeRaw: Self.tenantColumns) FROM tenants WHERE id > \(bind: page.after ?? 0)")
            if let path { query.appendInterpolation(unsafeRaw: " AND path LIKE "); query.appendInterpolation(bind: Self.likePrefix(path)) }
            if let kind { query.appendInterpolation(unsafeRaw: " AND kind = "); query.appendInterpolation(bind: kind.rawValue) }
            if let parentId { query.appendInterpolation(unsafeRaw: " AND parent_id = "); query.appendInterpolation(bind: parentId) }
            query.appendInterpolation(unsafeRaw: " ORDER BY id LIMIT \(page.limit + 1)")
            let tenants = try await db.raw(query).all().map(Self.tenant(from:))
            return Self.page(tenants, limit: page.limit, id: \.id)
        }
    }

    public func features(tenantId: Int64) async throws -> [FeatureSwitch] {
        try await database.withConnection { db in
            try await db.raw("SELECT feature, enabled FROM tenant_features WHERE tenant_id = \(bind: tenantId) ORDER BY feature").all().compactMap { row in
                guard let feature = Feature(rawValue: try row.decode(column: "feature", as: String.self)) else { return nil }
                return FeatureSwitch(feature: feature, enabled: try row.decode(column: "enabled", as: Bool.self))
            }
        }
    }

    public func setFeature(tenantId: Int64, _ feature: Feature, enabled: Bool, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            guard try await Self.fetchTenant(db, id: tenantId) != nil else { throw GatehouseError.notFound("tenant", tenantId) }
            try await db.raw("""
                INSERT INTO tenant_features (tenant_id, feature, enabled, updated_at) VALUES (\(bind: tenantId), \(bind: feature.rawValue), \(bind: enabled), \(bind: at))
                ON CONFLICT (tenant_id, feature) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "tenant.feature", targetType: "tenant", targetId: String(tenantId), tenantId: tenantId)
        } }
    }
}
