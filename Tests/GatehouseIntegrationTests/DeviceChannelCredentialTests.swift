import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// The device channel opened by the other two credentials: a serially provisioned device's
/// CIK (with its vendor's settings schema), and an onboarded endpoint's client certificate on
/// the REST gateway listener.
@Suite("The device channel with a CIK and an endpoint certificate", .serialized)
struct DeviceChannelCredentialTests {
    static func integer(_ value: Any?) -> Int64? { (value as? NSNumber)?.int64Value }

    @Test func aSerialDeviceWithItsCIKAndItsModelsSchema() async throws {
        let (server, client) = try await ProvisioningSeedTests.start()
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let admin = try #require(server.adminToken)
        let (token, _) = try await ProvisioningSeedTests.vendorSetup(client, adminToken: admin)
        let vendor = ["X-Exosite-Token: \(token)", ProvisioningSeedTests.form]
        #expect(try await client.call("POST", "/provision/manage/model/", headers: vendor, body: "model=cam1").status == 205)
        #expect(try await client.call("POST", "/provision/manage/model/cam1/", headers: vendor, body: "sn=SN-1").status == 205)
        #expect(try await client.call("POST", "/provision/manage/model/cam1/SN-1", headers: vendor, body: "enable=true&owner=home-1").status == 200)
        let cik = try await ProvisioningSeedTests.activate(server.port, "SN-1").text
        #expect(ProvisioningSeedTests.isCIK(cik), "\(cik)")
        let devices = try await server.request("GET", "/v1/devices?limit=500", token: admin)
        let deviceId = try #require(((devices.json["items"] as? [[String: Any]]) ?? []).first { $0["kind"] as? String == "serial" }.flatMap { Self.integer($0["id"]) })

        // The vendor gives model cam1 its own schema: a thermal camera with a palette.
        let json = ["X-Exosite-Token: \(token)", "Content-Type: application/json"]
        let schemaPath = "/provision/manage/settings-schema/cam1"
        #expect(try await client.call("GET", schemaPath, headers: json).status == 404)
        let bad = try await client.call("PUT", schemaPath, headers: json, body: #"{"thermal":{"palette":{"type":"colour"}}}"#)
        #expect(bad.status == 400 && bad.text.contains("schema.thermal.palette"), "\(bad.status) \(bad.text)")
        #expect(try await client.call("PUT", schemaPath, headers: ["Content-Type: application/json"], body: "{}").status == 401)
        let put = try await client.call("PUT", schemaPath, headers: json,
                                        body: #"{"thermal":{"palette":{"type":"string","enum":["iron","rainbow"]},"gain":{"type":"integer","min":1,"max":8}}}"#)
        #expect(put.status == 200, "\(put.text)")
        #expect(try await client.call("GET", schemaPath, headers: json).json["thermal"] != nil)

        let settingsPath = "/v1/devices/\(deviceId)/settings"
        let builtIn = try await server.request("PUT", settingsPath, token: admin, json: #"{"version":0,"desired":{"video":{"frame_rate":25}}}"#)
        #expect(builtIn.status == 422 && builtIn.text.contains("desired.video"), "the model's schema replaces the built-in one: \(builtIn.text)")
        let outOfRange = try await server.request("PUT", settingsPath, token: admin, json: #"{"version":0,"desired":{"thermal":{"gain":9}}}"#)
        #expect(outOfRange.status == 422 && outOfRange.text.contains("desired.thermal.gain"), "\(outOfRange.text)")

        // The device opens the channel with its CIK and gets what was set.
        let set = try await server.request("PUT", settingsPath, token: admin, json: #"{"version":0,"desired":{"thermal":{"palette":"iron","gain":4}}}"#)
        #expect(set.status == 200, "\(set.text)")
        let device = ChannelTestClient(url: "ws://127.0.0.1:\(server.port)/api/v1.0/device/channel", headers: ["X-Exosite-CIK": cik])
        #expect(Self.integer(try #require(await device.frame { $0["type"] as? String == "welcome" })["device_id"]) == deviceId)
        let settings = try #require(await device.frame { $0["type"] as? String == "settings" })
        #expect(((settings["desired"] as? [String: Any])?["thermal"] as? [String: Any])?["palette"] as? String == "iron")

        // Disabling the serial ends its CIK: the open channel is closed with 4401.
        let disabled = try await client.call("POST", "/provision/manage/model/cam1/SN-1", headers: vendor, body: "disable=true")
        #expect(disabled.status < 300, "\(disabled.status) \(disabled.text)")
        #expect(await device.closeCode() == 4401)
        let refused = try await client.call("GET", "/api/v1.0/device/channel", headers: DeviceChannelServerTests.upgradeHeaders + ["X-Exosite-CIK: \(cik)"])
        #expect(refused.status == 401)
    }

    @Test func anEndpointWithItsCertificateOnTheGatewayListener() async throws {
        let world = try await RestGatewayTests.start()
        defer { if world.server.process.isRunning { kill(world.server.process.processIdentifier, SIGKILL) } }
        let admin = try #require(world.server.adminToken)
        let (_, credentials) = try await RestGatewayTests.onboard(world, "urn:channel:1", type: "PEM", file: "channel-1")
        let devices = try await world.server.request("GET", "/v1/devices?limit=500", token: admin)
        let deviceId = try #require(((devices.json["items"] as? [[String: Any]]) ?? []).first { $0["kind"] as? String == "endpoint" }.flatMap { Self.integer($0["id"]) })

        // Without an upgrade the route says so; with one, the certificate opens the channel
        // (curl sees 101 and holds the connection until its time limit).
        let plain = try await RestGatewayTests.gateway(world, credentials, "GET", "/api/v1.0/gateway/rest/channel")
        #expect(plain.status == 400, "\(plain.status) \(plain.text)")
        let upgrade = Task {
            var arguments = ["-sS", "-o", "/dev/null", "--max-time", "3", "--cacert", world.directory + "/ca.pem", "-w", "%{http_code}"]
            arguments += credentials.arguments
            for header in DeviceChannelServerTests.upgradeHeaders { arguments += ["-H", header] }
            arguments.append("https://127.0.0.1:\(world.gatewayPort)/api/v1.0/gateway/rest/channel")
            return try await LiveServer.shellAsync("curl", arguments).output
        }
        var online = false
        for _ in 0..<30 where !online {
            try await Task.sleep(for: .milliseconds(100))
            online = try await world.server.request("GET", "/v1/devices/\(deviceId)/presence", token: admin).json["online"] as? Bool == true
        }
        #expect(online, "the endpoint is online while its channel is open")
        let output = try await upgrade.value
        #expect(output.contains("101"), "\(output)")
    }
}
