import Foundation
import GatehouseTestSupport
import Testing

/// `gatehouse agent simulate` (issue 8, point 6) against a real `gatehouse serve`.
@Suite("Simulated device agents", .serialized)
struct AgentSimulateTests {
    /// The summary line `simulate` prints on standard output.
    static func summary(_ output: String) throws -> [String: Int] {
        let line = try #require(output.split(separator: "\n").last { $0.contains("\"reactivated\"") }, "\(output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Int], "\(line)")
    }

    static func agents(_ client: VSaaSLiveClient, session: String, status: String) async throws -> [[String: Any]] {
        try await client.call("GET", "/vsaas/api/v2/agents?status=\(status)&limit=1000", headers: ["x-vsaas-session: \(session)"]).array
    }

    /// 20 agents activate by operator id and check in; two are assigned cameras that the
    /// operator deletes: those two are deactivated and activate again by themselves.
    @Test func twentyAgentsByOperatorIdWithTwoReactivations() async throws {
        let (server, client) = try await AgentActivationSeedTests.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGKILL) : 0 }
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "simulate@example.com")
        let session = ["x-vsaas-session: \(setup.session)"]
        async let run = LiveAgent.runToExit(["simulate", "--count", "20", "--server", "http://127.0.0.1:\(server.port)", "--operator-id", String(setup.operatorId),
                                             "--serial-prefix", "SIMCAM", "--duration-ms", "16000", "--heartbeat-ms", "200",
                                             "--retry-base-ms", "50", "--retry-cap-ms", "400"], timeout: .seconds(60))
        // All 20 wait unassigned for the operator.
        let deadline = ContinuousClock.now + .seconds(20)
        var waiting: [[String: Any]] = []
        while waiting.count < 20, ContinuousClock.now < deadline {
            waiting = try await Self.agents(client, session: setup.session, status: "unassigned")
            if waiting.count < 20 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(waiting.count == 20, "\(waiting)")
        #expect(Set(waiting.compactMap { $0["serial"] as? String }) == Set((0..<20).map { "SIMCAM-\($0)" }))
        // Two are assigned a camera, which the operator then deletes.
        for agent in waiting.prefix(2) {
            let id = try #require((agent["id"] as? NSNumber)?.int64Value)
            let camera = try await client.call("POST", "/vsaas/api/v2/agents/\(id)/assign", headers: session + ["Content-Type: application/json"],
                                               body: #"{"title":"Sim \#(id)","organization_id":\#(setup.organization),"preset_id":\#(setup.preset)}"#)
            #expect(camera.status == 201, "\(camera.text)")
            let name = try #require(camera.json["name"] as? String)
            #expect(try await client.call("DELETE", "/vsaas/api/v2/cameras/\(name)", headers: session).status == 204)
        }
        let result = try await run
        #expect(result.status == 0, "\(result.output)")
        let summary = try Self.summary(result.output)
        #expect(summary["count"] == 20 && summary["activated"] == 20 && summary["failed"] == 0, "\(summary)")
        #expect(summary["reactivated"] == 2 && summary["deactivations"] == 2 && summary["activations"] == 22, "\(summary)")
        // The two came back as new unassigned agents; the old ones are deactivated.
        #expect(try await Self.agents(client, session: setup.session, status: "unassigned").count == 20)
        #expect(try await Self.agents(client, session: setup.session, status: "deactivated").count == 2)
        // They checked in: every unassigned agent was seen.
        #expect(try await Self.agents(client, session: setup.session, status: "unassigned").allSatisfy { $0["last_seen"] is NSNumber })
        #expect(!result.output.contains("gak_"))
        _ = try await server.stop()
    }

    /// Tokens from a file (operator_id:token and bare), one refused; the rest by operator id.
    @Test func tokensFromAFile() async throws {
        let (server, client) = try await AgentActivationSeedTests.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGKILL) : 0 }
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "simulate-tokens@example.com")
        let first = try await AgentTests.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: "One")
        let second = try await AgentTests.issueToken(client, session: setup.session, organization: setup.organization, preset: setup.preset, title: "Two")
        let base = try TestDatabases.temporaryDirectory()
        let file = base + "/tokens.txt"
        try Data("# codes\n\(setup.operatorId):\(first)\n\n\(second)\nZZZZZZZZ\n".utf8).write(to: URL(fileURLWithPath: file))
        let result = try await LiveAgent.runToExit(["simulate", "--count", "4", "--server", "http://127.0.0.1:\(server.port)", "--operator-id", String(setup.operatorId),
                                                    "--tokens-file", file, "--state-dir", base + "/agents", "--duration-ms", "3000", "--heartbeat-ms", "200",
                                                    "--retry-base-ms", "50", "--retry-cap-ms", "400"], timeout: .seconds(30))
        #expect(result.status == 0, "\(result.output)")
        let summary = try Self.summary(result.output)
        #expect(summary["activated"] == 3 && summary["failed"] == 1 && summary["refusals"] == 1 && summary["reactivated"] == 0, "\(summary)")
        let cameras = try await AgentTests.cameras(client, session: setup.session)
        #expect(Set(cameras.compactMap { $0["title"] as? String }) == ["One", "Two"], "\(cameras)")
        #expect(try await Self.agents(client, session: setup.session, status: "unassigned").count == 1)
        // Per-agent state directories, kept, under one lock for the whole simulator.
        #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/agents").sorted() == ["agent-0", "agent-1", "agent-2", "agent-3", "agent.lock"])
        #expect(!result.output.contains(first) && !result.output.contains(second))
        _ = try await server.stop()
    }
}
