import Foundation
import GatehouseTestSupport
import Testing

/// `gatehouse agent` (issue 8, first slice) against a real `gatehouse serve`: the local API of
/// seed 000, activation over HTTP, by QR code and by operator id, the durable state file,
/// retries while the server is away, and one agent per state directory.
@Suite("The device agent", .serialized)
struct AgentTests {
    static let form = "Content-Type: application/x-www-form-urlencoded;charset=UTF-8"

    static func issueToken(_ client: VSaaSLiveClient, session: String, organization: Int64, preset: Int64, title: String) async throws -> String {
        let issued = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: ["x-vsaas-session: \(session)", "Content-Type: application/json"],
                                           body: #"{"title":"\#(title)","organization_id":\#(organization),"preset_id":\#(preset)}"#)
        return try #require(issued.json["token"] as? String, "\(issued.text)")
    }

    static func state(_ directory: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/state.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    static func credentials(_ directory: String) throws -> [String: Any] {
        try #require(try state(directory)["credentials"] as? [String: Any])
    }

    static func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    static func cameras(_ client: VSaaSLiveClient, session: String) async throws -> [[String: Any]] {
        try await client.call("GET", "/vsaas/api/v2/cameras", headers: ["x-vsaas-session: \(session)"]).array
    }

    /// An agent killed with SIGKILL at any moment of an activation (right after its local API
    /// accepted the request, while it talks to the server, or just after) and restarted ends
    /// with one camera and credentials the server accepts.
    @Test func killedMidActivationAndRestartedLeavesOneCameraAndIntactCredentials() async throws {
        let (server, client) = try await AgentActivationSeedTests.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGKILL) : 0 }
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "agent-kill@example.com")
        let serverURL = "http://127.0.0.1:\(server.port)"
        for (round, delay) in [0, 1, 3, 8, 15, 30, 60].enumerated() {
            let serial = "CAM-KILL-\(round)"
            let token = try await Self.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: serial)
            let directory = try TestDatabases.temporaryDirectory() + "/agent"
            let first = try await LiveAgent.start(serial: serial, server: serverURL, stateDirectory: directory)
            let accepted = try await client.call("POST", "/activate", headers: [Self.form], body: "operatorid=\(setup.operatorId)&sign=\(token)", port: first.port)
            #expect(accepted.status == 200, "\(accepted.text)")
            if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
            first.kill()

            let again = try await LiveAgent.start(serial: serial, server: serverURL, stateDirectory: directory)
            defer { again.kill() }
            #expect(try await again.waitForStatus("activate"), "round \(round): \(first.log)\n\(again.log)")
            let cameras = try await Self.cameras(client, session: setup.session).filter { $0["agent_serial"] as? String == serial }
            #expect(cameras.count == 1, "round \(round): \(cameras)")
            let held = try Self.credentials(directory)
            let key = try #require(held["agent_key"] as? String), agentId = try #require((held["agent_id"] as? NSNumber)?.int64Value)
            #expect((cameras.first?["agent_id"] as? NSNumber)?.int64Value == agentId, "round \(round)")
            let checkIn = try await client.call("POST", "/vsaas/api/v2/agents/status", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                                body: "agent_id=\(agentId)&agent_key=\(key)")
            #expect(checkIn.status == 200, "round \(round): \(checkIn.text)")
            #expect(try Self.mode(directory + "/state.json") == 0o600)
        }
    }

    @Test func activationOverHTTPSurvivesRestartsAndRefusesASecondAgent() async throws {
        let (server, client) = try await AgentActivationSeedTests.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGKILL) : 0 }
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "agent-http@example.com")
        let token = try await Self.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: "Porch")
        let directory = try TestDatabases.temporaryDirectory() + "/agent"
        let serverURL = "http://127.0.0.1:\(server.port)"
        let agent = try await LiveAgent.start(serial: "CAM-HTTP-1", server: serverURL, stateDirectory: directory)
        defer { agent.kill() }

        // Before activation: exactly the seed's three fields.
        let waiting = try await agent.status()
        #expect(Set(waiting.keys) == ["version", "status", "serial"], "\(waiting)")
        #expect(waiting["status"] as? String == "wait_activate" && waiting["serial"] as? String == "CAM-HTTP-1")
        #expect((waiting["version"] as? String)?.isEmpty == false)

        // A token the server does not know: accepted locally, refused by the server once, not retried.
        let bad = try await client.call("POST", "/activate", headers: [Self.form], body: "operatorid=\(setup.operatorId)&sign=ZZZZZZZZ&abonentid=user%40example.com", port: agent.port)
        #expect(bad.status == 200, "\(bad.text)")
        #expect(try await agent.waitForLog("activation refused"), "\(agent.log)")
        try await Task.sleep(for: .milliseconds(800))
        #expect(agent.log.components(separatedBy: "activation refused").count == 2, "\(agent.log)")
        #expect(!agent.log.contains("activation server unavailable"))
        #expect(try await agent.status()["status"] as? String == "wait_activate")

        // The seed's request: 200, then the agent activates with the server.
        let accepted = try await client.call("POST", "/activate", headers: [Self.form],
                                             body: "operatorid=\(setup.operatorId)&sign=\(token)&abonentid=user.name%40mail.com", port: agent.port)
        #expect(accepted.status == 200, "\(accepted.text)")
        #expect(try await agent.waitForStatus("activate"), "\(agent.log)")
        let cameras = try await Self.cameras(client, session: setup.session)
        #expect(cameras.count == 1 && cameras.first?["agent_serial"] as? String == "CAM-HTTP-1" && cameras.first?["title"] as? String == "Porch", "\(cameras)")

        // The credentials are in the state file, 0600 (the directory 0700), and work with the server.
        #expect(try Self.mode(directory + "/state.json") == 0o600 && Self.mode(directory) == 0o700)
        let held = try Self.credentials(directory)
        let key = try #require(held["agent_key"] as? String)
        let agentId = try #require((held["agent_id"] as? NSNumber)?.int64Value)
        #expect(key.hasPrefix("gak_") && (cameras.first?["agent_id"] as? NSNumber)?.int64Value == agentId)
        #expect(try Self.state(directory)["pending"] == nil)
        let checkIn = try await client.call("POST", "/vsaas/api/v2/agents/status", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                            body: "agent_id=\(agentId)&agent_key=\(key)")
        #expect(checkIn.status == 200, "\(checkIn.text)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["agent.lock", "state.json"])

        // A failure never takes the credentials away.
        #expect(try await client.call("POST", "/activate", headers: [Self.form], body: "operatorid=\(setup.operatorId)&sign=YYYYYYYY", port: agent.port).status == 200)
        let refusals = { agent.log.components(separatedBy: "activation refused").count - 1 }
        let deadline = ContinuousClock.now + .seconds(20)
        while refusals() < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(refusals() == 2, "\(agent.log)")
        #expect(try await agent.status()["status"] as? String == "activate")
        #expect(try Self.credentials(directory)["agent_key"] as? String == key)

        // Secrets never reach the log.
        for secret in [key, token, "ZZZZZZZZ", "YYYYYYYY"] { #expect(!agent.log.contains(secret), "\(secret) logged") }

        // A second agent on the same state directory refuses to start.
        let second = try await LiveAgent.runToExit(["--serial", "CAM-HTTP-1", "--server", serverURL, "--state-dir", directory, "--port", String(LiveServer.freePort())])
        #expect(second.status == 75, "\(second.output)")
        #expect(second.output.contains("already running on the state directory"), "\(second.output)")
        #expect(try Self.credentials(directory)["agent_key"] as? String == key)

        // Killed and restarted: active at once, with the same credentials, without activating again.
        agent.kill()
        let restarted = try await LiveAgent.start(serial: "CAM-HTTP-1", server: serverURL, stateDirectory: directory)
        defer { restarted.kill() }
        #expect(try await restarted.status()["status"] as? String == "activate")
        try await Task.sleep(for: .milliseconds(500))
        #expect(!restarted.log.contains("\"activated\""), "\(restarted.log)")
        #expect(try Self.credentials(directory)["agent_key"] as? String == key)
        #expect(try await Self.cameras(client, session: setup.session).count == 1)
        // The old key is still the agent's key (an activation again would have replaced it).
        #expect(try await client.call("POST", "/vsaas/api/v2/agents/status", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                      body: "agent_id=\(agentId)&agent_key=\(key)").status == 200)
        _ = try await server.stop()
    }

    /// The local API takes only the seed's form: other media types 415, missing or bad fields 400.
    @Test func localAPIRefusesOtherFormatsAndBadFields() async throws {
        let directory = try TestDatabases.temporaryDirectory() + "/agent"
        // No server: nothing here gets that far.
        let agent = try await LiveAgent.start(serial: "CAM-BAD-1", server: "http://127.0.0.1:\(LiveServer.freePort())", stateDirectory: directory)
        defer { agent.kill() }
        let client = VSaaSLiveClient(port: agent.port)
        let unsupported: [(String, String)] = [
            ("Content-Type: text/plain", "operatorid=1&sign=ABC"),
            ("Content-Type: application/json", #"{"operatorid":1,"sign":"ABC"}"#),
            ("Content-Type: application/x-www-form-urlencoded;charset=ISO-8859-1", "operatorid=1&sign=ABC"),
            ("Content-Type: multipart/form-data; boundary=x", "--x--"),
            ("Content-Type:", "operatorid=1&sign=ABC"),
        ]
        for (header, body) in unsupported {
            let answer = try await client.call("POST", "/activate", headers: [header], body: body)
            #expect(answer.status == 415 && answer.errorCode == "unsupported_media_type", "\(header): \(answer.status) \(answer.text)")
        }
        let bad = ["sign=ABC", "operatorid=&sign=ABC", "operatorid=abc&sign=ABC", "operatorid=0&sign=ABC", "operatorid=-4&sign=ABC",
                   "operatorid=1", "operatorid=1&sign=", "operatorid=1&sign=A+B", "operatorid=1&sign=%zz", "operatorid=1&sign=A&sign=B",
                   "operatorid=99999999999999999999&sign=ABC", ""]
        for body in bad {
            let answer = try await client.call("POST", "/activate", headers: [Self.form], body: body)
            #expect(answer.status == 400 && answer.errorCode == "invalid_request", "\(body): \(answer.status) \(answer.text)")
        }
        // Nothing was taken on.
        #expect(!FileManager.default.fileExists(atPath: directory + "/state.json"))
        #expect(try await agent.status()["status"] as? String == "wait_activate")
        // The seed's form with or without the charset parameter is accepted (the server is away: it keeps trying).
        #expect(try await client.call("POST", "/activate", headers: ["Content-Type: application/x-www-form-urlencoded"], body: "operatorid=3&sign=ABCDEFGH").status == 200)
        #expect(try await client.call("POST", "/activate", headers: [Self.form], body: "operatorid=3&sign=ABCDEFGH&abonentid=a%40b.c").status == 200)
        #expect((try Self.state(directory)["pending"] as? [String: Any])?["token"] as? String == "ABCDEFGH")
        #expect(try await client.call("GET", "/nowhere").status == 404)
    }

    @Test func activationByQRCodeFromAFileAndFromStandardInput() async throws {
        let (server, client) = try await AgentActivationSeedTests.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGKILL) : 0 }
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "agent-qr@example.com")
        let serverURL = "http://127.0.0.1:\(server.port)"

        // From a file, as the camera's firmware would leave it.
        let first = try await Self.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: "Garden")
        let base = try TestDatabases.temporaryDirectory()
        let qrFile = base + "/qr.txt"
        try Data("Home WiFi\nwifi password\n\(setup.operatorId):\(first)".utf8).write(to: URL(fileURLWithPath: qrFile))
        let agent = try await LiveAgent.start(serial: "CAM-QR-1", server: serverURL, stateDirectory: base + "/one", arguments: ["--qr-file", qrFile])
        defer { agent.kill() }
        #expect(try await agent.waitForStatus("activate"), "\(agent.log)")
        #expect(!agent.log.contains("wifi password"))

        // From standard input.
        let second = try await Self.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: "Gate")
        let piped = try await LiveAgent.start(serial: "CAM-QR-2", server: serverURL, stateDirectory: base + "/two", arguments: ["--qr-file", "-"],
                                              input: "Home WiFi\r\nwifi password\r\n\(setup.operatorId):\(second)\r\n")
        defer { piped.kill() }
        #expect(try await piped.waitForStatus("activate"), "\(piped.log)")
        let cameras = try await Self.cameras(client, session: setup.session)
        #expect(Set(cameras.compactMap { $0["title"] as? String }) == ["Garden", "Gate"], "\(cameras)")
        #expect(Set(cameras.compactMap { $0["agent_serial"] as? String }) == ["CAM-QR-1", "CAM-QR-2"])

        // Restarted with the same QR file: the code was used already, nothing is redeemed again.
        let key = try Self.credentials(base + "/one")["agent_key"] as? String
        agent.kill()
        let again = try await LiveAgent.start(serial: "CAM-QR-1", server: serverURL, stateDirectory: base + "/one", arguments: ["--qr-file", qrFile])
        defer { again.kill() }
        #expect(try await again.status()["status"] as? String == "activate")
        #expect(try await again.waitForLog("activated with; nothing to do"), "\(again.log)")
        #expect(try Self.credentials(base + "/one")["agent_key"] as? String == key)
        #expect(try await Self.cameras(client, session: setup.session).count == 2)

        // A QR file that is not three lines is refused at start.
        try Data("only one line".utf8).write(to: URL(fileURLWithPath: qrFile))
        let broken = try await LiveAgent.runToExit(["--serial", "CAM-QR-3", "--server", serverURL, "--state-dir", base + "/three", "--qr-file", qrFile])
        #expect(broken.status != 0 && broken.status != nil && broken.output.contains("three lines"), "\(broken.output)")
        _ = try await server.stop()
    }

    @Test func activationByBuiltInOperatorIdAlone() async throws {
        let (server, client) = try await AgentActivationSeedTests.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGKILL) : 0 }
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "agent-op@example.com")
        let directory = try TestDatabases.temporaryDirectory() + "/agent"
        let agent = try await LiveAgent.start(serial: "CAM-OP-1", server: "http://127.0.0.1:\(server.port)", stateDirectory: directory,
                                              arguments: ["--operator-id", String(setup.operatorId)])
        defer { agent.kill() }
        #expect(try await agent.waitForStatus("activate"), "\(agent.log)")
        let held = try Self.credentials(directory)
        #expect(held["server_status"] as? String == "unassigned" && held["token"] == nil)
        // The operator sees it waiting, unassigned, with its serial and version.
        let waiting = try await client.call("GET", "/vsaas/api/v2/agents?status=unassigned", headers: ["x-vsaas-session: \(setup.session)"]).array
        #expect(waiting.count == 1 && waiting.first?["serial"] as? String == "CAM-OP-1", "\(waiting)")
        #expect((waiting.first?["id"] as? NSNumber)?.int64Value == (held["agent_id"] as? NSNumber)?.int64Value)
        #expect((waiting.first?["version"] as? String)?.hasPrefix("gatehouse-agent") == true)
        _ = try await server.stop()
    }

    /// A server on a known port with an operator and an activation token, stopped again: for
    /// agents that start while it is away. Answers what restarts it on the same port and data.
    static func stoppedServerWithToken(email: String, title: String) async throws
        -> (port: Int, data: String, environment: [String: String], arguments: [String], client: VSaaSLiveClient,
            setup: (operatorId: Int64, session: String, organization: Int64, preset: Int64), token: String) {
        let port = LiveServer.freePort()
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let environment = ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"]
        let arguments = ["--port", String(port), "--admin-tls-port", "0"]
        let first = try LiveServer(arguments: arguments, environment: environment, port: port, dataDirectory: data)
        defer { _ = first.process.isRunning ? kill(first.process.processIdentifier, SIGKILL) : 0 }
        #expect(try await first.waitUntilHealthy(), "\(first.stderr)")
        let client = VSaaSLiveClient(port: port)
        let setup = try await client.operatorSetup(adminToken: try #require(first.adminToken), email: email)
        let token = try await Self.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: title)
        _ = try await first.stop(signal: SIGKILL)
        return (port, data, environment, arguments, client, setup, token)
    }

    @Test func serverDownThenUp() async throws {
        // A server on a known port: set up the operator and a token, then stop it.
        let (port, data, environment, arguments, client, setup, token) = try await Self.stoppedServerWithToken(email: "agent-down@example.com", title: "Shed")

        // The agent is asked to activate while the server is away: it keeps trying with backoff.
        let directory = try TestDatabases.temporaryDirectory() + "/agent"
        let agent = try await LiveAgent.start(serial: "CAM-DOWN-1", server: "http://127.0.0.1:\(port)", stateDirectory: directory)
        defer { agent.kill() }
        #expect(try await client.call("POST", "/activate", headers: [Self.form], body: "operatorid=\(setup.operatorId)&sign=\(token)", port: agent.port).status == 200)
        #expect(try await agent.waitForLog("activation server unavailable; retrying"), "\(agent.log)")
        #expect(try await agent.status()["status"] as? String == "wait_activate")

        // The server comes back on the same port and database: the agent activates by itself.
        let second = try LiveServer(arguments: arguments, environment: environment, port: port, dataDirectory: data)
        defer { _ = second.process.isRunning ? kill(second.process.processIdentifier, SIGKILL) : 0 }
        #expect(try await second.waitUntilHealthy(), "\(second.stderr)")
        #expect(try await agent.waitForStatus("activate", timeout: .seconds(30)), "\(agent.log)")
        let cameras = try await Self.cameras(client, session: setup.session)
        #expect(cameras.count == 1 && cameras.first?["agent_serial"] as? String == "CAM-DOWN-1", "\(cameras)")
        #expect(!agent.log.contains(token))
        _ = try await second.stop()
    }

    /// An activation under way is in the state file: an agent killed while the server is away
    /// carries on with it after a restart, and makes one camera.
    @Test func aRestartCarriesOnWithAnActivationUnderWay() async throws {
        let (port, data, environment, arguments, client, setup, token) = try await Self.stoppedServerWithToken(email: "agent-restart@example.com", title: "Attic")

        let directory = try TestDatabases.temporaryDirectory() + "/agent"
        let agent = try await LiveAgent.start(serial: "CAM-RESTART-1", server: "http://127.0.0.1:\(port)", stateDirectory: directory)
        #expect(try await client.call("POST", "/activate", headers: [Self.form], body: "operatorid=\(setup.operatorId)&sign=\(token)", port: agent.port).status == 200)
        #expect(try await agent.waitForLog("activation server unavailable; retrying"), "\(agent.log)")
        agent.kill()
        #expect(try Self.mode(directory + "/state.json") == 0o600)

        let restarted = try await LiveAgent.start(serial: "CAM-RESTART-1", server: "http://127.0.0.1:\(port)", stateDirectory: directory)
        defer { restarted.kill() }
        #expect(try await restarted.waitForLog("resuming the activation a restart interrupted"), "\(restarted.log)")
        #expect(try await restarted.status()["status"] as? String == "wait_activate")
        let second = try LiveServer(arguments: arguments, environment: environment, port: port, dataDirectory: data)
        defer { _ = second.process.isRunning ? kill(second.process.processIdentifier, SIGKILL) : 0 }
        #expect(try await second.waitUntilHealthy(), "\(second.stderr)")
        #expect(try await restarted.waitForStatus("activate", timeout: .seconds(30)), "\(restarted.log)")
        let cameras = try await Self.cameras(client, session: setup.session)
        #expect(cameras.count == 1 && cameras.first?["title"] as? String == "Attic", "\(cameras)")
        #expect(try Self.state(directory)["pending"] == nil)
        _ = try await second.stop()
    }
    /// Deletes the one camera the operator has, as the operator would.
    static func deleteOnlyCamera(_ client: VSaaSLiveClient, session: String) async throws {
        let cameras = try await Self.cameras(client, session: session)
        let name = try #require(cameras.first?["name"] as? String, "\(cameras)")
        let deleted = try await client.call("DELETE", "/vsaas/api/v2/cameras/\(name)", headers: ["x-vsaas-session: \(session)"])
        #expect(deleted.status == 204, "\(deleted.text)")
    }

    /// Point 3: the heartbeat. Deleting the camera deactivates the agent; at its next check-in
    /// (410) it wipes its key and waits; with a built-in operator id it activates again by it.
    @Test func deletingTheCameraDeactivatesTheAgentWhichActivatesAgainByOperatorId() async throws {
        let (server, client) = try await AgentActivationSeedTests.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGKILL) : 0 }
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "agent-gone@example.com")
        let serverURL = "http://127.0.0.1:\(server.port)"
        let base = try TestDatabases.temporaryDirectory()
        let heartbeat = ["--heartbeat-ms", "200"]

        // Without an operator id: activated over HTTP, then its camera is deleted.
        let token = try await Self.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: "Porch")
        let plain = try await LiveAgent.start(serial: "CAM-GONE-1", server: serverURL, stateDirectory: base + "/plain", arguments: heartbeat)
        defer { plain.kill() }
        #expect(try await client.call("POST", "/activate", headers: [Self.form], body: "operatorid=\(setup.operatorId)&sign=\(token)", port: plain.port).status == 200)
        #expect(try await plain.waitForStatus("activate"), "\(plain.log)")
        let key = try #require(try Self.credentials(base + "/plain")["agent_key"] as? String)
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await plain.status()["status"] as? String == "activate", "\(plain.log)")
        try await Self.deleteOnlyCamera(client, session: setup.session)
        #expect(try await plain.waitForStatus("wait_activate"), "\(plain.log)")
        #expect(plain.log.contains("deactivated by the server (its camera was deleted): credentials wiped"), "\(plain.log)")
        let wiped = try String(contentsOfFile: base + "/plain/state.json", encoding: .utf8)
        let wipedState = try Self.state(base + "/plain")
        #expect(!wiped.contains(key) && wipedState["credentials"] == nil, "\(wiped)")
        #expect(try Self.mode(base + "/plain/state.json") == 0o600)
        // Nothing to activate by: it waits, and asks the server nothing more.
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await plain.status()["status"] as? String == "wait_activate")
        #expect(!plain.log.contains("activating again"))
        #expect(!plain.log.contains(key) && !plain.log.contains(token))
        // A new token over HTTP activates it again.
        let again = try await Self.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: "Porch 2")
        #expect(try await client.call("POST", "/activate", headers: [Self.form], body: "operatorid=\(setup.operatorId)&sign=\(again)", port: plain.port).status == 200)
        #expect(try await plain.waitForStatus("activate"), "\(plain.log)")
        #expect(try Self.credentials(base + "/plain")["agent_key"] as? String != key)
        try await Self.deleteOnlyCamera(client, session: setup.session)
        #expect(try await plain.waitForStatus("wait_activate"), "\(plain.log)")
        plain.kill()

        // With a built-in operator id, activated with a token (its QR code), camera deleted: it activates again by itself.
        let third = try await Self.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: "Gate")
        let qrFile = base + "/qr.txt"
        try Data("Home\npass\n\(setup.operatorId):\(third)".utf8).write(to: URL(fileURLWithPath: qrFile))
        let built = try await LiveAgent.start(serial: "CAM-GONE-2", server: serverURL, stateDirectory: base + "/built",
                                              arguments: heartbeat + ["--operator-id", String(setup.operatorId), "--qr-file", qrFile])
        defer { built.kill() }
        #expect(try await built.waitForStatus("activate"), "\(built.log)")
        let deadline = ContinuousClock.now + .seconds(20)
        let first = try Self.credentials(base + "/built")
        #expect(first["server_status"] as? String == "active", "\(built.log)")
        let firstKey = try #require(first["agent_key"] as? String)
        let firstId = try #require((first["agent_id"] as? NSNumber)?.int64Value)
        let unassignedBefore = try await client.call("GET", "/vsaas/api/v2/agents?status=unassigned", headers: ["x-vsaas-session: \(setup.session)"]).array
        try await Self.deleteOnlyCamera(client, session: setup.session)
        #expect(try await built.waitForLog("credentials wiped"), "\(built.log)")
        #expect(try await built.waitForLog("activating again by the built-in operator id"), "\(built.log)")
        let heldId = { ((try? Self.state(base + "/built"))?["credentials"] as? [String: Any])?["agent_id"] as? NSNumber }
        while heldId()?.int64Value ?? firstId == firstId, ContinuousClock.now < deadline + .seconds(10) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await built.waitForStatus("activate"), "\(built.log)")
        let second = try Self.credentials(base + "/built")
        let secondId = try #require((second["agent_id"] as? NSNumber)?.int64Value)
        #expect(secondId != firstId && second["agent_key"] as? String != firstKey && second["server_status"] as? String == "unassigned" && second["token"] == nil)
        // A new agent waits, unassigned, for the operator; the old one is deactivated.
        let unassigned = try await client.call("GET", "/vsaas/api/v2/agents?status=unassigned", headers: ["x-vsaas-session: \(setup.session)"]).array
        #expect(unassignedBefore.isEmpty && unassigned.count == 1, "\(unassignedBefore) \(unassigned)")
        #expect(unassigned.contains { ($0["id"] as? NSNumber)?.int64Value == secondId && $0["serial"] as? String == "CAM-GONE-2" }, "\(unassigned)")
        let deactivated = try await client.call("GET", "/vsaas/api/v2/agents?status=deactivated", headers: ["x-vsaas-session: \(setup.session)"]).array
        #expect(deactivated.contains { ($0["id"] as? NSNumber)?.int64Value == firstId }, "\(deactivated)")
        // It keeps checking in with the new key.
        let checkIn = try await client.call("POST", "/vsaas/api/v2/agents/status", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                            body: "agent_id=\(secondId)&agent_key=\(try #require(second["agent_key"] as? String))")
        #expect(checkIn.status == 200, "\(checkIn.text)")
        try await Task.sleep(for: .milliseconds(600))
        #expect(try Self.credentials(base + "/built")["agent_key"] as? String == second["agent_key"] as? String)
        #expect(!built.log.contains(firstKey) && !built.log.contains(third))
        _ = try await server.stop()
    }

    /// A server away for a while (refused connections) is not a deactivation: the heartbeat
    /// retries and the agent keeps its credentials, then carries on with the same key.
    @Test func aServerAwayDoesNotTakeTheCredentials() async throws {
        let (port, data, environment, arguments, client, setup, token) = try await Self.stoppedServerWithToken(email: "agent-away@example.com", title: "Barn")
        let first = try LiveServer(arguments: arguments, environment: environment, port: port, dataDirectory: data)
        defer { _ = first.process.isRunning ? kill(first.process.processIdentifier, SIGKILL) : 0 }
        #expect(try await first.waitUntilHealthy(), "\(first.stderr)")
        let directory = try TestDatabases.temporaryDirectory() + "/agent"
        let agent = try await LiveAgent.start(serial: "CAM-AWAY-1", server: "http://127.0.0.1:\(port)", stateDirectory: directory,
                                              arguments: ["--heartbeat-ms", "100", "--operator-id", String(setup.operatorId)])
        defer { agent.kill() }
        #expect(try await client.call("POST", "/activate", headers: [Self.form], body: "operatorid=\(setup.operatorId)&sign=\(token)", port: agent.port).status == 200)
        let deadline = ContinuousClock.now + .seconds(20)
        while ((try? Self.state(directory))?["credentials"] as? [String: Any])?["server_status"] as? String != "active", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let held = try Self.credentials(directory)
        let key = try #require(held["agent_key"] as? String)
        #expect(held["server_status"] as? String == "active")

        _ = try await first.stop(signal: SIGKILL)
        let warnings = { agent.log.components(separatedBy: "heartbeat: server unavailable; keeping the credentials").count - 1 }
        while warnings() < 5, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(warnings() >= 5, "\(agent.log)")
        #expect(try await agent.status()["status"] as? String == "activate")
        #expect(try Self.credentials(directory)["agent_key"] as? String == key)

        let second = try LiveServer(arguments: arguments, environment: environment, port: port, dataDirectory: data)
        defer { _ = second.process.isRunning ? kill(second.process.processIdentifier, SIGKILL) : 0 }
        #expect(try await second.waitUntilHealthy(), "\(second.stderr)")
        // Back: the check-ins succeed again with the same key (the server records them).
        let cameraDeadline = ContinuousClock.now + .seconds(10)
        var seen = false
        while !seen, ContinuousClock.now < cameraDeadline {
            let cameras = try await Self.cameras(client, session: setup.session)
            seen = cameras.first?["agent_last_seen"] is NSNumber && cameras.count == 1
            if !seen { try await Task.sleep(for: .milliseconds(100)) }
        }
        let count = warnings()
        try await Task.sleep(for: .milliseconds(500))
        #expect(warnings() == count, "\(agent.log)")
        #expect(try Self.credentials(directory)["agent_key"] as? String == key)
        #expect(try await agent.status()["status"] as? String == "activate")
        #expect(!agent.log.contains("credentials wiped") && !agent.log.contains(key) && !agent.log.contains(token))
        _ = try await second.stop()
    }
}
