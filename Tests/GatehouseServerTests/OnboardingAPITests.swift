import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import Testing

/// Signed onboarding (seed 004) through the router: applications and certification versions
/// through /v1, registration codes, verify / onboard / CU onboard / revoke with their exact
/// error codes, certificates that openssl opens, and the revocation list.
@Suite("Signed onboarding API")
struct OnboardingAPITests {
    /// A developer with an application, a certified version and a key pair; an account with a user.
    struct World {
        let client: TestApp.Client
        let clock: TestClock
        let applicationId: String
        let versionId: String
        let key: RSAPrivateKey
        let accountId: Int64
        let userToken: String

        /// A new registration code made by the account's user.
        func code() async throws -> String {
            let made = try await client.send(.post, "/v1/tenants/\(accountId)/registration-codes", token: userToken)
            #expect(made.status == .created, "\(made.text)")
            let code = try #require(made.json["code"] as? String)
            #expect(code.count == 10 && code.allSatisfy(\.isHexDigit))
            return code
        }

        func body(id: String = "urn:myapp:snr00003234", gateway: String = "3", type: String = "PEM", at: Int64? = nil, extra: String = "") -> String {
            let stamp = OnboardingAPITests.timestamp(at ?? clock.now() - 10)
            return #"{"id":"\#(id)","applicationId":"\#(applicationId)","certificationVersionId":"\#(versionId)","gatewayId":"\#(gateway)","certificateType":"\#(type)","UTCTimestamp":"\#(stamp)","timeZone":"+02:00"\#(extra)}"#
        }

        /// A signed call: the signature is over exactly `body`.
        func signed(_ method: HTTPRequest.Method = .post, _ path: String, code: String?, body: String, signature: String? = nil,
                    applicationId: String? = nil) async throws -> TestApp.Client.Answer {
            var headers: HTTPFields = [.contentType: "application/json"]
            if let code { headers[.authorization] = "Bearer \(code)" }
            headers[HTTPField.Name("X-Agrirouter-ApplicationId")!] = applicationId ?? self.applicationId
            headers[HTTPField.Name("X-Agrirouter-Signature")!] = try signature ?? RequestSignature.sign(body: Array(body.utf8), privateKey: key)
            return try await client.raw(method, path, headers: headers, body: body)
        }
    }

    static func timestamp(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    static func world(_ client: TestApp.Client, clock: TestClock, cuOnboarding: Bool = false, status: String = "certified") async throws -> World {
        let developer = try await client.createTenant(kind: "distributor", parent: 1, name: "Farm Software Inc")
        let created = try await client.admin(.post, "/v1/tenants/\(developer)/applications",
                                             json: #"{"name":"Field app","generate_key_pair":true,"redirect_urls":["https://app.example/callback"]}"#)
        #expect(created.status == .created, "\(created.text)")
        let applicationId = try #require(created.json["application_id"] as? String)
        let key = try RSAPrivateKey(pem: try #require(created.json["private_key"] as? String))
        #expect((created.json["public_key"] as? String)?.hasPrefix("-----BEGIN PUBLIC KEY-----") == true)
        // The private key is shown once: reading the application again does not show it.
        #expect(try await client.admin(.get, "/v1/applications/\(applicationId)").json["private_key"] == nil)
        let version = try await client.admin(.post, "/v1/applications/\(applicationId)/versions",
                                             json: #"{"name":"1.0","status":"\#(status)","cu_onboarding":\#(cuOnboarding)}"#)
        #expect(version.status == .created, "\(version.text)")
        let account = try await client.createTenant(kind: "account", parent: 1, name: "Green Farm")
        _ = try await client.createUser(tenant: account, email: "farmer@example.com")
        return World(client: client, clock: clock, applicationId: applicationId, versionId: try #require(version.json["certification_version_id"] as? String),
                     key: key, accountId: account, userToken: try await client.signIn("farmer@example.com"))
    }

    static func openssl(_ arguments: [String], input: String? = nil) async throws -> (status: Int32, output: String) {
        try await LiveServer.shellAsync("openssl", arguments, input: input)
    }

    /// Verify answers the account id without using the code; signed onboarding answers a PEM
    /// whose encrypted key openssl opens with the secret and whose certificate names the endpoint
    /// and chains to the authority; re-onboarding keeps the ids and revokes the old certificate.
    @Test func verifyOnboardReonboardAndRevoke() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let world = try await Self.world(client, clock: clock)
            let code = try await world.code()
            let verified = try await world.signed(.post, "/api/v1.0/registration/onboard/verify", code: code, body: world.body())
            #expect(verified.status == .ok, "\(verified.text)")
            let accountId = try #require(verified.json["accountId"] as? String)
            #expect(UUID(uuidString: accountId) != nil)

            let onboarded = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: code, body: world.body(at: clock.now() - 9))
            #expect(onboarded.status == .created, "\(onboarded.text)")
            let auth = try #require(onboarded.json["authentication"] as? [String: Any])
            #expect(auth["type"] as? String == "PEM")
            let pem = try #require(auth["certificate"] as? String), secret = try #require(auth["secret"] as? String)
            #expect(pem.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----") && pem.contains("-----BEGIN CERTIFICATE-----"))
            let deviceId = try #require(onboarded.json["deviceAlternateId"] as? String)
            let criteria = try #require(onboarded.json["connectionCriteria"] as? [String: Any])
            #expect(criteria["gatewayId"] as? String == "3")
            #expect((criteria["measures"] as? String)?.hasSuffix("/measures/\(deviceId)") == true)
            #expect((criteria["commands"] as? String)?.hasSuffix("/commands/\(deviceId)") == true)

            // openssl: the key opens with the secret only, and belongs to the certificate.
            let dir = try TestDatabases.temporaryDirectory()
            try pem.write(toFile: dir + "/endpoint.pem", atomically: true, encoding: .utf8)
            let caPEM = try await client.raw(.get, "/pki/ca.pem").text
            try caPEM.write(toFile: dir + "/ca.pem", atomically: true, encoding: .utf8)
            try secret.write(toFile: dir + "/secret", atomically: true, encoding: .utf8)
            let keyPublic = try await Self.openssl(["pkey", "-in", dir + "/endpoint.pem", "-passin", "file:\(dir)/secret", "-pubout"])
            #expect(keyPublic.status == 0, "\(keyPublic.output)")
            #expect(try await Self.openssl(["pkey", "-in", dir + "/endpoint.pem", "-passin", "pass:wrong", "-pubout"]).status != 0)
            let certPublic = try await Self.openssl(["x509", "-in", dir + "/endpoint.pem", "-pubkey", "-noout"])
            #expect(certPublic.output == keyPublic.output)
            let subject = try await Self.openssl(["x509", "-in", dir + "/endpoint.pem", "-noout", "-subject"])
            #expect(subject.output.contains("CN = \(deviceId)"), "\(subject.output)")
            #expect(try await Self.openssl(["verify", "-CAfile", dir + "/ca.pem", dir + "/endpoint.pem"]).output.contains(": OK"))

            // The code is used: a second onboarding with it is 0401.
            let reused = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: code, body: world.body(at: clock.now() - 8))
            #expect(reused.status == .unauthorized && reused.errorCode == "0401", "\(reused.text)")

            // Re-onboarding with a new code: the same ids, a new certificate, the old one on the CRL.
            clock.advance(60)
            let again = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: try await world.code(), body: world.body(type: "P12"))
            #expect(again.status == .created, "\(again.text)")
            #expect(again.json["deviceAlternateId"] as? String == deviceId)
            #expect(again.json["capabilityAlternateId"] as? String == onboarded.json["capabilityAlternateId"] as? String)
            #expect(again.json["sensorAlternateId"] as? String == onboarded.json["sensorAlternateId"] as? String)
            let p12Auth = try #require(again.json["authentication"] as? [String: Any])
            #expect(p12Auth["type"] as? String == "P12")
            let p12Text = try #require(p12Auth["certificate"] as? String)
            let p12 = try #require(Data(base64Encoded: p12Text))
            try p12.write(to: URL(fileURLWithPath: dir + "/endpoint.p12"))
            try (p12Auth["secret"] as? String ?? "").write(toFile: dir + "/p12secret", atomically: true, encoding: .utf8)
            let opened = try await Self.openssl(["pkcs12", "-in", dir + "/endpoint.p12", "-passin", "file:\(dir)/p12secret", "-nodes"])
            #expect(opened.status == 0 && opened.output.contains("BEGIN PRIVATE KEY") && opened.output.contains("CN = \(deviceId)"), "\(opened.output)")
            #expect(try await Self.openssl(["pkcs12", "-in", dir + "/endpoint.p12", "-passin", "pass:wrong", "-noout"]).status != 0)
            let gatewayChange = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: try await world.code(),
                                                       body: world.body(gateway: "2", at: clock.now() - 5))
            #expect(gatewayChange.errorCode == "0104", "\(gatewayChange.text)")

            let firstSerial = try await Self.openssl(["x509", "-in", dir + "/endpoint.pem", "-noout", "-serial"])
            let crl = try await client.raw(.get, "/pki/crl.pem")
            #expect(crl.status == .ok)
            try crl.text.write(toFile: dir + "/crl.pem", atomically: true, encoding: .utf8)
            #expect(try await Self.openssl(["crl", "-in", dir + "/crl.pem", "-CAfile", dir + "/ca.pem", "-noout"]).status == 0)
            let listed = try await Self.openssl(["crl", "-in", dir + "/crl.pem", "-noout", "-text"])
            let serialHex = firstSerial.output.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
            #expect(listed.output.uppercased().contains(serialHex.uppercased()), "\(listed.output)")
            let check = try await Self.openssl(["verify", "-crl_check", "-CAfile", dir + "/ca.pem", "-CRLfile", dir + "/crl.pem", dir + "/endpoint.pem"])
            #expect(check.status != 0 && check.output.contains("revoked"), "\(check.output)")

            // Revoke: signed, by account and endpoint ids; an unknown endpoint is 0109 and changes nothing.
            let revokeBody = { (ids: [String]) in
                #"{"accountId":"\#(accountId)","endpointIds":[\#(ids.map { "\"\($0)\"" }.joined(separator: ","))],"UTCTimestamp":"\#(Self.timestamp(clock.now()))","timeZone":"+00:00"}"#
            }
            let unknown = try await world.signed(.delete, "/api/v1.0/registration/onboard/revoke", code: nil, body: revokeBody([deviceId, UUID().uuidString.lowercased()]))
            #expect(unknown.errorCode == "0109", "\(unknown.text)")
            clock.advance(1)
            let revoked = try await world.signed(.delete, "/registration/onboard/revoke", code: nil, body: revokeBody([deviceId]))
            #expect(revoked.status == .noContent, "\(revoked.text)")
            clock.advance(1)
            let twice = try await world.signed(.delete, "/api/v1.0/registration/onboard/revoke", code: nil, body: revokeBody([deviceId]))
            #expect(twice.errorCode == "0109")
        }
    }

    /// Every refusal of PROTOCOLS.md §5 in the surface's own shape and status.
    @Test func refusalsCarryTheProtocolCodes() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock, onboarding: OnboardingSettings(timestampWindow: 300)).run { client in
            let world = try await Self.world(client, clock: clock)
            let code = try await world.code()
            let path = "/api/v1.0/registration/onboard/request"
            func expectCode(_ answer: TestApp.Client.Answer, _ expected: String, _ status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(answer.errorCode == expected && answer.status == status, "\(answer.status) \(answer.text)", sourceLocation: sourceLocation)
                let error = answer.json["error"] as? [String: Any]
                #expect(error?["message"] is String && error?["target"] is String && error?["details"] is [Any], sourceLocation: sourceLocation)
            }
            // 0106: a signing header missing.
            var headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(code)"]
            expectCode(try await client.raw(.post, path, headers: headers, body: world.body()), "0106", .badRequest)
            // 0100: not JSON.
            headers[HTTPField.Name("X-Agrirouter-ApplicationId")!] = world.applicationId
            headers[HTTPField.Name("X-Agrirouter-Signature")!] = try RequestSignature.sign(body: Array("{not json".utf8), privateKey: world.key)
            expectCode(try await client.raw(.post, path, headers: headers, body: "{not json"), "0100", .badRequest)
            // 0105: unknown application.
            expectCode(try await world.signed(.post, path, code: code, body: world.body(), applicationId: UUID().uuidString), "0105", .badRequest)
            // 0107: one byte changed after signing; a signature of the wrong length; another key's.
            let body = world.body()
            let signature = try RequestSignature.sign(body: Array(body.utf8), privateKey: world.key)
            expectCode(try await world.signed(.post, path, code: code, body: body.replacingOccurrences(of: "+02:00", with: "+03:00"), signature: signature), "0107", .unauthorized)
            expectCode(try await world.signed(.post, path, code: code, body: body, signature: String(signature.dropLast(2))), "0107", .unauthorized)
            let foreign = try RequestSignature.sign(body: Array(body.utf8), privateKey: try RSAPrivateKey.generate())
            expectCode(try await world.signed(.post, path, code: code, body: body, signature: foreign), "0107", .unauthorized)
            // 0110: stale, future and missing timestamps; the message tells the server time.
            let stale = try await world.signed(.post, path, code: code, body: world.body(at: clock.now() - 301))
            expectCode(stale, "0110", .unauthorized)
            #expect(((stale.json["error"] as? [String: Any])?["message"] as? String)?.contains(Self.timestamp(clock.now()).prefix(19)) == true, "\(stale.text)")
            expectCode(try await world.signed(.post, path, code: code, body: world.body(at: clock.now() + 301)), "0110", .unauthorized)
            let noStamp = #"{"id":"urn:x","applicationId":"\#(world.applicationId)","certificationVersionId":"\#(world.versionId)","gatewayId":"3","certificateType":"PEM"}"#
            expectCode(try await world.signed(.post, path, code: code, body: noStamp), "0110", .unauthorized)
            // 0401: unknown code; 0101/0021: bad or unknown certification version; 0102; 0103.
            let unknownCode = try await world.signed(.post, path, code: "0123456789", body: world.body(at: clock.now() - 1))
            expectCode(unknownCode, "0401", .unauthorized)
            #expect(unknownCode.headers[.wwwAuthenticate] == "Bearer realm=\"gatehouse\"")
            expectCode(try await world.signed(.post, path, code: code, body: world.body(at: clock.now() - 2).replacingOccurrences(of: world.versionId, with: "v1")),
                       "0101", .badRequest)
            expectCode(try await world.signed(.post, path, code: code, body: world.body(at: clock.now() - 3).replacingOccurrences(of: world.versionId, with: UUID().uuidString)),
                       "0021", .badRequest)
            expectCode(try await world.signed(.post, path, code: code, body: world.body(gateway: "9", at: clock.now() - 4)), "0102", .badRequest)
            expectCode(try await world.signed(.post, path, code: code, body: world.body(type: "DER", at: clock.now() - 5)), "0103", .badRequest)
            // A replay of a request that succeeded is refused (0110) and makes nothing.
            let good = world.body(at: clock.now() - 6)
            #expect(try await world.signed(.post, path, code: code, body: good).status == .created)
            expectCode(try await world.signed(.post, path, code: try await world.code(), body: good), "0110", .unauthorized)
            // 0024: this version does not allow unsigned (CU) onboarding.
            expectCode(try await client.raw(.post, "/api/v1.0/registration/onboard", headers: [.contentType: "application/json", .authorization: "Bearer \(try await world.code())"],
                                            body: world.body(id: "urn:cu:1")), "0024", .badRequest)
            // 0010: a disabled account.
            let another = try await world.code()
            #expect(try await client.admin(.patch, "/v1/tenants/\(world.accountId)", json: #"{"enabled":false}"#).status == .ok)
            expectCode(try await world.signed(.post, path, code: another, body: world.body(id: "urn:x:2", at: clock.now() - 7)), "0010", .badRequest)
        }
    }

    /// A CU onboards with a registration code alone when its version allows it, and gets MQTT criteria.
    @Test func cuOnboardingGetsMQTTCriteria() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock, onboarding: OnboardingSettings(mqttHost: "broker.example", mqttPort: 8883)).run { client in
            let world = try await Self.world(client, clock: clock, cuOnboarding: true)
            let body = #"{"id":"urn:cu:tractor-7","applicationId":"\#(world.applicationId)","certificationVersionId":"\#(world.versionId)","gatewayId":"2"}"#
            let answer = try await client.raw(.post, "/api/v1.0/registration/onboard",
                                              headers: [.contentType: "application/json", .authorization: "Bearer \(try await world.code())"], body: body)
            #expect(answer.status == .created, "\(answer.text)")
            let id = try #require(answer.json["deviceAlternateId"] as? String)
            let criteria = try #require(answer.json["connectionCriteria"] as? [String: Any])
            #expect(criteria["gatewayId"] as? String == "2" && criteria["host"] as? String == "broker.example" && criteria["port"] as? String == "8883")
            #expect(criteria["clientId"] as? String == id && criteria["measures"] as? String == "measures/\(id)" && criteria["commands"] as? String == "commands/\(id)")
            #expect((answer.json["authentication"] as? [String: Any])?["type"] as? String == "PEM")
        }
    }

    /// The account's side through /v1: its users list its endpoints page by page and revoke one
    /// (by id or endpoint id); the certificate goes on the CRL, the application's signed revoke
    /// of it is then 0109, and onboarding it again makes it afresh. Other subtrees are not found.
    @Test func accountListsAndRevokesItsEndpointsThroughV1() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let world = try await Self.world(client, clock: clock)
            var onboarded: [[String: Any]] = []
            for (index, id) in ["urn:myapp:a", "urn:myapp:b"].enumerated() {
                let answer = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: try await world.code(),
                                                    body: world.body(id: id, at: clock.now() - Int64(20 + index)))
                #expect(answer.status == .created, "\(answer.text)")
                onboarded.append(answer.json)
            }
            let deviceA = try #require(onboarded[0]["deviceAlternateId"] as? String), deviceB = try #require(onboarded[1]["deviceAlternateId"] as? String)
            // An endpoint of another account (its code made by the platform admin).
            let otherAccount = try await client.createTenant(kind: "account", parent: 1, name: "Brown Farm")
            let otherCode = try #require(try await client.admin(.post, "/v1/tenants/\(otherAccount)/registration-codes").json["code"] as? String)
            let theirs = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: otherCode, body: world.body(id: "urn:myapp:a", at: clock.now() - 30))
            #expect(theirs.status == .created, "\(theirs.text)")

            // The account's user lists its own two, in id order, with the public ids of application and version.
            let path = "/v1/tenants/\(world.accountId)/endpoints"
            let listed = try await client.send(.get, path, token: world.userToken)
            #expect(listed.status == .ok, "\(listed.text)")
            #expect(listed.items.map { $0["device_alternate_id"] as? String } == [deviceA, deviceB])
            #expect(listed.json.keys.contains("next_cursor") && listed.json["next_cursor"] is NSNull)
            let first = try #require(listed.items.first)
            #expect(first["external_id"] as? String == "urn:myapp:a" && first["application_id"] as? String == world.applicationId)
            #expect(first["certification_version_id"] as? String == world.versionId && first["gateway"] as? String == "3" && first["status"] as? String == "active")
            #expect(first["capability_alternate_id"] as? String == onboarded[0]["capabilityAlternateId"] as? String)
            #expect(first["sensor_alternate_id"] as? String == onboarded[0]["sensorAlternateId"] as? String)
            #expect(Self.int(first["tenant_id"]) == Int(world.accountId) && Self.int(first["created_at"]) != nil && Self.int(first["updated_at"]) != nil)
            let idA = try #require(Self.int(first["id"])), serialA = try #require(first["certificate_serial"] as? String)
            #expect(!serialA.isEmpty && serialA.allSatisfy(\.isHexDigit))
            // Paging: limit and the opaque cursor of the previous page.
            let page1 = try await client.send(.get, path + "?limit=1", token: world.userToken)
            let cursor = try #require(page1.json["next_cursor"] as? String)
            #expect(page1.items.map { $0["device_alternate_id"] as? String } == [deviceA])
            let page2 = try await client.send(.get, path + "?limit=1&cursor=\(cursor)", token: world.userToken)
            #expect(page2.items.map { $0["device_alternate_id"] as? String } == [deviceB] && page2.json["next_cursor"] is NSNull)
            #expect(try await client.send(.get, path + "?limit=0", token: world.userToken).status == .badRequest)
            #expect(try await client.send(.get, path + "?cursor=x", token: world.userToken).status == .badRequest)
            // The platform admin sees all three from the root; the user does not see the other account's.
            #expect(try await client.admin(.get, "/v1/tenants/1/endpoints").items.count == 3)
            #expect(try await client.send(.get, "/v1/tenants/\(otherAccount)/endpoints", token: world.userToken).status == .notFound)
            let theirId = try #require(Self.int(try await client.admin(.get, "/v1/tenants/\(otherAccount)/endpoints").items.first?["id"]))
            #expect(try await client.admin(.delete, "\(path)/\(theirId)").status == .notFound)  // not under this account
            #expect(try await client.send(.delete, "\(path)/\(theirId)", token: world.userToken).status == .notFound)
            #expect(try await client.send(.delete, "\(path)/999999", token: world.userToken).status == .notFound)
            #expect(try await client.send(.delete, "\(path)/\(UUID().uuidString)", token: world.userToken).status == .notFound)
            let malformed = try await client.send(.delete, "\(path)/not-an-id", token: world.userToken)
            #expect(malformed.status == .badRequest && malformed.errorCode == "invalid_request", "\(malformed.text)")

            // Revoke A by its id: 204; listed as revoked with its serial, which is now on the CRL.
            clock.advance(5)
            let revoked = try await client.send(.delete, "\(path)/\(idA)", token: world.userToken)
            #expect(revoked.status == .noContent, "\(revoked.text)")
            let after = try await client.send(.get, path, token: world.userToken).items
            #expect(after.first?["status"] as? String == "revoked" && after.first?["certificate_serial"] as? String == serialA)
            #expect(Self.int(after.first?["updated_at"]) == Int(clock.now()) && after.last?["status"] as? String == "active")
            let dir = try TestDatabases.temporaryDirectory()
            try await client.raw(.get, "/pki/crl.pem").text.write(toFile: dir + "/crl.pem", atomically: true, encoding: .utf8)
            let crl = try await Self.openssl(["crl", "-in", dir + "/crl.pem", "-noout", "-text"])
            let crlSerials = crl.output.split(separator: "\n").compactMap { line -> String? in
                guard let range = line.range(of: "Serial Number: ") else { return nil }
                return Self.serial(String(line[range.upperBound...]))
            }
            #expect(crlSerials.contains(Self.serial(serialA)), "\(crl.output)")
            #expect(try await client.send(.delete, "\(path)/\(idA)", token: world.userToken).errorCode == "conflict")

            // The application's own signed revoke of A finds it gone (0109), as after its own revoke.
            let accountUUID = try #require(try await world.signed(.post, "/api/v1.0/registration/onboard/verify", code: try await world.code(),
                                                                  body: world.body(at: clock.now() - 1)).json["accountId"] as? String)
            let revokeBody = #"{"accountId":"\#(accountUUID)","endpointIds":["\#(deviceA)"],"UTCTimestamp":"\#(Self.timestamp(clock.now()))","timeZone":"+00:00"}"#
            let again = try await world.signed(.delete, "/api/v1.0/registration/onboard/revoke", code: nil, body: revokeBody)
            #expect(again.errorCode == "0109", "\(again.text)")

            // B by its endpoint id (any case), by a dealer's admin above the account... here the platform admin.
            #expect(try await client.admin(.delete, "\(path)/\(deviceB.uppercased())").status == .noContent)
            #expect(try await client.send(.get, path, token: world.userToken).items.allSatisfy { $0["status"] as? String == "revoked" })

            // Onboarding A again makes it afresh: new ids, active, a new certificate.
            clock.advance(5)
            let fresh = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: try await world.code(),
                                               body: world.body(id: "urn:myapp:a"))
            #expect(fresh.status == .created, "\(fresh.text)")
            #expect((fresh.json["deviceAlternateId"] as? String).map { $0 != deviceA } == true)
            let relisted = try await client.send(.get, path, token: world.userToken).items
            #expect(Self.int(relisted.first?["id"]) == idA && relisted.first?["status"] as? String == "active")
            #expect(relisted.first?["certificate_serial"] as? String != serialA)
        }
    }

    static func int(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }

    /// A certificate serial as hex without separators or leading zeros, upper case.
    static func serial(_ text: String) -> String {
        let hex = text.uppercased().filter(\.isHexDigit)
        let trimmed = hex.drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : String(trimmed)
    }

    /// Applications: keys are checked, the private key is shown once, others' applications are not found.
    @Test func applicationsThroughV1() async throws {
        try await TestApp().run { client in
            let developer = try await client.createTenant(kind: "distributor", parent: 1, name: "Dev")
            let pair = try RSAKeyPair.generate()
            let uploaded = try await client.admin(.post, "/v1/tenants/\(developer)/applications",
                                                  json: try String(data: JSONSerialization.data(withJSONObject: ["name": "Uploaded", "public_key": pair.publicKeyPEM]), encoding: .utf8)!)
            #expect(uploaded.status == .created && uploaded.json["private_key"] == nil, "\(uploaded.text)")
            let small = try await client.admin(.post, "/v1/tenants/\(developer)/applications",
                                               json: #"{"name":"Weak","public_key":"-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMk=\n-----END PUBLIC KEY-----\n"}"#)
            #expect(small.status == .unprocessableContent && small.errorCode == "validation_failed", "\(small.text)")
            let badURL = try await client.admin(.post, "/v1/tenants/\(developer)/applications", json: #"{"name":"X","redirect_urls":["javascript:alert(1)"]}"#)
            #expect(badURL.status == .unprocessableContent)
            let listed = try await client.admin(.get, "/v1/tenants/\(developer)/applications")
            #expect(listed.items.count == 1)
            let id = try #require(uploaded.json["application_id"] as? String)
            let rotated = try await client.admin(.patch, "/v1/applications/\(id)", json: #"{"generate_key_pair":true}"#)
            #expect(rotated.status == .ok && (rotated.json["private_key"] as? String)?.contains("PRIVATE KEY") == true)
            // Another dealer's admin cannot see it.
            let other = try await client.createTenant(kind: "distributor", parent: 1, name: "Other")
            _ = try await client.createUser(tenant: other, email: "other@example.com", permissions: ["manage_clients"])
            let otherToken = try await client.signIn("other@example.com")
            #expect(try await client.send(.get, "/v1/applications/\(id)", token: otherToken).status == .notFound)
            let version = try await client.admin(.post, "/v1/applications/\(id)/versions", json: #"{"name":"1.0"}"#)
            let versionId = try #require(version.json["certification_version_id"] as? String)
            #expect(version.json["status"] as? String == "draft" && version.json["cu_onboarding"] as? Bool == false)
            let renamed = try await client.admin(.patch, "/v1/applications/\(id)/versions/\(versionId)", json: #"{"name":"1.0.1","status":"certified"}"#)
            #expect(renamed.json["name"] as? String == "1.0.1" && renamed.json["status"] as? String == "certified", "\(renamed.text)")
            #expect(try await client.raw(.get, "/pki/ca.pem").text.hasSuffix("-----END CERTIFICATE-----\n"))
            #expect(try await client.admin(.delete, "/v1/applications/\(id)").status == .noContent)
        }
    }
}
