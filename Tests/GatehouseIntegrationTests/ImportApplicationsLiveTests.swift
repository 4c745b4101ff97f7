import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GatehouseCore
import GatehouseTestSupport
import Testing

/// Signed onboarding set up from an import file, with the real executable: `gatehouse import`
/// keeps an application with the developer's public key (re-importing changes nothing, a bad
/// key writes nothing), `gatehouse export` gives it back, and on `gatehouse serve` the
/// developer's signed requests onboard an endpoint that the account's user lists and revokes
/// through /v1.
@Suite("Import applications, live", .serialized)
struct ImportApplicationsLiveTests {
    @Test func importedApplicationOnboardsAndTheAccountRevokes() async throws {
        let dataDirectory = try TestDatabases.temporaryDirectory() + "/data"
        let files = try TestDatabases.temporaryDirectory()
        let pair = try RSAKeyPair.generate()
        let applicationId = UUID().uuidString.lowercased()
        let document: [String: Any] = [
            "version": 1,
            "tenants": [["key": "farmsoft", "kind": "distributor", "name": "Farm Software Inc"],
                        ["key": "green-farm", "kind": "account", "name": "Green Farm"]],
            "users": [["email": "farmer@example.com", "tenant": "green-farm", "name": "Farmer", "password": "farmer password"]],
            "applications": [["tenant": "farmsoft", "name": "Field app", "application_id": applicationId, "public_key": pair.publicKeyPEM,
                              "redirect_urls": ["https://app.example/callback"],
                              "versions": [["name": "1.0", "status": "certified", "cu_onboarding": false]]]],
        ]
        let file = files + "/tree.json"
        try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: file))
        let environment = ["GATEHOUSE_DATA_DIR": dataDirectory, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"]

        let first = try LiveServer.run(["import", file], environment: environment)
        #expect(first.status == 0, "\(first.error)")
        #expect(first.output.contains("5 created, 0 updated, 0 unchanged"), "\(first.output)")  // 2 nodes, 1 user, 1 application, 1 version
        let second = try LiveServer.run(["import", file], environment: environment)
        #expect(second.output.contains("0 created, 0 updated, 5 unchanged"), "\(second.output)")

        // A bad key is refused, naming the field, and writes nothing.
        var broken = document
        broken["applications"] = [["tenant": "farmsoft", "name": "Other app", "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]]
        let brokenFile = files + "/broken.json"
        try JSONSerialization.data(withJSONObject: broken).write(to: URL(fileURLWithPath: brokenFile))
        let refused = try LiveServer.run(["import", brokenFile], environment: environment)
        #expect(refused.status != 0 && refused.error.contains("applications[0].public_key"), "\(refused.error)")

        // The export holds the application with its key and version ids, and no private key.
        let exported = try LiveServer.run(["export"], environment: environment)
        #expect(exported.status == 0, "\(exported.error)")
        let exportedDocument = try #require(try JSONSerialization.jsonObject(with: Data(exported.output.utf8)) as? [String: Any])
        let applications = try #require(exportedDocument["applications"] as? [[String: Any]])
        #expect(applications.count == 1 && applications.first?["application_id"] as? String == applicationId)
        #expect((applications.first?["public_key"] as? String)?.contains("BEGIN PUBLIC KEY") == true && !exported.output.contains("PRIVATE KEY"))
        let versionId = try #require((applications.first?["versions"] as? [[String: Any]])?.first?["version_id"] as? String)

        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"], environment: environment, port: port, dataDirectory: dataDirectory)
        }
        let server = started.server
        #expect(started.healthy, "\(server.stderr)")
        do {
            let session = try #require(try await server.request("POST", "/v1/sessions", json: #"{"email":"farmer@example.com","password":"farmer password"}"#)
                .json["token"] as? String)
            let me = try await server.request("GET", "/v1/me", token: session)
            let account = try #require(((me.json["tenant"] as? [String: Any])?["id"] as? NSNumber)?.intValue, "\(me.text)")
            let code = try #require(try await server.request("POST", "/v1/tenants/\(account)/registration-codes", token: session).json["code"] as? String)

            // The developer signs with the private key whose public half came from the import file.
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let body = #"{"id":"urn:field:1","applicationId":"\#(applicationId)","certificationVersionId":"\#(versionId)","gatewayId":"3","certificateType":"PEM","UTCTimestamp":"\#(formatter.string(from: Date().addingTimeInterval(-5)))","timeZone":"+00:00"}"#
            let onboarded = try await OnboardingMQTTTests.call(server.port, "POST", "/api/v1.0/registration/onboard/request", headers: [
                "Authorization": "Bearer \(code)", "Content-Type": "application/json", "X-Agrirouter-ApplicationId": applicationId,
                "X-Agrirouter-Signature": try RequestSignature.sign(body: Array(body.utf8), privateKey: pair.privateKey)], body: body)
            #expect(onboarded.status == 201, "\(onboarded.text)")
            let endpointId = try #require(onboarded.json["deviceAlternateId"] as? String)

            // The account's user lists it and revokes it through /v1.
            let listed = try await server.request("GET", "/v1/tenants/\(account)/endpoints", token: session)
            let items = listed.json["items"] as? [[String: Any]] ?? []
            #expect(items.count == 1 && items.first?["device_alternate_id"] as? String == endpointId && items.first?["application_id"] as? String == applicationId,
                    "\(listed.text)")
            let revoked = try await server.request("DELETE", "/v1/tenants/\(account)/endpoints/\(endpointId)", token: session)
            #expect(revoked.status == 204, "\(revoked.text)")
            let after = try await server.request("GET", "/v1/tenants/\(account)/endpoints", token: session)
            #expect((after.json["items"] as? [[String: Any]])?.first?["status"] as? String == "revoked", "\(after.text)")
        } catch {
            _ = try await server.stop(signal: SIGKILL)
            throw error
        }
        #expect(try await server.stop() == 0)
    }
}
