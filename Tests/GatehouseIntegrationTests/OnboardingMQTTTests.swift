import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GatehouseCore
import GatehouseTestSupport
import Testing

/// Point 5 of signed onboarding end to end: a real `gatehouse serve` keeps a real mosquitto's
/// CA file, revocation list and ACL; an endpoint onboarded over HTTP connects with the
/// certificate it was given and publishes to its measures topic; once revoked it is refused.
@Suite("Signed onboarding with a real MQTT broker", .serialized)
struct OnboardingMQTTTests {
    /// One request with extra headers and an exact body.
    static func call(_ port: Int, _ method: String, _ path: String, headers: [String: String], body: String?) async throws
        -> (status: Int, json: [String: Any], text: String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 20
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body.map { Data($0.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:],
                String(decoding: data, as: UTF8.self))
    }

    static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date.addingTimeInterval(-10))
    }

    static func start(data: String, extra: [String]) async throws -> LiveServer {
        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"] + extra,
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        #expect(started.healthy, "\(started.server.stderr)")
        return started.server
    }

    @Test func onboardedEndpointPublishesAndARevokedOneIsRefused() async throws {
        let data = try TestDatabases.temporaryDirectory()
        // A first start makes the authority; the broker is prepared with it.
        let first = try await Self.start(data: data, extra: [])
        _ = try await first.stop(signal: SIGKILL)
        let authority = try CertificateAuthority(certificatePEM: try String(contentsOfFile: data + "/ca.pem", encoding: .utf8),
                                                 privateKeyPEM: try String(contentsOfFile: data + "/ca-key.pem", encoding: .utf8))
        let broker = try Mosquitto(authority: authority)
        // The reload command signals this test's broker only (its pid is written once it runs).
        let pidFile = broker.directory + "/mosquitto.pid"
        let server = try await Self.start(data: data, extra: ["--mqtt-broker-dir", broker.brokerDirectory,
                                                              "--mqtt-reload-command", "test -s \(pidFile) && kill -HUP $(cat \(pidFile))"])
        do {
            // Gatehouse writes the broker files once it has started.
            let deadline = ContinuousClock.now + .seconds(20)
            while !FileManager.default.fileExists(atPath: broker.brokerDirectory + "/acl"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            try await broker.start()
            try String(try #require(broker.processIdentifier)).write(toFile: pidFile, atomically: true, encoding: .utf8)

            // A developer's application with a generated key pair and a certified version; an account with a user.
            let admin = try #require(server.adminToken)
            let developer = try #require(try await server.request("POST", "/v1/tenants", token: admin, json: #"{"kind":"distributor","parent_id":1,"name":"Dev"}"#).json["id"] as? Int)
            let application = try await server.request("POST", "/v1/tenants/\(developer)/applications", token: admin, json: #"{"name":"Telemetry","generate_key_pair":true}"#)
            let applicationId = try #require(application.json["application_id"] as? String)
            let key = try RSAPrivateKey(pem: try #require(application.json["private_key"] as? String))
            let version = try await server.request("POST", "/v1/applications/\(applicationId)/versions", token: admin, json: #"{"name":"1.0","status":"certified"}"#)
            let versionId = try #require(version.json["certification_version_id"] as? String)
            let account = try #require(try await server.request("POST", "/v1/tenants", token: admin, json: #"{"kind":"account","parent_id":1,"name":"Farm"}"#).json["id"] as? Int)
            let code = try #require(try await server.request("POST", "/v1/tenants/\(account)/registration-codes", token: admin).json["code"] as? String)

            // Onboard an MQTT endpoint with a signed request.
            let body = #"{"id":"urn:telemetry:tractor-1","applicationId":"\#(applicationId)","certificationVersionId":"\#(versionId)","gatewayId":"2","certificateType":"PEM","UTCTimestamp":"\#(Self.timestamp())","timeZone":"+01:00"}"#
            let signature = try RequestSignature.sign(body: Array(body.utf8), privateKey: key)
            let onboarded = try await Self.call(server.port, "POST", "/api/v1.0/registration/onboard/request", headers: [
                "Authorization": "Bearer \(code)", "Content-Type": "application/json", "X-Agrirouter-ApplicationId": applicationId,
                "X-Agrirouter-Signature": signature], body: body)
            #expect(onboarded.status == 201, "\(onboarded.text)")
            let endpointId = try #require(onboarded.json["deviceAlternateId"] as? String)
            let criteria = try #require(onboarded.json["connectionCriteria"] as? [String: Any])
            #expect(criteria["clientId"] as? String == endpointId && criteria["measures"] as? String == "measures/\(endpointId)")
            let auth = try #require(onboarded.json["authentication"] as? [String: Any])
            let pem = try #require(auth["certificate"] as? String), secret = try #require(auth["secret"] as? String)

            // The key leaves encrypted: openssl opens it with the secret for mosquitto_pub.
            let dir = try TestDatabases.temporaryDirectory()
            try pem.write(toFile: dir + "/endpoint.pem", atomically: true, encoding: .utf8)
            try secret.write(toFile: dir + "/secret", atomically: true, encoding: .utf8)
            let opened = try await LiveServer.shellAsync("openssl", ["pkey", "-in", dir + "/endpoint.pem", "-passin", "file:\(dir)/secret", "-out", dir + "/key.pem"])
            #expect(opened.status == 0, "\(opened.output)")
            let certificate = try await LiveServer.shellAsync("openssl", ["x509", "-in", dir + "/endpoint.pem", "-out", dir + "/cert.pem"])
            #expect(certificate.status == 0)
            let identity = Mosquitto.Identity(name: endpointId, certificatePath: dir + "/cert.pem", keyPath: dir + "/key.pem")
            let service = try broker.identity(authority.issue(commonName: BrokerFiles.defaultServiceIdentity, usage: .client, days: 1), name: "service")

            let subscription = try await broker.subscribe(as: service, clientId: "gatehouse-service", topics: ["measures/#"], count: 1, seconds: 15)
            let published = try await broker.publish(as: identity, clientId: endpointId, topic: "measures/\(endpointId)", message: "reading 1")
            #expect(published.status == 0, "\(published.output)")
            let messages = try await subscription.messages()
            #expect(messages.map(\.topic) == ["measures/\(endpointId)"] && messages.map(\.payload) == ["reading 1"], "\(messages)")

            // Revoke through the API: Gatehouse rewrites the CRL and reloads the broker; the endpoint is refused.
            let accountUUID = try #require(try await server.request("POST", "/v1/tenants/\(account)/registration-codes", token: admin).json["account_id"] as? String)
            let revokeBody = #"{"accountId":"\#(accountUUID)","endpointIds":["\#(endpointId)"],"UTCTimestamp":"\#(Self.timestamp())","timeZone":"+01:00"}"#
            let revoked = try await Self.call(server.port, "DELETE", "/api/v1.0/registration/onboard/revoke", headers: [
                "Content-Type": "application/json", "X-Agrirouter-ApplicationId": applicationId,
                "X-Agrirouter-Signature": try RequestSignature.sign(body: Array(revokeBody.utf8), privateKey: key)], body: revokeBody)
            #expect(revoked.status == 204, "\(revoked.text)")
            var refused = false
            let refusalDeadline = ContinuousClock.now + .seconds(20)
            while !refused, ContinuousClock.now < refusalDeadline {
                refused = try await !broker.connects(as: identity, clientId: endpointId).connected
                if !refused { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(refused, "the revoked endpoint still connects:\n\(broker.log)")
            #expect(try await broker.connects(as: service, clientId: "gatehouse-service").connected)
        } catch {
            await broker.stop()
            _ = try await server.stop(signal: SIGKILL)
            throw error
        }
        await broker.stop()
        _ = try await server.stop(signal: SIGKILL)
    }
}
