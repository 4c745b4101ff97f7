import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// The store's contract, written once and run on every engine (see the two suites below).
enum StoreContract {
    static let audit = AuditIntent(actor: "test")

    static func migrationsAreIdempotent(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let again = try await Migrator(database: database).migrate()
            #expect(again.isEmpty)
            #expect(try await Migrator(database: database).appliedVersions() == Migrations.all.map(\.version))
        }
    }

    static func upgradeKeepsData(_ engine: DatabaseEngine) async throws {
        let configuration = try await TestDatabases.freshConfiguration(engine)
        try await withDatabase(configuration, logger: TestDatabases.logger) { database in
            // An installation made by a build that only knew the first step...
            let first = Array(Migrations.all.prefix(1))
            #expect(try await Migrator(database: database, migrations: first).migrate() == [1])
            try await database.withConnection { db in
                try await db.raw("""
                    INSERT INTO tenants (key, kind, parent_id, name, enabled, path, created_at, updated_at)
                    VALUES ('kept', 'distributor', 1, 'Kept', \(bind: true), '/1/2/', 5, 5)
                    """).run()
            }
            // ...upgraded by this build: the later steps apply and the data stays.
            let applied = try await Migrator(database: database).migrate()
            #expect(applied == Array(Migrations.all.map(\.version).dropFirst()))
            let kept = try await SQLStore(database: database).tenant(key: "kept")
            #expect(kept?.name == "Kept")
            #expect(kept?.createdAt == 5)
        }
    }

    static func newerSchemaIsRefused(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            try await database.withConnection { db in
                try await db.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)").run()
            }
            await #expect(throws: GatehouseError.self) { try await Migrator(database: database).migrate() }
        }
    }

    /// Several nodes start at once against one database (PostgreSQL), or several migrators
    /// race inside one process (SQLite, which one process owns): each step applies once.
    static func concurrentNodesMigrateOnce(_ engine: DatabaseEngine) async throws {
        let configuration = try await TestDatabases.freshConfiguration(engine)
        let results: [[Int]]
        if engine == .postgres {
            results = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await withDatabase(configuration, logger: TestDatabases.logger) { database in
                            try await Migrator(database: database).migrate()
                        }
                    }
                }
                var all: [[Int]] = []
                for try await result in group { all.append(result) }
                return all
            }
        } else {
            results = try await withDatabase(configuration, logger: TestDatabases.logger) { database in
                try await withThrowingTaskGroup(of: [Int].self) { group in
                    for _ in 0..<4 { group.addTask { try await Migrator(database: database).migrate() } }
                    var all: [[Int]] = []
                    for try await result in group { all.append(result) }
                    return all
                }
            }
        }
        #expect(results.flatMap { $0 }.sorted() == Migrations.all.map(\.version))
        try await withDatabase(configuration, logger: TestDatabases.logger) { database in
            let count = try await database.withConnection { db in
                try await db.raw("SELECT COUNT(*) AS n FROM tenants WHERE kind = 'platform'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(count == 1)
        }
    }

    static func tenantTree(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let platform = try #require(try await store.tenant(id: 1))
            #expect(platform.kind == .platform)
            #expect(platform.path == "/1/")
            let distributor = try await store.createTenant(NewTenant(kind: .distributor, parentId: 1, name: "D"), key: "d", at: 10, audit: audit)
            let reseller = try await store.createTenant(NewTenant(kind: .reseller, parentId: distributor.id, name: "R"), key: "r", at: 11, audit: audit)
            let account = try await store.createTenant(NewTenant(kind: .account, parentId: reseller.id, name: "A"), key: "a", at: 12, audit: audit)
            let other = try await store.createTenant(NewTenant(kind: .account, parentId: 1, name: "Other"), key: "other", at: 13, audit: audit)
            #expect(account.path == "/1/\(distributor.id)/\(reseller.id)/\(account.id)/")
            #expect(distributor.contains(account))
            #expect(!distributor.contains(other))

            let subtree = try await store.listTenants(under: distributor.path, kind: nil, parentId: nil, page: PageRequest())
            #expect(subtree.items.map(\.key) == ["d", "r", "a"])
            let accounts = try await store.listTenants(under: nil, kind: .account, parentId: nil, page: PageRequest())
            #expect(accounts.items.map(\.key) == ["a", "other"])
            let children = try await store.listTenants(under: nil, kind: nil, parentId: 1, page: PageRequest())
            #expect(children.items.map(\.key) == ["d", "other"])

            // Keyset paging walks everything exactly once.
            var seen: [String] = []
            var page = PageRequest(limit: 2)
            while true {
                let result = try await store.listTenants(under: nil, kind: nil, parentId: nil, page: page)
                seen += result.items.map(\.key)
                guard let next = result.nextCursor else { break }
                page.after = Int64(next)
            }
            #expect(seen == ["platform", "d", "r", "a", "other"])

            let updated = try await store.updateTenant(id: account.id, TenantUpdate(name: "A2", enabled: false), at: 20, audit: audit)
            #expect(updated.name == "A2" && !updated.enabled && updated.updatedAt == 20)
            #expect(try await store.tenant(key: "a")?.enabled == false)

            await #expect(throws: GatehouseError(.conflict, "a tenant with key d already exists", field: "key")) {
                _ = try await store.createTenant(NewTenant(kind: .account, parentId: 1, name: "dup"), key: "d", at: 30, audit: audit)
            }
            await #expect(throws: GatehouseError.self) { try await store.deleteTenant(id: reseller.id, at: 31, audit: audit) }
            try await store.deleteTenant(id: account.id, at: 32, audit: audit)
            #expect(try await store.tenant(id: account.id) == nil)
            try await store.deleteTenant(id: reseller.id, at: 33, audit: audit)
        }
    }

    static func featureSwitches(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let dealer = try await store.createTenant(NewTenant(kind: .reseller, parentId: 1, name: "R"), key: "r", at: 1, audit: audit)
            #expect(try await store.features(tenantId: dealer.id).isEmpty)
            try await store.setFeature(tenantId: dealer.id, .generateAccessToken, enabled: true, at: 2, audit: audit)
            #expect(try await store.features(tenantId: dealer.id) == [FeatureSwitch(feature: .generateAccessToken, enabled: true)])
            try await store.setFeature(tenantId: dealer.id, .generateAccessToken, enabled: false, at: 3, audit: audit)
            #expect(try await store.features(tenantId: dealer.id) == [FeatureSwitch(feature: .generateAccessToken, enabled: false)])
        }
    }

    static func usersAndSessions(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let account = try await store.createTenant(NewTenant(kind: .account, parentId: 1, name: "A"), key: "a", at: 1, audit: audit)
            let user = try await store.createUser(NewUser(tenantId: account.id, email: "u@example.com", name: "U", passwordHash: "h1"), at: 2, audit: audit)
            #expect(try await store.user(email: "u@example.com")?.passwordHash == "h1")
            await #expect(throws: GatehouseError.self) {
                _ = try await store.createUser(NewUser(tenantId: account.id, email: "u@example.com", name: "again", passwordHash: nil), at: 3, audit: audit)
            }
            try await store.insertAccessToken(AccessTokenRecord(tokenHash: "tok", kind: .userSession, userId: user.id, expiresAt: 100, createdAt: 2))
            #expect(try await store.accessToken(hash: "tok")?.isUsable(at: 50) == true)
            #expect(try await store.accessToken(hash: "tok")?.isUsable(at: 100) == false)

            // Disabling a user ends its sessions in the same transaction.
            let disabled = try await store.updateUser(id: user.id, UserUpdate(enabled: false), at: 60, audit: audit)
            #expect(!disabled.enabled)
            #expect(try await store.accessToken(hash: "tok")?.revokedAt == 60)

            let list = try await store.listUsers(under: account.path, tenantId: nil, email: "u@example.com", page: PageRequest())
            #expect(list.items.map(\.id) == [user.id])
            #expect(try await store.listUsers(under: "/1/999/", tenantId: nil, email: nil, page: PageRequest()).items.isEmpty)

            try await store.deleteUser(id: user.id, at: 70, audit: audit)
            #expect(try await store.user(id: user.id) == nil)
            #expect(try await store.accessToken(hash: "tok") == nil)
        }
    }

    static func clients(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let reseller = try await store.createTenant(NewTenant(kind: .reseller, parentId: 1, name: "R"), key: "r", at: 1, audit: audit)
            let client = try await store.createClient(
                NewAPIClient(clientId: "key", tenantId: reseller.id, name: "K", scopes: [.write, .read], secretHash: "s1"), at: 2, audit: audit)
            #expect(client.scopes == [.read, .write])
            #expect(!client.provisioning)
            let rotated = try await store.updateClient(id: client.id, APIClientUpdate(provisioning: true, secretHash: "s2"), at: 3, audit: audit)
            #expect(rotated.provisioning)
            #expect(try await store.client(clientId: "key")?.secretHash == "s2")
            await #expect(throws: GatehouseError.self) {
                _ = try await store.createClient(NewAPIClient(clientId: "key", tenantId: 1, name: "dup", scopes: [.read], secretHash: "x"), at: 4, audit: audit)
            }
            #expect(try await store.listClients(under: reseller.path, tenantId: nil, page: PageRequest()).items.count == 1)
            try await store.deleteClient(id: client.id, at: 5, audit: audit)
            #expect(try await store.client(id: client.id) == nil)
        }
    }

    static func failedWritesLeaveNothing(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            _ = try await store.createTenant(NewTenant(kind: .account, parentId: 1, name: "A"), key: "a", at: 1, audit: audit)
            let before = try await store.listAudit(under: nil, page: PageRequest()).items.count
            // A failing transaction (duplicate key) writes neither the row nor its audit entry.
            await #expect(throws: GatehouseError.self) {
                _ = try await store.createTenant(NewTenant(kind: .account, parentId: 1, name: "B"), key: "a", at: 2, audit: audit)
            }
            // A transaction that fails half-way is rolled back whole.
            await #expect(throws: GatehouseError.self) {
                try await database.transaction { db in
                    try await db.raw("INSERT INTO tenants (key, kind, parent_id, name, enabled, path, created_at, updated_at) VALUES ('half', 'account', 1, 'H', \(bind: true), '', 0, 0)").run()
                    throw GatehouseError(.internal, "boom")
                }
            }
            #expect(try await store.tenant(key: "half") == nil)
            #expect(try await store.listAudit(under: nil, page: PageRequest()).items.count == before)
            #expect(try await store.listTenants(under: nil, kind: nil, parentId: nil, page: PageRequest()).items.count == 2)
        }
    }

    static func auditIsScoped(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let d1 = try await store.createTenant(NewTenant(kind: .distributor, parentId: 1, name: "D1"), key: "d1", at: 1, audit: audit)
            let d2 = try await store.createTenant(NewTenant(kind: .distributor, parentId: 1, name: "D2"), key: "d2", at: 2, audit: audit)
            _ = try await store.createTenant(NewTenant(kind: .reseller, parentId: d1.id, name: "R"), key: "r", at: 3, audit: audit)
            let underD1 = try await store.listAudit(under: d1.path, page: PageRequest())
            #expect(underD1.items.map(\.action) == ["tenant.create", "tenant.create"])
            #expect(underD1.items.allSatisfy { $0.actor == "test" })
            #expect(try await store.listAudit(under: d2.path, page: PageRequest()).items.count == 1)
            #expect(try await store.listAudit(under: nil, page: PageRequest()).items.count == 3)
        }
    }

    static func bootstrapHappensOnce(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let vault = try SecretVault(keyData: SecretVault.generateKeyData())
            let made = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        try await store.bootstrapOnce(at: 1, vault: vault) {
                            BootstrapMaterial(authorityCertificatePEM: "cert\(index)", authorityKeyPEM: "key\(index)", superAdminCertificatePEM: "c",
                                              superAdminKeyPEM: "k", superAdminSerial: "serial\(index)", superAdminNotAfter: 9, adminToken: "token\(index)")
                        } != nil
                    }
                }
                var made = 0
                for try await created in group where created { made += 1 }
                return made
            }
            #expect(made == 1)
            let authority = try #require(try await store.authority(vault: vault))
            let index = authority.certificatePEM.dropFirst(4)
            #expect(authority.keyPEM == "key\(index)")
            #expect(try await store.accessToken(hash: Secrets.hash("token\(index)"))?.kind == .platformAdmin)
            try await store.rotateAdminToken("fresh", at: 5)
            #expect(try await store.accessToken(hash: Secrets.hash("token\(index)"))?.isUsable(at: 6) == false)
            #expect(try await store.accessToken(hash: Secrets.hash("fresh"))?.isUsable(at: 6) == true)
        }
    }
}
