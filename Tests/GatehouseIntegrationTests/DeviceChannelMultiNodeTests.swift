import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// The device channel across two `gatehouse serve` nodes on one PostgreSQL: a camera connected
/// to node A is reached by calls on node B.
@Suite("The device channel across nodes on PostgreSQL", .serialized, .enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
struct DeviceChannelMultiNodeTests {
    static func integer(_ value: Any?) -> Int64? { (value as? NSNumber)?.int64Value }

    @Test func settingsAndCommandsReachTheNodeHoldingTheCamera() async throws {
        let base = try PostgresURL(try #require(TestDatabases.postgresURL))
        let database = "gh_channel_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try await withDatabase(.postgres(base, schema: nil), logger: TestDatabases.logger) { admin in
            try await admin.withConnection { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(database))").run() }
        }
        let url = "postgres://\(base.username)\(base.password.map { ":\($0)" } ?? "")@\(base.host):\(base.port)/\(database)"
        let keyFile = try TestDatabases.temporaryDirectory() + "/master.key"
        try (SecretVault.generateKeyData().base64EncodedString() + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        var nodes: [LiveServer] = []
        defer { for node in nodes where node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) } }
        for _ in 0..<2 {
            let port = LiveServer.freePort()
            let directory = try TestDatabases.temporaryDirectory()
            nodes.append(try LiveServer(arguments: ["--port", String(port), "--database-url", url, "--data-dir", directory, "--admin-tls-port", "0",
                                                    "--master-key-file", keyFile],
                                        environment: ["GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: directory))
        }
        for node in nodes { #expect(try await node.waitUntilHealthy(), "\(node.stderr)") }
        let admin = try #require(nodes.compactMap(\.adminToken).first)
        let (a, b) = (nodes[0], nodes[1])
        let (camera, _) = try await ChannelCamera.activate(VSaaSLiveClient(port: a.port), adminToken: admin, email: "multi@example.com", serial: "MN-1")

        let device = camera.connect(port: a.port)
        let welcome = try #require(await device.frame { $0["type"] as? String == "welcome" })
        let nodeA = try #require(welcome["node"] as? String)

        // Node B sees the camera online on node A.
        let presence = try await b.request("GET", "/v1/devices/\(camera.deviceId)/presence", token: admin)
        #expect(presence.json["online"] as? Bool == true && presence.json["node"] as? String == nodeA, "\(presence.text)")

        // Settings set through B reach the camera on A at once; its report is visible on B.
        let set = try await b.request("PUT", "/v1/devices/\(camera.deviceId)/settings", token: admin,
                                      json: #"{"version":0,"desired":{"motion_detector":{"enabled":true,"sensitivity":70}}}"#)
        #expect(Self.integer(set.json["version"]) == 1, "\(set.text)")
        let pushed = try #require(await device.frame { $0["type"] as? String == "settings" }, "settings pushed across nodes")
        #expect(Self.integer(((pushed["desired"] as? [String: Any])?["motion_detector"] as? [String: Any])?["sensitivity"]) == 70)
        device.send(#"{"type":"reported","version":1,"reported":{"motion_detector":{"enabled":true,"sensitivity":70}},"error":null}"#)
        var inSync = false
        for _ in 0..<50 where !inSync {
            inSync = try await b.request("GET", "/v1/devices/\(camera.deviceId)/settings", token: admin).json["in_sync"] as? Bool == true
            if !inSync { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(inSync)

        // A fleet change made through B reaches the camera on A (the ids travel in one NOTIFY).
        let operatorId = try #require(Self.integer(try await b.request("GET", "/v1/devices/\(camera.deviceId)", token: admin).json["tenant_id"]))
        let fleet = try await b.request("PATCH", "/v1/tenants/\(operatorId)/device-settings", token: admin,
                                        json: #"{"patch":{"motion_detector":{"sensitivity":40}}}"#)
        #expect(Self.integer(fleet.json["changed"]) == 1, "\(fleet.text)")
        let fleetPushed = try #require(await device.frame { $0["type"] as? String == "settings" && Self.integer($0["version"]) == 2 }, "fleet change pushed across nodes")
        let detector = (fleetPushed["desired"] as? [String: Any])?["motion_detector"] as? [String: Any]
        #expect(Self.integer(detector?["sensitivity"]) == 40 && detector?["enabled"] as? Bool == true)

        // A command sent through B, answered on A: B's waiting call gets the result.
        let answering = Task {
            guard let command = await device.frame(where: { $0["type"] as? String == "command" }), let id = command["id"] as? String else { return false }
            device.send(#"{"type":"result","id":"\#(id)","status":"ok","result":{"moved":true},"error":null}"#)
            return true
        }
        let started = ContinuousClock.now
        let moved = try await b.request("POST", "/v1/devices/\(camera.deviceId)/commands", token: admin,
                                        json: #"{"name":"ptz.move","params":{"pan":0.5,"tilt":0,"zoom":0},"wait":true,"timeout":20}"#)
        #expect(await answering.value)
        #expect(moved.json["state"] as? String == "succeeded" && (moved.json["result"] as? [String: Any])?["moved"] as? Bool == true, "\(moved.text)")
        #expect(ContinuousClock.now - started < .seconds(10), "the result arrives by NOTIFY, not by the timeout")

        // A second connection on node B replaces the one on A (4409).
        let second = camera.connect(port: b.port)
        let welcomeB = try #require(await second.frame { $0["type"] as? String == "welcome" })
        #expect(welcomeB["node"] as? String != nodeA)
        #expect(await device.closeCode() == 4409)
        let moved2 = try await a.request("GET", "/v1/devices/\(camera.deviceId)/presence", token: admin)
        #expect(moved2.json["node"] as? String == welcomeB["node"] as? String, "\(moved2.text)")
        second.disconnect()
    }
}
