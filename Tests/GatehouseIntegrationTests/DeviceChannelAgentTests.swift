import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// A real `gatehouse agent` keeping the device channel (issue 9) with a real `gatehouse serve`
/// on loopback: settings applied by a settings file or script and reported back, commands
/// answered by a handler script or timing out, an agent that was down getting what it missed,
/// and, on PostgreSQL, an agent on one node driven through another.
@Suite("The agent's device channel, live", .serialized)
struct DeviceChannelAgentTests {
    static let desired = #"{"video":{"resolution":"1280x720","bitrate_kbps":2048,"frame_rate":15},"system":{"name":"Back gate","time_zone":"Europe/Berlin"}}"#
    static let changed = #"{"video":{"resolution":"1920x1080","bitrate_kbps":4096,"frame_rate":25},"system":{"name":"Back gate","time_zone":"Europe/Berlin"}}"#

    /// A command handler: presets answer where the camera went, reboot fails with a reason,
    /// ptz.stop hangs.
    static let handler = """
        case "$GATEHOUSE_COMMAND_NAME" in
          ptz.preset.goto) python3 -c 'import json,sys; c=json.load(sys.stdin); print(json.dumps({"at_preset": c["params"]["preset"]}))' ;;
          reboot) echo "reboot is disabled on this unit" >&2; exit 1 ;;
          ptz.stop) sleep 60 ;;
          *) echo '{}' ;;
        esac
        """

    /// One server with an operator ready to issue activation tokens.
    struct Rig {
        let server: LiveServer
        let client: VSaaSLiveClient
        let admin: String
        let setup: (operatorId: Int64, session: String, organization: Int64, preset: Int64)
        var url: String { "http://127.0.0.1:\(server.port)" }

        static func start(_ email: String) async throws -> Rig {
            let (server, client) = try await AgentActivationSeedTests.start()
            let admin = try #require(server.adminToken)
            let setup = try await client.operatorSetup(adminToken: admin, email: email)
            return Rig(server: server, client: client, admin: admin, setup: setup)
        }

        /// Starts an agent and activates it with a fresh token; answers it once its channel is open, with its device id.
        func agent(_ serial: String, directory: String? = nil, arguments: [String]) async throws -> (LiveAgent, Int64, String) {
            let token = try await AgentTests.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: serial)
            let directory = try directory ?? (TestDatabases.temporaryDirectory() + "/agent")
            let agent = try await LiveAgent.start(serial: serial, server: url, stateDirectory: directory, arguments: arguments)
            let accepted = try await client.call("POST", "/activate", headers: [AgentTests.form], body: "operatorid=\(setup.operatorId)&sign=\(token)", port: agent.port)
            #expect(accepted.status == 200, "\(accepted.text)")
            let device = try await DeviceChannelAgentTests.deviceId(agent)
            return (agent, device, directory)
        }
    }

    /// The device id the server's `welcome` gave the agent (from the agent's log).
    static func deviceId(_ agent: LiveAgent, after skip: Int = 0) async throws -> Int64 {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let opened = agent.log.split(separator: "\n").compactMap { line -> Int64? in
                guard let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any], json["msg"] as? String == "channel open" else { return nil }
                return (json["device_id"] as? String).flatMap { Int64($0) }
            }
            if opened.count > skip, let id = opened.last { return id }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the agent's channel did not open: \(agent.log)")
        throw CancellationError()
    }

    /// Waits until the device's settings satisfy `condition`; answers the last settings seen.
    static func settings(_ server: LiveServer, _ token: String, _ device: Int64, timeout: Duration = .seconds(20),
                         until condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        var last: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            last = try await server.request("GET", "/v1/devices/\(device)/settings", token: token).json
            if condition(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        return last
    }

    static func put(_ server: LiveServer, _ token: String, _ device: Int64, _ document: String) async throws -> Int64 {
        let current = try await server.request("GET", "/v1/devices/\(device)/settings", token: token).json
        let version = (current["version"] as? NSNumber)?.int64Value ?? 0
        let answer = try await server.request("PUT", "/v1/devices/\(device)/settings", token: token, json: #"{"version":\#(version),"desired":\#(document)}"#)
        #expect(answer.status == 200, "\(answer.text)")
        return try #require((answer.json["version"] as? NSNumber)?.int64Value, "\(answer.text)")
    }

    static func object(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    static func reportedVersion(_ settings: [String: Any]) -> Int64? { (settings["reported_version"] as? NSNumber)?.int64Value }

    @Test func settingsRoundTripThroughASettingsFileAndAreNotAppliedTwiceAfterARestart() async throws {
        let rig = try await Rig.start("channel-file@example.com")
        defer { kill(rig.server.process.processIdentifier, SIGKILL) }
        let files = try TestDatabases.temporaryDirectory()
        let settingsFile = files + "/camera-settings.json"
        let (agent, device, directory) = try await rig.agent("CAM-CH-FILE", arguments: ["--settings-file", settingsFile])
        defer { agent.kill() }

        let version = try await Self.put(rig.server, rig.admin, device, Self.desired)
        let synced = try await Self.settings(rig.server, rig.admin, device) { Self.reportedVersion($0) == version }
        #expect(synced["in_sync"] as? Bool == true, "\(synced)\n\(agent.log)")
        #expect(synced["reported_error"] is NSNull)
        // The file holds the desired document, owner-only; the agent's state remembers the version.
        let written = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: settingsFile))) as? NSDictionary)
        #expect(written == Self.object(Self.desired) as NSDictionary)
        #expect(try AgentTests.mode(settingsFile) == 0o600)
        let state = Self.object(try String(contentsOfFile: directory + "/channel.json", encoding: .utf8))
        #expect((state["version"] as? NSNumber)?.int64Value == version, "\(state)")
        #expect(!agent.log.contains("gak_"), "the agent key is never logged")

        // A restarted agent opens the channel again and stays in sync.
        agent.kill()
        let again = try await LiveAgent.start(serial: "CAM-CH-FILE", server: rig.url, stateDirectory: directory, arguments: ["--settings-file", settingsFile])
        defer { again.kill() }
        #expect(try await Self.deviceId(again) == device)
        let after = try await Self.settings(rig.server, rig.admin, device) { $0["in_sync"] as? Bool == true }
        #expect(Self.reportedVersion(after) == version, "\(after)")
    }

    @Test func aSettingsScriptAppliesAndItsRefusalIsReportedWithItsReason() async throws {
        let rig = try await Rig.start("channel-script@example.com")
        defer { kill(rig.server.process.processIdentifier, SIGKILL) }
        let files = try TestDatabases.temporaryDirectory()
        // Applies anything but 4K, which the sensor refuses; keeps what it applied in a file.
        let script = #"doc=$(cat); case "$doc" in *3840x2160*) echo "3840x2160 is beyond this sensor" >&2; exit 4 ;; esac; printf '%s' "$doc" > "\#(files)/running.json""#
        let (agent, device, _) = try await rig.agent("CAM-CH-SCRIPT", arguments: ["--settings-command", script])
        defer { agent.kill() }

        let first = try await Self.put(rig.server, rig.admin, device, Self.desired)
        let applied = try await Self.settings(rig.server, rig.admin, device) { Self.reportedVersion($0) == first }
        #expect(applied["in_sync"] as? Bool == true, "\(applied)\n\(agent.log)")
        #expect(Self.object(try String(contentsOfFile: files + "/running.json", encoding: .utf8)) as NSDictionary == Self.object(Self.desired) as NSDictionary)

        let refused = try await Self.put(rig.server, rig.admin, device, Self.desired.replacingOccurrences(of: "1280x720", with: "3840x2160"))
        let failed = try await Self.settings(rig.server, rig.admin, device) { Self.reportedVersion($0) == refused }
        #expect(failed["in_sync"] as? Bool == false, "\(failed)")
        #expect(failed["reported_error"] as? String == "3840x2160 is beyond this sensor", "\(failed)")
        // What it reports running is still the document it applied before.
        #expect((failed["reported"] as? NSDictionary) == Self.object(Self.desired) as NSDictionary, "\(failed)")
    }

    @Test func commandsAreAnsweredByTheHandlerOrTimeOut() async throws {
        let rig = try await Rig.start("channel-commands@example.com")
        defer { kill(rig.server.process.processIdentifier, SIGKILL) }
        let (agent, device, _) = try await rig.agent("CAM-CH-CMD", arguments: ["--command-handler", Self.handler])
        defer { agent.kill() }

        let preset = try await rig.server.request("POST", "/v1/devices/\(device)/commands", token: rig.admin,
                                                  json: #"{"name":"ptz.preset.goto","params":{"preset":3},"wait":true}"#)
        #expect(preset.status == 200 && preset.json["state"] as? String == "succeeded", "\(preset.text)\n\(agent.log)")
        #expect(((preset.json["result"] as? [String: Any])?["at_preset"] as? NSNumber)?.intValue == 3, "\(preset.text)")

        let reboot = try await rig.server.request("POST", "/v1/devices/\(device)/commands", token: rig.admin, json: #"{"name":"reboot","wait":true}"#)
        #expect(reboot.json["state"] as? String == "failed", "\(reboot.text)")
        #expect(reboot.json["error"] as? String == "reboot is disabled on this unit", "\(reboot.text)")

        // The handler hangs: the command times out, and the agent kills the handler.
        let hung = try await rig.server.request("POST", "/v1/devices/\(device)/commands", token: rig.admin, json: #"{"name":"ptz.stop","timeout":2,"wait":true}"#)
        #expect(hung.json["state"] as? String == "timed_out", "\(hung.text)")
        #expect(try await agent.waitForLog("command expired before it finished"), "\(agent.log)")

        // The agent is gone: the command waits in the queue, then times out.
        agent.kill()
        let offline = try await rig.server.request("POST", "/v1/devices/\(device)/commands", token: rig.admin, json: #"{"name":"reboot","timeout":2,"wait":true}"#)
        #expect(offline.json["state"] as? String == "timed_out", "\(offline.text)")
        let log = try await rig.server.request("GET", "/v1/devices/\(device)/commands", token: rig.admin)
        let states = ((log.json["items"] as? [[String: Any]]) ?? []).compactMap { $0["state"] as? String }
        #expect(states.sorted() == ["failed", "succeeded", "timed_out", "timed_out"], "\(log.text)")
    }

    @Test func anAgentThatWasDownGetsTheSettingsAndCommandsItMissed() async throws {
        let rig = try await Rig.start("channel-offline@example.com")
        defer { kill(rig.server.process.processIdentifier, SIGKILL) }
        let files = try TestDatabases.temporaryDirectory()
        let settingsFile = files + "/camera-settings.json"
        let arguments = ["--settings-file", settingsFile, "--command-handler", Self.handler]
        let (agent, device, directory) = try await rig.agent("CAM-CH-OFF", arguments: arguments)
        let first = try await Self.put(rig.server, rig.admin, device, Self.desired)
        #expect(Self.reportedVersion(try await Self.settings(rig.server, rig.admin, device) { Self.reportedVersion($0) == first }) == first)

        agent.kill()
        let presence = try await rig.server.request("GET", "/v1/devices/\(device)/presence", token: rig.admin)
        // Changed and commanded while the agent is down.
        let missed = try await Self.put(rig.server, rig.admin, device, Self.changed)
        let waiting = try await rig.server.request("GET", "/v1/devices/\(device)/settings", token: rig.admin).json
        #expect(waiting["in_sync"] as? Bool == false, "\(waiting)")
        let queued = try await rig.server.request("POST", "/v1/devices/\(device)/commands", token: rig.admin,
                                                  json: #"{"name":"ptz.preset.goto","params":{"preset":7},"timeout":60}"#)
        #expect(queued.status == 202, "\(queued.text)")
        let commandId = try #require(queued.json["id"] as? String)

        let again = try await LiveAgent.start(serial: "CAM-CH-OFF", server: rig.url, stateDirectory: directory, arguments: arguments)
        defer { again.kill() }
        let synced = try await Self.settings(rig.server, rig.admin, device) { Self.reportedVersion($0) == missed }
        #expect(synced["in_sync"] as? Bool == true, "\(synced)\n\(presence.text)\n\(again.log)")
        let written = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: settingsFile))) as? NSDictionary)
        #expect(written == Self.object(Self.changed) as NSDictionary)
        let deadline = ContinuousClock.now + .seconds(20)
        var command: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            command = try await rig.server.request("GET", "/v1/devices/\(device)/commands/\(commandId)", token: rig.admin).json
            if command["state"] as? String == "succeeded" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(command["state"] as? String == "succeeded", "\(command)\n\(again.log)")
        #expect(((command["result"] as? [String: Any])?["at_preset"] as? NSNumber)?.intValue == 7)
        let online = try await rig.server.request("GET", "/v1/devices/\(device)/presence", token: rig.admin)
        #expect(online.json["online"] as? Bool == true, "\(online.text)")
    }

    /// Deleting the camera revokes the agent's credential: the server closes the channel with
    /// 4401, and the agent, instead of reconnecting with the dead key, checks in at once (long
    /// before its next heartbeat), learns it was deactivated and wipes its credentials.
    @Test func aRevokedCredentialClosesTheChannelAndTheAgentStopsUsingIt() async throws {
        let rig = try await Rig.start("channel-revoked@example.com")
        defer { kill(rig.server.process.processIdentifier, SIGKILL) }
        let (agent, _, directory) = try await rig.agent("CAM-CH-GONE", arguments: ["--heartbeat-seconds", "3600"])
        defer { agent.kill() }
        try await AgentTests.deleteOnlyCamera(rig.client, session: rig.setup.session)
        #expect(try await agent.waitForLog("the server refused the credential on the channel"), "\(agent.log)")
        #expect(try await agent.waitForStatus("wait_activate", timeout: .seconds(10)), "\(agent.log)")
        #expect(agent.log.contains("credentials wiped"))
        #expect(try AgentTests.state(directory)["credentials"] == nil)
        // No further attempt with the revoked key.
        let attempts = agent.log.components(separatedBy: "channel open").count
        try await Task.sleep(for: .seconds(1))
        #expect(agent.log.components(separatedBy: "channel open").count == attempts)
        #expect(!agent.log.contains("the server did not open the channel"), "\(agent.log)")
    }
}

/// The channel across nodes: an agent connected to node A is changed and commanded through node B.
@Suite("The agent's device channel across nodes", .serialized, .enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
struct DeviceChannelAgentMultiNodeTests {
    @Test func anAgentOnNodeAIsReachedThroughNodeB() async throws {
        let base = try PostgresURL(try #require(TestDatabases.postgresURL))
        let database = "gh_chan_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try await withDatabase(.postgres(base, schema: nil), logger: TestDatabases.logger) { admin in
            try await admin.withConnection { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(database))").run() }
        }
        let url = "postgres://\(base.username)\(base.password.map { ":\($0)" } ?? "")@\(base.host):\(base.port)/\(database)"
        let keyFile = try TestDatabases.temporaryDirectory() + "/master.key"
        try (SecretVault.generateKeyData().base64EncodedString() + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        var nodes: [LiveServer] = []
        for index in 0..<2 {
            if index == 1 { #expect(try await nodes[0].waitUntilHealthy(), "\(nodes[0].stderr)") }
            let port = LiveServer.freePort()
            let directory = try TestDatabases.temporaryDirectory()
            nodes.append(try LiveServer(arguments: ["--port", String(port), "--database-url", url, "--data-dir", directory, "--admin-tls-port", "0",
                                                    "--master-key-file", keyFile],
                                        environment: ["GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: directory))
        }
        defer { for node in nodes { kill(node.process.processIdentifier, SIGKILL) } }
        for node in nodes { #expect(try await node.waitUntilHealthy(), "\(node.stderr)") }
        let (a, b) = (nodes[0], nodes[1])
        let admin = try #require(a.adminToken)
        let client = VSaaSLiveClient(port: a.port)
        let setup = try await client.operatorSetup(adminToken: admin, email: "channel-nodes@example.com")
        let token = try await AgentTests.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: "Node cam")
        let settingsFile = try TestDatabases.temporaryDirectory() + "/settings.json"
        let agent = try await LiveAgent.start(serial: "CAM-CH-NODES", server: "http://127.0.0.1:\(a.port)", stateDirectory: try TestDatabases.temporaryDirectory() + "/agent",
                                              arguments: ["--settings-file", settingsFile, "--command-handler", DeviceChannelAgentTests.handler])
        defer { agent.kill() }
        let accepted = try await client.call("POST", "/activate", headers: [AgentTests.form], body: "operatorid=\(setup.operatorId)&sign=\(token)", port: agent.port)
        #expect(accepted.status == 200, "\(accepted.text)")
        let device = try await DeviceChannelAgentTests.deviceId(agent)

        // Node B sees the device online (held by node A), and what B changes reaches the agent on A.
        let presence = try await b.request("GET", "/v1/devices/\(device)/presence", token: admin)
        #expect(presence.json["online"] as? Bool == true, "\(presence.text)")
        let version = try await DeviceChannelAgentTests.put(b, admin, device, DeviceChannelAgentTests.desired)
        let synced = try await DeviceChannelAgentTests.settings(b, admin, device) { DeviceChannelAgentTests.reportedVersion($0) == version }
        #expect(synced["in_sync"] as? Bool == true, "\(synced)\n\(agent.log)")
        let command = try await b.request("POST", "/v1/devices/\(device)/commands", token: admin, json: #"{"name":"ptz.preset.goto","params":{"preset":9},"wait":true}"#)
        #expect(command.json["state"] as? String == "succeeded", "\(command.text)\n\(agent.log)")
        #expect(((command.json["result"] as? [String: Any])?["at_preset"] as? NSNumber)?.intValue == 9)
    }
}

/// `gatehouse agent simulate` keeps a channel per device (ten: the organization's camera limit): settings pushed to all are echoed
/// back as applied, commands are answered, and the counts come out in its summary.
@Suite("Simulated agents on the device channel", .serialized)
struct DeviceChannelSimulateTests {
    @Test func tenSimulatedDevicesApplySettingsAndAnswerCommands() async throws {
        let rig = try await DeviceChannelAgentTests.Rig.start("channel-simulate@example.com")
        defer { kill(rig.server.process.processIdentifier, SIGKILL) }
        var lines: [String] = []
        for index in 0..<10 {
            let token = try await AgentTests.issueToken(rig.client, session: rig.setup.session, organization: rig.setup.organization,
                                                        preset: rig.setup.preset, title: "Sim \(index)")
            lines.append("\(rig.setup.operatorId):\(token)")
        }
        let tokens = try TestDatabases.temporaryDirectory() + "/tokens.txt"
        try lines.joined(separator: "\n").write(toFile: tokens, atomically: true, encoding: .utf8)
        async let run = LiveAgent.runToExit(["simulate", "--count", "10", "--server", rig.url, "--tokens-file", tokens, "--serial-prefix", "SIMCH",
                                             "--duration-ms", "30000", "--progress-ms", "250", "--retry-base-ms", "50", "--retry-cap-ms", "400"],
                                            timeout: .seconds(60))
        // All 10 come online.
        let deadline = ContinuousClock.now + .seconds(20)
        var online: [Int64] = []
        var page = ""
        while online.count < 10, ContinuousClock.now < deadline {
            page = try await rig.server.request("GET", "/v1/devices/online?limit=100", token: rig.admin).text
            online = ((DeviceChannelAgentTests.object(page)["items"] as? [[String: Any]]) ?? []).compactMap { ($0["device_id"] as? NSNumber)?.int64Value }
            if online.count < 10 { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard online.count == 10 else {
            let result = try await run
            Issue.record("online: \(page)\n\(result.output.prefix(3000))")
            return
        }
        for device in online {
            _ = try await DeviceChannelAgentTests.put(rig.server, rig.admin, device, DeviceChannelAgentTests.desired)
        }
        for device in online {
            let synced = try await DeviceChannelAgentTests.settings(rig.server, rig.admin, device) { $0["in_sync"] as? Bool == true }
            #expect(synced["in_sync"] as? Bool == true, "\(synced)")
        }
        let device = try #require(online.first)
        let command = try await rig.server.request("POST", "/v1/devices/\(device)/commands", token: rig.admin, json: #"{"name":"ptz.stop","timeout":5,"wait":true}"#)
        #expect(command.json["state"] as? String == "succeeded", "\(command.text)")
        #expect((command.json["result"] as? [String: Any])?["simulated"] as? Bool == true, "\(command.text)")

        let result = try await run
        #expect(result.status == 0, "\(result.output)")
        let summary = try AgentSimulateTests.summary(result.output)
        #expect(summary["activated"] == 10 && summary["connected"] == 10 && summary["peak_connected"] == 10, "\(summary)")
        #expect(summary["settings_applied"] == 10 && summary["commands_answered"] == 1, "\(summary)")
        // The progress lines count the reports of the version pushed.
        let progress = result.output.split(separator: "\n").last { $0.hasPrefix("{\"progress\"") }
        let versions = try #require(((try? JSONSerialization.jsonObject(with: Data((progress ?? "").utf8))) as? [String: Any])?["progress"] as? [String: Any])["versions"]
        #expect(((versions as? [String: Any])?["1"] as? [String: Any])?["reported"] as? Int == 10, "\(String(describing: progress))")
    }
}
