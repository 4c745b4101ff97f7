import GatehouseCore
import SQLKit

extension SQLStore {
    static let clientColumns = "c.id, c.client_id, c.tenant_id, c.name, c.secret_hash, c.scopes, c.provisioning, c.enabled, c.created_at, c.updated_at"

    static func clientRecord(from row: any SQLRow) throws -> APIClientRecord {
        let scopes = try row.decode(column: "scopes", as: String.self).split(separator: " ").compactMap { Scope(rawValue: String($0)) }
        let client = APIClient(
            id: try row.decode(column: "id", as: Int64.self),
            clientId: try row.decode(column: "client_id", as: String.self),
            tenantId: try row.decode(column: "tenant_id", as: Int64.self),
            name: try row.decode(column: "name", as: String.self),
            scopes: scopes,
            provisioning: try row.decode(column: "provisioning", as: Bool.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self))
        return APIClientRecord(client: client, secretHash: try row.decode(column: "secret_hash", as: String.self))
    }

    static func fetchClient(_ db: any SQLDatabase, id: Int64) async throws -> APIClientRecord? {
        try await db.raw("SELECT \(unsafeRaw: clientColumns) FROM api_clients c WHERE c.id = \(bind: id)").first().map(clientRecord(from:))
    }

    static func scopesText(_ scopes: [Scope]) -> String {
        Array(Set(scopes)).sorted().map(\.rawValue).joined(separator: " ")
    }

    public func client(id: Int64) async throws -> APIClientRecord? {
        try await database.withConnection { db in try await Self.fetchClient(db, id: id) }
    }

    public func client(clientId: String) async throws -> APIClientRecord? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.clientColumns) FROM api_clients c WHERE c.client_id = \(bind: clientId)").first().map(Self.clientRecord(from:))
        }
    }

    public func createClient(_ new: NewAPIClient, at: Int64, audit: AuditIntent) async throws -> APIClient {
        try await database.transaction { db in
            guard try await Self.fetchTenant(db, id: new.tenantId) != nil else { throw GatehouseError.notFound("tenant", new.tenantId) }
            if try await db.raw("SELECT id FROM api_clients WHERE client_id = \(bind: new.clientId)").first() != nil {
                throw GatehouseError(.conflict, "a client with this client_id already exists", field: "client_id")
            }
            guard let row = try await db.raw("""
                INSERT INTO api_clients (client_id, tenant_id, name, secret_hash, scopes, provisioning, enabled, created_at, updated_at)
                VALUES (\(bind: new.clientId), \(bind: new.tenantId), \(bind: new.name), \(bind: new.secretHash), \(bind: Self.scopesText(new.scopes)),
                        \(bind: new.provisioning), \(bind: new.enabled), \(bind: at), \(bind: at))
                RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let id = try row.decode(column: "id", as: Int64.self)
            try await Self.audit(db, at: at, intent: audit, action: "client.create", targetType: "client", targetId: String(id), tenantId: new.tenantId)
            guard let record = try await Self.fetchClient(db, id: id) else { throw GatehouseError(.internal, "created client vanished") }
            return record.client
        }
    }

    public func updateClient(id: Int64, _ update: APIClientUpdate, at: Int64, audit: AuditIntent) async throws -> APIClient {
        try await invalidating { try await database.transaction { db in
            guard var record = try await Self.fetchClient(db, id: id) else { throw GatehouseError.notFound("client", id) }
            if let name = update.name { record.client.name = name }
            if let scopes = update.scopes { record.client.scopes = Array(Set(scopes)).sorted() }
            if let provisioning = update.provisioning { record.client.provisioning = provisioning }
            if let enabled = update.enabled { record.client.enabled = enabled }
            if let hash = update.secretHash { record.secretHash = hash }
            record.client.updatedAt = at
            try await db.raw("""
                UPDATE api_clients SET name = \(bind: record.client.name), scopes = \(bind: Self.scopesText(record.client.scopes)),
                provisioning = \(bind: record.client.provisioning), enabled = \(bind: record.client.enabled), secret_hash = \(bind: record.secretHash),
                updated_at = \(bind: at) WHERE id = \(bind: id)
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: update.secretHash != nil ? "client.rotate_secret" : "client.update",
                                 targetType: "client", targetId: String(id), tenantId: record.client.tenantId)
            return record.client
        } }
    }

    public func deleteClient(id: Int64, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            guard let record = try await Self.fetchClient(db, id: id) else { throw GatehouseError.notFound("client", id) }
            try await Self.audit(db, at: at, intent: audit, action: "client.delete", targetType: "client", targetId: String(id), tenantId: record.client.tenantId)
            try await db.raw("DELETE FROM api_clients WHERE id = \(bind: id)").run()
        } }
    }

    public func listClients(under path: String?, tenantId: Int64?, page: PageRequest) async throws -> Page<APIClient> {
        try await database.withConnection { db in
            var query = SQLQueryString("SELECT \(unsafeRaw: Self.clientColumns) FROM api_clients c JOIN tenants t ON t.id = c.tenant_id WHERE c.id > \(bind: page.after ?? 0)")
            if let path { query.appendInterpolation(unsafeRaw: " AND t.path LIKE "); query.appendInterpolation(bind: Self.likePrefix(path)) }
            if let tenantId { query.appendInterpolation(unsafeRaw: " AND c.tenant_id = "); query.appendInterpolation(bind: tenantId) }
            query.appendInterpolation(unsafeRaw: " ORDER BY c.id LIMIT \(page.limit + 1)")
            let clients = try await db.raw(query).all().map { try Self.clientRecord(from: $0).client }
            return Self.page(clients, limit: page.limit, id: \.id)
        }
    }
}
