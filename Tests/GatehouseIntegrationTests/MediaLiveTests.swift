import AsyncHTTPClient
import Foundation
import GatehouseAgent
import GatehouseCore
import GatehouseTestSupport
import NIOCore
import Testing

/// Images, clips and live-video URLs (issue 9 points 4 and 5) against a real `gatehouse serve`:
/// an agent activated into a license-key account, its camera attached as a channel, uploads
/// with the agent's key (curl and ``MediaUploader``), reads with the channel's tokens.
@Suite("Images, clips and live URLs of channels", .serialized)
struct MediaLiveTests {
    struct Camera {
        let client: TieredLiveClient
        let accountId: Int64
        let licenseKey: String
        let channelId: Int64
        let all: String
        let watch: String
        let agentId: Int64
        let agentKey: String
        let operatorId: Int64
        var agentAuth: String { "Authorization: Agent \(agentId):\(agentKey)" }
    }

    /// A server with small media limits and a 1-second maintenance interval; an operator whose
    /// organization is a license-key account; an agent activated into it; its camera attached
    /// as a channel with the license key.
    static func camera() async throws -> Camera {
        let client = try await TieredLiveClient(environment: ["GATEHOUSE_MEDIA_IMAGE_MAX_BYTES": "20000", "GATEHOUSE_MEDIA_CLIP_MAX_BYTES": "4000000",
                                                              "GATEHOUSE_MAINTENANCE_INTERVAL": "1"])
        let vsaas = VSaaSLiveClient(port: client.port)
        let admin = "Authorization: Bearer \(try #require(client.server.adminToken))"
        let node = try await vsaas.call("POST", "/v1/tenants", headers: [admin, "Content-Type: application/json"],
                                        body: #"{"kind":"distributor","parent_id":1,"name":"Media operator","key":"media-op"}"#)
        let operatorId = try #require((node.json["id"] as? NSNumber)?.int64Value, "\(node.text)")
        let user = try await vsaas.call("POST", "/v1/users", headers: [admin, "Content-Type: application/json"],
                                        body: #"{"tenant_id":\#(operatorId),"email":"media-op@example.com","name":"Op","password":"operator password","permissions":["manage_tenants"]}"#)
        #expect(user.status == 201, "\(user.text)")
        let login = try await vsaas.call("POST", "/vsaas/api/v2/auth/login", headers: ["Content-Type: application/json"],
                                         body: #"{"login":"media-op@example.com","password":"operator password"}"#)
        let session = "x-vsaas-session: \(try #require(login.json["session"] as? String, "\(login.text)"))"
        // The license-key account is a node under the operator, so it is also one of the operator's organizations.
        let created = try await client.call(.admin, "POST", "/api/v2/admin/users/", json: #"{"suid":"media@example.com","parent":"media-op","limits":{}}"#,
                                            certificate: client.superAdmin)
        #expect(created.status == 201, "\(created.text)")
        let accountId = try #require(created.id)
        let licenseKey = try #require((created.json["license_key"] as? [String: Any])?["value"] as? String)
        let preset = try await vsaas.call("POST", "/vsaas/api/v2/presets", headers: [session, "Content-Type: application/json"],
                                          body: #"{"organization_id":"\#(accountId)","title":"default","settings":{}}"#)
        #expect(preset.status == 201, "\(preset.text)")
        let presetId = try #require((preset.json["id"] as? NSNumber)?.int64Value)
        let issued = try await vsaas.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: [session, "Content-Type: application/json"],
                                          body: #"{"title":"Front door","organization_id":"\#(accountId)","preset_id":"\#(presetId)"}"#)
        let token = try #require(issued.json["token"] as? String, "\(issued.text)")
        let activated = try await vsaas.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/json"],
                                             body: #"{"operator_id":\#(operatorId),"token":"\#(token)","serial":"MEDIA-CAM-1"}"#)
        let agentId = try #require((activated.json["agent_id"] as? NSNumber)?.int64Value, "\(activated.text)")
        let agentKey = try #require(activated.json["agent_key"] as? String)

        // The account sees the camera among its devices and attaches it as a channel.
        let devices = try await client.call(.main, "GET", "/api/v3/devices/", authorization: "LKey \(licenseKey)")
        #expect(devices.status == 200, "\(devices.text)")
        let camera = try #require(devices.objects.first { $0["serial"] as? String == "MEDIA-CAM-1" }, "\(devices.text)")
        #expect(camera["channel_id"] is NSNull && camera["kind"] as? String == "camera")
        let deviceId = try #require((camera["id"] as? NSNumber)?.int64Value)
        let attached = try await client.call(.main, "POST", "/api/v3/devices/\(deviceId)/channel/", authorization: "LKey \(licenseKey)",
                                             json: #"{"timezone":"Europe/Berlin"}"#)
        #expect(attached.status == 201, "\(attached.text)")
        let tokens = attached.json["access_tokens"] as? [String: String] ?? [:]
        #expect(try await client.call(.main, "POST", "/api/v3/devices/\(deviceId)/channel/", authorization: "LKey \(licenseKey)").status == 409)
        return Camera(client: client, accountId: accountId, licenseKey: licenseKey, channelId: deviceId, all: try #require(tokens["all"]),
                      watch: try #require(tokens["watch"]), agentId: agentId, agentKey: agentKey, operatorId: operatorId)
    }

    /// `curl` with raw headers and a body from a file; answers the status and the body.
    static func curl(_ port: Int, _ method: String, _ path: String, headers: [String], file: String? = nil, output: String? = nil) async throws -> (status: Int, text: String) {
        var arguments = ["-s", "--max-time", "20", "-X", method, "-w", "\n%{http_code}"]
        for header in headers { arguments += ["-H", header] }
        if let file { arguments += ["--data-binary", "@\(file)"] }
        if let output { arguments += ["-o", output] }
        arguments.append("http://127.0.0.1:\(port)\(path)")
        let result = try await LiveServer.shellAsync("curl", arguments)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (result.status == 0 ? Int(lines.last ?? "") ?? 0 : 0, lines.dropLast().joined(separator: "\n"))
    }

    static func file(_ bytes: Int, salt: Int) throws -> String {
        let path = try TestDatabases.temporaryDirectory() + "/media-\(bytes)-\(salt).bin"
        try Data((0..<bytes).map { UInt8(truncatingIfNeeded: ($0 &+ salt) &* 2_654_435_761 >> 11) }).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func json(_ text: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }

    static func storageUsed(_ camera: Camera) async throws -> Int64? {
        let account = try await camera.client.call(.admin, "GET", "/api/v2/admin/users/\(camera.accountId)/", certificate: camera.client.superAdmin)
        return ((account.json["usage"] as? [String: Any])?["storage_bytes"] as? NSNumber)?.int64Value
    }

    @Test func uploadFetchAndTheTokensThatMayNot() async throws {
        let camera = try await Self.camera()
        let client = camera.client
        defer { _ = client.server.process.isRunning ? kill(client.server.process.processIdentifier, SIGKILL) : 0 }
        let port = client.port
        let now = Int64(Date().timeIntervalSince1970)
        let jpeg = try Self.file(12_345, salt: 1)

        // Upload with the agent's key: 201 with the stored item.
        let uploaded = try await Self.curl(port, "POST", "/api/v1.0/device/media/images?time=\(now - 10)", headers: [camera.agentAuth, "Content-Type: image/jpeg"], file: jpeg)
        #expect(uploaded.status == 201, "\(uploaded.text)")
        let item = Self.json(uploaded.text)
        let imageId = try #require((item["id"] as? NSNumber)?.int64Value)
        #expect(item["kind"] as? String == "image" && (item["size"] as? NSNumber)?.intValue == 12_345 && item["content_type"] as? String == "image/jpeg")
        #expect((item["time"] as? NSNumber)?.int64Value == now - 10)
        #expect(try await Self.storageUsed(camera) == 12_345)

        // Both tokens list and fetch it, bytes and type as uploaded; one Range gives 206.
        for token in [camera.watch, camera.all] {
            let list = try await client.call(.main, "GET", "/api/v4/storage/images/", authorization: "Acc \(token)")
            #expect(list.status == 200 && list.objects.map { ($0["id"] as? NSNumber)?.int64Value } == [imageId], "\(list.text)")
            #expect(((list.json["meta"] as? [String: Any])?["total_count"] as? NSNumber)?.intValue == 1)
            let out = try TestDatabases.temporaryDirectory() + "/fetched.jpg"
            let fetched = try await Self.curl(port, "GET", "/api/v4/storage/images/\(imageId)/download/", headers: ["Authorization: Acc \(token)"], output: out)
            #expect(fetched.status == 200)
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: jpeg)))
            let headers = try await LiveServer.shellAsync("curl", ["-s", "-D", "-", "-o", "/dev/null", "-H", "Authorization: Acc \(token)",
                                                                   "http://127.0.0.1:\(port)/api/v4/storage/images/\(imageId)/download/"])
            #expect(headers.output.lowercased().contains("content-type: image/jpeg"), "\(headers.output)")
        }
        let partOut = try TestDatabases.temporaryDirectory() + "/part.bin"
        let part = try await Self.curl(port, "GET", "/api/v4/storage/images/\(imageId)/download/", headers: ["Authorization: Acc \(camera.watch)", "Range: bytes=100-199"], output: partOut)
        #expect(part.status == 206)
        #expect(try Data(contentsOf: URL(fileURLWithPath: partOut)) == Data(contentsOf: URL(fileURLWithPath: jpeg))[100...199])
        let metadata = try await client.call(.main, "GET", "/api/v4/storage/images/\(imageId)/", authorization: "Acc \(camera.watch)")
        #expect(metadata.status == 200 && (metadata.json["size"] as? NSNumber)?.intValue == 12_345)

        // Time range and newest first.
        let later = try await Self.curl(port, "POST", "/api/v1.0/device/media/images?time=\(now)", headers: [camera.agentAuth, "Content-Type: image/png"],
                                        file: try Self.file(100, salt: 2))
        let laterId = try #require((Self.json(later.text)["id"] as? NSNumber)?.int64Value, "\(later.text)")
        let both = try await client.call(.main, "GET", "/api/v4/storage/images/", authorization: "Acc \(camera.watch)")
        #expect(both.objects.map { ($0["id"] as? NSNumber)?.int64Value } == [laterId, imageId])
        let early = try await client.call(.main, "GET", "/api/v4/storage/images/?end=\(now - 5)", authorization: "Acc \(camera.watch)")
        #expect(early.objects.map { ($0["id"] as? NSNumber)?.int64Value } == [imageId], "\(early.text)")
        #expect(try await client.call(.main, "GET", "/api/v4/storage/images/?start=yesterday", authorization: "Acc \(camera.watch)").status == 422)

        // A token of another channel, no token, an LKey: nothing, in the seed's error shape.
        let other = try await client.createChannel(camera.licenseKey, name: "yard")
        let foreign = try await client.call(.main, "GET", "/api/v4/storage/images/\(imageId)/", authorization: "Acc \(other.all)")
        #expect(foreign.status == 404 && foreign.isTieredError, "\(foreign.text)")
        #expect(try await Self.curl(port, "GET", "/api/v4/storage/images/\(imageId)/download/", headers: ["Authorization: Acc \(other.all)"]).status == 404)
        #expect(try await client.call(.main, "GET", "/api/v4/storage/images/", authorization: "Acc \(other.watch)").objects.isEmpty)
        #expect(try await client.call(.main, "DELETE", "/api/v4/storage/images/\(imageId)/", authorization: "Acc \(other.all)").status == 404)
        let anonymous = try await client.call(.main, "GET", "/api/v4/storage/images/")
        #expect(anonymous.status == 401 && anonymous.isTieredError)
        #expect(try await client.call(.main, "GET", "/api/v4/storage/images/", authorization: "LKey \(camera.licenseKey)").status == 403)

        // Device side: wrong credential, a device that is no channel, bad type, too big — nothing stored.
        #expect(try await Self.curl(port, "POST", "/api/v1.0/device/media/images", headers: ["Authorization: Agent \(camera.agentId):wrong", "Content-Type: image/jpeg"],
                                    file: jpeg).status == 401)
        #expect(try await Self.curl(port, "POST", "/api/v1.0/device/media/images", headers: ["Content-Type: image/jpeg"], file: jpeg).status == 401)
        let badType = try await Self.curl(port, "POST", "/api/v1.0/device/media/images", headers: [camera.agentAuth, "Content-Type: text/plain"], file: jpeg)
        #expect(badType.status == 415 && Self.json(badType.text)["errorType"] as? String == "unsupported_media_type", "\(badType.text)")
        let big = try Self.file(20_001, salt: 3)
        let tooBig = try await Self.curl(port, "POST", "/api/v1.0/device/media/images", headers: [camera.agentAuth, "Content-Type: image/jpeg"], file: big)
        #expect(tooBig.status == 413, "\(tooBig.text)")
        let chunked = try await Self.curl(port, "POST", "/api/v1.0/device/media/images", headers: [camera.agentAuth, "Content-Type: image/jpeg", "Transfer-Encoding: chunked"], file: big)
        #expect(chunked.status == 413, "\(chunked.text)")
        #expect(try await Self.curl(port, "POST", "/api/v1.0/device/media/clips", headers: [camera.agentAuth, "Content-Type: video/mp4"], file: jpeg).status == 422)
        #expect(try await client.call(.main, "GET", "/api/v4/storage/images/", authorization: "Acc \(camera.watch)").objects.count == 2)
        #expect(try await Self.storageUsed(camera) == 12_445)

        // A clip, listed apart from images.
        let clip = try await Self.curl(port, "POST", "/api/v1.0/device/media/clips?duration=8", headers: [camera.agentAuth, "Content-Type: video/mp4"],
                                       file: try Self.file(50_000, salt: 4))
        #expect(clip.status == 201, "\(clip.text)")
        let clips = try await client.call(.main, "GET", "/api/v4/storage/clips/", authorization: "Acc \(camera.watch)")
        #expect(clips.objects.count == 1 && (clips.objects.first?["duration"] as? NSNumber)?.intValue == 8)

        // Storage full: 507, nothing stored.
        let limited = try await client.call(.admin, "PUT", "/api/v2/admin/users/\(camera.accountId)/", json: #"{"limits":{"storage_bytes":70000}}"#,
                                            certificate: client.superAdmin)
        #expect(limited.status == 200, "\(limited.text)")
        let fits = try await Self.curl(port, "POST", "/api/v1.0/device/media/images", headers: [camera.agentAuth, "Content-Type: image/jpeg"], file: try Self.file(19_000, salt: 5))
        #expect(fits.status == 507 && Self.json(fits.text)["errorType"] as? String == "insufficient_storage", "\(fits.text)")
        #expect(try await Self.storageUsed(camera) == 62_445)

        // Delete: a watch token may not, the all token may; the bytes come back.
        let refused = try await client.call(.main, "DELETE", "/api/v4/storage/images/\(imageId)/", authorization: "Acc \(camera.watch)")
        #expect(refused.status == 403 && refused.isTieredError)
        #expect(try await client.call(.main, "DELETE", "/api/v4/storage/images/\(imageId)/", authorization: "Acc \(camera.all)").status == 204)
        #expect(try await client.call(.main, "GET", "/api/v4/storage/images/\(imageId)/", authorization: "Acc \(camera.all)").status == 404)
        #expect(try await Self.storageUsed(camera) == 50_100)
        _ = try await Self.curl(port, "POST", "/api/v1.0/device/media/images", headers: [camera.agentAuth, "Content-Type: image/jpeg"], file: try Self.file(19_000, salt: 6))
        #expect(try await Self.storageUsed(camera) == 69_100)
        try await client.stop()
    }

    /// A serially provisioned device of the account (seed 003) uploads with its CIK once the
    /// account attached it; before that it is refused with 409.
    @Test func serialDeviceUploadsWithItsCIK() async throws {
        let camera = try await Self.camera()
        let client = camera.client
        defer { _ = client.server.process.isRunning ? kill(client.server.process.processIdentifier, SIGKILL) : 0 }
        let vsaas = VSaaSLiveClient(port: client.port)
        let admin = ["Authorization: Bearer \(try #require(client.server.adminToken))", "Content-Type: application/json"]
        #expect(try await vsaas.call("POST", "/v1/tenants/\(camera.operatorId)/vendor", headers: admin, body: #"{"name":"mediavendor"}"#).status == 201)
        let token = try #require(try await vsaas.call("POST", "/v1/tenants/\(camera.operatorId)/vendor-tokens", headers: admin, body: #"{"name":"factory"}"#)
            .json["token"] as? String)
        let vendorHeaders = ["X-Exosite-Token: \(token)", ProvisioningSeedTests.form]
        #expect(try await vsaas.call("POST", "/provision/manage/model/", headers: vendorHeaders, body: "model=cam1").status == 205)
        #expect(try await vsaas.call("POST", "/provision/manage/model/cam1/", headers: vendorHeaders, body: "sn=SER-M1").status == 205)
        let enabled = try await vsaas.call("POST", "/provision/manage/model/cam1/SER-M1", headers: vendorHeaders, body: "enable=true&owner=\(camera.accountId)")
        #expect(enabled.status == 200, "\(enabled.text)")
        let body = "vendor=mediavendor&model=cam1&sn=SER-M1"
        let activated = try await vsaas.call("POST", "/provision/activate", headers: [ProvisioningSeedTests.form], body: body)
        #expect(activated.status == 200, "\(activated.text)")
        let cik = activated.text
        let file = try Self.file(2048, salt: 11)

        let early = try await Self.curl(client.port, "POST", "/api/v1.0/device/media/images", headers: ["X-Exosite-CIK: \(cik)", "Content-Type: image/jpeg"], file: file)
        #expect(early.status == 409 && Self.json(early.text)["errorType"] as? String == "conflict", "\(early.text)")
        let devices = try await client.call(.main, "GET", "/api/v3/devices/", authorization: "LKey \(camera.licenseKey)")
        let serial = try #require(devices.objects.first { $0["serial"] as? String == "SER-M1" }, "\(devices.text)")
        let deviceId = try #require((serial["id"] as? NSNumber)?.int64Value)
        let attached = try await client.call(.main, "POST", "/api/v3/devices/\(deviceId)/channel/", authorization: "LKey \(camera.licenseKey)")
        #expect(attached.status == 201, "\(attached.text)")
        let watch = try #require((attached.json["access_tokens"] as? [String: String])?["watch"])
        let uploaded = try await Self.curl(client.port, "POST", "/api/v1.0/device/media/images", headers: ["X-Exosite-CIK: \(cik)", "Content-Type: image/png"], file: file)
        #expect(uploaded.status == 201, "\(uploaded.text)")
        #expect(try await Self.curl(client.port, "POST", "/api/v1.0/device/media/images", headers: ["X-Exosite-CIK: 0000", "Content-Type: image/png"], file: file).status == 401)
        let listed = try await client.call(.main, "GET", "/api/v4/storage/images/", authorization: "Acc \(watch)")
        #expect(listed.objects.map { $0["content_type"] as? String } == ["image/png"])
        // The agent camera's channel does not see the serial device's image.
        #expect(try await client.call(.main, "GET", "/api/v4/storage/images/", authorization: "Acc \(camera.watch)").objects.isEmpty)
        // Deleting the attached channel keeps the serial device, which may be attached again.
        #expect(try await client.call(.main, "DELETE", "/api/v3/channels/\(deviceId)/", authorization: "LKey \(camera.licenseKey)").status == 204)
        #expect(try await Self.storageUsed(camera) == 0)
        #expect(try await Self.curl(client.port, "POST", "/api/v1.0/device/media/images", headers: ["X-Exosite-CIK: \(cik)", "Content-Type: image/png"], file: file).status == 409)
        #expect(try await client.call(.main, "POST", "/api/v3/devices/\(deviceId)/channel/", authorization: "LKey \(camera.licenseKey)").status == 201)
        try await client.stop()
    }

    /// An onboarded endpoint (seed 004) of a license-key account uploads on the REST gateway
    /// listener with its client certificate once the account attached its device.
    @Test func onboardedEndpointUploadsOnTheGateway() async throws {
        let data = try TestDatabases.temporaryDirectory()
        var gatewayPort = 0
        let started = try await LiveServer.startHealthy { port, adminPort in
            gatewayPort = LiveServer.freePort()
            return try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", String(adminPort), "--rest-gateway-port", String(gatewayPort),
                                              "--rest-gateway-url", "https://127.0.0.1:\(gatewayPort)"],
                                  environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        let server = started.server
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGKILL) : 0 }
        #expect(started.healthy, "\(server.stderr)")
        let world = RestGatewayTests.World(server: server, gatewayPort: gatewayPort, directory: try TestDatabases.temporaryDirectory())
        let admin = try #require(server.adminToken)
        let developer = try #require(try await server.request("POST", "/v1/tenants", token: admin, json: #"{"kind":"distributor","parent_id":1,"name":"Dev"}"#).json["id"] as? Int)
        let application = try await server.request("POST", "/v1/tenants/\(developer)/applications", token: admin, json: #"{"name":"Cams","generate_key_pair":true}"#)
        world.applicationId = try #require(application.json["application_id"] as? String)
        world.key = try RSAPrivateKey(pem: try #require(application.json["private_key"] as? String))
        let version = try await server.request("POST", "/v1/applications/\(world.applicationId)/versions", token: admin, json: #"{"name":"1.0","status":"certified"}"#)
        world.versionId = try #require(version.json["certification_version_id"] as? String)
        try await server.request("GET", "/pki/ca.pem").text.write(toFile: world.directory + "/ca.pem", atomically: true, encoding: .utf8)
        // The onboarding account is a license-key account.
        let superAdmin = ["--cacert", data + "/ca.pem", "--cert", data + "/superadmin-cert.pem", "--key", data + "/superadmin-key.pem"]
        let created = try await LiveServer.shellAsync("curl", ["-s", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                                                               #"{"suid":"endpoints@example.com"}"#] + superAdmin + ["https://127.0.0.1:\(started.adminPort)/api/v2/admin/users/"])
        let account = Self.json(created.output)
        world.account = try #require((account["id"] as? NSNumber)?.intValue, "\(created.output)")
        let licenseKey = try #require((account["license_key"] as? [String: Any])?["value"] as? String)
        let (_, credentials) = try await RestGatewayTests.onboard(world, "cam-endpoint-1", type: "PEM", file: "endpoint")

        let file = try Self.file(4096, salt: 13)
        func upload() async throws -> (exit: Int32, status: Int, text: String) {
            var arguments = ["-sS", "--max-time", "20", "--cacert", world.directory + "/ca.pem", "-X", "POST", "-w", "\n%{http_code}"] + credentials.arguments
            arguments += ["-H", "Content-Type: image/jpeg", "--data-binary", "@" + file, "https://127.0.0.1:\(gatewayPort)/api/v1.0/gateway/rest/media/images/\(credentials.id)"]
            let result = try await LiveServer.shellAsync("curl", arguments)
            var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let status = Int(lines.popLast() ?? "") ?? 0
            return (result.status, status, lines.joined(separator: "\n"))
        }
        let early = try await upload()
        #expect(early.status == 409 && RestGatewayTests.errorCode(Self.json(early.text)) == "0100", "\(early.text)")
        let devices = try await Self.curl(server.port, "GET", "/api/v3/devices/", headers: ["Authorization: LKey \(licenseKey)"])
        let objects = Self.json(devices.text)["objects"] as? [[String: Any]] ?? []
        #expect(objects.count == 1, "\(devices.text)")
        let deviceId = try #require((objects.first?["id"] as? NSNumber)?.int64Value)
        let attached = try await Self.curl(server.port, "POST", "/api/v3/devices/\(deviceId)/channel/", headers: ["Authorization: LKey \(licenseKey)"])
        #expect(attached.status == 201, "\(attached.text)")
        let watch = try #require((Self.json(attached.text)["access_tokens"] as? [String: String])?["watch"])
        let stored = try await upload()
        #expect(stored.status == 201 && (Self.json(stored.text)["size"] as? NSNumber)?.intValue == 4096, "\(stored.text)")
        let listed = try await Self.curl(server.port, "GET", "/api/v4/storage/images/", headers: ["Authorization: Acc \(watch)"])
        #expect((Self.json(listed.text)["objects"] as? [[String: Any]])?.count == 1, "\(listed.text)")
        // Without a client certificate there is no TLS session at all.
        var bare = ["-sS", "--max-time", "20", "--cacert", world.directory + "/ca.pem", "-X", "POST", "-H", "Content-Type: image/jpeg", "--data-binary", "@" + file]
        bare.append("https://127.0.0.1:\(gatewayPort)/api/v1.0/gateway/rest/media/images/\(credentials.id)")
        let refused = try await LiveServer.shellAsync("curl", bare)
        #expect(refused.status != 0 || !refused.output.contains("\"id\""))
        _ = try await server.stop()
    }

    /// Maintenance removes images past the channel's `records_max_age` and gives their bytes back.
    @Test func retentionPurgesOldImages() async throws {
        let camera = try await Self.camera()
        let client = camera.client
        defer { _ = client.server.process.isRunning ? kill(client.server.process.processIdentifier, SIGKILL) : 0 }
        let now = Int64(Date().timeIntervalSince1970)
        let file = try Self.file(1000, salt: 7)
        for time in [now - 7200, now - 60] {
            #expect(try await Self.curl(client.port, "POST", "/api/v1.0/device/media/images?time=\(time)", headers: [camera.agentAuth, "Content-Type: image/jpeg"],
                                        file: file).status == 201)
        }
        #expect(try await Self.storageUsed(camera) == 2000)
        let limits = try await client.call(.main, "PUT", "/api/v3/channels/\(camera.channelId)/limits/", authorization: "LKey \(camera.licenseKey)",
                                           json: #"{"records_max_age":1}"#)
        #expect(limits.status == 200, "\(limits.text)")
        var remaining: [Int64] = []
        for _ in 0..<100 {
            remaining = try await client.call(.main, "GET", "/api/v4/storage/images/", authorization: "Acc \(camera.watch)").objects.compactMap { ($0["time"] as? NSNumber)?.int64Value }
            if remaining.count == 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(remaining == [now - 60])
        #expect(try await Self.storageUsed(camera) == 1000)
        try await client.stop()
    }

    /// `/api/v4/live/watch/`: the source without its credentials, the account's templates filled
    /// in; a `watch` token never sees the camera's login or password, an `all` token sees the login.
    @Test func liveWatchURLs() async throws {
        let camera = try await Self.camera()
        let client = camera.client
        defer { _ = client.server.process.isRunning ? kill(client.server.process.processIdentifier, SIGKILL) : 0 }
        let lkey = "LKey \(camera.licenseKey)"
        let source = try await client.call(.main, "PUT", "/api/v3/channels/\(camera.channelId)/", authorization: lkey,
                                           json: #"{"source":{"url":"rtsp://admin:s3cr3t-pw@10.0.0.5:554/stream1","login":"admin","password":"s3cr3t-pw"}}"#)
        #expect(source.status == 200, "\(source.text)")
        let bad = try await client.call(.main, "PUT", "/api/v3/live/templates/", authorization: lkey, json: #"{"url_templates":{"rtsp":"rtsp://media.example.com/{nope}"}}"#)
        #expect(bad.status == 422 && bad.isTieredError, "\(bad.text)")
        let set = try await client.call(.main, "PUT", "/api/v3/live/templates/", authorization: lkey,
                                        json: #"{"url_templates":{"rtsp":"rtsp://media.example.com/live/{channel_id}?token={token}","hls":"https://media.example.com/hls/{account_id}/{channel_id}/index.m3u8?access={access}"}}"#)
        #expect(set.status == 200, "\(set.text)")
        #expect(try await client.call(.main, "PUT", "/api/v3/live/templates/", authorization: "Acc \(camera.all)", json: #"{"url_templates":{}}"#).status == 403)

        let watch = try await client.call(.main, "GET", "/api/v4/live/watch/", authorization: "Acc \(camera.watch)")
        #expect(watch.status == 200, "\(watch.text)")
        #expect(!watch.text.contains("s3cr3t-pw") && !watch.text.contains("admin"), "\(watch.text)")
        let sources = watch.json["sources"] as? [[String: Any]] ?? []
        #expect(sources.map { $0["url"] as? String } == ["rtsp://10.0.0.5:554/stream1"] && sources.first?["login"] == nil)
        let urls = watch.json["urls"] as? [String: String] ?? [:]
        let encoded = camera.watch.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
        #expect(urls["rtsp"] == "rtsp://media.example.com/live/\(camera.channelId)?token=\(encoded)")
        #expect(urls["hls"] == "https://media.example.com/hls/\(camera.accountId)/\(camera.channelId)/index.m3u8?access=watch")

        let all = try await client.call(.main, "GET", "/api/v4/live/watch/", authorization: "Acc \(camera.all)")
        #expect(all.status == 200 && !all.text.contains("s3cr3t-pw"), "\(all.text)")
        #expect((all.json["sources"] as? [[String: Any]])?.first?["login"] as? String == "admin")
        #expect((all.json["urls"] as? [String: String])?["hls"]?.hasSuffix("access=all") == true)
        #expect(try await client.call(.main, "GET", "/api/v4/live/watch/").status == 401)
        #expect(try await client.call(.main, "GET", "/api/v4/live/watch/", authorization: lkey).status == 403)
        try await client.stop()
    }

    /// The agent's ``MediaUploader`` streams a file and bytes with the agent key; the server's
    /// refusals come back as its error codes.
    @Test func mediaUploaderAgainstTheServer() async throws {
        let camera = try await Self.camera()
        let client = camera.client
        defer { _ = client.server.process.isRunning ? kill(client.server.process.processIdentifier, SIGKILL) : 0 }
        // A short connect timeout: the client retries refused connections until it passes.
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(1))))
        let uploader = MediaUploader(http: http, serverURL: "http://127.0.0.1:\(client.port)/", credential: .agent(id: camera.agentId, key: camera.agentKey))
        do {
            let path = try Self.file(150_000 / 10, salt: 9)
            let fromFile = try await uploader.upload(.image, file: path, contentType: "image/jpeg", time: 1_700_000_000)
            #expect(fromFile.size == 15_000 && fromFile.kind == .image && fromFile.time == 1_700_000_000)
            let out = try TestDatabases.temporaryDirectory() + "/uploaded.jpg"
            #expect(try await Self.curl(client.port, "GET", "/api/v4/storage/images/\(fromFile.id)/download/", headers: ["Authorization: Acc \(camera.watch)"], output: out).status == 200)
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: path)))
            let clip = try await uploader.upload(.clip, bytes: ByteBuffer(bytes: [UInt8](repeating: 7, count: 3000)), contentType: "video/mp4", duration: 3)
            #expect(clip.kind == .clip && clip.size == 3000)
            // A clip of many storage chunks, streamed from disk, comes back byte for byte.
            let long = try Self.file(3_000_001, salt: 10)
            let streamed = try await uploader.upload(.clip, file: long, contentType: "video/mp4", duration: 30)
            #expect(streamed.size == 3_000_001)
            let longOut = try TestDatabases.temporaryDirectory() + "/clip.mp4"
            #expect(try await Self.curl(client.port, "GET", "/api/v4/storage/clips/\(streamed.id)/download/", headers: ["Authorization: Acc \(camera.watch)"], output: longOut).status == 200)
            #expect(try Data(contentsOf: URL(fileURLWithPath: longOut)) == Data(contentsOf: URL(fileURLWithPath: long)))
            let tooBig = await TieredContractCode.of { try await uploader.upload(.image, bytes: ByteBuffer(bytes: [UInt8](repeating: 1, count: 20_001)), contentType: "image/jpeg") }
            #expect(tooBig == "payload_too_large")
            let wrongKey = MediaUploader(http: http, serverURL: "http://127.0.0.1:\(client.port)", credential: .agent(id: camera.agentId, key: "nope"))
            #expect(await TieredContractCode.of { try await wrongKey.upload(.image, bytes: ByteBuffer(bytes: [1, 2, 3]), contentType: "image/jpeg") } == "unauthenticated")
            let nowhere = MediaUploader(http: http, serverURL: "http://127.0.0.1:\(LiveServer.freePort())", credential: .agent(id: camera.agentId, key: camera.agentKey))
            #expect(await TieredContractCode.of { try await nowhere.upload(.image, bytes: ByteBuffer(bytes: [1, 2, 3]), contentType: "image/jpeg") } == "unavailable")
        } catch {
            try await http.shutdown()
            throw error
        }
        try await http.shutdown()
        try await client.stop()
    }
}

/// The stable code of a thrown ``GatehouseError`` (nil when nothing was thrown).
enum TieredContractCode {
    static func of(_ body: () async throws -> some Any) async -> String? {
        do { _ = try await body(); return nil } catch let error as GatehouseError { return error.code.rawValue } catch { return "\(error)" }
    }
}
