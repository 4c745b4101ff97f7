import GatehouseCore
import SQLKit

extension SQLStore {
    static let userColumns = "u.id, u.tenant_id, u.email, u.name, u.password_hash, u.permissions, u.scopes, u.enabled, u.created_at, u.updated_at"

    static func userRecord(from row: any SQLRow) throws -> UserRecord {
        let permissions = try row.decode(column: "permissions", as: String.self)
            .split(separator: ",").compactMap { Permission(rawValue: String($0)) }
        let user = User(
            id: try row.decode(column: "id", as: Int64.self),
            tenantId: try row.decode(column: "tenant_id", as: Int64.self),
            email: try row.decode(column: "email", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            permissions: permissions,
            scopes: try row.decode(column: "scopes", as: String.self).split(separator: " ").compactMap { Scope(rawValue: String($0)) },
            enabled: try row.decode(column: "enabled", as: Bool.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self))
        return UserRecord(user: user, passwordHash: try row.decode(column: "password_hash", as: String?.self))
    }

    static func fetchUser(_ db: any SQLDatabase, id: Int64) async throws -> UserRecord? {
        try await db.raw("SELECT \(unsafeRaw: userColumns) FROM users u WHERE u.id = \(bind: id)").first().map(userRecord(from:))
    }

    static func permissionsText(_ permissions: [Permission]) -> String {
        Array(Set(permissions)).sorted().map(\.rawValue).joined(separator: ",")
    }

    public func user(id: Int64) async throws -> UserRecord? {
        try await database.withConnection { db in try await Self.fetchUser(db, id: id) }
    }

    public func user(email: String) async throws -> UserRecord? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM users u WHERE u.email = \(bind: email)").first().map(Self.userRecord(from:))
        }
    }

    public func createUser(_ new: NewUser, at: Int64, audit: AuditIntent) async throws -> User {
        try await database.transaction { db in
            guard try await Self.fetchTenant(db, id: new.tenantId) != nil else { throw GatehouseError.notFound("tenant", new.tenantId) }
            if try await db.raw("SELECT id FROM users WHERE email = \(bind: new.email)").first() != nil {
                throw GatehouseError(.conflict, "a user with this e-mail address already exists", field: "email")
            }
            guard let row = try await db.raw("""
                INSERT INTO users (tenant_id, email, name, password_hash, permissions, scopes, enabled, created_at, updated_at)
                VALUES (\(bind: new.tenantId), \(bind: new.email), \(bind: new.name), \(bind: new.passwordHash), \(bind: Self.permissionsText(new.permissions)),
                        \(bind: Self.scopesText(new.scopes)), \(bind: new.enabled), \(bind: at), \(bind: at))
                RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let id = try row.decode(column: "id", as: Int64.self)
            try await Self.audit(db, at: at, intent: audit, action: "user.create", targetType: "user", targetId: String(id), tenantId: new.tenantId)
            guard let record = try await Self.fetchUser(db, id: id) else { throw GatehouseError(.internal, "created user vanished") }
            return record.user
        }
    }

    public func updateUser(id: Int64, _ update: UserUpdate, at: Int64, audit: AuditIntent) async throws -> User {
        try await invalidating { try await database.transaction { db in
            guard var record = try await Self.fetchUser(db, id: id) else { throw GatehouseError.notFound("user", id) }
            if let email = update.email, email != record.user.email {
                if try await db.raw("SELECT id FROM users WHERE email = \(bind: email)").first() != nil {
                    throw GatehouseError(.conflict, "a user with this e-mail address already exists", field: "email")
                }
                record.user.email = email
            }
            if let name = update.name { record.user.name = name }
            if let permissions = update.permissions { record.user.permissions = Array(Set(permissions)).sorted() }
            if let enabled = update.enabled { record.user.enabled = enabled }
            if let scopes = update.scopes { record.user.scopes = Array(Set(scopes)).sorted() }
            if let hash = update.passwordHash { record.passwordHash = hash }
            record.user.updatedAt = at
            try await db.raw("""
                UPDATE users SET email = \(bind: record.user.email), name = \(bind: record.user.name), permissions = \(bind: Self.permissionsText(record.user.permissions)),
                scopes = \(bind: Self.scopesText(record.user.scopes)), enabled = \(bind: record.user.enabled), password_hash = \(bind: record.passwordHash), updated_at = \(bind: at) WHERE id = \(bind: id)
                """).run()
            if update.enabled == false || update.passwordHash != nil {
                // A disabled user or a changed password ends every open session at once.
                try await db.raw("UPDATE access_tokens SET revoked_at = \(bind: at) WHERE user_id = \(bind: id) AND revoked_at IS NULL").run()
            }
            try await Self.audit(db, at: at, intent: audit, action: "user.update", targetType: "user", targetId: String(id), tenantId: record.user.tenantId)
            return record.user
        } }
    }

    public func deleteUser(id: Int64, at: Int64, audit: AuditIntent) async throws {
        try await invalidating { try await database.transaction { db in
            guard let record = try await Self.fetchUser(db, id: id) else { throw GatehouseError.notFound("user", id) }
            try await Self.audit(db, at: at, intent: audit, action: "user.delete", targetType: "user", targetId: String(id), tenantId: record.user.tenantId)
            try await db.raw("DELETE FROM access_tokens WHERE user_id = \(bind: id)").run()
            try await db.raw("DELETE FROM users WHERE id = \(bind: id)").run()
        } }
    }

    public func listUsers(under path: String?, tenantId: Int64?, email: String?, page: PageRequest) async throws -> Page<User> {
        try await database.withConnection { db in
            var query = SQLQueryString("SELECT \(unsafeRaw: Self.userColumns) FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id > \(bind: page.after ?? 0)")
            if let path { query.appendInterpolation(unsafeRaw: " AND t.path LIKE "); query.appendInterpolation(bind: Self.likePrefix(path)) }
            if let tenantId { query.appendInterpolation(unsafeRaw: " AND u.tenant_id = "); query.appendInterpolation(bind: tenantId) }
            if let email { query.appendInterpolation(unsafeRaw: " AND u.email = "); query.appendInterpolation(bind: email) }
            query.appendInterpolation(unsafeRaw: " ORDER BY u.id LIMIT \(page.limit + 1)")
            let users = try await db.raw(query).all().map { try Self.userRecord(from: $0).user }
            return Self.page(users, limit: page.limit, id: \.id)
        }
    }
}
