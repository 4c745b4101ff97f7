import Crypto
import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import NIOCore
import SQLKit
import Testing

/// The serial-provisioning rules (seed 003) over the real store, run on both engines.
enum ProvisioningContract {
    struct Fixture: Sendable {
        let database: any Database
        let store: SQLStore
        let management: Management
        let provisioning: Provisioning
        let clock: TestClock
        /// The distributor node that holds the vendor role.
        let vendorNode: Tenant
        let vendor: Vendor
        let caller: VendorCaller
        /// An account under the vendor node: the owner serials are enabled for.
        let account: Tenant
        /// The model `sensor`, with the default window.
        let model: ProvisionModel
    }

    static func fixture(_ database: any Database, maxContentBytes: Int64 = 512 << 20) async throws -> Fixture {
        let clock = TestClock(1_800_000_000)
        let store = SQLStore(database: database)
        let management = Management(store: store, hasher: PasswordHasher(rounds: 1000), clock: clock)
        let provisioning = Provisioning(store: store, management: management, clock: clock, maxContentBytes: maxContentBytes)
        let node = try await management.createTenant(.platformAdmin, NewTenant(kind: .distributor, parentId: Management.platformTenantId, name: "Acme"))
        let vendor = try await provisioning.createVendor(.platformAdmin, tenantId: node.id, name: "acme")
        let token = try await provisioning.createToken(.platformAdmin, tenantId: node.id, name: "factory")
        let caller = try await provisioning.caller(vendorToken: token.secret)
        let account = try await management.createTenant(.platformAdmin, NewTenant(key: "home-1", kind: .account, parentId: node.id, name: "Home"))
        let model = try await provisioning.createModel(caller, name: "sensor", window: nil)
        return Fixture(database: database, store: store, management: management, provisioning: provisioning, clock: clock, vendorNode: node,
                       vendor: vendor, caller: caller, account: account, model: model)
    }

    static func failure(_ body: () async throws -> some Any) async -> GatehouseError? {
        do { _ = try await body(); return nil } catch let error as GatehouseError { return error } catch { return GatehouseError(.internal, String(reflecting: error)) }
    }

    static func code(_ body: () async throws -> some Any) async -> String? {
        await failure(body)?.code.rawValue
    }

    static func isCIK(_ value: String) -> Bool {
        value.count == 40 && value.allSatisfy { "0123456789abcdef".contains($0) }
    }

    /// Adds `sns` to `sensor` and enables each for the fixture's account.
    static func enabled(_ f: Fixture, _ sns: [String], model: String = "sensor") async throws {
        try await f.provisioning.addSerials(f.caller, model: model, sns.map { ($0, "") })
        for sn in sns { _ = try await f.provisioning.enable(f.caller, model: model, sn: sn, owner: String(f.account.id)) }
    }

    static func activate(_ f: Fixture, _ sn: String, model: String = "sensor", from connection: String = "10.0.0.1") async throws -> String {
        try await f.provisioning.activate(vendor: f.vendor.name, model: model, sn: sn, connection: connection)
    }

    static func count(_ database: any Database, _ query: String) async throws -> Int64 {
        try await database.withConnection { db in
            try await db.raw("\(unsafeRaw: query)").first()?.decode(column: "n", as: Int64.self) ?? -1
        }
    }

    static func serialDevices(_ f: Fixture, account: Tenant? = nil) async throws -> [Device] {
        try await f.store.devices(under: nil, tenantId: (account ?? f.account).id, kind: "serial", page: PageRequest(limit: 500)).items
    }

    // MARK: Serial numbers

    /// Serials are added one or many at a time; a batch naming a serial twice, or one already
    /// present (even in its 1500th row), is a `conflict` and writes none of its serials.
    static func serialsAreAddedAllOrNone(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            try await f.provisioning.addSerials(f.caller, model: "sensor", [("SN-0001", "first")])
            try await f.provisioning.addSerials(f.caller, model: "sensor", (2...5).map { ("SN-000\($0)", "batch") })
            let listed = { try await f.provisioning.serials(f.caller, model: "sensor", offset: 0, limit: 5000) }
            #expect(try await listed().map(\.sn) == ["SN-0001", "SN-0002", "SN-0003", "SN-0004", "SN-0005"])
            let first = try #require(try await listed().first)
            #expect(first.extra == "first" && first.state == "added" && first.status(at: f.clock.now()) == .unused && first.ownerId == nil
                && first.createdAt == f.clock.now())

            // Named twice in one batch.
            let twice = await failure { try await f.provisioning.addSerials(f.caller, model: "sensor", [("SN-0100", ""), ("SN-0101", ""), ("SN-0100", "")]) }
            #expect(twice?.code == .conflict && twice?.message.contains("SN-0100") == true, "\(String(describing: twice))")
            // The store's own guard, too: duplicates that reach it write nothing.
            #expect(await code { try await f.store.addSerials(modelId: f.model.id, [("SN-0102", ""), ("SN-0102", "")], at: f.clock.now(),
                                                                 audit: AuditIntent(actor: "test")) } == "conflict")
            // Already present, behind more than one statement's worth of new serials.
            let big = (0..<1500).map { (String(format: "BIG-%05d", $0), "") } + [("SN-0003", "")]
            let present = await failure { try await f.provisioning.addSerials(f.caller, model: "sensor", big) }
            #expect(present?.code == .conflict && present?.message.contains("SN-0003") == true, "\(String(describing: present))")
            #expect(try await listed().map(\.sn) == ["SN-0001", "SN-0002", "SN-0003", "SN-0004", "SN-0005"])
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_serials") == 5)

            // The same sn in another model is another serial.
            _ = try await f.provisioning.createModel(f.caller, name: "other", window: nil)
            try await f.provisioning.addSerials(f.caller, model: "other", [("SN-0001", "")])
            #expect(try await f.provisioning.serials(f.caller, model: "other", offset: 0, limit: 10).map(\.sn) == ["SN-0001"])
        }
    }

    /// Serials list in sn order (not insertion order) page by page; removing serials takes
    /// the devices that stand for them out of the owner's account, and unknown ones are ignored.
    static func serialsListInOrderAndRemove(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            var generator = SystemRandomNumberGenerator()
            let sns = (0..<25).map { String(format: "SN-%03d", $0) }
            try await f.provisioning.addSerials(f.caller, model: "sensor", sns.shuffled(using: &generator).map { ($0, "") })
            var pages: [[String]] = []
            for offset in stride(from: 0, to: 30, by: 10) {
                pages.append(try await f.provisioning.serials(f.caller, model: "sensor", offset: offset, limit: 10).map(\.sn))
            }
            #expect(pages.map(\.count) == [10, 10, 5])
            #expect(pages.flatMap { $0 } == sns)

            _ = try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-003", owner: String(f.account.id))
            _ = try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-004", owner: String(f.account.id))
            #expect(Set(try await serialDevices(f).compactMap(\.serial)) == ["SN-003", "SN-004"])
            try await f.provisioning.removeSerials(f.caller, model: "sensor", ["SN-003", "NO-SUCH-SN"])
            #expect(try await serialDevices(f).compactMap(\.serial) == ["SN-004"])
            #expect(await code { try await f.provisioning.serial(f.caller, model: "sensor", sn: "SN-003") } == "not_found")
            #expect(try await f.provisioning.serials(f.caller, model: "sensor", offset: 0, limit: 100).count == 24)
            // The store says how many went; unknown ones are not counted.
            let removed = try await f.store.removeSerials(modelId: f.model.id, sns: ["SN-004", "SN-005", "GHOST"], at: f.clock.now(),
                                                         audit: AuditIntent(actor: "test"))
            #expect(removed == 2)
            #expect(try await serialDevices(f).isEmpty)
            #expect(try await f.provisioning.serials(f.caller, model: "sensor", offset: 0, limit: 100).count == 22)
        }
    }

    // MARK: Enabling

    /// Enabling with an owner (its id or its key) opens the model's window (24 h by default, or
    /// the model's own, changed by `updateModel` for later enablements) and puts a device in
    /// the owner's account; an owner outside the vendor's subtree is `not_found`; re-enabling
    /// a serial that has no owner is a `conflict`.
    static func enableBindsAnOwnerForTheModelWindow(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            try await f.provisioning.addSerials(f.caller, model: "sensor", [("SN-A", ""), ("SN-B", ""), ("SN-C", ""), ("SN-D", "")])
            let now = f.clock.now()
            let byId = try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-A", owner: String(f.account.id))
            #expect(byId.state == "enabled" && byId.status(at: now) == .enabled && byId.ownerId == f.account.id && byId.ownerKey == f.account.key)
            #expect(byId.enabledAt == now && byId.windowEndsAt == now + ProvisionModel.defaultWindow && byId.windowEndsAt == now + 86_400)
            let byKey = try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-B", owner: f.account.key)
            #expect(byKey.ownerId == f.account.id && byKey.status(at: now) == .enabled && byKey.windowEndsAt == now + 86_400)
            let devices = try await serialDevices(f)
            #expect(Set(devices.compactMap(\.serial)) == ["SN-A", "SN-B"])
            #expect(Set(devices.map(\.id)) == Set([byId.deviceId, byKey.deviceId].compactMap { $0 }) && devices.count == 2)
            #expect(devices.allSatisfy { $0.tenantId == f.account.id && $0.kind == "serial" })
            #expect(try await f.provisioning.serial(f.caller, model: "sensor", sn: "SN-A").serial == byId)

            // An account deeper in the vendor's subtree may own serials too.
            let reseller = try await f.management.createTenant(.platformAdmin, NewTenant(kind: .reseller, parentId: f.vendorNode.id, name: "Shop"))
            let deep = try await f.management.createTenant(.platformAdmin, NewTenant(kind: .account, parentId: reseller.id, name: "Deep"))
            #expect(try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-D", owner: deep.key).ownerId == deep.id)
            #expect(try await serialDevices(f, account: deep).compactMap(\.serial) == ["SN-D"])

            // A model's own window, and a changed one for later enablements.
            let short = try await f.provisioning.createModel(f.caller, name: "short", window: 3600)
            #expect(short.activationWindow == 3600)
            try await f.provisioning.addSerials(f.caller, model: "short", [("SN-A", "")])
            let windowed = try await f.provisioning.enable(f.caller, model: "short", sn: "SN-A", owner: String(f.account.id))
            #expect(windowed.windowEndsAt == now + 3600)
            try await f.provisioning.updateModel(f.caller, name: "short", window: 600)
            #expect(try await f.provisioning.model(f.caller, name: "short").activationWindow == 600)
            #expect(try await f.provisioning.serial(f.caller, model: "short", sn: "SN-A").serial.windowEndsAt == now + 3600)
            f.clock.advance(10)
            let again = try await f.provisioning.enable(f.caller, model: "short", sn: "SN-A", owner: nil)
            #expect(again.windowEndsAt == now + 10 + 600 && again.enabledAt == now + 10 && again.ownerId == f.account.id)
            #expect(again.deviceId == windowed.deviceId)
            #expect(await code { try await f.provisioning.updateModel(f.caller, name: "short", window: 59) } == "validation_failed")

            // Owners outside the vendor's subtree, or nodes that are no account.
            let rival = try await f.management.createTenant(.platformAdmin, NewTenant(kind: .distributor, parentId: Management.platformTenantId, name: "Rival"))
            let stranger = try await f.management.createTenant(.platformAdmin, NewTenant(key: "stranger", kind: .account, parentId: rival.id, name: "Stranger"))
            for owner in [String(stranger.id), stranger.key, String(f.vendorNode.id), reseller.key, "999999", "no-such-key"] {
                let error = await failure { try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-C", owner: owner) }
                #expect(error?.code == .notFound && error?.field == "owner", "owner \(owner): \(String(describing: error))")
            }
            // No owner yet: there is nobody to re-enable it for.
            #expect(await code { try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-C", owner: nil) } == "conflict")
            let untouched = try await f.provisioning.serial(f.caller, model: "sensor", sn: "SN-C").serial
            #expect(untouched.state == "added" && untouched.ownerId == nil && untouched.deviceId == nil)
            #expect(try await serialDevices(f, account: stranger).isEmpty)
            #expect(await code { try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-Z", owner: f.account.key) } == "not_found")
        }
    }

    /// Enablements of one serial racing each other leave exactly one device in the owner's
    /// account, and the serial points at it.
    static func concurrentEnablesMakeOneDevice(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            try await f.provisioning.addSerials(f.caller, model: "sensor", [("SN-1", "")])
            let codes = await withTaskGroup(of: String?.self) { group in
                for n in 0..<8 {
                    group.addTask { await code { try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-1", owner: n % 2 == 0 ? f.account.key : nil) } }
                }
                return await group.reduce(into: [String?]()) { $0.append($1) }
            }
            // Those without an owner may come first (conflict); every other one succeeds.
            #expect(codes.allSatisfy { $0 == nil || $0 == "conflict" } && codes.filter { $0 == nil }.count >= 4, "\(codes)")
            let devices = try await serialDevices(f)
            let serial = try await f.provisioning.serial(f.caller, model: "sensor", sn: "SN-1").serial
            #expect(devices.count == 1 && devices.first?.id == serial.deviceId, "\(devices)")
        }
    }

    // MARK: Activation

    /// An activation inside the window hands out a 40-hex CIK once; unknown vendors, models and
    /// serials are `not_found`; re-enabling issues a new CIK and kills the old one; disabling
    /// kills the CIK and refuses activation until the serial is enabled again.
    static func activationIssuesOneCIKPerEnablement(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            try await enabled(f, ["SN-1"])
            f.clock.advance(30)
            let cik = try await activate(f, "SN-1")
            #expect(isCIK(cik), "\(cik)")
            let device = try await f.provisioning.device(cik: cik, vendor: "acme", model: "sensor")
            #expect(device.sn == "SN-1" && device.modelId == f.model.id && device.vendorName == "acme" && device.modelName == "sensor")
            let record = try await f.provisioning.serial(f.caller, model: "sensor", sn: "SN-1").serial
            #expect(record.state == "activated" && record.status(at: f.clock.now()) == .activated && record.activatedAt == f.clock.now())

            let second = await failure { try await activate(f, "SN-1") }
            #expect(second?.code == .conflict && second?.message.contains("already activated") == true, "\(String(describing: second))")
            for (vendor, model, sn) in [("nope", "sensor", "SN-1"), ("acme", "nope", "SN-1"), ("acme", "sensor", "SN-404"), ("acme", "sensor", "bad sn!")] {
                #expect(await code { try await f.provisioning.activate(vendor: vendor, model: model, sn: sn, connection: "x") } == "not_found",
                        "\(vendor)/\(model)/\(sn)")
            }
            // The CIK is only good for its own vendor and model.
            #expect(await code { try await f.provisioning.device(cik: cik, vendor: "acme", model: "other") } == "forbidden")
            #expect(await code { try await f.provisioning.device(cik: String(repeating: "0", count: 40), vendor: "acme", model: "sensor") } == "forbidden")

            // Re-enabling: the old CIK stops at once and the next activation issues a new one.
            f.clock.advance(5)
            let reenabled = try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-1", owner: nil)
            #expect(reenabled.status(at: f.clock.now()) == .enabled && reenabled.activatedAt == nil)
            #expect(await code { try await f.provisioning.device(cik: cik, vendor: "acme", model: "sensor") } == "forbidden")
            let renewed = try await activate(f, "SN-1")
            #expect(isCIK(renewed) && renewed != cik)
            #expect(await code { try await f.provisioning.device(cik: cik, vendor: "acme", model: "sensor") } == "forbidden")
            #expect(try await f.provisioning.device(cik: renewed, vendor: "acme", model: "sensor").sn == "SN-1")
            #expect(try await serialDevices(f).count == 1)

            // Disabling: the CIK stops and activation is refused until the serial is enabled again.
            try await f.provisioning.disable(f.caller, model: "sensor", sn: "SN-1")
            #expect(try await f.provisioning.serial(f.caller, model: "sensor", sn: "SN-1").serial.status(at: f.clock.now()) == .disabled)
            #expect(await code { try await f.provisioning.device(cik: renewed, vendor: "acme", model: "sensor") } == "forbidden")
            #expect(await code { try await f.provisioning.deviceContents(cik: renewed, vendor: "acme", model: "sensor") } == "forbidden")
            let disabled = await failure { try await activate(f, "SN-1") }
            #expect(disabled?.code == .conflict && disabled?.message.contains("disabled") == true, "\(String(describing: disabled))")
            _ = try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-1", owner: nil)
            let third = try await activate(f, "SN-1")
            #expect(isCIK(third) && third != renewed && third != cik)
            #expect(try await f.provisioning.device(cik: third, vendor: "acme", model: "sensor").sn == "SN-1")
        }
    }

    /// The window is open until its last second and closed from `windowEndsAt` on: the serial
    /// is then `expired`, activation is a `conflict`, and re-enabling opens a fresh window.
    static func activationWindowExpires(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            try await enabled(f, ["SN-1", "SN-2"])
            try await f.provisioning.addSerials(f.caller, model: "sensor", [("SN-3", "")])
            let notEnabled = await failure { try await activate(f, "SN-3") }
            #expect(notEnabled?.code == .conflict && notEnabled?.message.contains("not enabled") == true, "\(String(describing: notEnabled))")

            f.clock.advance(ProvisionModel.defaultWindow - 1)
            #expect(isCIK(try await activate(f, "SN-1")))
            f.clock.advance(1)
            let late = try await f.provisioning.serial(f.caller, model: "sensor", sn: "SN-2").serial
            #expect(late.state == "enabled" && late.status(at: f.clock.now()) == .expired)
            let expired = await failure { try await activate(f, "SN-2") }
            #expect(expired?.code == .conflict && expired?.message.contains("expired") == true, "\(String(describing: expired))")
            #expect(try await f.provisioning.serial(f.caller, model: "sensor", sn: "SN-2").serial.status(at: f.clock.now()) == .expired)

            _ = try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-2", owner: nil)
            #expect(isCIK(try await activate(f, "SN-2")))
        }
    }

    /// The store keeps only the CIK's hash: the plaintext appears in no column of the serial,
    /// nor in its log or the audit log.
    static func cikIsStoredHashed(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            try await enabled(f, ["SN-1"])
            let cik = try await activate(f, "SN-1")
            let stored = try await database.withConnection { db in
                try await db.raw("SELECT cik_hash FROM provision_serials WHERE sn = 'SN-1'").first()?.decode(column: "cik_hash", as: String?.self)
            }
            #expect(stored == Secrets.hash(cik) && stored != cik)
            let pattern = "'%\(cik)%'"
            #expect(try await count(database, """
                SELECT COUNT(*) AS n FROM provision_serials
                WHERE COALESCE(cik_hash, '') LIKE \(pattern) OR sn LIKE \(pattern) OR extra LIKE \(pattern) OR state LIKE \(pattern)
                """) == 0)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_serial_log WHERE connection LIKE \(pattern) OR entry LIKE \(pattern)") == 0)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM audit_log WHERE COALESCE(detail, '') LIKE \(pattern) OR target_id LIKE \(pattern)") == 0)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_serials WHERE cik_hash IS NOT NULL") == 1)
        }
    }

    /// Sixteen devices racing to activate one serial: exactly one gets a CIK, fifteen get `conflict`.
    static func concurrentActivationsIssueOneCIK(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            try await enabled(f, ["SN-RACE"])
            let outcomes = await withTaskGroup(of: Result<String, GatehouseError>.self) { group in
                for n in 0..<16 {
                    group.addTask {
                        do { return .success(try await activate(f, "SN-RACE", from: "10.0.0.\(n)")) } catch let error as GatehouseError {
                            return .failure(error)
                        } catch { return .failure(GatehouseError(.internal, "\(error)")) }
                    }
                }
                return await group.reduce(into: [Result<String, GatehouseError>]()) { $0.append($1) }
            }
            let ciks = outcomes.compactMap { try? $0.get() }
            let codes = outcomes.compactMap { outcome -> String? in if case .failure(let error) = outcome { error.code.rawValue } else { nil } }
            #expect(ciks.count == 1)
            #expect(codes == Array(repeating: "conflict", count: 15), "\(codes)")
            let cik = try #require(ciks.first)
            #expect(try await f.provisioning.device(cik: cik, vendor: "acme", model: "sensor").sn == "SN-RACE")
            let log = try await f.provisioning.log(f.caller, model: "sensor", sn: "SN-RACE", offset: 0, limit: 100)
            #expect(log.filter { $0.entry == "activated" }.count == 1)
        }
    }

    /// Many serials activating at once (each asked for twice) go through the batched path:
    /// every serial activates exactly once, every CIK is distinct and works for its serial.
    static func manySerialsActivateConcurrently(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let sns = (0..<64).map { String(format: "BULK-%03d", $0) }
            try await enabled(f, sns)
            let outcomes = await withTaskGroup(of: (String, String?, String?).self) { group in
                for sn in sns + sns {
                    group.addTask {
                        do { return (sn, try await activate(f, sn, from: "device-\(sn)"), nil) } catch {
                            return (sn, nil, (error as? GatehouseError)?.code.rawValue ?? "\(error)")
                        }
                    }
                }
                return await group.reduce(into: [(String, String?, String?)]()) { $0.append($1) }
            }
            let winners = outcomes.compactMap { outcome in outcome.1.map { (outcome.0, $0) } }
            let losers = outcomes.compactMap(\.2)
            #expect(losers == Array(repeating: "conflict", count: sns.count), "\(losers)")
            #expect(winners.count == sns.count)
            #expect(Set(winners.map(\.0)) == Set(sns))
            #expect(Set(winners.map(\.1)).count == sns.count && winners.allSatisfy { isCIK($0.1) })
            for (sn, cik) in winners {
                #expect(try await f.provisioning.device(cik: cik, vendor: "acme", model: "sensor").sn == sn)
            }
            let states = try await f.provisioning.serials(f.caller, model: "sensor", offset: 0, limit: 100)
            #expect(states.count == sns.count && states.allSatisfy { $0.status(at: f.clock.now()) == .activated })
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_serial_log WHERE entry = 'activated'") == Int64(sns.count))
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'provision.serial.activate'") == Int64(sns.count))
        }
    }

    /// Activations written in one batch are each judged by their own time: a serial whose
    /// window is still open at its request's time activates even when later requests (past
    /// that window) share its transaction.
    static func batchedActivationsKeepTheirOwnTime(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            _ = try await f.provisioning.createModel(f.caller, name: "brief", window: 60)
            let early = (0..<16).map { String(format: "EARLY-%02d", $0) }, late = (0..<48).map { String(format: "LATE-%02d", $0) }
            try await enabled(f, early, model: "brief")
            try await enabled(f, late)
            let start = f.clock.now()
            let requests = early.map { ("brief", $0, start + 30) } + late.map { ("sensor", $0, start + 120) }
            let outcomes = await withTaskGroup(of: (String, SerialActivation?).self) { group in
                for (model, sn, at) in requests.shuffled() {
                    group.addTask {
                        (sn, try? await f.store.activateSerial(vendorName: "acme", modelName: model, sn: sn, cikHash: Secrets.hash("cik-\(sn)"), at: at,
                                                              connection: "batch"))
                    }
                }
                return await group.reduce(into: [(String, SerialActivation?)]()) { $0.append($1) }
            }
            let refused = outcomes.filter { $0.1 != .activated }.map(\.0)
            #expect(refused.isEmpty, "\(refused)")
        }
    }

    /// Serials removed while devices still knock on them do not spoil the batch: refused
    /// attempts of a serial that is gone are dropped, and the activations they were queued
    /// with all succeed.
    static func removalsDuringActivationDoNotSpoilTheBatch(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let doomed = (0..<24).map { String(format: "GONE-%02d", $0) }, live = (0..<40).map { String(format: "LIVE-%02d", $0) }
            try await f.provisioning.addSerials(f.caller, model: "sensor", doomed.map { ($0, "") })
            try await enabled(f, live)
            let failures = await withTaskGroup(of: String?.self) { group in
                for round in 0..<4 {
                    for sn in doomed { group.addTask { _ = await code { try await activate(f, sn, from: "knock-\(round)") }; return nil } }
                    if round == 1 {
                        group.addTask { await failure { try await f.provisioning.removeSerials(f.caller, model: "sensor", doomed) }.map { "remove: \($0)" } }
                    }
                    for sn in live where Int(sn.suffix(2))! % 4 == round {
                        group.addTask { await code { try await activate(f, sn) }.map { "\(sn): \($0)" } }
                    }
                }
                return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
            }
            #expect(failures.isEmpty, "\(failures)")
            #expect(try await f.provisioning.serials(f.caller, model: "sensor", offset: 0, limit: 100).map(\.sn) == live)
        }
    }

    /// A serial's log holds its enablements, its activation (with the device's connection)
    /// and refused attempts, oldest first; a refusal is logged once per minute and reason.
    static func serialLogRecordsTheStory(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            try await f.provisioning.addSerials(f.caller, model: "sensor", [("SN-1", "")])
            let start = f.clock.now()
            for _ in 0..<3 { #expect(await code { try await activate(f, "SN-1", from: "10.9.9.9") } == "conflict") }
            f.clock.advance(59)
            #expect(await code { try await activate(f, "SN-1", from: "10.9.9.9") } == "conflict")
            f.clock.advance(1)
            #expect(await code { try await activate(f, "SN-1", from: "10.9.9.8") } == "conflict")
            f.clock.advance(10)
            let enabledAt = f.clock.now()
            _ = try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-1", owner: f.account.key)
            f.clock.advance(10)
            _ = try await activate(f, "SN-1", from: "192.0.2.7")
            #expect(await code { try await activate(f, "SN-1", from: "192.0.2.8") } == "conflict")
            _ = try await f.provisioning.enable(f.caller, model: "sensor", sn: "SN-1", owner: nil)
            try await f.provisioning.disable(f.caller, model: "sensor", sn: "SN-1")

            let log = try await f.provisioning.log(f.caller, model: "sensor", sn: "SN-1", offset: 0, limit: 100)
            let window = enabledAt + ProvisionModel.defaultWindow
            #expect(log.map(\.entry) == [
                "activation refused: unused", "activation refused: unused", "enabled for owner home-1 until \(window)", "activated",
                "activation refused: activated", "re-enabled for owner home-1 until \(enabledAt + 10 + ProvisionModel.defaultWindow)", "disabled",
            ], "\(log.map(\.entry))")
            #expect(log.map(\.at) == [start, start + 60, enabledAt, enabledAt + 10, enabledAt + 10, enabledAt + 10, enabledAt + 10])
            #expect(log.map(\.connection) == ["10.9.9.9", "10.9.9.8", "vendor:acme", "192.0.2.7", "192.0.2.8", "vendor:acme", "vendor:acme"])
            #expect(try await f.provisioning.log(f.caller, model: "sensor", sn: "SN-1", offset: 2, limit: 2) == Array(log[2..<4]))
        }
    }

    // MARK: Content

    /// Bytes that differ from chunk to chunk and from position to position.
    static func pattern(_ count: Int, seed: UInt32 = 1) -> [UInt8] {
        var state = seed &* 2_654_435_761 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static func sha256(_ bytes: [UInt8]) -> String { Secrets.hex(SHA256.hash(data: bytes)) }

    /// An upload body of array-backed pieces of odd sizes.
    struct Pieces: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let buffers: [ByteBuffer]

        init(_ bytes: [UInt8], sizes: [Int] = [1, 7, 65_537, 333_333, 4099, 1_048_577, 12_345]) {
            var buffers: [ByteBuffer] = []
            var offset = 0, index = 0
            while offset < bytes.count {
                let size = Swift.min(sizes[index % sizes.count], bytes.count - offset)
                buffers.append(ByteBuffer(bytes: bytes[offset..<(offset + size)]))
                offset += size
                index += 1
            }
            self.buffers = buffers
        }

        struct AsyncIterator: AsyncIteratorProtocol {
            var rest: ArraySlice<ByteBuffer>
            mutating func next() async -> ByteBuffer? { rest.popFirst() }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: buffers[...]) }
    }

    static func upload(_ f: Fixture, _ id: String, _ bytes: [UInt8], declaredLength: Int64? = nil) async throws -> ContentItem {
        try await f.provisioning.upload(f.caller, model: "sensor", id: id, contentType: "application/octet-stream", declaredLength: declaredLength,
                                        body: Pieces(bytes))
    }

    static func read(_ f: Fixture, _ item: ContentItem, first: Int64, last: Int64) async throws -> [UInt8] {
        var out: [UInt8] = []
        try await f.provisioning.stream(item, first: first, last: last) { buffer in out.append(contentsOf: buffer.readableBytesView) }
        return out
    }

    /// A content id is unique per model; an upload of ~2.5 MiB in odd pieces is stored in 1 MiB
    /// chunks with the right size and SHA-256, and streams back byte for byte, whole and in
    /// ranges that cross chunk boundaries.
    static func contentUploadStreamsExactBytes(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let created = try await f.provisioning.createContent(f.caller, model: "sensor", id: "firmware", meta: "v1", isProtected: false)
            #expect(created.blobId == nil && created.size == 0 && created.sha256 == nil && created.meta == "v1" && !created.isProtected)
            #expect(await code { try await f.provisioning.createContent(f.caller, model: "sensor", id: "firmware", meta: "", isProtected: true) } == "conflict")

            let bytes = pattern(5 * (1 << 19) + 123)
            let uploaded = try await upload(f, "firmware", bytes)
            #expect(uploaded.size == Int64(bytes.count) && uploaded.sha256 == sha256(bytes) && uploaded.contentType == "application/octet-stream")
            let item = try await f.provisioning.content(f.caller, model: "sensor", id: "firmware").item
            #expect(item.blobId == uploaded.blobId && item.size == uploaded.size && item.sha256 == uploaded.sha256 && item.meta == "v1")
            let blobId = try #require(item.blobId)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blob_chunks WHERE blob_id = \(blobId)") == 3)

            #expect(try await read(f, item, first: 0, last: item.size - 1) == bytes)
            let size = Int64(bytes.count), mib = Int64(Provisioning.chunkSize)
            let ranges: [(Int64, Int64)] = [
                (0, 0), (mib - 1, mib), (mib - 10, 2 * mib + 10), (mib, mib), (2 * mib, size - 1), (size - 1, size - 1), (12_345, 1_999_999),
            ]
            for (first, last) in ranges {
                #expect(try await read(f, item, first: first, last: last) == Array(bytes[Int(first)...Int(last)]), "\(first)-\(last)")
            }
            // What a Range header asks for, resolved against the size.
            guard case .partial(let first, let last) = ByteRange.resolve("bytes=1048000-", size: size) else {
                Issue.record("a satisfiable range was not partial")
                return
            }
            #expect(try await read(f, item, first: first, last: last) == Array(bytes[1_048_000...]))
            guard case .partial(let tailFirst, let tailLast) = ByteRange.resolve("bytes=-1048677", size: size) else {
                Issue.record("a suffix range was not partial")
                return
            }
            #expect(try await read(f, item, first: tailFirst, last: tailLast) == Array(bytes.suffix(1_048_677)))
        }
    }

    /// An upload over `maxContentBytes` (declared or streamed) is `payload_too_large`: the
    /// previous blob stays current and intact and none of its chunks are left behind;
    /// a successful replacement removes the old blob's chunks.
    static func oversizedUploadKeepsThePreviousBlob(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database, maxContentBytes: 2_500_000)
            _ = try await f.provisioning.createContent(f.caller, model: "sensor", id: "firmware", meta: "", isProtected: false)
            let original = pattern(2_200_000, seed: 7)
            let first = try await upload(f, "firmware", original)
            let firstBlob = try #require(first.blobId)

            let streamed = await failure { try await upload(f, "firmware", pattern(2_600_000, seed: 8)) }
            #expect(streamed?.code == .payloadTooLarge, "\(String(describing: streamed))")
            let declared = await failure { try await upload(f, "firmware", pattern(10, seed: 9), declaredLength: 2_500_001) }
            #expect(declared?.code == .payloadTooLarge, "\(String(describing: declared))")
            let kept = try await f.provisioning.content(f.caller, model: "sensor", id: "firmware").item
            #expect(kept.blobId == firstBlob && kept.size == 2_200_000 && kept.sha256 == sha256(original))
            #expect(try await read(f, kept, first: 0, last: kept.size - 1) == original)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blobs") == 1)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blob_chunks") == 3)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blob_chunks WHERE blob_id <> \(firstBlob)") == 0)

            // Exactly the limit is allowed; the replacement's chunks are all that is left.
            let replacement = pattern(2_500_000, seed: 10)
            let second = try await upload(f, "firmware", replacement)
            let secondBlob = try #require(second.blobId)
            #expect(secondBlob != firstBlob)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blobs") == 1)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blob_chunks WHERE blob_id = \(secondBlob)") == 3)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blob_chunks WHERE blob_id <> \(secondBlob)") == 0)
            let small = pattern(1000, seed: 11)
            let third = try await upload(f, "firmware", small)
            #expect(try await read(f, third, first: 0, last: 999) == small)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blob_chunks") == 1)

            // Deleting the content takes its blob along.
            try await f.provisioning.deleteContent(f.caller, model: "sensor", id: "firmware")
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blobs") == 0)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blob_chunks") == 0)
        }
    }

    /// Two uploads of one content in flight: whichever finishes first replaces the older
    /// ones; the loser is refused (`conflict`) rather than pointing the content at a blob that
    /// is gone, and no chunks are orphaned either way.
    static func overlappingUploadsLeaveNoOrphans(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let item = try await f.provisioning.createContent(f.caller, model: "sensor", id: "firmware", meta: "", isProtected: false)
            let store = f.store, now = f.clock.now(), audit = AuditIntent(actor: "test")
            func blob(_ byte: UInt8) async throws -> Int64 {
                let id = try await store.beginBlob(contentId: item.id, chunkSize: 4, at: now)
                try await store.appendBlobChunk(blobId: id, seq: 0, data: ByteBuffer(bytes: [byte, byte, byte, byte]))
                return id
            }
            func finish(_ id: Int64, _ byte: UInt8) async throws {
                try await store.finishBlob(contentId: item.id, blobId: id, contentType: "text/plain", size: 4, sha256: sha256([byte, byte, byte, byte]),
                                           at: now, audit: audit)
            }
            func current() async throws -> ContentItem {
                guard let found = try await store.content(modelId: f.model.id, name: "firmware") else { throw GatehouseError.notFound("content", "firmware") }
                return found
            }

            // The older upload finishes first, then the newer one: the newer wins, the older goes.
            let older = try await blob(1), newer = try await blob(2)
            try await finish(older, 1)
            try await finish(newer, 2)
            #expect(try await current().blobId == newer)
            #expect(try await read(f, try await current(), first: 0, last: 3) == [2, 2, 2, 2])
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blob_chunks WHERE blob_id <> \(newer)") == 0)

            // The newer finishes first: the older is dropped; it may neither add chunks nor become current.
            let slow = try await blob(3), fast = try await blob(4)
            try await finish(fast, 4)
            #expect(await code { try await store.appendBlobChunk(blobId: slow, seq: 1, data: ByteBuffer(bytes: [3])) } == "conflict")
            #expect(await code { try await finish(slow, 3) } == "conflict")
            let after = try await current()
            #expect(after.blobId == fast && after.sha256 == sha256([4, 4, 4, 4]))
            #expect(try await read(f, after, first: 0, last: 3) == [4, 4, 4, 4])
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blobs") == 1)
            #expect(try await count(database, "SELECT COUNT(*) AS n FROM provision_blob_chunks WHERE blob_id <> \(fast)") == 0)
        }
    }

    // MARK: Groups

    /// Unprotected content (with a blob) is visible to every activated device; protected
    /// content only to serials that share a live group with it. An expired membership grants
    /// nothing, and removing a member revokes at once.
    static func protectedContentFollowsGroups(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            try await enabled(f, ["SN-1", "SN-2", "SN-3"])
            let cik1 = try await activate(f, "SN-1"), cik2 = try await activate(f, "SN-2"), cik3 = try await activate(f, "SN-3")
            for (id, isProtected) in [("public", false), ("secret", true), ("extra", true)] {
                _ = try await f.provisioning.createContent(f.caller, model: "sensor", id: id, meta: "", isProtected: isProtected)
                _ = try await upload(f, id, pattern(100, seed: UInt32(id.count)))
            }
            // No blob yet: nobody sees it.
            _ = try await f.provisioning.createContent(f.caller, model: "sensor", id: "empty", meta: "", isProtected: false)
            func visible(_ cik: String) async throws -> [String] { try await f.provisioning.deviceContents(cik: cik, vendor: "acme", model: "sensor") }
            for cik in [cik1, cik2, cik3] { #expect(try await visible(cik) == ["public"]) }
            #expect(await code { try await f.provisioning.deviceContent(cik: cik1, vendor: "acme", model: "sensor", id: "secret") } == "not_found")
            #expect(await code { try await f.provisioning.deviceContent(cik: cik1, vendor: "acme", model: "sensor", id: "empty") } == "not_found")
            #expect(try await f.provisioning.deviceContent(cik: cik3, vendor: "acme", model: "sensor", id: "public").name == "public")

            let now = f.clock.now()
            _ = try await f.provisioning.createGroup(f.caller, model: "sensor", id: "beta", meta: "")
            try await f.provisioning.putMembers(f.caller, model: "sensor", group: "beta", [
                GroupMember(type: "sn", memberId: "SN-1", expire: 0, meta: ""),
                GroupMember(type: "sn", memberId: "SN-2", expire: now + 100, meta: ""),
                GroupMember(type: "sn", memberId: "SN-3", expire: now - 1, meta: "lapsed"),
                GroupMember(type: "content", memberId: "secret", expire: 0, meta: ""),
            ])
            #expect(try await visible(cik1) == ["public", "secret"])
            #expect(try await visible(cik2) == ["public", "secret"])
            #expect(try await visible(cik3) == ["public"])
            #expect(try await f.provisioning.deviceContent(cik: cik1, vendor: "acme", model: "sensor", id: "secret").isProtected)
            #expect(await code { try await f.provisioning.deviceContent(cik: cik3, vendor: "acme", model: "sensor", id: "secret") } == "not_found")
            #expect(await code { try await f.provisioning.deviceContent(cik: cik1, vendor: "acme", model: "sensor", id: "extra") } == "not_found")
            #expect(try await f.provisioning.contents(f.caller, model: "sensor", visibleTo: "SN-2").contains("secret"))
            #expect(try await f.provisioning.memberGroups(f.caller, model: "sensor", type: "sn", memberId: "SN-1", offset: 0, limit: 10) == ["beta"])

            // SN-2's membership runs out.
            f.clock.advance(100)
            #expect(try await visible(cik2) == ["public"])
            #expect(await code { try await f.provisioning.deviceContent(cik: cik2, vendor: "acme", model: "sensor", id: "secret") } == "not_found")
            // The content's own membership may lapse too.
            try await f.provisioning.putMembers(f.caller, model: "sensor", group: "beta", [
                GroupMember(type: "content", memberId: "extra", expire: f.clock.now() + 5, meta: ""),
            ])
            #expect(try await visible(cik1) == ["extra", "public", "secret"])
            f.clock.advance(5)
            #expect(try await visible(cik1) == ["public", "secret"])

            // Removing a member revokes at once.
            try await f.provisioning.removeMembers(f.caller, model: "sensor", group: "beta", [(type: "sn", memberId: "SN-1")])
            #expect(try await visible(cik1) == ["public"])
            #expect(await code { try await f.provisioning.deviceContent(cik: cik1, vendor: "acme", model: "sensor", id: "secret") } == "not_found")
            #expect(await code { try await f.provisioning.deviceContents(cik: String(repeating: "a", count: 40), vendor: "acme", model: "sensor") } == "forbidden")
            #expect(await code { try await f.provisioning.deviceContents(cik: cik1, vendor: "acme", model: "other") } == "forbidden")
        }
    }

    /// Putting members adds or updates them; one request naming a member twice keeps the last
    /// (on both engines), and the member count follows.
    static func groupMembersAreUpserted(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            _ = try await f.provisioning.createGroup(f.caller, model: "sensor", id: "g", meta: "m")
            #expect(await code { try await f.provisioning.createGroup(f.caller, model: "sensor", id: "g", meta: "") } == "conflict")
            try await f.provisioning.putMembers(f.caller, model: "sensor", group: "g", [
                GroupMember(type: "sn", memberId: "SN-1", expire: 5, meta: "first"),
                GroupMember(type: "content", memberId: "fw", expire: 0, meta: ""),
                GroupMember(type: "sn", memberId: "SN-1", expire: 0, meta: "second"),
            ])
            let members = try await f.provisioning.members(f.caller, model: "sensor", group: "g", type: nil, memberId: nil, offset: 0, limit: 10)
            #expect(members == [GroupMember(type: "content", memberId: "fw", expire: 0, meta: ""), GroupMember(type: "sn", memberId: "SN-1", expire: 0, meta: "second")])
            try await f.provisioning.putMembers(f.caller, model: "sensor", group: "g", [GroupMember(type: "sn", memberId: "SN-1", expire: 9, meta: "third")])
            #expect(try await f.provisioning.members(f.caller, model: "sensor", group: "g", type: "sn", memberId: nil, offset: 0, limit: 10)
                == [GroupMember(type: "sn", memberId: "SN-1", expire: 9, meta: "third")])
            #expect(try await f.provisioning.group(f.caller, model: "sensor", id: "g").group.memberCount == 2)
            #expect(await code { try await f.provisioning.putMembers(f.caller, model: "sensor", group: "g", [
                GroupMember(type: "user", memberId: "x", expire: 0, meta: ""),
            ]) } == "validation_failed")
        }
    }
}
