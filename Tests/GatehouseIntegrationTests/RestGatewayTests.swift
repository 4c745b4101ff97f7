import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// Points 5–7 of signed onboarding end to end over real mutual TLS: endpoints onboarded over
/// HTTP talk to the REST gateway with the certificates they were given (curl, PEM and PKCS#12),
/// the capabilities-first rule, messages routed to the account's receivers, re-onboarding,
/// a telemetry platform's virtual CUs, and revocation.
@Suite("Signed onboarding: the REST gateway over mutual TLS", .serialized)
struct RestGatewayTests {
    /// An endpoint's credentials as files curl takes.
    struct Credentials {
        var id: String
        var arguments: [String]
    }

    final class World: @unchecked Sendable {
        let server: LiveServer
        let gatewayPort: Int
        let directory: String
        var applicationId = "", versionId = "", accountUUID = ""
        var key: RSAPrivateKey?
        var account = 0
        init(server: LiveServer, gatewayPort: Int, directory: String) {
            self.server = server
            self.gatewayPort = gatewayPort
            self.directory = directory
        }
    }

    static func start() async throws -> World {
        let data = try TestDatabases.temporaryDirectory()
        var gatewayPort = 0
        let started = try await LiveServer.startHealthy { port, _ in
            gatewayPort = LiveServer.freePort()
            return try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0", "--rest-gateway-port", String(gatewayPort),
                                              "--rest-gateway-url", "https://127.0.0.1:\(gatewayPort)"],
                                  environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        #expect(started.healthy, "\(started.server.stderr)")
        let world = World(server: started.server, gatewayPort: gatewayPort, directory: try TestDatabases.temporaryDirectory())
        let server = world.server
        let admin = try #require(server.adminToken)
        let developer = try #require(try await server.request("POST", "/v1/tenants", token: admin, json: #"{"kind":"distributor","parent_id":1,"name":"Dev"}"#).json["id"] as? Int)
        let application = try await server.request("POST", "/v1/tenants/\(developer)/applications", token: admin, json: #"{"name":"Telemetry","generate_key_pair":true}"#)
        world.applicationId = try #require(application.json["application_id"] as? String)
        world.key = try RSAPrivateKey(pem: try #require(application.json["private_key"] as? String))
        let version = try await server.request("POST", "/v1/applications/\(world.applicationId)/versions", token: admin, json: #"{"name":"1.0","status":"certified"}"#)
        world.versionId = try #require(version.json["certification_version_id"] as? String)
        world.account = try #require(try await server.request("POST", "/v1/tenants", token: admin, json: #"{"kind":"account","parent_id":1,"name":"Farm"}"#).json["id"] as? Int)
        try await server.request("GET", "/pki/ca.pem").text.write(toFile: world.directory + "/ca.pem", atomically: true, encoding: .utf8)
        return world
    }

    /// A signed onboarding of `externalId` on the REST gateway; the credentials written for curl.
    static func onboard(_ world: World, _ externalId: String, type: String, file: String, verifyFirst: Bool = false) async throws -> (json: [String: Any], credentials: Credentials) {
        let admin = try #require(world.server.adminToken)
        let codeAnswer = try await world.server.request("POST", "/v1/tenants/\(world.account)/registration-codes", token: admin)
        let code = try #require(codeAnswer.json["code"] as? String)
        world.accountUUID = try #require(codeAnswer.json["account_id"] as? String)
        let body = #"{"id":"\#(externalId)","applicationId":"\#(world.applicationId)","certificationVersionId":"\#(world.versionId)","gatewayId":"3","certificateType":"\#(type)","UTCTimestamp":"\#(OnboardingMQTTTests.timestamp())","timeZone":"+01:00"}"#
        if verifyFirst {
            // As the SDKs do: verify the account with the code (not using it), then onboard with the same signed body.
            let verified = try await OnboardingMQTTTests.call(world.server.port, "POST", "/api/v1.0/registration/onboard/verify", headers: [
                "Authorization": "Bearer \(code)", "Content-Type": "application/json", "X-Agrirouter-ApplicationId": world.applicationId,
                "X-Agrirouter-Signature": try RequestSignature.sign(body: Array(body.utf8), privateKey: try #require(world.key))], body: body)
            #expect(verified.status == 200 && verified.json["accountId"] as? String == world.accountUUID, "\(verified.text)")
        }
        let answer = try await OnboardingMQTTTests.call(world.server.port, "POST", "/api/v1.0/registration/onboard/request", headers: [
            "Authorization": "Bearer \(code)", "Content-Type": "application/json", "X-Agrirouter-ApplicationId": world.applicationId,
            "X-Agrirouter-Signature": try RequestSignature.sign(body: Array(body.utf8), privateKey: try #require(world.key))], body: body)
        #expect(answer.status == 201, "\(answer.text)")
        return (answer.json, try credentials(answer.json, directory: world.directory, file: file))
    }

    /// Writes an onboarding result's certificate for curl: PEM (encrypted key + certificate,
    /// opened with the secret) or the PKCS#12 file.
    static func credentials(_ json: [String: Any], directory: String, file: String) throws -> Credentials {
        let id = try #require(json["deviceAlternateId"] as? String)
        let auth = try #require(json["authentication"] as? [String: Any])
        let certificate = try #require(auth["certificate"] as? String), secret = try #require(auth["secret"] as? String)
        if auth["type"] as? String == "P12" {
            try Data(try #require(Data(base64Encoded: certificate))).write(to: URL(fileURLWithPath: "\(directory)/\(file).p12"))
            return Credentials(id: id, arguments: ["--cert-type", "P12", "--cert", "\(directory)/\(file).p12:\(secret)"])
        }
        try certificate.write(toFile: "\(directory)/\(file).pem", atomically: true, encoding: .utf8)
        return Credentials(id: id, arguments: ["--cert", "\(directory)/\(file).pem", "--key", "\(directory)/\(file).pem", "--pass", secret])
    }

    /// One gateway call with curl: its exit status (non-zero when the handshake fails), HTTP status and JSON.
    static func gateway(_ world: World, _ credentials: Credentials?, _ method: String, _ path: String, body: String? = nil)
        async throws -> (exit: Int32, status: Int, json: [String: Any], text: String) {
        var arguments = ["-sS", "--max-time", "20", "--cacert", world.directory + "/ca.pem", "-X", method, "-w", "\n%{http_code}"]
        arguments += credentials?.arguments ?? []
        if let body {
            let file = world.directory + "/body-\(UUID().uuidString)"
            try body.write(toFile: file, atomically: true, encoding: .utf8)
            arguments += ["-H", "Content-Type: application/json", "--data-binary", "@" + file]
        }
        arguments.append("https://127.0.0.1:\(world.gatewayPort)\(path)")
        let result = try await LiveServer.shellAsync("curl", arguments)
        var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let status = Int(lines.popLast() ?? "") ?? 0
        let text = lines.joined(separator: "\n")
        return (result.status, status, (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:], text)
    }

    static func errorCode(_ json: [String: Any]) -> String? { (json["error"] as? [String: Any])?["code"] as? String }

    static let taskData = "iso:11783:-10:taskdata:zip"

    @Test func capabilitiesFirstThenMessagesReachTheAccountsReceivers() async throws {
        let world = try await Self.start()
        defer { Task { _ = try? await world.server.stop(signal: SIGKILL) } }
        let (sentJSON, sender) = try await Self.onboard(world, "urn:farm:tractor-1", type: "P12", file: "sender", verifyFirst: true)
        let (_, receiver) = try await Self.onboard(world, "urn:farm:office", type: "PEM", file: "receiver")
        let criteria = try #require(sentJSON["connectionCriteria"] as? [String: Any])
        #expect(criteria["measures"] as? String == "https://127.0.0.1:\(world.gatewayPort)/api/v1.0/gateway/rest/measures/\(sender.id)")
        #expect(criteria["commands"] as? String == "https://127.0.0.1:\(world.gatewayPort)/api/v1.0/gateway/rest/commands/\(sender.id)")

        // No client certificate: no access.
        let anonymous = try await Self.gateway(world, nil, "GET", "/api/v1.0/gateway/rest/commands/\(sender.id)")
        #expect(anonymous.exit != 0 || anonymous.status == 403, "\(anonymous)")

        // Anything before the capabilities is refused, and nothing is stored.
        let message = #"{"messages":[{"technicalMessageType":"\#(Self.taskData)","content":{"field":"north","hectares":12.5}}]}"#
        let early = try await Self.gateway(world, sender, "POST", "/api/v1.0/gateway/rest/measures/\(sender.id)", body: message)
        #expect(early.exit == 0 && early.status == 400 && Self.errorCode(early.json) == "0200", "\(early)")

        // Capabilities: the tractor sends task data, the office receives it.
        let senderCapabilities = #"{"messages":[{"technicalMessageType":"dke:capabilities","content":{"capabilities":[{"technicalMessageType":"\#(Self.taskData)","direction":"SEND"}]}}]}"#
        let declared = try await Self.gateway(world, sender, "POST", "/api/v1.0/gateway/rest/measures/\(sender.id)", body: senderCapabilities)
        #expect(declared.status == 200 && declared.json["capabilities"] as? Bool == true, "\(declared)")
        let receiverCapabilities = #"{"messages":[{"technicalMessageType":"dke:capabilities","content":{"capabilities":[{"technicalMessageType":"\#(Self.taskData)","direction":"RECEIVE"}]}}]}"#
        #expect(try await Self.gateway(world, receiver, "POST", "/api/v1.0/gateway/rest/measures/\(receiver.id)", body: receiverCapabilities).status == 200)
        let listed = try await Self.gateway(world, receiver, "GET", "/api/v1.0/gateway/rest/capabilities/\(receiver.id)")
        #expect(listed.json["sent"] as? Bool == true && (listed.json["capabilities"] as? [[String: Any]])?.first?["direction"] as? String == "RECEIVE", "\(listed)")

        // The message goes to the receiver once; a type the sender did not declare is refused.
        let sent = try await Self.gateway(world, sender, "POST", "/api/v1.0/gateway/rest/measures/\(sender.id)", body: message)
        let routed = try #require((sent.json["messages"] as? [[String: Any]])?.first, "\(sent)")
        #expect(sent.status == 200 && routed["recipients"] as? Int == 1, "\(sent)")
        let undeclared = try await Self.gateway(world, sender, "POST", "/api/v1.0/gateway/rest/measures/\(sender.id)",
                                                body: #"{"messages":[{"technicalMessageType":"img:jpeg","content":"x"}]}"#)
        #expect(undeclared.status == 400 && Self.errorCode(undeclared.json) == "0201", "\(undeclared)")
        let fetched = try await Self.gateway(world, receiver, "GET", "/api/v1.0/gateway/rest/commands/\(receiver.id)")
        let commands = try #require(fetched.json["commands"] as? [[String: Any]], "\(fetched)")
        #expect(commands.count == 1)
        #expect(commands.first?["messageId"] as? String == routed["messageId"] as? String && commands.first?["senderId"] as? String == sender.id)
        #expect((commands.first?["content"] as? [String: Any])?["field"] as? String == "north")
        #expect((try await Self.gateway(world, receiver, "GET", "/api/v1.0/gateway/rest/commands/\(receiver.id)").json["commands"] as? [Any])?.isEmpty == true)

        // One endpoint's certificate does not open another's URLs; bad bodies get the onboarding error format.
        let foreign = try await Self.gateway(world, receiver, "GET", "/api/v1.0/gateway/rest/commands/\(sender.id)")
        #expect(foreign.status == 403 && Self.errorCode(foreign.json) == "0109", "\(foreign)")
        let malformed = try await Self.gateway(world, sender, "POST", "/api/v1.0/gateway/rest/measures/\(sender.id)", body: "{\"messages\":")
        #expect(malformed.status == 400 && Self.errorCode(malformed.json) == "0100", "\(malformed)")
        let badCapabilities = try await Self.gateway(world, sender, "POST", "/api/v1.0/gateway/rest/measures/\(sender.id)",
                                                     body: #"{"messages":[{"technicalMessageType":"dke:capabilities","content":{"capabilities":[{"technicalMessageType":"a","direction":"UP"}]}}]}"#)
        #expect(badCapabilities.status == 400 && Self.errorCode(badCapabilities.json) == "0100", "\(badCapabilities)")

        // Re-onboarding: the same ids and a new certificate; the old one no longer connects, the capabilities stay.
        let (againJSON, again) = try await Self.onboard(world, "urn:farm:tractor-1", type: "PEM", file: "sender-2")
        #expect(again.id == sender.id && againJSON["sensorAlternateId"] as? String == sentJSON["sensorAlternateId"] as? String)
        let old = try await Self.gateway(world, sender, "POST", "/api/v1.0/gateway/rest/measures/\(sender.id)", body: message)
        #expect(old.exit != 0 || old.status == 403, "\(old)")
        let renewed = try await Self.gateway(world, again, "POST", "/api/v1.0/gateway/rest/measures/\(sender.id)", body: message)
        #expect(renewed.status == 200 && (renewed.json["messages"] as? [[String: Any]])?.first?["recipients"] as? Int == 1, "\(renewed)")

        // Revoked: the handshake fails.
        let revokeBody = #"{"accountId":"\#(world.accountUUID)","endpointIds":["\#(receiver.id)"],"UTCTimestamp":"\#(OnboardingMQTTTests.timestamp())","timeZone":"+01:00"}"#
        let revoked = try await OnboardingMQTTTests.call(world.server.port, "DELETE", "/api/v1.0/registration/onboard/revoke", headers: [
            "Content-Type": "application/json", "X-Agrirouter-ApplicationId": world.applicationId,
            "X-Agrirouter-Signature": try RequestSignature.sign(body: Array(revokeBody.utf8), privateKey: try #require(world.key))], body: revokeBody)
        #expect(revoked.status == 204, "\(revoked.text)")
        let gone = try await Self.gateway(world, receiver, "GET", "/api/v1.0/gateway/rest/commands/\(receiver.id)")
        #expect(gone.exit != 0 || gone.status == 403, "\(gone)")
        // With its receiver gone, the sender's message reaches nobody.
        let alone = try await Self.gateway(world, again, "POST", "/api/v1.0/gateway/rest/measures/\(sender.id)", body: message)
        #expect((alone.json["messages"] as? [[String: Any]])?.first?["recipients"] as? Int == 0, "\(alone)")
    }

    @Test func aTelemetryPlatformOnboardsVirtualCUsThatGoWithIt() async throws {
        let world = try await Self.start()
        defer { Task { _ = try? await world.server.stop(signal: SIGKILL) } }
        let (_, platform) = try await Self.onboard(world, "urn:telemetry:platform", type: "PEM", file: "platform")
        let request = #"{"endpoints":[{"id":"urn:telemetry:vcu-1"},{"id":"urn:telemetry:vcu-2","certificateType":"P12"}]}"#

        // The platform must send its capabilities first.
        let early = try await Self.gateway(world, platform, "POST", "/api/v1.0/gateway/rest/cloud-onboard/\(platform.id)", body: request)
        #expect(early.status == 400 && Self.errorCode(early.json) == "0200", "\(early)")
        let capabilities = #"{"messages":[{"technicalMessageType":"dke:capabilities","content":{"capabilities":[{"technicalMessageType":"\#(Self.taskData)","direction":"SEND_RECEIVE"}]}}]}"#
        #expect(try await Self.gateway(world, platform, "POST", "/api/v1.0/gateway/rest/measures/\(platform.id)", body: capabilities).status == 200)

        let created = try await Self.gateway(world, platform, "POST", "/api/v1.0/gateway/rest/cloud-onboard/\(platform.id)", body: request)
        #expect(created.status == 201, "\(created)")
        let results = try #require(created.json["endpoints"] as? [[String: Any]])
        #expect(results.count == 2)
        let virtual = try results.enumerated().map { try Self.credentials($0.element, directory: world.directory, file: "vcu-\($0.offset)") }
        #expect(Set(virtual.map(\.id)).count == 2 && !virtual.map(\.id).contains(platform.id))

        // Each virtual CU talks with its own certificate and gets what the platform sends.
        let receive = #"{"messages":[{"technicalMessageType":"dke:capabilities","content":{"capabilities":[{"technicalMessageType":"\#(Self.taskData)","direction":"RECEIVE"}]}}]}"#
        for cu in virtual {
            let declared = try await Self.gateway(world, cu, "POST", "/api/v1.0/gateway/rest/measures/\(cu.id)", body: receive)
            #expect(declared.status == 200, "\(declared)")
        }
        let sent = try await Self.gateway(world, platform, "POST", "/api/v1.0/gateway/rest/measures/\(platform.id)",
                                          body: #"{"messages":[{"technicalMessageType":"\#(Self.taskData)","content":{"task":7}}]}"#)
        #expect((sent.json["messages"] as? [[String: Any]])?.first?["recipients"] as? Int == 2, "\(sent)")
        let fetched = try await Self.gateway(world, virtual[1], "GET", "/api/v1.0/gateway/rest/commands/\(virtual[1].id)")
        #expect((fetched.json["commands"] as? [[String: Any]])?.count == 1, "\(fetched)")

        // A virtual CU cannot onboard others; the account lists them with their platform.
        let nested = try await Self.gateway(world, virtual[0], "POST", "/api/v1.0/gateway/rest/cloud-onboard/\(virtual[0].id)",
                                            body: #"{"endpoints":[{"id":"urn:telemetry:vcu-3"}]}"#)
        #expect(nested.status == 403, "\(nested)")

        // Onboarding them again keeps their ids.
        let again = try await Self.gateway(world, platform, "POST", "/api/v1.0/gateway/rest/cloud-onboard/\(platform.id)", body: request)
        #expect((again.json["endpoints"] as? [[String: Any]])?.compactMap { $0["deviceAlternateId"] as? String } == virtual.map(\.id), "\(again)")
        let renewed = try ((again.json["endpoints"] as? [[String: Any]]) ?? []).enumerated().map {
            try Self.credentials($0.element, directory: world.directory, file: "vcu-again-\($0.offset)")
        }

        // Revoking the platform revokes its virtual CUs.
        let revokeBody = #"{"accountId":"\#(world.accountUUID)","endpointIds":["\#(platform.id)"],"UTCTimestamp":"\#(OnboardingMQTTTests.timestamp())","timeZone":"+01:00"}"#
        let revoked = try await OnboardingMQTTTests.call(world.server.port, "DELETE", "/api/v1.0/registration/onboard/revoke", headers: [
            "Content-Type": "application/json", "X-Agrirouter-ApplicationId": world.applicationId,
            "X-Agrirouter-Signature": try RequestSignature.sign(body: Array(revokeBody.utf8), privateKey: try #require(world.key))], body: revokeBody)
        #expect(revoked.status == 204, "\(revoked.text)")
        for cu in renewed {
            let gone = try await Self.gateway(world, cu, "GET", "/api/v1.0/gateway/rest/commands/\(cu.id)")
            #expect(gone.exit != 0 || gone.status == 403, "\(gone)")
        }
    }
}
