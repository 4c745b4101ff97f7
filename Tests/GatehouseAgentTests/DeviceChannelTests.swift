import Foundation
@testable import GatehouseAgent
import HummingbirdWebSocket
import Logging
import Synchronization
import Testing

/// The agent's end of the device channel against a scripted WebSocket server on loopback:
/// credentials on the upgrade, settings applied once and reported (also after a restart),
/// commands answered or left to expire, reconnection, and close code 4401.
@Suite("The agent's device channel")
struct DeviceChannelTests {
    static let logger = Logger(label: "channel-test")
    static var desired: [String: Any] { ["video": ["resolution": "1280x720", "frame_rate": 15], "system": ["name": "Porch"]] }

    /// A credential that can be switched while the channel runs.
    final class Credential: Sendable {
        let value: Mutex<ChannelCredential?>
        init(_ value: ChannelCredential?) { self.value = Mutex(value) }
        func get() -> ChannelCredential? { value.withLock { $0 } }
        func set(_ credential: ChannelCredential?) { value.withLock { $0 = credential } }
    }

    static func channel(_ url: String, credential: Credential, settings: any SettingsHandler = EchoSettingsHandler(),
                        commands: any CommandHandler = EchoCommandHandler(), applied: AppliedSettingsStore,
                        observer: ChannelStatistics? = nil, onRefused: @escaping @Sendable (ChannelCredential, DeviceChannel.Ending) async -> Bool = { _, _ in false }) -> DeviceChannel {
        var configuration = DeviceChannelConfiguration(serverURL: url, version: "test-agent-1")
        configuration.backoff = Backoff(baseMilliseconds: 20, capMilliseconds: 100)
        configuration.credentialPoll = .milliseconds(20)
        return DeviceChannel(configuration: configuration, credentials: { credential.get() }, onRefused: onRefused, settings: settings,
                             commands: commands, applied: applied, observer: observer, logger: logger)
    }

    static func welcome(_ outbound: WebSocketOutboundWriter) async throws {
        try await outbound.send(["type": "welcome", "device_id": 42, "node": "n-test", "ping_interval": 20])
    }

    @Test func sendsTheCredentialAndReportsAppliedSettingsOnceEvenAfterARestart() async throws {
        let directory = try temporaryDirectory()
        let runs = directory + "/runs"
        // The script counts its runs and reports the document with a field of its own added.
        let script = #"echo run >> "\#(runs)"; python3 -c 'import json,sys,os; d=json.load(sys.stdin); d["system"]["applied_version"]=int(os.environ["GATEHOUSE_SETTINGS_VERSION"]); print(json.dumps(d))'"#
        try await StubChannelServer.run(serve: { _, inbound, outbound, server in
            try await Self.welcome(outbound)
            try await outbound.send(["type": "settings", "version": 7, "desired": Self.desired])
            var frames = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            _ = try await server.next("reported", from: &frames)
            _ = try await server.next("never", from: &frames)
        }) { server, url in
            for round in 0..<2 {
                let applied = try AppliedSettingsStore(directory: directory)
                let channel = Self.channel(url, credential: Credential(.agent(id: 9, key: "gak_k")), settings: ScriptSettingsHandler(command: script), applied: applied)
                let task = Task { await channel.run() }
                #expect(try await server.wait { $0.frames.filter { $0["type"] as? String == "reported" }.count == round + 1 })
                task.cancel()
                await task.value
            }
            let upgrade = try #require(server.upgrades.first)
            #expect(upgrade.path == "/api/v1.0/device/channel")
            #expect(upgrade.authorization == "Agent 9:gak_k")
            #expect(upgrade.agentVersion == "test-agent-1")
            let reports = server.frames.filter { $0["type"] as? String == "reported" }
            for report in reports {
                #expect((report["version"] as? NSNumber)?.int64Value == 7)
                #expect(report["error"] is NSNull)
                let system = (report["reported"] as? [String: Any])?["system"] as? [String: Any]
                #expect((system?["applied_version"] as? NSNumber)?.intValue == 7, "\(report)")
                #expect(system?["name"] as? String == "Porch")
            }
            // Applied once: the restarted channel found version 7 in channel.json and reported it again.
            #expect(try String(contentsOfFile: runs, encoding: .utf8) == "run\n")
            let stored = try #require(await AppliedSettingsStore(directory: directory).current)
            #expect(stored.version == 7 && stored.error == nil)
            #expect(try mode(directory + "/" + AppliedSettingsStore.fileName) == 0o600)
        }
    }

    @Test func aFailingSettingsScriptIsReportedWithItsErrorAndThePreviousDocument() async throws {
        let directory = try temporaryDirectory()
        try await StubChannelServer.run(serve: { _, inbound, outbound, server in
            try await Self.welcome(outbound)
            var frames = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            try await outbound.send(["type": "settings", "version": 1, "desired": ["system": ["name": "ok"]]])
            _ = try await server.next("reported", from: &frames)
            try await outbound.send(["type": "settings", "version": 2, "desired": ["system": ["name": "bad"]]])
            _ = try await server.next("reported", from: &frames)
            _ = try await server.next("never", from: &frames)
        }) { server, url in
            let script = #"if grep -q bad; then echo "resolution not supported by the sensor" >&2; exit 3; fi"#
            let channel = Self.channel(url, credential: Credential(.cik("cik-1")), settings: ScriptSettingsHandler(command: script),
                                       applied: try AppliedSettingsStore(directory: directory))
            let task = Task { await channel.run() }
            defer { task.cancel() }
            try #require(try await server.wait { $0.frames.count == 2 })
            #expect(server.upgrades.first?.cik == "cik-1" && server.upgrades.first?.authorization == nil)
            let second = server.frames[1]
            #expect((second["version"] as? NSNumber)?.intValue == 2)
            #expect(second["error"] as? String == "resolution not supported by the sensor")
            #expect(((second["reported"] as? [String: Any])?["system"] as? [String: Any])?["name"] as? String == "ok", "\(second)")
        }
    }

    @Test func commandsAreAnsweredByTheHandlerAndAHangingOneIsKilledAtItsExpiry() async throws {
        let directory = try temporaryDirectory()
        let pidFile = directory + "/hung.pid"
        let handler = """
            case "$GATEHOUSE_COMMAND_NAME" in
              ptz.preset.goto) python3 -c 'import json,sys; c=json.load(sys.stdin); print(json.dumps({"at_preset": c["params"]["preset"]}))' ;;
              reboot) echo "reboot is disabled on this unit" >&2; exit 1 ;;
              ptz.stop) echo $$ > "\(pidFile)"; sleep 60 ;;
            esac
            """
        let now = Int64(Date().timeIntervalSince1970)
        try await StubChannelServer.run(serve: { _, inbound, outbound, server in
            try await Self.welcome(outbound)
            // Its expiry counts from when it is sent (a loaded machine may take seconds to get here).
            try await outbound.send(["type": "command", "id": "c-hang", "name": "ptz.stop", "params": [:], "expires_at": Int64(Date().timeIntervalSince1970) + 4])
            try await outbound.send(["type": "command", "id": "c-1", "name": "ptz.preset.goto", "params": ["preset": 4], "expires_at": now + 30])
            try await outbound.send(["type": "command", "id": "c-2", "name": "reboot", "params": [:], "expires_at": now + 30])
            try await outbound.send(["type": "command", "id": "c-old", "name": "reboot", "params": [:], "expires_at": now - 5])
            try await outbound.send(["type": "nonsense"])
            var frames = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            _ = try await server.next("never", from: &frames)
        }) { server, url in
            let channel = Self.channel(url, credential: Credential(.agent(id: 1, key: "k")), commands: ScriptCommandHandler(command: handler),
                                       applied: try AppliedSettingsStore(directory: nil))
            let task = Task { await channel.run() }
            defer { task.cancel() }
            #expect(try await server.wait { $0.frames.count >= 2 })
            let results = Dictionary(server.frames.map { ($0["id"] as? String ?? "", $0) }, uniquingKeysWith: { $1 })
            #expect(results["c-1"]?["status"] as? String == "ok")
            #expect((results["c-1"]?["result"] as? [String: Any])?["at_preset"] as? Int == 4, "\(results)")
            #expect(results["c-2"]?["status"] as? String == "error")
            #expect(results["c-2"]?["error"] as? String == "reboot is disabled on this unit")
            // The hanging handler is killed when its command expires, and nothing is sent for it.
            let started = ContinuousClock.now + .seconds(10)
            while !FileManager.default.fileExists(atPath: pidFile), ContinuousClock.now < started { try await Task.sleep(for: .milliseconds(50)) }
            let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            let deadline = ContinuousClock.now + .seconds(10)
            while kill(pid, 0) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(kill(pid, 0) != 0, "the hung handler still runs")
            try await Task.sleep(for: .milliseconds(300))
            #expect(results["c-old"] == nil)
            #expect(server.frames.allSatisfy { $0["id"] as? String != "c-hang" && $0["id"] as? String != "c-old" }, "\(server.frames)")
        }
    }

    @Test func reconnectsAfterAServerCloseButNotWithACredentialRefusedBy4401() async throws {
        try await StubChannelServer.run(serve: { connection, inbound, outbound, server in
            try await Self.welcome(outbound)
            switch connection {
            case 0: try await outbound.close(.goingAway, reason: "restarting")
            case 1: try await outbound.close(.unknown(4401), reason: "credential revoked")
            default:
                var frames = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                _ = try await server.next("never", from: &frames)
            }
        }) { server, url in
            let credential = Credential(.agent(id: 5, key: "old"))
            let statistics = ChannelStatistics()
            let refusals = Mutex<[ChannelCredential]>([])
            let channel = Self.channel(url, credential: credential, applied: try AppliedSettingsStore(directory: nil), observer: statistics,
                                       onRefused: { refused, _ in
                                           refusals.withLock { $0.append(refused) }
                                           return false
                                       })
            let task = Task { await channel.run() }
            defer { task.cancel() }
            #expect(try await server.wait { _ in refusals.withLock { $0.count } == 1 })
            // Well past the backoff cap: no connection with the refused credential.
            try await Task.sleep(for: .milliseconds(600))
            #expect(server.connections == 2)
            #expect(refusals.withLock { $0 } == [.agent(id: 5, key: "old")])
            #expect(statistics.snapshot.refusals == 1)
            // New credentials (the agent activated again): the channel opens with them.
            credential.set(.agent(id: 6, key: "new"))
            #expect(try await server.wait { $0.connections == 3 })
            #expect(server.upgrades.map(\.authorization) == ["Agent 5:old", "Agent 5:old", "Agent 6:new"])
            #expect(try await server.wait { _ in statistics.snapshot.connected == 1 })
            #expect(statistics.snapshot.connections == 3)
        }
    }

    @Test func aCredentialTheCheckInStillTakesIsTriedAgainAfterTheLongestWait() async throws {
        try await StubChannelServer.run(serve: { connection, inbound, outbound, server in
            try await Self.welcome(outbound)
            if connection == 0 {
                try await outbound.close(.unknown(4401), reason: "credential revoked")
                return
            }
            var frames = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            _ = try await server.next("never", from: &frames)
        }) { server, url in
            let checks = Mutex(0)
            let channel = Self.channel(url, credential: Credential(.agent(id: 8, key: "k")), applied: try AppliedSettingsStore(directory: nil),
                                       onRefused: { _, _ in
                                           checks.withLock { $0 += 1 }
                                           return true
                                       })
            let task = Task { await channel.run() }
            defer { task.cancel() }
            #expect(try await server.wait { $0.connections == 2 })
            #expect(checks.withLock { $0 } == 1)
            #expect(server.upgrades.map(\.authorization) == ["Agent 8:k", "Agent 8:k"])
        }
    }

    @Test func keepsRetryingWhileTheServerRefusesTheUpgrade() async throws {
        try await StubChannelServer.run(serve: { _, inbound, outbound, server in
            try await Self.welcome(outbound)
            var frames = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            _ = try await server.next("never", from: &frames)
        }) { server, url in
            server.refused.withLock { $0 = ["Agent 3:k"] }
            let statistics = ChannelStatistics()
            let channel = Self.channel(url, credential: Credential(.agent(id: 3, key: "k")), applied: try AppliedSettingsStore(directory: nil), observer: statistics)
            let task = Task { await channel.run() }
            defer { task.cancel() }
            #expect(try await server.wait { $0.upgrades.count >= 3 })
            #expect(server.connections == 0)
            server.refused.withLock { $0 = [] }
            #expect(try await server.wait { _ in statistics.snapshot.connected == 1 })
        }
    }
}
