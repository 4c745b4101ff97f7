import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// Two `gatehouse serve` nodes on a PostgreSQL of the test's own, under concurrent agent
/// activation, while one node is killed (SIGKILL) and started again and PostgreSQL itself
/// crashes (`pg_ctl stop -m immediate`) and comes back.
@Suite("Faults under activation load on PostgreSQL", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)), .enabled(if: ThrowawayPostgres.binDirectory != nil, Comment(rawValue: ThrowawayPostgres.skipReason)))
struct FaultInjectionTests {
    /// A node's command line on `url`, sharing `keyFile`.
    static func node(port: Int, url: String, keyFile: String, directory: String) throws -> LiveServer {
        try LiveServer(arguments: ["--port", String(port), "--database-url", url, "--data-dir", directory, "--admin-tls-port", "0", "--master-key-file", keyFile],
                       environment: ["GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000", "GATEHOUSE_LOG_LEVEL": "warning"], port: port, dataDirectory: directory)
    }

    @Test func activationsSurviveANodeKillAndADatabaseRestart() async throws {
        let postgres = try await ThrowawayPostgres()
        let keyFile = try TestDatabases.temporaryDirectory() + "/master.key"
        try (SecretVault.generateKeyData().base64EncodedString() + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let ports = [LiveServer.freePort(), LiveServer.freePort()]
        let directories = [try TestDatabases.temporaryDirectory(), try TestDatabases.temporaryDirectory()]
        let nodes = Nodes(try (0..<2).map { try Self.node(port: ports[$0], url: postgres.url, keyFile: keyFile, directory: directories[$0]) })
        defer {
            for node in nodes.all where node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) }
        }
        do {
            try await run(postgres: postgres, nodes: nodes, ports: ports, keyFile: keyFile, directories: directories)
        } catch {
            Issue.record("\(error)\nnode 0:\n\(nodes.all[0].stderr.suffix(3000))\nnode 1:\n\(nodes.all.last!.stderr.suffix(3000))")
        }
        await postgres.destroy()
    }

    /// The nodes of the test, the killed one replaced by its restart.
    final class Nodes: @unchecked Sendable {
        private let lock = NSLock()
        private var nodes: [LiveServer]
        private(set) var all: [LiveServer]
        init(_ nodes: [LiveServer]) { self.nodes = nodes; all = nodes }
        subscript(index: Int) -> LiveServer { lock.withLock { nodes[index] } }
        func replace(_ index: Int, with node: LiveServer) { lock.withLock { nodes[index] = node; all.append(node) } }
    }

    func run(postgres: ThrowawayPostgres, nodes: Nodes, ports: [Int], keyFile: String, directories: [String]) async throws {
        for index in 0..<2 { #expect(try await nodes[index].waitUntilHealthy(), "\(nodes[index].stderr)") }
        let admin = try #require((0..<2).compactMap { nodes[$0].adminToken }.first)
        let setup = try await VSaaSLiveClient(port: ports[0]).operatorSetup(adminToken: admin, email: "faults@example.com")
        let client = FaultClient()
        let fleet = try await client.unlimitedOrganization(ports[0], session: setup.session)
        let log = FaultLog()
        let stop = StopFlag()

        // Load: each client asks one node for a token and redeems it through the other, as the
        // operator's app and the camera's agent do, until told to stop.
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        var n = 0
                        while !stop.isSet {
                            n += 1
                            let issued = await client.json(ports[(worker + n) % 2], "POST", "/vsaas/api/v2/agent-activation-tokens",
                                                           #"{"title":"cam \#(worker)-\#(n)","organization_id":\#(fleet.organization),"preset_id":\#(fleet.preset)}"#,
                                                           headers: ["x-vsaas-session: \(setup.session)"])
                            await log.note("token issue", issued)
                            guard issued.status == 200, let token = issued.json["token"] as? String else {
                                try? await Task.sleep(for: .milliseconds(100))
                                continue
                            }
                            let serial = "W\(worker)-\(n)"
                            let answer = await client.form(ports[(worker + n + 1) % 2], "/vsaas/api/v2/agents/activate",
                                                           "operatorid=\(setup.operatorId)&sign=\(token)&serial=\(serial)")
                            await log.note("activation", answer)
                            await log.record(FaultLog.Activation(token: token, serial: serial, status: answer.status, timedOut: answer.timedOut,
                                                                 agentId: (answer.json["agent_id"] as? NSNumber)?.int64Value,
                                                                 agentKey: answer.json["agent_key"] as? String, cameraName: answer.json["camera_name"] as? String))
                        }
                    }
                }
            }
        }

        // Node 1 dies mid-load (SIGKILL: no graceful anything) and is started again on its port.
        try await Task.sleep(for: .seconds(2))
        kill(nodes[1].process.processIdentifier, SIGKILL)
        nodes[1].process.waitUntilExit()
        let restarted = try Self.node(port: ports[1], url: postgres.url, keyFile: keyFile, directory: directories[1])
        nodes.replace(1, with: restarted)
        #expect(try await restarted.waitUntilHealthy(), "the killed node starts again: \(restarted.stderr)")
        try await Task.sleep(for: .seconds(1.5))

        // PostgreSQL crashes. Every surface answers 503 in its own format, at once and on both nodes.
        try await postgres.stop(mode: "immediate")
        let downAt = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<2 {
                let port = ports[index]
                group.addTask { try await Self.expectUnavailable(client, port: port, admin: admin, operatorId: setup.operatorId) }
            }
            try await group.waitForAll()
        }
        #expect(ContinuousClock.now - downAt < .seconds(25), "every surface answered while PostgreSQL was down")
        try await Task.sleep(for: .seconds(1))

        // PostgreSQL returns: both nodes are ready again within seconds, and serve.
        try await postgres.start()
        let upAt = ContinuousClock.now
        for index in 0..<2 {
            var ready = false
            while !ready, ContinuousClock.now - upAt < .seconds(30) {
                ready = await client.call(ports[index], "GET", "/readyz").status == 200
                if !ready { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(ready, "node \(index) is ready again after PostgreSQL restarted")
        }
        let recovered = ContinuousClock.now - upAt
        #expect(recovered < .seconds(15), "ready \(recovered) after PostgreSQL came back")
        try await Task.sleep(for: .seconds(2))
        stop.set()
        await load.value
        for index in 0..<2 { #expect(nodes[index].process.isRunning, "node \(index) never crashed: \(nodes[index].stderr.suffix(2000))") }
        #expect(nodes.all[0].process.isRunning, "the node that was not killed still runs")

        let activations = await log.activations
        let (hangs, serverErrors) = (await log.hangs, await log.serverErrors)
        // Found by this test: a statement written to a connection that had just closed was
        // never answered, and the activation group commit of a node hung on it for good
        // (fixed by GuardedPostgresSQL).
        #expect(hangs.isEmpty, "no call hung: \(hangs)")
        #expect(serverErrors.isEmpty, "no 5xx but 503: \(serverErrors)")
        let succeeded = activations.filter(\.succeeded)
        let failed = activations.filter { !$0.succeeded }
        #expect(succeeded.count >= 20, "the load made activations: \(succeeded.count) of \(activations.count)")
        #expect(!failed.isEmpty, "the faults failed some activations (else they missed the load)")
        for attempt in failed {
            #expect([0, 503].contains(attempt.status), "a redemption failed only by the faults: \(attempt)")
        }

        // Afterwards: every activation a client saw succeed exists exactly once (token used by
        // its agent, one camera, the key works); none that failed exists half-done.
        let url = try PostgresURL(postgres.url)
        if !hangs.isEmpty {
            // What the server sessions were doing while calls hung, for the diagnosis.
            try await withDatabase(.postgres(url, schema: nil), logger: TestDatabases.logger) { database in
                try await database.withConnection { db in
                    for row in try await db.raw("""
                        SELECT pid, COALESCE(state, '') AS state, COALESCE(wait_event_type, '') AS wt, COALESCE(wait_event, '') AS we,
                               COALESCE(left(query, 120), '') AS q, COALESCE(CAST(now() - xact_start AS TEXT), '') AS age
                        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                        """).all() {
                        print("pg_stat_activity:", try row.decode(column: "pid", as: Int32.self), try row.decode(column: "state", as: String.self),
                              try row.decode(column: "wt", as: String.self), try row.decode(column: "we", as: String.self),
                              try row.decode(column: "age", as: String.self), try row.decode(column: "q", as: String.self))
                    }
                }
            }
        }
        try await withDatabase(.postgres(url, schema: nil), logger: TestDatabases.logger) { database in
            try await database.withConnection { db in
                try await Self.expectNothingHalfDone(db, operatorId: setup.operatorId)
                for attempt in succeeded {
                    let rows = try await db.raw("""
                        SELECT a.id, a.serial, a.key_hash, a.status, t.camera_name, (SELECT COUNT(*) FROM cameras c WHERE c.name = t.camera_name) AS cameras
                        FROM agents a JOIN activation_tokens t ON t.id = a.token_id WHERE a.serial = \(bind: attempt.serial)
                        """).all()
                    #expect(rows.count == 1, "activation \(attempt.serial) exists once")
                    guard let row = rows.first else { continue }
                    #expect(try row.decode(column: "id", as: Int64.self) == attempt.agentId)
                    #expect(try row.decode(column: "camera_name", as: String?.self) == attempt.cameraName)
                    #expect(try row.decode(column: "cameras", as: Int64.self) == 1)
                    #expect(try row.decode(column: "status", as: String.self) == "active")
                    #expect(Secrets.matches(attempt.agentKey ?? "", hash: try row.decode(column: "key_hash", as: String.self)), "the key \(attempt.serial) got works")
                }
                for attempt in failed {
                    // Either nothing was written, or all of it (the answer was lost after the commit).
                    let agents = try await db.raw("SELECT COUNT(*) AS n FROM agents WHERE serial = \(bind: attempt.serial)").first()?.decode(column: "n", as: Int64.self)
                    #expect((agents ?? 0) <= 1, "\(attempt.serial)")
                }
            }
        }

        // The agents whose redemption failed try again, as agents do: each now gets its camera.
        let retries = await withTaskGroup(of: (String, FaultClient.Answer).self) { group in
            for (index, attempt) in failed.enumerated() {
                group.addTask {
                    (attempt.serial, await client.form(ports[index % 2], "/vsaas/api/v2/agents/activate",
                                                       "operatorid=\(setup.operatorId)&sign=\(attempt.token)&serial=\(attempt.serial)"))
                }
            }
            var answers: [(String, FaultClient.Answer)] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        for (serial, again) in retries {
            #expect(again.status == 200 && again.json["camera_name"] is String, "\(serial): \(again.status) \(again.text)")
        }
        // Keys work through both nodes.
        for (index, attempt) in succeeded.suffix(6).enumerated() {
            let status = await client.form(ports[index % 2], "/vsaas/api/v2/agents/status", "agent_id=\(attempt.agentId ?? 0)&agent_key=\(attempt.agentKey ?? "")")
            #expect(status.status == 200 && status.json["status"] as? String == "active", "\(status.text)")
        }
        try await withDatabase(.postgres(url, schema: nil), logger: TestDatabases.logger) { database in
            try await database.withConnection { db in try await Self.expectNothingHalfDone(db, operatorId: setup.operatorId) }
        }
        for index in 0..<2 { #expect(try await nodes[index].stop(signal: SIGKILL) != nil) }
    }

    /// Every surface's answer while the database is away: 503 in the surface's own format.
    static func expectUnavailable(_ client: FaultClient, port: Int, admin: String, operatorId: Int64) async throws {
        let ready = await client.call(port, "GET", "/readyz")
        #expect(ready.status == 503 && ready.errorCode == "unavailable", "readyz: \(ready.status) \(ready.text)")
        #expect(await client.call(port, "GET", "/healthz").status == 200, "alive, just not ready")
        typealias Probe = (surface: String, call: @Sendable () async -> FaultClient.Answer, format: @Sendable (FaultClient.Answer) -> Bool)
        let probes: [Probe] = [
            ("/v1", { await client.call(port, "GET", "/v1/tenants", headers: ["Authorization: Bearer \(admin)"]) }, { $0.errorCode == "unavailable" }),
            ("activation", { await client.form(port, "/vsaas/api/v2/agents/activate", "operatorid=\(operatorId)&sign=ABCDEFGH&serial=DOWN-1") },
             { $0.errorCode == "unavailable" }),
            ("oauth", { await client.form(port, "/oauth/token", "grant_type=password&username=a@b.example&password=x&client_id=partner&client_secret=s") },
             { $0.json["error"] as? String == "temporarily_unavailable" }),
            ("partner", { await client.call(port, "GET", "/rest/v2.2/users/self", headers: ["Authorization: Bearer 3f1c2f9e-7a51-4a55-9a49-0b6a8f1d2c3e:1"]) },
             { ($0.json["code"] as? NSNumber)?.intValue == 503 && $0.json["title"] is String }),
            ("tiered", { await client.call(port, "GET", "/api/v3/channels/", headers: ["Authorization: LKey 0123456789abcdef"]) },
             { ($0.json["status"] as? NSNumber)?.intValue == 503 && $0.json["errorType"] as? String == "unavailable" }),
            ("provisioning", { await client.form(port, "/provision/activate", "vendor=acme&model=cam&sn=DOWN-1") },
             { $0.contentType.hasPrefix("text/plain") && !$0.text.isEmpty }),
            ("onboarding", { await client.json(port, "POST", "/api/v1.0/registration/onboard/verify", #"{"id":"down","applicationId":"x"}"#,
                                               headers: ["Authorization: Bearer 0123456789", "X-Agrirouter-ApplicationId: 8c7e6a3c-3b1e-4d5e-9f00-0a1b2c3d4e5f",
                                                         "X-Agrirouter-Signature: 00ff"]) },
             { ($0.json["error"] as? [String: Any])?["code"] as? String == "0500" }),
        ]
        // All at once, as clients would call.
        let answers = await withTaskGroup(of: (Int, FaultClient.Answer).self) { group in
            for (index, probe) in probes.enumerated() { group.addTask { (index, await probe.call()) } }
            var answers: [Int: FaultClient.Answer] = [:]
            for await (index, answer) in group { answers[index] = answer }
            return answers
        }
        for (index, probe) in probes.enumerated() {
            guard let answer = answers[index] else { continue }
            #expect(answer.status == 503 && probe.format(answer), "\(probe.surface) on \(port) while PostgreSQL is down: \(answer.status) \(answer.contentType) \(answer.text)")
            // Bounded by the server's database timeout (10 s an operation), never a hang.
            #expect(!answer.timedOut, "\(probe.surface) answered in \(answer.seconds) s")
        }
    }

    /// Nothing of the operator's activations is half-written: no token used without its
    /// camera and agent, no camera without its active agent, no agent of a token that does
    /// not name it, no camera device without its camera.
    static func expectNothingHalfDone(_ db: any SQLDatabase, operatorId: Int64) async throws {
        let checks = [
            ("used tokens without camera or agent", """
                SELECT COUNT(*) AS n FROM activation_tokens t WHERE t.operator_id = \(operatorId) AND t.used_at IS NOT NULL
                AND (NOT EXISTS (SELECT 1 FROM cameras c WHERE c.operator_id = t.operator_id AND c.name = t.camera_name AND c.agent_id = t.agent_id)
                     OR NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = t.agent_id AND a.token_id = t.id))
                """),
            ("cameras without their agent", """
                SELECT COUNT(*) AS n FROM cameras c WHERE c.operator_id = \(operatorId)
                AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = c.agent_id AND a.device_id = c.device_id AND a.status = 'active')
                """),
            ("agents of tokens that do not name them", """
                SELECT COUNT(*) AS n FROM agents a WHERE a.operator_id = \(operatorId) AND a.token_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM activation_tokens t WHERE t.id = a.token_id AND t.agent_id = a.id AND t.used_at IS NOT NULL)
                """),
            ("camera devices without a camera", """
                SELECT COUNT(*) AS n FROM devices d WHERE d.kind = 'camera' AND NOT EXISTS (SELECT 1 FROM cameras c WHERE c.device_id = d.id)
                """),
        ]
        for (what, sql) in checks {
            let count = try await db.raw("\(unsafeRaw: sql)").first()?.decode(column: "n", as: Int64.self)
            #expect(count == 0, "\(what): \(count ?? -1)")
        }
    }
}

/// A flag load tasks poll to know when to stop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
