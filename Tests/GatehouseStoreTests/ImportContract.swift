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

            // A later file may hang new nodes (and their users) under nodes stored before.
            let later = TreeDocument(tenants: [.init(key: "shop-2", kind: .account, parent: "acme-res", name: "Shop 2")],
                                     users: [.init(email: "owner2@shop.example", tenant: "shop-2", name: "Owner 2")])
            let fourth = try await importer.apply(later)
            #expect(fourth.created == 2 && fourth.updated == 0)
            #expect(try await store.tenant(key: "shop-2")?.parentId == reseller.id)
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

/// The `applications` of an import file (signed onboarding, seed 004), on every engine.
enum ImportApplicationsContract {
    static let hasher = ImportContract.hasher
    static let appId = "6f1c8a4e-2b7d-4c1e-9a3f-0d5e7b9c1a2f"
    static let versionId = "0b9e2d41-7c3a-4f58-8e6d-1a2b3c4d5e6f"

    static func document(publicKey: String) -> TreeDocument {
        TreeDocument(
            tenants: [
                .init(key: "farmsoft", kind: .distributor, parent: nil, name: "Farm Software Inc"),
                .init(key: "green-farm", kind: .account, parent: nil, name: "Green Farm"),
            ],
            applications: [
                // Upper-case ids are taken in canonical lower case; the key is stored trimmed.
                .init(tenant: "farmsoft", name: "Field app", applicationId: appId.uppercased(), publicKey: "\n" + publicKey + "\n\n",
                      redirectUrls: ["https://app.example/callback"],
                      versions: [.init(versionId: versionId, name: "1.0", status: .certified, cuOnboarding: true), .init(name: "2.0-beta")]),
                // No ids at all: found again by owner and name on the next import.
                .init(tenant: "farmsoft", name: "Telemetry platform", versions: [.init(name: "1.0", status: .certified)]),
            ])
    }

    static func importIsIdempotent(_ engine: DatabaseEngine) async throws {
        let pair = try RSAKeyPair.generate()
        let document = document(publicKey: pair.publicKeyPEM)
        let exported = try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let importer = TreeImporter(store: store, hasher: hasher)
            let first = try await importer.apply(document)
            #expect(first.created == 7 && first.updated == 0 && first.unchanged == 0)  // 2 nodes, 2 applications, 3 versions

            let developer = try #require(try await store.tenant(key: "farmsoft"))
            let field = try #require(try await store.application(applicationId: appId))
            #expect(field.tenantId == developer.id && field.name == "Field app" && field.redirectURLs == ["https://app.example/callback"])
            #expect(field.publicKeyPEM == pair.publicKeyPEM.trimmingCharacters(in: .whitespacesAndNewlines) + "\n")
            // The stored key is the one that checks the application's signatures.
            let signature = try RequestSignature.sign(body: Array("{}".utf8), privateKey: pair.privateKey)
            #expect(RequestSignature.verify(body: Array("{}".utf8), hexSignature: signature, publicKey: try RSAPublicKey(pem: try #require(field.publicKeyPEM))))
            let versions = try await store.certificationVersions(applicationId: field.id)
            #expect(versions.map(\.name) == ["1.0", "2.0-beta"] && versions[0].versionId == versionId)
            #expect(versions[0].status == .certified && versions[0].cuOnboarding && versions[1].status == .draft && !versions[1].cuOnboarding)
            let applications = try await store.applications(under: developer.path)
            #expect(applications.count == 2)
            let telemetry = try #require(applications.first { $0.name == "Telemetry platform" })
            #expect(UUID(uuidString: telemetry.applicationId) != nil && telemetry.publicKeyPEM == nil && telemetry.redirectURLs.isEmpty)
            let audit = try await store.listAudit(under: nil, page: PageRequest(limit: 500)).items
            #expect(audit.filter { $0.actor == "import" }.count == audit.count)

            // Again: nothing changes, nothing is written (the application without an id is not made twice).
            let second = try await importer.apply(document)
            #expect(second.created == 0 && second.updated == 0 && second.unchanged == 7)
            #expect(try await store.listAudit(under: nil, page: PageRequest(limit: 500)).items.count == audit.count)
            #expect(try await store.applications(under: developer.path).map(\.applicationId) == applications.map(\.applicationId))

            // A changed file changes exactly what changed; what it leaves out is left as it is.
            var changed = document
            changed.applications[0].versions?[0].status = .withdrawn
            changed.applications[0].redirectUrls = nil
            changed.applications[0].publicKey = nil
            changed.applications[1].name = "Telemetry platform"
            changed.applications[1].redirectUrls = ["https://telemetry.example/back"]
            changed.applications[1].versions = []
            let third = try await importer.apply(changed)
            #expect(third.created == 0 && third.updated == 2 && third.unchanged == 4, "\(third)")
            #expect(try await store.certificationVersion(versionId: versionId)?.status == .withdrawn)
            let kept = try await store.application(applicationId: appId)
            #expect(kept?.publicKeyPEM == field.publicKeyPEM && kept?.redirectURLs == field.redirectURLs)
            #expect(try await store.application(id: telemetry.id)?.redirectURLs == ["https://telemetry.example/back"])
            #expect(try await store.certificationVersions(applicationId: telemetry.id).count == 1)

            // The export names every application and version by id; importing it again changes nothing.
            let exported = try await importer.export()
            #expect(exported.applications.count == 2 && exported.applications.allSatisfy { $0.applicationId != nil && $0.tenant == "farmsoft" })
            #expect(exported.applications.flatMap { $0.versions ?? [] }.allSatisfy { $0.versionId != nil })
            let fourth = try await importer.apply(exported)
            #expect(fourth.created == 0 && fourth.updated == 0)
            return exported
        }
        // Into an empty installation: the same applications with the same ids, and the same export.
        let text = String(decoding: try JSONEncoder().encode(exported), as: UTF8.self)
        #expect(text.contains("\"application_id\"") && text.contains("\"cu_onboarding\"") && !text.contains("PRIVATE KEY"))
        try await TestDatabases.withMigrated(engine) { database in
            let importer = TreeImporter(store: SQLStore(database: database), hasher: hasher)
            let decoded = try JSONDecoder().decode(TreeDocument.self, from: Data(text.utf8))
            #expect(try await importer.apply(decoded).created == 7)
            #expect(try await importer.export() == exported)
        }
        // A document without applications exports without the key.
        let empty = String(decoding: try JSONEncoder().encode(TreeDocument()), as: UTF8.self)
        #expect(!empty.contains("applications"))
    }

    static func badApplicationsWriteNothing(_ engine: DatabaseEngine) async throws {
        let pair = try RSAKeyPair.generate()
        let document = document(publicKey: pair.publicKeyPEM)
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let importer = TreeImporter(store: store, hasher: hasher)
            func bad(_ change: (inout TreeDocument) -> Void) -> TreeDocument {
                var copy = document
                change(&copy)
                return copy
            }
            let cases: [(TreeDocument, String)] = [
                (bad { $0.applications[0].tenant = "nowhere" }, "applications[0].tenant"),
                (bad { $0.applications[0].name = " " }, "applications[0].name"),
                (bad { $0.applications[0].applicationId = "app-1" }, "applications[0].application_id"),
                (bad { $0.applications[1].applicationId = appId }, "applications[1].application_id"),
                (bad { $0.applications[0].publicKey = "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMk=\n-----END PUBLIC KEY-----\n" },
                 "applications[0].public_key"),
                (bad { $0.applications[0].publicKey = "not a key" }, "applications[0].public_key"),
                (bad { $0.applications[0].redirectUrls = ["javascript:alert(1)"] }, "applications[0].redirect_urls"),
                (bad { $0.applications.append(.init(tenant: "farmsoft", name: "Telemetry platform")) }, "applications[2].name"),
                (bad { $0.applications[0].versions?[1].versionId = "v2" }, "applications[0].versions[1].version_id"),
                (bad { $0.applications[1].versions?[0].versionId = versionId }, "applications[1].versions[0].version_id"),
                (bad { $0.applications[0].versions?.append(.init(name: "2.0-beta")) }, "applications[0].versions[2].name"),
                (bad { $0.applications[0].versions?[0].name = "" }, "applications[0].versions[0].name"),
            ]
            for (file, field) in cases {
                let error = await #expect(throws: GatehouseError.self) { _ = try await importer.apply(file) }
                #expect(error?.code == .validationFailed && error?.field == field, "\(field): \(String(describing: error))")
            }
            #expect(try await store.listTenants(under: nil, kind: nil, parentId: nil, page: PageRequest()).items.count == 1)
            #expect(try await store.listAudit(under: nil, page: PageRequest()).items.isEmpty)

            // Ids taken elsewhere are conflicts, found before anything is written.
            _ = try await importer.apply(document)
            let auditCount = try await store.listAudit(under: nil, page: PageRequest(limit: 500)).items.count
            let telemetry = try #require(try await store.applications(under: "/").first { $0.name == "Telemetry platform" })
            let telemetryVersion = try #require(try await store.certificationVersions(applicationId: telemetry.id).first)
            let moved = bad {
                $0.tenants.append(.init(key: "other-dev", kind: .distributor, parent: nil, name: "Other"))
                $0.applications[0].tenant = "other-dev"
            }
            let stolen = bad {
                $0.applications[0].name = "Renamed"
                $0.applications[0].versions?.append(.init(versionId: telemetryVersion.versionId, name: "taken"))
            }
            for file in [moved, stolen] {
                let error = await #expect(throws: GatehouseError.self) { _ = try await importer.apply(file) }
                #expect(error?.code == .conflict, "\(String(describing: error))")
            }
            #expect(try await store.tenant(key: "other-dev") == nil)
            #expect(try await store.application(applicationId: appId)?.name == "Field app")
            #expect(try await store.listAudit(under: nil, page: PageRequest(limit: 500)).items.count == auditCount)

            // Two stored applications of one name: the file must say which one it means.
            let developer = try #require(try await store.tenant(key: "farmsoft"))
            let now = Int64(Date().timeIntervalSince1970)
            _ = try await store.createApplication(OnboardingApplication(id: 0, applicationId: UUID().uuidString.lowercased(), tenantId: developer.id,
                                                                        name: "Telemetry platform", publicKeyPEM: nil, redirectURLs: [], createdAt: now,
                                                                        updatedAt: now), audit: AuditIntent(actor: "test"))
            let ambiguous = await #expect(throws: GatehouseError.self) { _ = try await importer.apply(document) }
            #expect(ambiguous?.field == "applications[1].application_id" && ambiguous?.message.contains("2 applications") == true)
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
