import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// The signed-onboarding storage rules (seed 004) over the real store, run on both engines.
enum OnboardingContract {
    static let audit = AuditIntent(actor: "test")

    struct Fixture: Sendable {
        let database: any Database
        let store: SQLStore
        let management: Management
        let clock: TestClock
        /// The developer's node, owner of `application`.
        let developer: Tenant
        /// Two accounts elsewhere in the tree.
        let account: Tenant
        let otherAccount: Tenant
        let application: OnboardingApplication
        let version: CertificationVersion
    }

    static func fixture(_ database: any Database) async throws -> Fixture {
        let clock = TestClock(1_800_000_000)
        let store = SQLStore(database: database)
        let management = Management(store: store, hasher: PasswordHasher(rounds: 1000), clock: clock)
        let developer = try await management.createTenant(.platformAdmin, NewTenant(kind: .distributor, parentId: Management.platformTenantId, name: "Dev"))
        let farms = try await management.createTenant(.platformAdmin, NewTenant(kind: .distributor, parentId: Management.platformTenantId, name: "Farms"))
        let account = try await management.createTenant(.platformAdmin, NewTenant(key: "farm-1", kind: .account, parentId: farms.id, name: "Farm 1"))
        let other = try await management.createTenant(.platformAdmin, NewTenant(key: "farm-2", kind: .account, parentId: farms.id, name: "Farm 2"))
        let application = try await store.createApplication(newApplication(developer, clock: clock), audit: audit)
        let version = try await store.createCertificationVersion(newVersion(application, clock: clock), audit: audit)
        return Fixture(database: database, store: store, management: management, clock: clock, developer: developer, account: account,
                       otherAccount: other, application: application, version: version)
    }

    static func uuid() -> String { UUID().uuidString.lowercased() }

    static func newApplication(_ owner: Tenant, clock: TestClock, applicationId: String = uuid(), name: String = "Tractor app") -> OnboardingApplication {
        OnboardingApplication(id: 0, applicationId: applicationId, tenantId: owner.id, name: name, publicKeyPEM: nil,
                              redirectURLs: ["https://app.example/back", "https://app.example/other?x=1"], createdAt: clock.now(), updatedAt: clock.now())
    }

    static func newVersion(_ application: OnboardingApplication, clock: TestClock, versionId: String = uuid()) -> CertificationVersion {
        CertificationVersion(id: 0, versionId: versionId, applicationId: application.id, name: "1.0", status: .certified, cuOnboarding: false,
                             createdAt: clock.now())
    }

    static func newIds() -> AlternateIds { AlternateIds(device: uuid(), capability: uuid(), sensor: uuid()) }

    /// A fresh registration code for `account`, good for an hour.
    static func code(_ f: Fixture, _ account: Tenant? = nil, expiresIn: Int64 = 3600) async throws -> RegistrationCode {
        let now = f.clock.now()
        return try await f.store.createRegistrationCode(
            RegistrationCode(id: 0, tenantId: (account ?? f.account).id, userId: nil, applicationId: nil, expiresAt: now + expiresIn, usedAt: nil, createdAt: now),
            codeHash: "hash-" + uuid(), audit: audit)
    }

    static func newSerial() -> String { String(UInt64.random(in: 1 << 60 ..< UInt64.max), radix: 16) }

    static func onboarding(_ f: Fixture, code: RegistrationCode, externalId: String, ids: AlternateIds, account: Tenant? = nil,
                           application: OnboardingApplication? = nil, version: CertificationVersion? = nil, gateway: OnboardingGateway = .mqtt,
                           serial: String = newSerial(), days: Int64 = 365) -> EndpointOnboarding {
        let now = f.clock.now()
        return EndpointOnboarding(
            registrationCodeId: code.id, tenantId: (account ?? f.account).id, applicationId: (application ?? f.application).id,
            certificationVersionId: (version ?? f.version).id, externalId: externalId, gateway: gateway, alternateIds: ids,
            certificate: IssuedCertificate(serial: serial, purpose: "endpoint", subject: ids.device, notAfter: now + days * 86_400, revokedAt: nil, createdAt: now),
            at: now)
    }

    /// Onboards a new endpoint with a new code.
    @discardableResult
    static func onboarded(_ f: Fixture, _ externalId: String, account: Tenant? = nil, application: OnboardingApplication? = nil,
                          version: CertificationVersion? = nil) async throws -> OnboardedEndpoint {
        let code = try await code(f, account)
        return try await f.store.onboard(onboarding(f, code: code, externalId: externalId, ids: newIds(), account: account, application: application,
                                                    version: version), audit: audit)
    }

    static func failure(_ body: () async throws -> some Any) async -> GatehouseError? {
        await ProvisioningContract.failure(body)
    }

    static func count(_ database: any Database, _ table: String, _ condition: String = "1 = 1") async throws -> Int64 {
        try await ProvisioningContract.count(database, "SELECT COUNT(*) AS n FROM \(table) WHERE \(condition)")
    }

    /// Row counts of everything an onboarding writes.
    static func written(_ f: Fixture) async throws -> [Int64] {
        [try await count(f.database, "onboarded_endpoints"), try await count(f.database, "devices"), try await count(f.database, "issued_certificates"),
         try await count(f.database, "issued_certificates", "revoked_at IS NOT NULL"), try await count(f.database, "registration_codes", "used_at IS NOT NULL"),
         try await count(f.database, "audit_log")]
    }

    // MARK: Applications and certification versions

    /// Applications are found by internal and public id and listed under their owner's path;
    /// a taken application id is a `conflict`; updates keep name, key and redirect URLs;
    /// certification versions are created, listed in order, found by public id and updated.
    static func applicationsAndVersions(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            #expect(f.application.id > 0 && f.application.tenantId == f.developer.id)
            #expect(try await f.store.application(id: f.application.id) == f.application)
            #expect(try await f.store.application(applicationId: f.application.applicationId) == f.application)
            #expect(try await f.store.application(applicationId: uuid()) == nil)
            #expect(try await f.store.application(id: f.application.id)?.redirectURLs == ["https://app.example/back", "https://app.example/other?x=1"])

            // Under the developer's path (and the platform's), not under another node's.
            let second = try await f.store.createApplication(newApplication(f.developer, clock: f.clock, name: "Second"), audit: audit)
            #expect(try await f.store.applications(under: f.developer.path).map(\.id) == [f.application.id, second.id])
            #expect(try await f.store.applications(under: "/1/").map(\.id) == [f.application.id, second.id])
            #expect(try await f.store.applications(under: f.account.path).isEmpty)

            let taken = await failure { try await f.store.createApplication(newApplication(f.account, clock: f.clock, applicationId: f.application.applicationId),
                                                                            audit: audit) }
            #expect(taken?.code == .conflict, "\(String(describing: taken))")
            #expect(try await f.store.applications(under: "/1/").count == 2)
            #expect(try await count(database, "audit_log", "action = 'application.create' AND target_type = 'application' AND tenant_id = \(f.developer.id)") == 2)

            f.clock.advance(10)
            var changed = f.application
            changed.name = "Renamed"
            changed.publicKeyPEM = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
            changed.redirectURLs = []
            changed.updatedAt = f.clock.now()
            let updated = try await f.store.updateApplication(changed, audit: audit)
            #expect(updated == changed)
            #expect(try await f.store.application(applicationId: f.application.applicationId) == changed)
            var ghost = changed
            ghost.id = 999_999
            #expect(await failure { try await f.store.updateApplication(ghost, audit: audit) }?.code == .notFound)

            // Versions.
            #expect(f.version.id > 0 && f.version.applicationId == f.application.id)
            var draft = newVersion(f.application, clock: f.clock)
            draft.status = .draft
            draft.cuOnboarding = true
            let created = try await f.store.createCertificationVersion(draft, audit: audit)
            #expect(try await f.store.certificationVersions(applicationId: f.application.id) == [f.version, created])
            #expect(try await f.store.certificationVersion(versionId: created.versionId) == created)
            #expect(try await f.store.certificationVersion(versionId: created.versionId)?.cuOnboarding == true)
            #expect(try await f.store.certificationVersion(versionId: uuid()) == nil)
            #expect(try await f.store.certificationVersions(applicationId: second.id).isEmpty)
            let duplicate = await failure { try await f.store.createCertificationVersion(newVersion(second, clock: f.clock, versionId: created.versionId),
                                                                                         audit: audit) }
            #expect(duplicate?.code == .conflict, "\(String(describing: duplicate))")

            var withdrawn = created
            withdrawn.status = .withdrawn
            withdrawn.cuOnboarding = false
            withdrawn.name = "1.1"
            #expect(try await f.store.updateCertificationVersion(withdrawn, at: f.clock.now(), audit: audit) == withdrawn)
            #expect(try await f.store.certificationVersion(versionId: created.versionId) == withdrawn)
            #expect(try await f.store.certificationVersion(versionId: f.version.versionId) == f.version)
        }
    }

    /// An application with active endpoints cannot be deleted (`conflict`, nothing removed);
    /// once they are revoked it goes with its versions and endpoint rows.
    static func applicationDeleteWaitsForActiveEndpoints(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let endpoint = try await onboarded(f, "urn:tractor:1")
            let refused = await failure { try await f.store.deleteApplication(id: f.application.id, at: f.clock.now(), audit: audit) }
            #expect(refused?.code == .conflict, "\(String(describing: refused))")
            #expect(try await f.store.application(id: f.application.id) != nil)
            #expect(try await f.store.certificationVersion(versionId: f.version.versionId) != nil)

            _ = try await f.store.revokeEndpoints(tenantId: f.account.id, applicationId: f.application.id, deviceAlternateIds: [endpoint.alternateIds.device],
                                                  at: f.clock.now(), audit: audit)
            try await f.store.deleteApplication(id: f.application.id, at: f.clock.now(), audit: audit)
            #expect(try await f.store.application(id: f.application.id) == nil)
            #expect(try await f.store.application(applicationId: f.application.applicationId) == nil)
            #expect(try await f.store.certificationVersion(versionId: f.version.versionId) == nil)
            #expect(try await f.store.endpoint(deviceAlternateId: endpoint.alternateIds.device) == nil)
            #expect(try await count(database, "audit_log", "action = 'application.delete'") == 1)
            #expect(await failure { try await f.store.deleteApplication(id: f.application.id, at: f.clock.now(), audit: audit) }?.code == .notFound)
        }
    }

    // MARK: Accounts and codes

    /// An account's public id is made once: later calls with other candidates answer the first,
    /// and it finds the account. Registration codes are stored by hash (a taken hash is a
    /// `conflict`) and found by it used or not; the audit never holds the hash.
    static func accountsAndRegistrationCodes(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let first = uuid()
            #expect(try await f.store.accountUUID(tenantId: f.account.id, newUUID: first) == first)
            #expect(try await f.store.accountUUID(tenantId: f.account.id, newUUID: uuid()) == first)
            // Racing first uses agree on one id.
            let raced = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<6 { group.addTask { try await f.store.accountUUID(tenantId: f.otherAccount.id, newUUID: uuid()) } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(raced.count == 1)
            #expect(raced.first != first)
            #expect(try await f.store.account(uuid: first) == f.account)
            #expect(try await f.store.account(uuid: (raced.first ?? ""))?.id == f.otherAccount.id)
            #expect(try await f.store.account(uuid: uuid()) == nil)

            let now = f.clock.now()
            let user = try await f.management.createUser(.platformAdmin, tenantId: f.account.id, email: "farmer@example.com", name: "Farmer", password: nil,
                                                         permissions: [], enabled: true)
            let stored = try await f.store.createRegistrationCode(
                RegistrationCode(id: 0, tenantId: f.account.id, userId: user.id, applicationId: f.application.id, expiresAt: now + 600, usedAt: nil, createdAt: now),
                codeHash: "secret-hash-1", audit: audit)
            #expect(stored.id > 0)
            #expect(try await f.store.registrationCode(hash: "secret-hash-1") == stored)
            #expect(try await f.store.registrationCode(hash: "secret-hash-2") == nil)
            let again = await failure { try await f.store.createRegistrationCode(stored, codeHash: "secret-hash-1", audit: audit) }
            #expect(again?.code == .conflict, "\(String(describing: again))")
            #expect(try await count(database, "audit_log", "action = 'registration_code.create' AND tenant_id = \(f.account.id)") == 1)
            #expect(try await count(database, "audit_log", "detail LIKE '%secret-hash%' OR target_id LIKE '%secret-hash%'") == 0)

            // Used, it is still found (the caller tells used from unused).
            _ = try await f.store.onboard(onboarding(f, code: stored, externalId: "urn:x", ids: newIds()), audit: audit)
            #expect(try await f.store.registrationCode(hash: "secret-hash-1")?.usedAt == f.clock.now())
        }
    }

    // MARK: Onboarding

    /// Onboarding uses the code: a second onboarding with it is `unauthenticated` and writes
    /// nothing, as is one with another account's code or an expired one.
    static func registrationCodeIsSingleUse(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let code = try await code(f)
            let ids = newIds()
            let endpoint = try await f.store.onboard(onboarding(f, code: code, externalId: "urn:tractor:1", ids: ids), audit: audit)
            #expect(endpoint.id > 0 && endpoint.status == .active && endpoint.alternateIds == ids && endpoint.externalId == "urn:tractor:1"
                && endpoint.tenantId == f.account.id && endpoint.applicationId == f.application.id && endpoint.certificationVersionId == f.version.id
                && endpoint.gateway == .mqtt && endpoint.createdAt == f.clock.now())
            let device = try #require(try await f.store.device(id: (endpoint.deviceId ?? -1)))
            #expect(device.kind == "endpoint" && device.name == "urn:tractor:1" && device.serial == ids.device && device.tenantId == f.account.id)
            #expect(try await f.store.issuedCertificate(serial: (endpoint.certificateSerial ?? ""))?.revokedAt == nil)
            #expect(try await f.store.endpoint(deviceAlternateId: ids.device) == endpoint)
            #expect(try await f.store.endpoint(tenantId: f.account.id, applicationId: f.application.id, externalId: "urn:tractor:1") == endpoint)
            #expect(try await count(database, "audit_log", "action = 'endpoint.onboard' AND target_id = '\(ids.device)' AND tenant_id = \(f.account.id)") == 1)

            let before = try await written(f)
            f.clock.advance(5)
            for externalId in ["urn:tractor:1", "urn:tractor:2"] {
                let reused = await failure { try await f.store.onboard(onboarding(f, code: code, externalId: externalId, ids: externalId.hasSuffix("1") ? ids : newIds()),
                                                                       audit: audit) }
                #expect(reused?.code == .unauthenticated, "\(String(describing: reused))")
            }
            // Another account's code, and an expired code.
            let foreign = try await self.code(f, f.otherAccount)
            #expect(await failure { try await f.store.onboard(onboarding(f, code: foreign, externalId: "urn:tractor:3", ids: newIds()), audit: audit) }?.code
                == .unauthenticated)
            let short = try await self.code(f, expiresIn: 10)
            f.clock.advance(11)
            let afterCodes = try await written(f)
            #expect(await failure { try await f.store.onboard(onboarding(f, code: short, externalId: "urn:tractor:4", ids: newIds()), audit: audit) }?.code
                == .unauthenticated)
            #expect(try await written(f) == afterCodes)
            #expect(afterCodes[0..<5] == before[0..<5])  // only the two new codes' audit entries were added
            #expect(try await f.store.endpoint(tenantId: f.account.id, applicationId: f.application.id, externalId: "urn:tractor:2") == nil)
        }
    }

    /// Onboarding the same external id again with a new code keeps the endpoint, its alternate
    /// ids and its device, records the new certificate and revokes the previous one.
    static func reonboardingRotatesTheCertificate(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let ids = newIds()
            let first = try await f.store.onboard(onboarding(f, code: try await code(f), externalId: "urn:tractor:1", ids: ids), audit: audit)
            f.clock.advance(60)
            let second = try await f.store.onboard(onboarding(f, code: try await code(f), externalId: "urn:tractor:1", ids: ids), audit: audit)
            #expect(second.id == first.id && second.alternateIds == ids && second.deviceId == first.deviceId && second.status == .active)
            #expect(second.certificateSerial != first.certificateSerial && second.updatedAt == f.clock.now() && second.createdAt == first.createdAt)
            let old = try #require(try await f.store.issuedCertificate(serial: (first.certificateSerial ?? "")))
            let new = try #require(try await f.store.issuedCertificate(serial: (second.certificateSerial ?? "")))
            #expect(old.revokedAt == f.clock.now() && new.revokedAt == nil && new.subject == ids.device && new.purpose == "endpoint")
            #expect(try await count(database, "onboarded_endpoints") == 1)
            #expect(try await count(database, "devices", "kind = 'endpoint'") == 1)
            #expect(try await count(database, "issued_certificates") == 2)
            #expect(try await f.store.revokedCertificates(now: f.clock.now()).map(\.serial) == [old.serial])

            // A version change is kept.
            var next = newVersion(f.application, clock: f.clock)
            next = try await f.store.createCertificationVersion(next, audit: audit)
            let third = try await f.store.onboard(onboarding(f, code: try await code(f), externalId: "urn:tractor:1", ids: ids, version: next), audit: audit)
            #expect(third.certificationVersionId == next.id && third.alternateIds == ids)
            #expect(try await count(database, "issued_certificates", "revoked_at IS NULL") == 1)
        }
    }

    /// Other alternate ids (or another gateway) for an active endpoint are a `conflict` and
    /// write nothing (the code stays unused); a blocked endpoint is refused.
    static func otherIdsForAnActiveEndpointConflict(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let ids = newIds()
            let endpoint = try await f.store.onboard(onboarding(f, code: try await code(f), externalId: "urn:tractor:1", ids: ids), audit: audit)
            let code = try await code(f)
            let before = try await written(f)
            f.clock.advance(5)
            let other = await failure { try await f.store.onboard(onboarding(f, code: code, externalId: "urn:tractor:1", ids: newIds()), audit: audit) }
            #expect(other?.code == .conflict, "\(String(describing: other))")
            let gateway = await failure { try await f.store.onboard(onboarding(f, code: code, externalId: "urn:tractor:1", ids: ids, gateway: .rest), audit: audit) }
            #expect(gateway?.code == .conflict, "\(String(describing: gateway))")
            #expect(try await written(f) == before)
            #expect(try await f.store.endpoint(deviceAlternateId: ids.device) == endpoint)
            #expect(try await count(database, "registration_codes", "id = \(code.id) AND used_at IS NULL") == 1)

            try await database.withConnection { db in try await db.raw("UPDATE onboarded_endpoints SET status = 'blocked' WHERE id = \(bind: endpoint.id)").run() }
            let blocked = await failure { try await f.store.onboard(onboarding(f, code: code, externalId: "urn:tractor:1", ids: ids), audit: audit) }
            #expect(blocked?.code == .endpointBlocked, "\(String(describing: blocked))")
            #expect(try await written(f) == before)
        }
    }

    /// Eight onboardings of one new external id at once, each with its own code: exactly one
    /// wins, the others are `conflict` (never `unauthenticated`), and one endpoint, one device
    /// and one certificate are written; the losers' codes stay unused.
    static func concurrentOnboardingsMakeOneEndpoint(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            var codes: [RegistrationCode] = []
            for _ in 0..<8 { codes.append(try await code(f)) }
            let attempts = codes
            let results = await withTaskGroup(of: String.self) { group in
                for code in attempts {
                    group.addTask {
                        do {
                            _ = try await f.store.onboard(onboarding(f, code: code, externalId: "urn:tractor:race", ids: newIds()), audit: audit)
                            return "ok"
                        } catch let error as GatehouseError {
                            return error.code.rawValue
                        } catch {
                            return String(reflecting: error)
                        }
                    }
                }
                return await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(results.filter { $0 == "ok" }.count == 1 && results.filter { $0 == "conflict" }.count == 7, "\(results)")
            #expect(try await count(database, "onboarded_endpoints") == 1)
            #expect(try await count(database, "devices", "kind = 'endpoint'") == 1)
            #expect(try await count(database, "issued_certificates") == 1)
            #expect(try await count(database, "registration_codes", "used_at IS NOT NULL") == 1)
            let endpoint = try #require(try await f.store.endpoint(tenantId: f.account.id, applicationId: f.application.id, externalId: "urn:tractor:race"))
            #expect(try await f.store.device(id: (endpoint.deviceId ?? -1))?.serial == endpoint.alternateIds.device)
        }
    }

    /// Eight onboardings of one existing endpoint at once, with its ids and their own codes:
    /// each succeeds in turn, and exactly one certificate (the endpoint's current one) stays live.
    static func concurrentReonboardingsLeaveOneLiveCertificate(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let ids = newIds()
            let first = try await f.store.onboard(onboarding(f, code: try await code(f), externalId: "urn:tractor:1", ids: ids), audit: audit)
            var codes: [RegistrationCode] = []
            for _ in 0..<8 { codes.append(try await code(f)) }
            let attempts = codes
            let results = try await withThrowingTaskGroup(of: OnboardedEndpoint.self) { group in
                for code in attempts {
                    group.addTask { try await f.store.onboard(onboarding(f, code: code, externalId: "urn:tractor:1", ids: ids), audit: audit) }
                }
                return try await group.reduce(into: [OnboardedEndpoint]()) { $0.append($1) }
            }
            #expect(results.count == 8 && results.allSatisfy { $0.id == first.id && $0.alternateIds == ids && $0.deviceId == first.deviceId })
            let current = try #require(try await f.store.endpoint(deviceAlternateId: ids.device))
            let live = try await database.withConnection { db in
                try await db.raw("SELECT serial FROM issued_certificates WHERE revoked_at IS NULL").all().map { try $0.decode(column: "serial", as: String.self) }
            }
            #expect(live == [current.certificateSerial ?? ""], "\(live)")
            #expect(try await count(database, "issued_certificates", "revoked_at IS NOT NULL") == 8)
            #expect(try await count(database, "devices", "kind = 'endpoint'") == 1)
        }
    }

    /// External ids are unique per account and application: the same one in another account
    /// or another application is another endpoint with its own ids and device.
    static func externalIdsArePerAccountAndApplication(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let other = try await f.store.createApplication(newApplication(f.developer, clock: f.clock, name: "Other"), audit: audit)
            let otherVersion = try await f.store.createCertificationVersion(newVersion(other, clock: f.clock), audit: audit)
            let a = try await onboarded(f, "urn:same")
            let b = try await onboarded(f, "urn:same", account: f.otherAccount)
            let c = try await onboarded(f, "urn:same", application: other, version: otherVersion)
            #expect(Set([a.id, b.id, c.id]).count == 3)
            #expect(Set([a.alternateIds.device, b.alternateIds.device, c.alternateIds.device]).count == 3)
            #expect(Set([a.deviceId, b.deviceId, c.deviceId]).count == 3)
            #expect(try await f.store.endpoint(tenantId: f.otherAccount.id, applicationId: f.application.id, externalId: "urn:same") == b)
            #expect(try await f.store.endpoint(tenantId: f.account.id, applicationId: other.id, externalId: "urn:same") == c)
            #expect(try await count(database, "devices", "kind = 'endpoint'") == 3)
        }
    }

    // MARK: Replay

    /// A signed request's fingerprint is recorded once: the same one again is a replay until it
    /// expires, then it is accepted again; expired fingerprints are dropped.
    /// One query answers everything an onboarding call checks; what is not there, or not
    /// asked for, is nil, and the failures are those of the address in the window.
    static func onboardingContextReadsEverythingAtOnce(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let code = try await f.store.createRegistrationCode(
                RegistrationCode(id: 0, tenantId: f.account.id, userId: nil, applicationId: f.application.id, expiresAt: f.clock.now() + 60, usedAt: nil,
                                 createdAt: f.clock.now()), codeHash: "context-hash", audit: audit)
            let minute = f.clock.now() / 60
            try await f.store.recordActivationFailure(scopes: ["regcode-address:a"], minute: minute - 20)
            try await f.store.recordActivationFailure(scopes: ["regcode-address:a"], minute: minute - 1)
            try await f.store.recordActivationFailure(scopes: ["regcode-address:a"], minute: minute)
            try await f.store.recordActivationFailure(scopes: ["regcode-address:b"], minute: minute)
            let query = OnboardingContextQuery(applicationId: f.application.applicationId, versionId: f.version.versionId, codeHash: "context-hash",
                                               failureScope: "regcode-address:a", sinceMinute: minute - 14)
            let full = try await f.store.onboardingContext(query)
            #expect(full.application == f.application && full.version == f.version && full.code == code && full.account == f.account)
            #expect(full.developerPath == f.developer.path && full.accountUUID == nil && full.failures == 2)
            let accountUUID = try await f.store.accountUUID(tenantId: f.account.id, newUUID: uuid())
            #expect(try await f.store.onboardingContext(query).accountUUID == accountUUID)

            let bare = try await f.store.onboardingContext(OnboardingContextQuery(applicationId: uuid(), versionId: nil, codeHash: nil,
                                                                                  failureScope: "regcode-address:none", sinceMinute: minute - 14))
            #expect(bare.application == nil && bare.version == nil && bare.code == nil && bare.account == nil)
            #expect(bare.developerPath == nil && bare.accountUUID == nil && bare.failures == 0)
            let unknownCode = try await f.store.onboardingContext(OnboardingContextQuery(applicationId: f.application.applicationId, versionId: uuid(),
                                                                                         codeHash: "other", failureScope: "regcode-address:b", sinceMinute: minute))
            #expect(unknownCode.application == f.application && unknownCode.version == nil && unknownCode.code == nil && unknownCode.failures == 1)

            // Calls arriving together share one query (with and without a version and a code); each gets its own answer.
            let queries = (0..<24).map { index in
                OnboardingContextQuery(applicationId: index % 3 == 0 ? uuid() : f.application.applicationId, versionId: index % 2 == 0 ? f.version.versionId : nil,
                                       codeHash: index % 4 == 0 ? nil : "context-hash", failureScope: "regcode-address:\(index % 2 == 0 ? "a" : "b")",
                                       sinceMinute: minute - 14)
            }
            let together = try await withThrowingTaskGroup(of: (Int, OnboardingContext).self) { group in
                for (index, query) in queries.enumerated() { group.addTask { (index, try await f.store.onboardingContext(query)) } }
                return try await group.reduce(into: [Int: OnboardingContext]()) { $0[$1.0] = $1.1 }
            }
            for (index, query) in queries.enumerated() {
                let answer = try #require(together[index])
                #expect((answer.application != nil) == (index % 3 != 0) && (answer.version != nil) == (index % 2 == 0))
                #expect((answer.code != nil) == (index % 4 != 0) && answer.account == (index % 4 != 0 ? f.account : nil))
                #expect(answer.failures == (query.failureScope.hasSuffix("a") ? 2 : 1))
            }
        }
    }

    static func signedRequestsAreRecordedOnce(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let t = f.clock.now()
            #expect(try await f.store.recordSignedRequest(fingerprint: "fp-1", at: t, expiresAt: t + 600))
            #expect(try await f.store.recordSignedRequest(fingerprint: "fp-1", at: t + 1, expiresAt: t + 601) == false)
            #expect(try await f.store.recordSignedRequest(fingerprint: "fp-1", at: t + 600, expiresAt: t + 1200) == false)
            #expect(try await f.store.recordSignedRequest(fingerprint: "fp-2", at: t + 1, expiresAt: t + 601))
            // Concurrent duplicates: exactly one is first.
            let firsts = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 { group.addTask { try await f.store.recordSignedRequest(fingerprint: "fp-3", at: t + 2, expiresAt: t + 602) } }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(firsts == 1)
            // Expired: accepted again, and the other expired ones are gone.
            #expect(try await f.store.recordSignedRequest(fingerprint: "fp-1", at: t + 700, expiresAt: t + 1300))
            #expect(try await f.store.recordSignedRequest(fingerprint: "fp-1", at: t + 701, expiresAt: t + 1301) == false)
            #expect(try await count(database, "signed_requests") == 1)
        }
    }

    // MARK: Revocation

    /// Revoking endpoints is all or nothing: an unknown, foreign or already revoked id is
    /// answered as missing and nothing changes; otherwise the endpoints are revoked, their
    /// certificates revoked, their devices removed, and the revocation list holds exactly the
    /// revoked certificates until they expire.
    static func revokeEndpointsIsAllOrNothing(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let other = try await f.store.createApplication(newApplication(f.developer, clock: f.clock, name: "Other"), audit: audit)
            let otherVersion = try await f.store.createCertificationVersion(newVersion(other, clock: f.clock), audit: audit)
            let e1 = try await onboarded(f, "urn:1"), e2 = try await onboarded(f, "urn:2"), e3 = try await onboarded(f, "urn:3")
            let foreignApp = try await onboarded(f, "urn:1", application: other, version: otherVersion)
            let foreignAccount = try await onboarded(f, "urn:1", account: f.otherAccount)
            #expect(try await f.store.revokedCertificates(now: f.clock.now()).isEmpty)

            let before = try await written(f)
            f.clock.advance(100)
            let revoke = { (ids: [String]) in
                try await f.store.revokeEndpoints(tenantId: f.account.id, applicationId: f.application.id, deviceAlternateIds: ids, at: f.clock.now(), audit: audit)
            }
            for (ids, missing) in [([e1.alternateIds.device, "unknown"], ["unknown"]),
                                   ([e1.alternateIds.device, foreignApp.alternateIds.device], [foreignApp.alternateIds.device]),
                                   ([foreignAccount.alternateIds.device, e2.alternateIds.device], [foreignAccount.alternateIds.device])] {
                let result = try await revoke(ids)
                #expect(result.revoked.isEmpty && result.missing == missing, "\(result)")
            }
            #expect(try await written(f) == before)
            #expect(try await f.store.endpoint(deviceAlternateId: e1.alternateIds.device) == e1)

            let result = try await revoke([e1.alternateIds.device, e2.alternateIds.device, e1.alternateIds.device])
            #expect(result.missing.isEmpty && result.revoked.map(\.id) == [e1.id, e2.id], "\(result)")
            #expect(result.revoked.allSatisfy { $0.status == .revoked && $0.deviceId == nil })
            for endpoint in [e1, e2] {
                let stored = try #require(try await f.store.endpoint(deviceAlternateId: endpoint.alternateIds.device))
                #expect(stored.status == .revoked && stored.deviceId == nil && stored.updatedAt == f.clock.now())
                #expect(try await f.store.device(id: (endpoint.deviceId ?? -1)) == nil)
                #expect(try await f.store.issuedCertificate(serial: (endpoint.certificateSerial ?? ""))?.revokedAt == f.clock.now())
            }
            #expect(try await f.store.endpoint(deviceAlternateId: e3.alternateIds.device)?.status == .active)
            #expect(try await f.store.device(id: (e3.deviceId ?? -1)) != nil)
            #expect(try await count(database, "audit_log", "action = 'endpoint.revoke'") == 2)
            let serials = [e1, e2].compactMap(\.certificateSerial).sorted()
            #expect(try await f.store.revokedCertificates(now: f.clock.now()).map(\.serial) == serials)
            #expect(try await f.store.revokedCertificates(now: f.clock.now()).allSatisfy { $0.revokedAt == f.clock.now() })

            // Already revoked: missing again, nothing written.
            let again = try await revoke([e1.alternateIds.device])
            #expect(again.revoked.isEmpty && again.missing == [e1.alternateIds.device])
            #expect(try await count(database, "audit_log", "action = 'endpoint.revoke'") == 2)

            // Expired certificates leave the list.
            let notAfter = try #require(try await f.store.issuedCertificate(serial: serials[0])?.notAfter)
            #expect(try await f.store.revokedCertificates(now: notAfter - 1).count == 2)
            #expect(try await f.store.revokedCertificates(now: notAfter).isEmpty)
        }
    }

    /// A revoked endpoint onboarded again gets its row back, active, with the new alternate ids,
    /// a new device and a new certificate; its old ids no longer find it.
    static func revokedEndpointIsOnboardedAfresh(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let first = try await onboarded(f, "urn:1")
            _ = try await f.store.revokeEndpoints(tenantId: f.account.id, applicationId: f.application.id, deviceAlternateIds: [first.alternateIds.device],
                                                  at: f.clock.now(), audit: audit)
            f.clock.advance(10)
            let ids = newIds()
            let again = try await f.store.onboard(onboarding(f, code: try await code(f), externalId: "urn:1", ids: ids), audit: audit)
            #expect(again.id == first.id && again.status == .active && again.alternateIds == ids && again.deviceId != nil && again.deviceId != first.deviceId)
            #expect(try await f.store.endpoint(deviceAlternateId: first.alternateIds.device) == nil)
            #expect(try await f.store.endpoint(deviceAlternateId: ids.device) == again)
            #expect(try await f.store.device(id: (again.deviceId ?? -1))?.serial == ids.device)
            #expect(try await f.store.issuedCertificate(serial: (again.certificateSerial ?? ""))?.revokedAt == nil)
            #expect(try await f.store.revokedCertificates(now: f.clock.now()).map(\.serial) == [(first.certificateSerial ?? "")])
            #expect(try await count(database, "devices", "kind = 'endpoint'") == 1)
        }
    }

    // MARK: Listing

    /// Endpoints list by the accounts' path, in id order, page by page with the total.
    static func endpointsListUnderAPath(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            var mine: [Int64] = []
            for n in 0..<5 { mine.append(try await onboarded(f, "urn:\(n)").id) }
            let theirs = try await onboarded(f, "urn:0", account: f.otherAccount)
            var pages: [[Int64]] = []
            for offset in [0, 2, 4] {
                let page = try await f.store.endpoints(under: f.account.path, limit: 2, offset: offset)
                #expect(page.total == 5 && page.limit == 2 && page.offset == offset)
                pages.append(page.items.map(\.id))
            }
            #expect(pages == [Array(mine[0..<2]), Array(mine[2..<4]), [mine[4]]])
            #expect(try await f.store.endpoints(under: f.otherAccount.path, limit: 10, offset: 0).items.map(\.id) == [theirs.id])
            let all = try await f.store.endpoints(under: "/1/", limit: 10, offset: 0)
            #expect(all.total == 6 && all.items.map(\.id) == mine + [theirs.id])
            let past = try await f.store.endpoints(under: "/1/", limit: 10, offset: 10)
            #expect(past.total == 6 && past.items.isEmpty)
            #expect(try await f.store.endpoints(under: f.developer.path, limit: 10, offset: 0).total == 0)
        }
    }

    /// One endpoint by its internal id, whatever its status; unknown ids find nothing.
    static func endpointById(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let first = try await onboarded(f, "urn:1")
            let second = try await onboarded(f, "urn:2", account: f.otherAccount)
            #expect(try await f.store.endpoint(id: first.id) == first)
            #expect(try await f.store.endpoint(id: second.id) == second)
            #expect(try await f.store.endpoint(id: second.id + 100) == nil)
            #expect(try await f.store.endpoint(id: 0) == nil)
            f.clock.advance(5)
            let revoked = try await f.store.revokeEndpoints(tenantId: f.account.id, applicationId: f.application.id,
                                                            deviceAlternateIds: [first.alternateIds.device], at: f.clock.now(), audit: audit).revoked
            let found = try #require(try await f.store.endpoint(id: first.id))
            #expect(found == revoked.first && found.status == .revoked && found.deviceId == nil && found.certificateSerial == first.certificateSerial)
            #expect(found.updatedAt == f.clock.now())
        }
    }
}
