import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// The embedded default (SQLite) under a write load when the process is killed (SIGKILL):
/// it starts again on the same data directory, the file is intact, and no write a client
/// got a 2xx for is lost.
@Suite("The embedded database survives a crash", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)))
struct CrashRecoveryTests {
    static func start(data: String) async throws -> LiveServer {
        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"],
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000", "GATEHOUSE_LOG_LEVEL": "warning"],
                           port: port, dataDirectory: data)
        }
        #expect(started.healthy, "\(started.server.stderr)")
        return started.server
    }

    /// What one load client had acknowledged (2xx) and what it tried after that.
    struct Acknowledged: Sendable {
        let worker: Int
        var tenants: [(id: Int64, key: String)] = []
        /// The renames of the client's own tenant: the last one acknowledged, and those sent after it.
        var lastName: String
        var namesAfter: [String] = []
        /// Tokens issued whose redemption got no 200.
        var unredeemed: [(token: String, serial: String)] = []
    }

    @Test func acknowledgedWritesSurviveSIGKILL() async throws {
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let server = try await Self.start(data: data)
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let admin = try #require(server.adminToken)
        let setup = try await VSaaSLiveClient(port: server.port).operatorSetup(adminToken: admin, email: "crash@example.com")
        let client = FaultClient()
        let fleet = try await client.unlimitedOrganization(server.port, session: setup.session)
        let log = FaultLog()
        let stop = StopFlag()
        let bearer = "Authorization: Bearer \(admin)"
        let port = server.port

        // Each client owns one tenant it renames again and again.
        var owned: [Int64] = []
        for worker in 0..<6 {
            let made = await client.json(port, "POST", "/v1/tenants", #"{"kind":"account","parent_id":\#(setup.operatorId),"name":"Owned \#(worker)"}"#, headers: [bearer])
            owned.append(try #require((made.json["id"] as? NSNumber)?.int64Value, "\(made.text)"))
        }
        let tenants = owned

        // The load: activations (token issue and redemption), tenant creations and renames, each
        // client one call at a time, until the server is gone.
        let load = Task {
            await withTaskGroup(of: Acknowledged.self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        var acknowledged = Acknowledged(worker: worker, lastName: "Owned \(worker)")
                        var n = 0
                        while !stop.isSet {
                            n += 1
                            switch n % 3 {
                            case 0:
                                let issued = await client.json(port, "POST", "/vsaas/api/v2/agent-activation-tokens",
                                                               #"{"title":"cam \#(worker)-\#(n)","organization_id":\#(fleet.organization),"preset_id":\#(fleet.preset)}"#,
                                                               headers: ["x-vsaas-session: \(setup.session)"])
                                await log.note("token issue", issued)
                                guard issued.status == 200, let token = issued.json["token"] as? String else { continue }
                                let serial = "C\(worker)-\(n)"
                                let answer = await client.form(port, "/vsaas/api/v2/agents/activate", "operatorid=\(setup.operatorId)&sign=\(token)&serial=\(serial)")
                                await log.note("activation", answer)
                                let activation = FaultLog.Activation(token: token, serial: serial, status: answer.status, timedOut: answer.timedOut,
                                                                     agentId: (answer.json["agent_id"] as? NSNumber)?.int64Value,
                                                                     agentKey: answer.json["agent_key"] as? String, cameraName: answer.json["camera_name"] as? String)
                                await log.record(activation)
                                if !activation.succeeded { acknowledged.unredeemed.append((token, serial)) }
                            case 1:
                                let key = "crash-\(worker)-\(n)"
                                let made = await client.json(port, "POST", "/v1/tenants",
                                                             #"{"kind":"account","parent_id":\#(setup.operatorId),"name":"Crash \#(key)","key":"\#(key)"}"#, headers: [bearer])
                                await log.note("tenant create", made)
                                if made.status == 201, let id = (made.json["id"] as? NSNumber)?.int64Value { acknowledged.tenants.append((id, key)) }
                            default:
                                let name = "Renamed \(worker)-\(n)"
                                acknowledged.namesAfter.append(name)
                                let renamed = await client.json(port, "PATCH", "/v1/tenants/\(tenants[worker])", #"{"name":"\#(name)"}"#, headers: [bearer])
                                await log.note("tenant rename", renamed)
                                if renamed.status == 200 { (acknowledged.lastName, acknowledged.namesAfter) = (name, []) }
                            }
                        }
                        return acknowledged
                    }
                }
                var all: [Acknowledged] = []
                for await one in group { all.append(one) }
                return all
            }
        }

        // SIGKILL mid-load: no graceful shutdown, no checkpoint.
        try await Task.sleep(for: .seconds(2))
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        stop.set()
        let acknowledged = await load.value
        let (hangs, serverErrors) = (await log.hangs, await log.serverErrors)
        #expect(hangs.isEmpty, "no call hung: \(hangs)")
        #expect(serverErrors.isEmpty, "no 5xx: \(serverErrors)")
        let activations = await log.activations
        let succeeded = activations.filter(\.succeeded)
        #expect(succeeded.count >= 10 && acknowledged.map(\.tenants.count).reduce(0, +) >= 10, "the load wrote: \(succeeded.count) activations")

        // The same data directory starts again.
        let again = try await Self.start(data: data)
        defer { if again.process.isRunning { kill(again.process.processIdentifier, SIGKILL) } }
        let path = data + "/gatehouse.sqlite"

        try await withDatabase(.sqlite(path: path), logger: TestDatabases.logger) { database in
            try await database.withConnection { db in
                // Every acknowledged tenant, with its key.
                for tenant in acknowledged.flatMap(\.tenants) {
                    let key = try await db.raw("SELECT key FROM tenants WHERE id = \(bind: tenant.id)").first()?.decode(column: "key", as: String?.self)
                    #expect(key == tenant.key, "tenant \(tenant.id) (\(tenant.key)) was acknowledged")
                }
                // Every client's tenant has the last name acknowledged, or one sent after it.
                for one in acknowledged {
                    let name = try await db.raw("SELECT name FROM tenants WHERE id = \(bind: tenants[one.worker])").first()?.decode(column: "name", as: String.self)
                    #expect(name.map { $0 == one.lastName || one.namesAfter.contains($0) } == true, "\(name ?? "none"), acknowledged \(one.lastName)")
                }
                // Every acknowledged activation exists once, with the key its agent got.
                for attempt in succeeded {
                    let rows = try await db.raw("""
                        SELECT a.id, a.key_hash, t.camera_name, (SELECT COUNT(*) FROM cameras c WHERE c.name = t.camera_name) AS cameras
                        FROM agents a JOIN activation_tokens t ON t.id = a.token_id WHERE a.serial = \(bind: attempt.serial)
                        """).all()
                    #expect(rows.count == 1, "activation \(attempt.serial) was acknowledged")
                    guard let row = rows.first else { continue }
                    #expect(try row.decode(column: "id", as: Int64.self) == attempt.agentId)
                    #expect(try row.decode(column: "camera_name", as: String?.self) == attempt.cameraName)
                    #expect(try row.decode(column: "cameras", as: Int64.self) == 1)
                    #expect(Secrets.matches(attempt.agentKey ?? "", hash: try row.decode(column: "key_hash", as: String.self)))
                }
                try await FaultInjectionTests.expectNothingHalfDone(db, operatorId: setup.operatorId)
            }
        }

        // The restarted server serves what was acknowledged: agents' keys, the session, the
        // tokens issued before the crash (redeemed now by the agents whose answer was lost).
        for attempt in succeeded.suffix(5) {
            let status = await client.form(again.port, "/vsaas/api/v2/agents/status", "agent_id=\(attempt.agentId ?? 0)&agent_key=\(attempt.agentKey ?? "")")
            #expect(status.status == 200, "\(status.text)")
        }
        for (token, serial) in acknowledged.flatMap(\.unredeemed) {
            let redeemed = await client.form(again.port, "/vsaas/api/v2/agents/activate", "operatorid=\(setup.operatorId)&sign=\(token)&serial=\(serial)")
            #expect(redeemed.status == 200 && redeemed.json["camera_name"] is String, "\(serial): \(redeemed.status) \(redeemed.text)")
        }
        let made = await client.json(again.port, "POST", "/v1/tenants", #"{"kind":"account","parent_id":\#(setup.operatorId),"name":"After"}"#, headers: [bearer])
        #expect(made.status == 201, "\(made.text)")

        // The file is intact (SQLite's own check, by Debian's sqlite3).
        let integrity = try await LiveServer.shellAsync("sqlite3", [path, "PRAGMA integrity_check;"])
        #expect(integrity.status == 0 && integrity.output.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(integrity.output)")
        let foreignKeys = try await LiveServer.shellAsync("sqlite3", [path, "PRAGMA foreign_key_check;"])
        #expect(foreignKeys.status == 0 && foreignKeys.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(foreignKeys.output)")
        #expect(try await again.stop(signal: SIGKILL) != nil)
    }
}
