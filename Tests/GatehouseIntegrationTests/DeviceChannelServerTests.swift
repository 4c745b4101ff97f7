import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// An activated camera on the device channel of a live server: what the camera receives and
/// what the management API shows.
struct ChannelCamera: Sendable {
    let agentId: Int64
    let agentKey: String
    let cameraName: String
    let deviceId: Int64

    var headers: [String: String] { ["Authorization": "Agent \(agentId):\(agentKey)", "X-Gatehouse-Agent-Version": "test-agent-1"] }

    func connect(port: Int) -> ChannelTestClient {
        ChannelTestClient(url: "ws://127.0.0.1:\(port)/api/v1.0/device/channel", headers: headers)
    }

    /// An operator, organization and preset, and a camera activated by its agent.
    static func activate(_ client: VSaaSLiveClient, adminToken: String, email: String, serial: String) async throws -> (ChannelCamera, session: String) {
        let setup = try await client.operatorSetup(adminToken: adminToken, email: email)
        return (try await activate(client, adminToken: adminToken, session: setup.session, organization: setup.organization, preset: setup.preset,
                                   operatorId: setup.operatorId, serial: serial), setup.session)
    }

    static func activate(_ client: VSaaSLiveClient, adminToken: String, session: String, organization: Int64, preset: Int64, operatorId: Int64,
                         serial: String) async throws -> ChannelCamera {
        let issued = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: ["x-vsaas-session: \(session)", "Content-Type: application/json"],
                                           body: #"{"title":"Cam \#(serial)","organization_id":\#(organization),"preset_id":\#(preset)}"#)
        let token = try #require(issued.json["token"] as? String, "\(issued.text)")
        let activated = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                              body: "operatorid=\(operatorId)&sign=\(token)&serial=\(serial)")
        let agentId = try #require((activated.json["agent_id"] as? NSNumber)?.int64Value, "\(activated.text)")
        let agentKey = try #require(activated.json["agent_key"] as? String)
        let cameraName = try #require(activated.json["camera_name"] as? String)
        let devices = try await client.call("GET", "/v1/devices?limit=500", headers: ["Authorization: Bearer \(adminToken)"])
        let items = (devices.json["items"] as? [[String: Any]]) ?? []
        let ids = items.filter { $0["kind"] as? String == "camera" }.compactMap { ($0["id"] as? NSNumber)?.int64Value }
        let deviceId = try #require(ids.max(), "\(devices.text)")
        return ChannelCamera(agentId: agentId, agentKey: agentKey, cameraName: cameraName, deviceId: deviceId)
    }
}

@Suite("The device channel on a live server", .serialized)
struct DeviceChannelServerTests {
    static func start() async throws -> (LiveServer, VSaaSLiveClient, String) {
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"],
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        #expect(started.healthy, "\(started.server.stderr)")
        return (started.server, VSaaSLiveClient(port: started.server.port), try #require(started.server.adminToken))
    }

    static let upgradeHeaders = ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]

    static func integer(_ value: Any?) -> Int64? { (value as? NSNumber)?.int64Value }

    static func stop(_ server: LiveServer) {
        if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) }
    }

    /// Bad, unknown and deactivated credentials are refused with 401 before any upgrade; the
    /// right ones open the channel (welcome first); presence shows the device online on this node.
    @Test func upgradeIsAuthenticatedAndPresenceShows() async throws {
        let (server, client, admin) = try await Self.start()
        defer { Self.stop(server) }
        let (camera, session) = try await ChannelCamera.activate(client, adminToken: admin, email: "ws1@example.com", serial: "WS-1")
        let path = "/api/v1.0/device/channel"
        for headers in [[], ["Authorization: Agent \(camera.agentId):wrong-key"], ["Authorization: Agent \(camera.agentId + 100):\(camera.agentKey)"],
                        ["Authorization: Bearer \(admin)"], ["X-Exosite-CIK: 0123456789abcdef0123456789abcdef01234567"], ["Authorization: Agent nonsense"]] {
            let answer = try await client.call("GET", path, headers: Self.upgradeHeaders + headers)
            #expect(answer.status == 401, "\(headers): \(answer.status) \(answer.text)")
            #expect(answer.errorCode == "unauthenticated", "\(answer.text)")
        }
        // Without an upgrade, the right credential is told to upgrade.
        #expect(try await client.call("GET", path, headers: ["Authorization: Agent \(camera.agentId):\(camera.agentKey)"]).status == 400)

        let offline = try await server.request("GET", "/v1/devices/\(camera.deviceId)/presence", token: admin)
        #expect(offline.status == 200 && offline.json["online"] as? Bool == false, "\(offline.text)")

        let device = camera.connect(port: server.port)
        let welcome = try #require(await device.frame { $0["type"] as? String == "welcome" })
        #expect(Self.integer(welcome["device_id"]) == camera.deviceId && Self.integer(welcome["ping_interval"]) == 20)
        let node = try #require(welcome["node"] as? String)
        #expect(device.frames.first?["type"] as? String == "welcome" && device.frames.count == 1, "nothing set yet, nothing queued: \(device.frames)")

        let presence = try await server.request("GET", "/v1/devices/\(camera.deviceId)/presence", token: admin)
        #expect(presence.json["online"] as? Bool == true && presence.json["node"] as? String == node && Self.integer(presence.json["connected_at"]) != nil,
                "\(presence.text)")
        #expect(presence.json["agent_version"] as? String == "test-agent-1")
        let online = try await server.request("GET", "/v1/devices/online", token: admin)
        #expect(((online.json["items"] as? [[String: Any]]) ?? []).compactMap { Self.integer($0["device_id"]) } == [camera.deviceId], "\(online.text)")

        // A frame that is not JSON, or of an unknown type, gets an error frame; the connection stays.
        device.send("not json")
        device.send(#"{"type":"hello"}"#)
        #expect(await device.frame { $0["type"] as? String == "error" && ($0["message"] as? String)?.contains("hello") == true } != nil)
        #expect(device.frames.filter { $0["type"] as? String == "error" }.count == 2)

        device.disconnect()
        #expect(await device.isClosed(within: .seconds(5)))
        var gone = false
        for _ in 0..<50 where !gone {
            gone = try await server.request("GET", "/v1/devices/\(camera.deviceId)/presence", token: admin).json["online"] as? Bool == false
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone, "a closed connection is offline")

        // Deleting the camera closes its connection with 4401 and the key no longer opens the channel.
        let again = camera.connect(port: server.port)
        #expect(await again.frame { $0["type"] as? String == "welcome" } != nil)
        let deleted = try await client.call("DELETE", "/vsaas/api/v2/cameras/\(camera.cameraName)", headers: ["x-vsaas-session: \(session)"])
        #expect(deleted.status == 204 || deleted.status == 200, "\(deleted.text)")
        #expect(await again.closeCode(timeout: .seconds(10)) == 4401)
        #expect(try await client.call("GET", path, headers: Self.upgradeHeaders + ["Authorization: Agent \(camera.agentId):\(camera.agentKey)"]).status == 401)
    }

    /// Settings set while the camera is online reach it at once; its report makes them in sync.
    /// Set while it is offline, they (and queued commands) arrive when it connects. Bad values
    /// and stale versions are refused.
    @Test func settingsRoundTripOnlineAndOffline() async throws {
        let (server, client, admin) = try await Self.start()
        defer { Self.stop(server) }
        let (camera, _) = try await ChannelCamera.activate(client, adminToken: admin, email: "ws2@example.com", serial: "WS-2")
        let settingsPath = "/v1/devices/\(camera.deviceId)/settings"
        let initial = try await server.request("GET", settingsPath, token: admin)
        #expect(initial.status == 200 && Self.integer(initial.json["version"]) == 0 && initial.json["in_sync"] as? Bool == false, "\(initial.text)")

        let device = camera.connect(port: server.port)
        #expect(await device.frame { $0["type"] as? String == "welcome" } != nil)
        let desired = #"{"video":{"resolution":"1920x1080","bitrate_kbps":4096,"frame_rate":25,"codec":"h264"},"system":{"time_zone":"Europe/Berlin","name":"Front door"}}"#
        let set = try await server.request("PUT", settingsPath, token: admin, json: #"{"version":0,"desired":\#(desired)}"#)
        #expect(set.status == 200 && Self.integer(set.json["version"]) == 1 && set.json["in_sync"] as? Bool == false, "\(set.text)")
        let pushed = try #require(await device.frame { $0["type"] as? String == "settings" })
        #expect(Self.integer(pushed["version"]) == 1)
        let pushedVideo = (pushed["desired"] as? [String: Any])?["video"] as? [String: Any]
        #expect(Self.integer(pushedVideo?["frame_rate"]) == 25 && pushedVideo?["codec"] as? String == "h264")

        device.send(#"{"type":"reported","version":1,"reported":\#(desired),"error":null}"#)
        var synced: [String: Any] = [:]
        for _ in 0..<50 {
            synced = try await server.request("GET", settingsPath, token: admin).json
            if synced["in_sync"] as? Bool == true { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(synced["in_sync"] as? Bool == true && Self.integer(synced["reported_version"]) == 1, "\(synced)")
        #expect(((synced["reported"] as? [String: Any])?["system"] as? [String: Any])?["name"] as? String == "Front door")

        // A stale version is a conflict; bad values name the field; nothing changes.
        let stale = try await server.request("PUT", settingsPath, token: admin, json: #"{"version":0,"desired":{}}"#)
        #expect(stale.status == 409, "\(stale.text)")
        for (body, field) in [(#"{"version":1,"desired":{"video":{"frame_rate":500}}}"#, "desired.video.frame_rate"),
                              (#"{"version":1,"desired":{"video":{"resolution":"1x1"}}}"#, "desired.video.resolution"),
                              (#"{"version":1,"desired":{"video":{"codec":7}}}"#, "desired.video.codec"),
                              (#"{"version":1,"desired":{"audio":{"enabled":"yes"}}}"#, "desired.audio.enabled"),
                              (#"{"version":1,"desired":{"lights":{"on":true}}}"#, "desired.lights"),
                              (#"{"version":1,"desired":{"video":{"sharpness":3}}}"#, "desired.video.sharpness"),
                              (#"{"desired":{}}"#, "version"), (#"{"version":1}"#, "desired")] {
            let refused = try await server.request("PUT", settingsPath, token: admin, json: body)
            #expect(refused.status == 422 || refused.status == 400, "\(body): \(refused.status) \(refused.text)")
            #expect(refused.text.contains(field), "\(body): \(refused.text)")
        }
        #expect(try await server.request("PUT", settingsPath, token: admin, json: "not json").status == 400)
        #expect(Self.integer(try await server.request("GET", settingsPath, token: admin).json["version"]) == 1)
        let schema = try await server.request("GET", settingsPath + "/schema", token: admin)
        #expect(((schema.json["video"] as? [String: Any])?["frame_rate"] as? [String: Any])?["type"] as? String == "integer", "\(schema.text)")

        // Offline: the change and a command wait for the camera and arrive after welcome.
        device.disconnect()
        #expect(await device.isClosed(within: .seconds(5)))
        let offlineSet = try await server.request("PUT", settingsPath, token: admin, json: #"{"version":1,"desired":{"audio":{"enabled":false}}}"#)
        #expect(Self.integer(offlineSet.json["version"]) == 2, "\(offlineSet.text)")
        let queued = try await server.request("POST", "/v1/devices/\(camera.deviceId)/commands", token: admin, json: #"{"name":"ptz.preset.goto","params":{"preset":3}}"#)
        #expect(queued.status == 202 && queued.json["state"] as? String == "queued", "\(queued.text)")
        let back = camera.connect(port: server.port)
        let missed = try #require(await back.frame { $0["type"] as? String == "command" })
        let types = back.frames.compactMap { $0["type"] as? String }
        #expect(types == ["welcome", "settings", "command"], "\(types)")
        #expect(Self.integer(back.frames[1]["version"]) == 2)
        #expect(missed["name"] as? String == "ptz.preset.goto" && Self.integer((missed["params"] as? [String: Any])?["preset"]) == 3)
        #expect(missed["id"] as? String == queued.json["id"] as? String && Self.integer(missed["expires_at"]) != nil)
        back.disconnect()
    }

    /// A command with `wait` answers with the camera's result; one the camera ignores times
    /// out; the log lists both, newest first; a second connection replaces the first (4409).
    @Test func commandsResultsTimeoutsAndReplacement() async throws {
        let (server, client, admin) = try await Self.start()
        defer { Self.stop(server) }
        let (camera, _) = try await ChannelCamera.activate(client, adminToken: admin, email: "ws3@example.com", serial: "WS-3")
        let commands = "/v1/devices/\(camera.deviceId)/commands"
        let device = camera.connect(port: server.port)
        #expect(await device.frame { $0["type"] as? String == "welcome" } != nil)

        // The camera answers the snapshot command while the call waits.
        let answering = Task {
            guard let command = await device.frame(where: { $0["type"] as? String == "command" && $0["name"] as? String == "snapshot" }),
                  let id = command["id"] as? String else { return false }
            device.send(#"{"type":"result","id":"\#(id)","status":"ok","result":{"image_id":12},"error":null}"#)
            return true
        }
        let snapshot = try await server.request("POST", commands, token: admin, json: #"{"name":"snapshot","wait":true}"#)
        #expect(await answering.value)
        #expect(snapshot.status == 200 && snapshot.json["state"] as? String == "succeeded", "\(snapshot.text)")
        #expect(Self.integer((snapshot.json["result"] as? [String: Any])?["image_id"]) == 12)

        // A failure is recorded with its error.
        let failing = Task {
            guard let command = await device.frame(where: { $0["type"] as? String == "command" && $0["name"] as? String == "ptz.preset.goto" }),
                  let id = command["id"] as? String else { return false }
            device.send(#"{"type":"result","id":"\#(id)","status":"error","result":null,"error":"preset 9 is not set"}"#)
            return true
        }
        let goto = try await server.request("POST", commands, token: admin, json: #"{"name":"ptz.preset.goto","params":{"preset":9},"wait":true}"#)
        #expect(await failing.value)
        #expect(goto.json["state"] as? String == "failed" && goto.json["error"] as? String == "preset 9 is not set", "\(goto.text)")

        // Unanswered: timed out after its timeout.
        let started = ContinuousClock.now
        let ignored = try await server.request("POST", commands, token: admin, json: #"{"name":"reboot","timeout":2,"wait":true}"#)
        #expect(ignored.status == 200 && ignored.json["state"] as? String == "timed_out", "\(ignored.text)")
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(await device.frame { $0["type"] as? String == "command" && $0["name"] as? String == "reboot" } != nil)

        // Bad commands are refused.
        for body in [#"{"name":"selfdestruct"}"#, #"{"name":"ptz.move","params":{"pan":2,"tilt":0,"zoom":0}}"#, #"{"name":"ptz.move","params":{"pan":0}}"#,
                     #"{"name":"reboot","params":{"now":true}}"#, #"{"name":"reboot","timeout":301}"#, #"{"name":"ptz.preset.set","params":{"preset":1}}"#] {
            let refused = try await server.request("POST", commands, token: admin, json: body)
            #expect(refused.status == 422 || refused.status == 400, "\(body): \(refused.text)")
        }

        let log = try await server.request("GET", commands, token: admin)
        let states = ((log.json["items"] as? [[String: Any]]) ?? []).compactMap { $0["state"] as? String }
        #expect(states == ["timed_out", "failed", "succeeded"], "\(log.text)")
        let one = try await server.request("GET", commands + "/" + (snapshot.json["id"] as? String ?? ""), token: admin)
        #expect(one.json["state"] as? String == "succeeded" && one.json["name"] as? String == "snapshot")
        #expect(try await server.request("GET", commands + "/no-such-command", token: admin).status == 404)
        let audit = try await server.request("GET", "/v1/audit?limit=200", token: admin)
        #expect(audit.text.contains("device.command.send"), "\(audit.text.prefix(500))")

        // A second connection of the same camera replaces the first.
        let second = camera.connect(port: server.port)
        #expect(await device.closeCode() == 4409)
        #expect(await second.frame { $0["type"] as? String == "welcome" } != nil)
        second.disconnect()
    }

    /// On a graceful stop every connection is closed with 1001 ("reconnect").
    @Test func gracefulStopClosesWithGoingAway() async throws {
        let (server, client, admin) = try await Self.start()
        defer { Self.stop(server) }
        let (camera, _) = try await ChannelCamera.activate(client, adminToken: admin, email: "ws4@example.com", serial: "WS-4")
        let device = camera.connect(port: server.port)
        #expect(await device.frame { $0["type"] as? String == "welcome" } != nil)
        kill(server.process.processIdentifier, SIGINT)
        let code = await device.closeCode(timeout: .seconds(15))
        #expect(code == 1001, "\(String(describing: code)) \(server.stderr.suffix(2000))")
        let deadline = ContinuousClock.now + .seconds(15)
        while server.process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!server.process.isRunning, "the server stops after closing its channels")
    }
}
