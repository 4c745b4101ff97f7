import GatehouseCore
import SQLKit

extension SQLStore {
    static func vendor(from row: any SQLRow) throws -> Vendor {
        Vendor(tenantId: try row.decode(column: "tenant_id", as: Int64.self), name: try row.decode(column: "name", as: String.self),
               createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    static func provisionModel(from row: any SQLRow) throws -> ProvisionModel {
        ProvisionModel(id: try row.decode(column: "id", as: Int64.self), vendorId: try row.decode(column: "vendor_id", as: Int64.self),
                       name: try row.decode(column: "name", as: String.self), activationWindow: try row.decode(column: "activation_window", as: Int64.self),
                       createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    // MARK: Vendors and tokens

    public func createVendor(tenantId: Int64, name: String, at: Int64, audit: AuditIntent) async throws -> Vendor {
        try await database.transaction { db in
            if try await db.raw("SELECT tenant_id FROM vendors WHERE tenant_id = \(bind: tenantId)").first() != nil {
                throw GatehouseError(.conflict, "tenant \(tenantId) is already a vendor")
            }
            if try await db.raw("SELECT tenant_id FROM vendors WHERE name = \(bind: name)").first() != nil {
                throw GatehouseError(.conflict, "the vendor name \(name) is taken", field: "name")
            }
            try await db.raw("INSERT INTO vendors (tenant_id, name, created_at) VALUES (\(bind: tenantId), \(bind: name), \(bind: at))").run()
            try await Self.audit(db, at: at, intent: audit, action: "vendor.create", targetType: "tenant", targetId: String(tenantId), tenantId: tenantId)
            return Vendor(tenantId: tenantId, name: name, createdAt: at)
        }
    }

    public func vendor(tenantId: Int64) async throws -> Vendor? {
        try await database.withConnection { db in
            try await db.raw("SELECT tenant_id, name, created_at FROM vendors WHERE tenant_id = \(bind: tenantId)").first().map(Self.vendor(from:))
        }
    }

    public func createVendorToken(vendorId: Int64, name: String, tokenHash: String, at: Int64, audit: AuditIntent) async throws -> VendorToken {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO vendor_tokens (vendor_id, name, token_hash, created_at) VALUES (\(bind: vendorId), \(bind: name), \(bind: tokenHash), \(bind: at))
                RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let id = try row.decode(column: "id", as: Int64.self)
            try await Self.audit(db, at: at, intent: audit, action: "vendor.token.create", targetType: "vendor_token", targetId: String(id), tenantId: vendorId)
            return VendorToken(id: id, vendorId: vendorId, name: name, createdAt: at)
        }
    }

    public func vendorTokens(vendorId: Int64) async throws -> [VendorToken] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT id, vendor_id, name, created_at FROM vendor_tokens WHERE vendor_id = \(bind: vendorId) AND revoked_at IS NULL ORDER BY id
                """).all().map { row in
                VendorToken(id: try row.decode(column: "id", as: Int64.self), vendorId: try row.decode(column: "vendor_id", as: Int64.self),
                            name: try row.decode(column: "name", as: String.self), createdAt: try row.decode(column: "created_at", as: Int64.self))
            }
        }
    }

    public func revokeVendorToken(id: Int64, vendorId: Int64, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            guard try await db.raw("""
                UPDATE vendor_tokens SET revoked_at = \(bind: at) WHERE id = \(bind: id) AND vendor_id = \(bind: vendorId) AND revoked_at IS NULL RETURNING id
                """).first() != nil else { throw GatehouseError.notFound("vendor token", id) }
            try await Self.audit(db, at: at, intent: audit, action: "vendor.token.revoke", targetType: "vendor_token", targetId: String(id), tenantId: vendorId)
        } }
    }

    public func vendor(tokenHash: String) async throws -> (vendor: Vendor, node: Tenant)? {
        try await database.withConnection { db in
            guard let row = try await db.raw("""
                SELECT v.tenant_id, v.name AS vendor_name, v.created_at AS vendor_created_at,
                       t.id, t.key, t.kind, t.parent_id, t.name, t.enabled, t.path, t.created_at, t.updated_at
                FROM vendor_tokens k JOIN vendors v ON v.tenant_id = k.vendor_id JOIN tenants t ON t.id = v.tenant_id
                WHERE k.token_hash = \(bind: tokenHash) AND k.revoked_at IS NULL
                """).first() else { return nil }
            let vendor = Vendor(tenantId: try row.decode(column: "tenant_id", as: Int64.self), name: try row.decode(column: "vendor_name", as: String.self),
                                createdAt: try row.decode(column: "vendor_created_at", as: Int64.self))
            return (vendor, try Self.tenant(from: row))
        }
    }

    // MARK: Models

    public func createModel(vendorId: Int64, name: String, window: Int64, at: Int64, audit: AuditIntent) async throws -> ProvisionModel {
        try await database.transaction { db in
            if try await db.raw("SELECT id FROM provision_models WHERE vendor_id = \(bind: vendorId) AND name = \(bind: name)").first() != nil {
                throw GatehouseError(.conflict, "model \(name) already exists", field: "model")
            }
            guard let row = try await db.raw("""
                INSERT INTO provision_models (vendor_id, name, activation_window, created_at) VALUES (\(bind: vendorId), \(bind: name), \(bind: window), \(bind: at))
                RETURNING id, vendor_id, name, activation_window, created_at
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let model = try Self.provisionModel(from: row)
            try await Self.audit(db, at: at, intent: audit, action: "provision.model.create", targetType: "provision_model", targetId: String(model.id),
                                 tenantId: vendorId)
            return model
        }
    }

    public func models(vendorId: Int64) async throws -> [ProvisionModel] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT id, vendor_id, name, activation_window, created_at FROM provision_models WHERE vendor_id = \(bind: vendorId) ORDER BY name
                """).all().map(Self.provisionModel(from:))
        }
    }

    public func model(vendorId: Int64, name: String) async throws -> ProvisionModel? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT id, vendor_id, name, activation_window, created_at FROM provision_models WHERE vendor_id = \(bind: vendorId) AND name = \(bind: name)
                """).first().map(Self.provisionModel(from:))
        }
    }

    public func updateModel(id: Int64, window: Int64, at: Int64, audit: AuditIntent) async throws {
        try await database.transaction { db in
            guard let row = try await db.raw("UPDATE provision_models SET activation_window = \(bind: window) WHERE id = \(bind: id) RETURNING vendor_id").first()
            else { throw GatehouseError.notFound("model", id) }
            try await Self.audit(db, at: at, intent: audit, action: "provision.model.update", targetType: "provision_model", targetId: String(id),
                                 tenantId: try row.decode(column: "vendor_id", as: Int64.self))
        }
    }

    public func deleteModel(id: Int64, at: Int64, audit: AuditIntent) async throws {
        let engine = database.engine
        try await invalidating { try await database.transaction { db in
            guard let row = try await db.raw("SELECT vendor_id FROM provision_models WHERE id = \(bind: id)").first() else {
                throw GatehouseError.notFound("model", id)
            }
            if engine == .postgres {
                // The model's serials, locked in id order like activation batches lock them.
                _ = try await db.raw("SELECT id FROM provision_serials WHERE model_id = \(bind: id) ORDER BY id FOR UPDATE").all()
            }
            // The devices that stand for the model's serials go with them.
            try await db.raw("""
                DELETE FROM devices WHERE id IN (SELECT device_id FROM provision_serials WHERE model_id = \(bind: id) AND device_id IS NOT NULL)
                """).run()
            try await db.raw("DELETE FROM provision_models WHERE id = \(bind: id)").run()
            try await Self.audit(db, at: at, intent: audit, action: "provision.model.delete", targetType: "provision_model", targetId: String(id),
                                 tenantId: try row.decode(column: "vendor_id", as: Int64.self))
        } }
    }
}

/// Serial provisioning (seed 003): SQLStore+Vendors, SQLStore+Serials and SQLStore+Content hold the queries.
extension SQLStore: ProvisioningStore {}
