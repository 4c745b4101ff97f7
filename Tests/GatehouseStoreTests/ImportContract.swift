import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// `gatehouse import` / `export` semantics, on every engine.
enum ImportContract {
    static let hasher = PasswordHasher(rounds: PasswordHasher.minimumRounds)

    static let document = TreeDocument(
        tenants: [
            .init(key: "acme-res", kind: .reseller, parent: "acme", name: "Acme Resale"),  // parent listed later: order is free
            .init(key: "acme", kind: .distributor, parent: nil, name: "Acme", features: ["generate_access_token": true]),
            .init(key: "shop-1", kind: .account, parent: "acme-res", name: "Shop 1", enabled: false),
        ],
        users: [
            .init(email: "Dealer@Acme.example", tenant: "acme", name: "Dealer", permissions: [.manageUsers, .generateAccessToken], password: "dealer password"),
            .init(email: "owner@shop.example", tenant: "shop-1", name: "Owner", password: "owner password"),
        ],
        clients: [
            .init(clientId: "acme-backend", tenant: "acme", name: "Acme back end", scopes: [.read, .write], provisioning: true, secret: "qwertyuiopasdfghjklzxcvbnm12345"),
        ])

    static func importIsIdempotent(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let importer = TreeImporter(store: store, hasher: hasher)
            let first = try await importer.apply(document)
            #expect(first.created == 6 && first.updated == 0)
            let auditAfterFirst = try await store.listAudit(under: nil, page: PageRequest(limit: 500)).items.count

            let second = try await importer.apply(document)
            #expect(second.created == 0 && second.updated == 0 && second.unchanged == 6)
            #expect(try await store.listAudit(under: nil, page: PageRequest(limit: 500)).items.count == auditAfterFirst)

            let shop = try #require(try await store.tenant(key: "shop-1"))
            #expect(!shop.enabled)
            let reseller = try #require(try await store.tenant(key: "acme-res"))
            #expect(shop.parentId == reseller.id)
            let acme = try #require(try await store.tenant(key: "acme"))
            #expect(try await store.features(tenantId: acme.id) == [FeatureSwitch(feature: .generateAccessToken, enabled: true)])
            let dealer = try #require(try await store.user(email: "dealer@acme.example"))
            #expect(hasher.verify("dealer password", against: dealer.passwordHash ?? ""))
            #expect(dealer.user.permissions == [.generateAccessToken, .manageUsers])
            let client = try #require(try await store.client(clientId: "acme-backend"))
            #expect(Secrets.matches("qwertyuiopasdfghjklzxcvbnm12345", hash: client.secretHash))
            #expect(client.client.provisioning)

            // A changed file changes exactly what changed.
            var changed = document
            changed.tenants[2].name = "Shop One"
            changed.users[1].password = "a new password"
            let third = try await importer.apply(changed)
            #expect(third.created == 0 && third.updated == 2 && third.unchanged == 4)
            #expect(try await store.tenant(key: "shop-1")?.name == "Shop One")
        }
    }

    static func exportRoundTrips(_ engine: DatabaseEngine) async throws {
        let exported = try await TestDatabases.withMigrated(engine) { database in
            let importer = TreeImporter(store: SQLStore(database: database), hasher: hasher)
            _ = try await importer.apply(document)
            return try await importer.export()
        }
        // Secrets leave only as hashes.
        let text = String(decoding: try JSONEncoder().encode(exported), as: UTF8.self)
        #expect(!text.contains("dealer password") && !text.contains("qwertyuiopasdfghjklzxcvbnm12345"))
        #expect(exported.users.allSatisfy { $0.password == nil && $0.passwordHash?.hasPrefix("pbkdf2-sha256$") == true })
        // Importing the export elsewhere gives the same export, and sign-in secrets still work.
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let importer = TreeImporter(store: store, hasher: hasher)
            let report = try await importer.apply(exported)
            #expect(report.created == 6)
            #expect(try await importer.export() == exported)
            #expect(hasher.verify("owner password", against: try await store.user(email: "owner@shop.example")?.passwordHash ?? ""))
        }
    }

    static func badFilesWriteNothing(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let importer = TreeImporter(store: store, hasher: hasher)
            var orphan = document
            orphan.users.append(.init(email: "x@example.com", tenant: "nowhere", name: "X"))
            var cycle = document
            cycle.tenants.append(contentsOf: [.init(key: "p", kind: .reseller, parent: "q", name: "P"), .init(key: "q", kind: .reseller, parent: "p", name: "Q")])
            var badKind = document
            badKind.tenants.append(.init(key: "bad", kind: .distributor, parent: "shop-1", name: "Bad"))
            var duplicate = document
            duplicate.clients.append(duplicate.clients[0])
            var memberPermissions = document
            memberPermissions.users[1].permissions = [.manageUsers]
            var version = document
            version.version = 2
            for bad in [orphan, cycle, badKind, duplicate, memberPermissions, version] {
                await #expect(throws: GatehouseError.self) { _ = try await importer.apply(bad) }
            }
            #expect(try await store.listTenants(under: nil, kind: nil, parentId: nil, page: PageRequest()).items.count == 1)
            #expect(try await store.listAudit(under: nil, page: PageRequest()).items.isEmpty)

            // Moving an existing node is refused before anything is written.
            _ = try await importer.apply(document)
            var moved = document
            moved.tenants[2].parent = "acme"
            moved.tenants[1].name = "Renamed"
            await #expect(throws: GatehouseError.self) { _ = try await importer.apply(moved) }
            #expect(try await store.tenant(key: "acme")?.name == "Acme")
        }
    }
}

/// OAuth tokens and sign-in counters, on every engine.
enum CredentialContract {
    static func tokensAndThrottle(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let audit = AuditIntent(actor: "test")
            let reseller = try await store.createTenant(NewTenant(kind: .reseller, parentId: 1, name: "R"), key: "r", at: 1, audit: audit)
            let user = try await store.createUser(NewUser(tenantId: reseller.id, email: "d@r.example", name: "D", passwordHash: nil), at: 1, audit: audit)
            let client = try await store.createClient(NewAPIClient(clientId: "p", tenantId: reseller.id, name: "P", scopes: [.read, .write], secretHash: "h"), at: 1, audit: audit)
            let ids = try await store.issue([
                AccessTokenRecord(tokenHash: "refresh", kind: .oauthRefresh, userId: user.id, expiresAt: nil, createdAt: 1, clientId: client.id, scopes: [.write]),
                AccessTokenRecord(tokenHash: "access", kind: .oauthAccess, userId: user.id, expiresAt: 100, createdAt: 1, clientId: client.id, scopes: [.write], refreshId: -1),
            ], audit: nil)
            let context = try #require(try await store.bearer(hash: "access"))
            #expect(context.token.refreshId == ids[0])
            #expect(context.user?.email == "d@r.example" && context.tenant?.id == reseller.id && context.client?.clientId == "p")
            #expect(context.clientTenantEnabled && context.token.scopes == [.write])
            // Revoking the refresh token takes its access tokens along.
            #expect(try await store.revokeToken(id: ids[0], at: 5))
            #expect(try await store.bearer(hash: "access")?.token.revokedAt == 5)
            #expect(try await store.revokeToken(id: ids[0], at: 6) == false)

            // Concurrent failures are all counted (one atomic upsert each).
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await store.recordFailure(key: "user:x", at: 10, limit: 20, window: 60, lockout: 30) }
                }
                try await group.waitForAll()
            }
            #expect(try await store.lockedKeys(["user:x", "addr:y"], at: 11) == ["user:x"])
            #expect(try await store.lockedKeys(["user:x"], at: 40).isEmpty)  // the lock lifts by itself
            try await store.clearFailures(key: "user:x")
            try await store.recordFailure(key: "user:x", at: 50, limit: 2, window: 60, lockout: 30)
            #expect(try await store.lockedKeys(["user:x"], at: 51).isEmpty)

            // Group commit: many concurrent single-token inserts all land, each exactly once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        try await store.issueOne(AccessTokenRecord(tokenHash: "batch-\(index)", kind: .oauthAccess, userId: user.id, expiresAt: 100,
                                                                   createdAt: 1, clientId: client.id, scopes: [.read], refreshId: ids[0]))
                    }
                }
                try await group.waitForAll()
            }
            for index in [0, 150, 299] {
                #expect(try await store.bearer(hash: "batch-\(index)")?.token.scopes == [.read])
            }
            let count = try await database.withConnection { db in
                try await db.raw("SELECT COUNT(*) AS n FROM access_tokens WHERE token_hash LIKE 'batch-%'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(count == 300)
            // Clean-up removes what expired or was revoked before the cut-off, and nothing else.
            #expect(try await store.bearer(hash: "refresh") != nil)
            let purged = try await store.purge(before: 101, now: 200)
            #expect(purged >= 302)  // refresh (revoked at 5), access (expired at 100), 300 batch tokens, stale counters
            let left = try await database.withConnection { db in
                try await db.raw("SELECT COUNT(*) AS n FROM access_tokens").first()!.decode(column: "n", as: Int.self)
            }
            #expect(left == 0)
            // A batch that cannot be written fails its callers and writes nothing of itself.
            await #expect(throws: (any Error).self) {
                try await store.issueOne(AccessTokenRecord(tokenHash: "dup", kind: .oauthAccess, userId: user.id, expiresAt: 100, createdAt: 1))
                try await store.issueOne(AccessTokenRecord(tokenHash: "dup", kind: .oauthAccess, userId: user.id, expiresAt: 100, createdAt: 1))
            }
        }
    }
}
