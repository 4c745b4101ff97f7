import Foundation
import GatehouseTestSupport
import Testing

/// `PATCH /v1/tenants/{id}/device-settings` on a live server: one change reaches every
/// online device of the subtree at once and the offline ones when they connect; bad changes
/// are refused whole.
@Suite("Fleet settings changes on a live server", .serialized)
struct FleetSettingsLiveTests {
    @Test func aFleetChangeReachesOnlineDevicesAtOnceAndOfflineOnesOnConnect() async throws {
        let (server, client, admin) = try await DeviceChannelServerTests.start()
        defer { DeviceChannelServerTests.stop(server) }
        let setup = try await client.operatorSetup(adminToken: admin, email: "fleet@example.com")
        var cameras: [ChannelCamera] = []
        for index in 0..<3 {
            cameras.append(try await ChannelCamera.activate(client, adminToken: admin, session: setup.session, organization: setup.organization,
                                                           preset: setup.preset, operatorId: setup.operatorId, serial: "FLEET-\(index)"))
        }
        let (stranger, _) = try await ChannelCamera.activate(client, adminToken: admin, email: "fleet-other@example.com", serial: "FLEET-X")
        let online = cameras.prefix(2).map { $0.connect(port: server.port) }
        for device in online { #expect(await device.frame { $0["type"] as? String == "welcome" } != nil) }

        let path = "/v1/tenants/\(setup.operatorId)/device-settings"
        let changed = try await server.request("PATCH", path, token: admin, json: #"{"patch":{"video":{"frame_rate":12,"codec":"h265"}}}"#)
        #expect(changed.status == 200, "\(changed.text)")
        #expect(DeviceChannelServerTests.integer(changed.json["matched"]) == 3 && DeviceChannelServerTests.integer(changed.json["changed"]) == 3, "\(changed.text)")
        let items = (changed.json["items"] as? [[String: Any]]) ?? []
        #expect(Set(items.compactMap { DeviceChannelServerTests.integer($0["device_id"]) }) == Set(cameras.map(\.deviceId)))
        #expect(items.allSatisfy { DeviceChannelServerTests.integer($0["desired_version"]) == 1 })
        for device in online {
            let pushed = try #require(await device.frame { $0["type"] as? String == "settings" })
            let video = (pushed["desired"] as? [String: Any])?["video"] as? [String: Any]
            #expect(DeviceChannelServerTests.integer(pushed["version"]) == 1 && DeviceChannelServerTests.integer(video?["frame_rate"]) == 12)
            #expect(video?["codec"] as? String == "h265")
        }
        // The offline camera gets it when it connects.
        let late = cameras[2].connect(port: server.port)
        let delivered = try #require(await late.frame { $0["type"] as? String == "settings" })
        #expect(DeviceChannelServerTests.integer(delivered["version"]) == 1)
        // Another operator's camera is untouched.
        let untouched = try await server.request("GET", "/v1/devices/\(stranger.deviceId)/settings", token: admin)
        #expect(DeviceChannelServerTests.integer(untouched.json["version"]) == 0, "\(untouched.text)")

        // A second change merges (frame rate kept) and only the named devices move.
        let narrowed = try await server.request("PATCH", path, token: admin, json: #"{"patch":{"video":{"codec":null},"audio":{"enabled":true}},"device_ids":[\#(cameras[0].deviceId)]}"#)
        #expect(DeviceChannelServerTests.integer(narrowed.json["changed"]) == 1, "\(narrowed.text)")
        let merged = try #require(await online[0].frame { $0["type"] as? String == "settings" && DeviceChannelServerTests.integer($0["version"]) == 2 })
        let desired = merged["desired"] as? [String: Any]
        #expect(DeviceChannelServerTests.integer((desired?["video"] as? [String: Any])?["frame_rate"]) == 12)
        #expect((desired?["video"] as? [String: Any])?["codec"] == nil && (desired?["audio"] as? [String: Any])?["enabled"] as? Bool == true)

        // Refused whole: a bad value (the device and field named), unknown fields, no patch,
        // a device of another subtree, an unknown tenant, bad ids, a body that is not JSON.
        for (body, status, text) in [(#"{"patch":{"video":{"frame_rate":500}}}"#, 422, "desired.video.frame_rate"),
                                     (#"{"patch":{"lights":{"on":true}}}"#, 422, "desired.lights"),
                                     (#"{"patch":{"video":{"frame_rate":5}},"extra":1}"#, 422, "extra"),
                                     (#"{"device_ids":[1]}"#, 422, "patch"),
                                     (#"{"patch":{}}"#, 422, "patch"),
                                     (#"{"patch":{"audio":{"enabled":false}},"device_ids":[\#(cameras[1].deviceId),\#(stranger.deviceId)]}"#, 404, "not found"),
                                     (#"{"patch":{"audio":{"enabled":false}},"device_ids":["x"]}"#, 422, "device_ids"),
                                     (#"{"patch":{"audio":{"enabled":false}},"device_ids":[]}"#, 422, "device_ids"),
                                     ("not json", 400, "JSON")] {
            let refused = try await server.request("PATCH", path, token: admin, json: body)
            #expect(refused.status == status && refused.text.contains(text), "\(body): \(refused.status) \(refused.text)")
        }
        #expect(try await server.request("PATCH", "/v1/tenants/999999/device-settings", token: admin, json: #"{"patch":{"audio":{"enabled":true}}}"#).status == 404)
        for camera in cameras.dropFirst() {
            let settings = try await server.request("GET", "/v1/devices/\(camera.deviceId)/settings", token: admin)
            #expect(DeviceChannelServerTests.integer(settings.json["version"]) == 1, "nothing half-written: \(settings.text)")
        }
        for device in online + [late] { device.disconnect() }
    }
}
