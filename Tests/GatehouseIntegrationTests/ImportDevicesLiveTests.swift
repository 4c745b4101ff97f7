import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GatehouseTestSupport
import Testing

/// Cameras loaded from an import file's device rows (JSON Lines) with the real executable:
/// `gatehouse import` reports what it made, changes nothing the second time, refuses a bad row
/// naming its line with nothing of the rows written, and on `gatehouse serve` the operator
/// lists the cameras and an imported agent checks in with the key of its row.
@Suite("Import device rows, live", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)))
struct ImportDevicesLiveTests {
    static let header = #"{"version": 1, "tenants": [{"key": "fleet", "kind": "distributor", "name": "Fleet"}, {"key": "fleet-org", "kind": "account", "parent": "fleet", "name": "Fleet org"}], "users": [{"email": "op@fleet.example", "tenant": "fleet", "name": "Op", "permissions": ["manage_tenants"], "password": "operator password"}]}"#

    static func camera(_ index: Int) -> String {
        #"{"type": "camera", "operator": "fleet", "organization": "fleet-org", "name": "cam-\#(index)", "title": "Camera \#(index)", "serial": "SN\#(index)", "agent_key": "imported-agent-key-\#(index)"}"#
    }

    @Test func importedCamerasAreListedAndTheirAgentsCheckIn() async throws {
        let dataDirectory = try TestDatabases.temporaryDirectory() + "/data"
        let files = try TestDatabases.temporaryDirectory()
        let environment = ["GATEHOUSE_DATA_DIR": dataDirectory, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"]
        let file = files + "/fleet.jsonl"
        try Data(([Self.header] + (1...1500).map(Self.camera)).joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: file))

        let first = try LiveServer.run(["import", file], environment: environment)
        #expect(first.status == 0, "\(first.error)")
        #expect(first.output.contains("1503 created, 0 updated, 0 unchanged"), "\(first.output)")  // 2 nodes, 1 user, 1500 cameras
        let second = try LiveServer.run(["import", file], environment: environment)
        #expect(second.output.contains("0 created, 0 updated, 1503 unchanged"), "\(second.output)")

        // A bad row deep in the file (after a whole batch) is named, and no new row stays.
        let broken = files + "/broken.jsonl"
        let lines = [Self.header] + (2001...3200).map(Self.camera) + [#"{"type": "camera", "operator": "fleet", "organization": "fleet-org", "name": "x y", "serial": "S"}"#]
        try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: broken))
        let refused = try LiveServer.run(["import", broken], environment: environment)
        #expect(refused.status != 0 && refused.error.contains("line \(lines.count)"), "\(refused.error)")

        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"], environment: environment, port: port, dataDirectory: dataDirectory)
        }
        let server = started.server
        #expect(started.healthy, "\(server.stderr)")
        do {
            let login = try await server.request("POST", "/vsaas/api/v2/auth/login", json: #"{"login":"op@fleet.example","password":"operator password"}"#)
            let session = try #require(login.json["session"] as? String, "\(login.text)")
            var listing = URLRequest(url: URL(string: "http://127.0.0.1:\(server.port)/vsaas/api/v2/cameras?limit=1000&offset=1000")!)
            listing.setValue(session, forHTTPHeaderField: "x-vsaas-session")
            let (data, _) = try await URLSession.shared.data(for: listing)
            let cameras = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]], "\(String(decoding: data, as: UTF8.self))")
            #expect(cameras.count == 500 && cameras.allSatisfy { ($0["name"] as? String)?.hasPrefix("cam-") == true }, "\(cameras.count)")
            #expect(!cameras.contains { ($0["name"] as? String) == "cam-2001" })
            let last = try #require(cameras.first { $0["name"] as? String == "cam-1500" })
            #expect(last["title"] as? String == "Camera 1500" && last["agent_serial"] as? String == "SN1500")
            let agentId = try #require((last["agent_id"] as? NSNumber)?.intValue)

            let status = try await server.form("/vsaas/api/v2/agents/status", "agent_id=\(agentId)&agent_key=imported-agent-key-1500")
            #expect(status.status == 200 && status.json["status"] as? String == "active", "\(status.text)")
            let wrong = try await server.form("/vsaas/api/v2/agents/status", "agent_id=\(agentId)&agent_key=imported-agent-key-1499")
            #expect(wrong.status == 401, "\(wrong.text)")
        } catch {
            _ = try await server.stop(signal: SIGKILL)
            throw error
        }
        #expect(try await server.stop() == 0)
    }
}
