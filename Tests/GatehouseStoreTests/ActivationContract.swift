import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// The agent-activation rules (seed 000) over the real store, run on both engines.
enum ActivationContract {
    struct Fixture {
        let activation: AgentActivation
        let caller: OperatorCaller
        let organization: Organization
        let preset: Preset
    }

    static func fixture(_ database: any Database, clock: any GatehouseClock = SystemClock(), limits: AgentActivation.GuessLimits = .init()) async throws -> Fixture {
        let store = SQLStore(database: database)
        let management = Management(store: store, hasher: PasswordHasher(rounds: 1000), clock: clock)
        let activation = AgentActivation(store: store, management: management, clock: clock, defaultWatcherURL: "https://watcher.example", limits: limits)
        let node = try await management.createTenant(.platformAdmin, NewTenant(kind: .distributor, parentId: Management.platformTenantId, name: "Operator"))
        let issued = try await activation.createAPIKey(.platformAdmin, operatorId: node.id, name: "ops")
        let caller = try await activation.caller(apiKey: issued.secret)
        let organization = try await activation.createOrganization(caller, OrganizationInput(title: "Org", note: "n", cameraLimit: .some(50)))
        let preset = try await activation.createPreset(caller, organizationId: organization.tenant.id, title: "default", settings: ["dvr": "on"])
        return Fixture(activation: activation, caller: caller, organization: organization, preset: preset)
    }

    static func request(_ fixture: Fixture, token: String?, serial: String, address: String = "10.0.0.1") -> AgentActivationRequest {
        AgentActivationRequest(operatorId: fixture.caller.operatorId, token: token, serial: serial, version: "v1", mac: nil, sourceAddress: address)
    }

    static func code(_ body: () async throws -> some Any) async -> String? {
        do { _ = try await body(); return nil } catch let error as GatehouseError { return error.code.rawValue } catch { return "\(error)" }
    }

    /// N agents racing for one token make one camera; the rest get `conflict`; the
    /// winner may ask again for fresh credentials, a stranger may not.
    static func parallelRedemptionsMakeOneCamera(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            // A clock that stands still while the agents race: they are all in flight together.
            let clock = TestClock(Int64(Date().timeIntervalSince1970))
            let f = try await fixture(database, clock: clock)
            let issued = try await f.activation.issueToken(f.caller, title: "Front door", organizationId: f.organization.tenant.id, presetId: f.preset.id)
            #expect(issued.token.count == 8 && issued.token.allSatisfy { $0.isUppercase && $0.isASCII })
            let outcomes = await withTaskGroup(of: (String, AgentGrant?, (any Error)?).self) { group in
                for n in 0..<16 {
                    group.addTask {
                        let serial = "SN-\(n)"
                        do {
                            return (serial, try await f.activation.activate(request(f, token: issued.token, serial: serial, address: "10.0.1.\(n)")), nil)
                        } catch {
                            return (serial, nil, error)
                        }
                    }
                }
                return await group.reduce(into: [(String, AgentGrant?, (any Error)?)]()) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.1 != nil }
            let failures = outcomes.compactMap(\.2)
            #expect(winners.count == 1, "failures: \(failures)")
            // The others lost a race, and are told so (not refused like a guess).
            #expect(failures.map { ($0 as? GatehouseError)?.code.rawValue ?? "\($0)" } == Array(repeating: "conflict", count: 15), "\(failures)")
            let winner = try #require(winners.first)
            let (serial, grant) = (winner.0, try #require(winner.1))
            let cameras = try await f.activation.cameras(f.caller, organizationId: nil, limit: nil, offset: nil)
            #expect(cameras.total == 1)
            let camera = try #require(cameras.items.first)
            #expect(camera.title == "Front door" && camera.presetId == f.preset.id && camera.organizationId == f.organization.tenant.id)
            #expect(camera.agentId == grant.agentId && camera.agentSerial == serial)
            #expect(try await f.activation.token(f.caller, issued.token).cameraName == camera.name)
            #expect(grant.watcherURL == "https://watcher.example" && grant.agentKey.count > 40)

            // The winner lost the answer and asks again: same agent, new key; the old key is dead.
            let again = try await f.activation.activate(request(f, token: issued.token, serial: serial))
            #expect(again.agentId == grant.agentId && again.agentKey != grant.agentKey && again.cameraName == camera.name)
            #expect(await code { try await f.activation.agentStatus(agentId: grant.agentId, key: grant.agentKey, version: nil) } == "unauthenticated")
            #expect(try await f.activation.agentStatus(agentId: again.agentId, key: again.agentKey, version: "v2").status == .active)
            // Once the race is over, another agent is refused like with any used token.
            clock.advance(1)
            #expect(await code { try await f.activation.activate(request(f, token: issued.token, serial: "SN-late")) } == "unauthenticated")
            // Once it has checked in, a repeat is refused like any used token.
            #expect(await code { try await f.activation.activate(request(f, token: issued.token, serial: serial)) } == "unauthenticated")
            #expect(try await f.activation.cameras(f.caller, organizationId: nil, limit: nil, offset: nil).total == 1)

            // Deleting the camera deactivates the agent at once.
            try await f.activation.deleteCamera(f.caller, name: camera.name)
            #expect(try await f.activation.agentStatus(agentId: again.agentId, key: again.agentKey, version: nil).status == .deactivated)
            #expect(try await f.activation.cameras(f.caller, organizationId: nil, limit: nil, offset: nil).total == 0)
        }
    }

    /// An operator user's session opens the operator API until it expires or is revoked;
    /// a user of an account node is no operator.
    static func sessionsExpireAndEnd(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let clock = TestClock(1_800_000_000)
            let f = try await fixture(database, clock: clock)
            let management = f.activation.management
            let user = try await management.createUser(.platformAdmin, tenantId: f.caller.operatorId, email: "op@example.com", name: "Op",
                                                       password: "a long password", permissions: [.manageTenants], enabled: true)
            let session = try await management.startSession(for: user)
            #expect(session.expiresAt == 1_800_000_000 + management.sessionLifetime)
            #expect(try await f.activation.caller(session: session.token).operatorId == f.caller.operatorId)
            clock.advance(management.sessionLifetime + 1)
            #expect(await code { try await f.activation.caller(session: session.token) } == "unauthenticated")

            let live = try await management.startSession(for: user)
            #expect(try await f.activation.caller(session: live.token).operatorId == f.caller.operatorId)
            try await management.revoke(bearer: live.token)
            #expect(await code { try await f.activation.caller(session: live.token) } == "unauthenticated")

            let customer = try await management.createUser(.platformAdmin, tenantId: f.organization.tenant.id, email: "end@example.com", name: "End",
                                                           password: "a long password", permissions: [], enabled: true)
            #expect(await code { try await f.activation.caller(session: try await management.startSession(for: customer).token) } == "forbidden")
        }
    }

    /// Look-ups the embedded engine caches (the operator with its settings, the organization
    /// and preset a token is for) follow every change at once: new settings shape the next
    /// token, a deleted preset is refused clearly, a disabled operator activates nothing.
    static func cachedLookupsFollowChanges(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let organizationId = f.organization.tenant.id
            let first = try await f.activation.issueToken(f.caller, title: "a", organizationId: organizationId, presetId: f.preset.id)
            #expect(first.token.count == 8)
            _ = try await f.activation.activate(request(f, token: first.token, serial: "CACHE-1"))
            _ = try await f.activation.setSettings(.platformAdmin, operatorId: f.caller.operatorId,
                                                   OperatorSettings(tokenAlphabet: "0123456789", tokenLength: 12, tokenValidity: 0, watcherURL: "https://new.example"))
            let second = try await f.activation.issueToken(f.caller, title: "b", organizationId: organizationId, presetId: f.preset.id)
            #expect(second.token.count == 12 && second.token.allSatisfy(\.isNumber))
            #expect(try await f.activation.activate(request(f, token: second.token, serial: "CACHE-2")).watcherURL == "https://new.example")

            try await f.activation.deletePreset(f.caller, id: f.preset.id)
            do {
                _ = try await f.activation.issueToken(f.caller, title: "c", organizationId: organizationId, presetId: f.preset.id)
                Issue.record("a token was issued for a deleted preset")
            } catch let error as GatehouseError {
                #expect(error.code == .notFound && error.field == "preset_id", "\(error)")
            }

            let spare = try await f.activation.createPreset(f.caller, organizationId: organizationId, title: "spare", settings: [:])
            let third = try await f.activation.issueToken(f.caller, title: "d", organizationId: organizationId, presetId: spare.id)
            _ = try await f.activation.management.updateTenant(.platformAdmin, id: f.caller.operatorId, TenantUpdate(enabled: false))
            #expect(await code { try await f.activation.activate(request(f, token: third.token, serial: "CACHE-3")) } == "unauthenticated")
        }
    }

    /// A preset deleted after the issue-target check, while its token waits in the write
    /// batch: that token is answered `not_found` and not written, and a token for a live
    /// preset in the same batch is written all the same (before, the foreign key failed the
    /// whole batch with a database error).
    static func presetDeletedBeforeTheWriteIsNotFound(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let store = SQLStore(database: database)
            let organizationId = f.organization.tenant.id
            let gone = try await f.activation.createPreset(f.caller, organizationId: organizationId, title: "gone", settings: [:])
            try await f.activation.deletePreset(f.caller, id: gone.id)
            let now = Int64(Date().timeIntervalSince1970)
            func record(_ presetId: Int64) -> ActivationTokenRecord {
                ActivationTokenRecord(id: 0, operatorId: f.caller.operatorId, organizationId: organizationId, presetId: presetId, title: "t",
                                      validTill: 0, createdAt: now, usedAt: nil, agentId: nil, cameraName: nil)
            }
            let audit = AuditIntent(actor: "test")
            // Both at once, so that they usually share one batch.
            async let live = code { try await store.insertActivationToken(record(f.preset.id), tokenHash: "live-hash", organizationPath: nil, audit: audit) }
            async let vanished = code { try await store.insertActivationToken(record(gone.id), tokenHash: "gone-hash", organizationPath: nil, audit: audit) }
            #expect(await live == nil)
            #expect(await vanished == "not_found")
            #expect(try await store.activationToken(operatorId: f.caller.operatorId, tokenHash: "live-hash") != nil)
            #expect(try await store.activationToken(operatorId: f.caller.operatorId, tokenHash: "gone-hash") == nil)
            // A collision with a live token is still a conflict (the caller draws again).
            #expect(await code { try await store.insertActivationToken(record(f.preset.id), tokenHash: "live-hash", organizationPath: nil, audit: audit) }
                    == "conflict")
        }
    }

    /// Unknown, used and expired tokens get one answer; failures are limited per address and
    /// per operator, counted in the database; activation by operator id alone waits for
    /// assignment; the camera limit holds.
    static func guessingExpiryUnassignedAndLimits(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let clock = TestClock(1_800_000_000)
            let f = try await fixture(database, clock: clock, limits: .init(perAddress: 3, perOperator: 5, windowMinutes: 10))
            let operatorNode = f.caller.operatorId
            _ = try await f.activation.setSettings(.platformAdmin, operatorId: operatorNode,
                                                   OperatorSettings(tokenAlphabet: "0123456789", tokenLength: 10, tokenValidity: 60, watcherURL: nil))
            let expiring = try await f.activation.issueToken(f.caller, title: "cam", organizationId: f.organization.tenant.id, presetId: f.preset.id)
            #expect(expiring.token.count == 10 && expiring.token.allSatisfy(\.isNumber) && expiring.record.validTill == 1_800_000_060)
            clock.advance(61)
            #expect(await code { try await f.activation.activate(request(f, token: expiring.token, serial: "A", address: "1.1.1.1")) } == "unauthenticated")
            #expect(await code { try await f.activation.activate(request(f, token: "0000000000", serial: "A", address: "1.1.1.1")) } == "unauthenticated")
            #expect(await code { try await f.activation.activate(request(f, token: "1111111111", serial: "A", address: "1.1.1.1")) } == "unauthenticated")
            // The address has used its three failures; even a good token waits now.
            let fresh = try await f.activation.issueToken(f.caller, title: "cam2", organizationId: f.organization.tenant.id, presetId: f.preset.id)
            #expect(await code { try await f.activation.activate(request(f, token: fresh.token, serial: "B", address: "1.1.1.1")) } == "rate_limited")
            // Other addresses still pass until the operator-wide limit (5) is used up.
            #expect(await code { try await f.activation.activate(request(f, token: "2222222222", serial: "C", address: "2.2.2.2")) } == "unauthenticated")
            #expect(await code { try await f.activation.activate(request(f, token: "3333333333", serial: "C", address: "3.3.3.3")) } == "unauthenticated")
            #expect(await code { try await f.activation.activate(request(f, token: fresh.token, serial: "B", address: "4.4.4.4")) } == "rate_limited")
            // The window passes (and with it the token's 60 s of validity: a new one).
            clock.advance(11 * 60)
            let later = try await f.activation.issueToken(f.caller, title: "cam2", organizationId: f.organization.tenant.id, presetId: f.preset.id)
            let grant = try await f.activation.activate(request(f, token: later.token, serial: "B", address: "1.1.1.1"))
            #expect(grant.status == .active)

            // By operator id alone: unassigned until the operator assigns it.
            let lone = try await f.activation.activate(request(f, token: nil, serial: "LONE"))
            #expect(lone.status == .unassigned && lone.cameraName == nil)
            let waiting = try await f.activation.agents(f.caller, status: .unassigned, limit: nil, offset: nil)
            #expect(waiting.items.map(\.serial) == ["LONE"])
            let assigned = try await f.activation.assignAgent(f.caller, agentId: lone.agentId, organizationId: f.organization.tenant.id, presetId: f.preset.id, title: "Yard")
            #expect(assigned.agentId == lone.agentId && assigned.title == "Yard")
            #expect(await code { try await f.activation.assignAgent(f.caller, agentId: lone.agentId, organizationId: f.organization.tenant.id,
                                                                  presetId: f.preset.id, title: "Again") } == "conflict")
            #expect(try await f.activation.agentStatus(agentId: lone.agentId, key: lone.agentKey, version: nil).status == .active)

            // Camera limit: the organization holds 2 now; at 2 the next one is refused and the token stays unused.
            _ = try await f.activation.updateOrganization(f.caller, id: f.organization.tenant.id, OrganizationInput(cameraLimit: .some(2)))
            let over = try await f.activation.issueToken(f.caller, title: "cam3", organizationId: f.organization.tenant.id, presetId: f.preset.id)
            #expect(await code { try await f.activation.activate(request(f, token: over.token, serial: "D", address: "5.5.5.5")) } == "limit_exceeded")
            #expect(try await f.activation.token(f.caller, over.token).usedAt == nil)

            // Bad input never reaches the database half-written.
            #expect(await code { try await f.activation.issueToken(f.caller, title: "", organizationId: f.organization.tenant.id, presetId: f.preset.id) } == "validation_failed")
            #expect(await code { try await f.activation.issueToken(f.caller, title: "x", organizationId: 999_999, presetId: f.preset.id) } == "not_found")
            #expect(await code { try await f.activation.activate(request(f, token: "x", serial: "bad\u{7}serial")) } == "validation_failed")
            #expect(await code { try await f.activation.setSettings(.platformAdmin, operatorId: operatorNode,
                                                                  OperatorSettings(tokenAlphabet: "AB", tokenLength: 8, tokenValidity: 0, watcherURL: nil)) } == "validation_failed")
        }
    }
}
