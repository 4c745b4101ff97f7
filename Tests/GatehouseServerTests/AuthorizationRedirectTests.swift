import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import Testing

/// The authorization redirect of seed 004 (PROTOCOLS.md §5): a sign-in page, then a 303 to a
/// registered redirect URI with `state`, a base64 `token` and its `signature` under the
/// platform's published key; the token's registration code onboards with that application only.
@Suite("Signed onboarding: authorization redirect")
struct AuthorizationRedirectTests {
    static let callback = "https://app.example/callback"
    static let formType: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// `text` percent-encoded for a query or form (only unreserved ASCII stays).
    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"))!
    }

    static func query(_ pairs: [(String, String)]) -> String {
        pairs.map { encoded($0.0) + "=" + encoded($0.1) }.joined(separator: "&")
    }

    /// The parameters of a redirect's query, decoded.
    static func parameters(_ location: String) throws -> [String: String] {
        let components = try #require(URLComponents(string: location))
        return Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
    }

    static func authorize(_ client: TestApp.Client, _ world: OnboardingAPITests.World, type: String = "onboard", state: String,
                          redirect: String = callback, email: String = "farmer@example.com", password: String = "correct horse",
                          decision: String = "allow") async throws -> TestApp.Client.Answer {
        let body = query([("response_type", type), ("state", state), ("redirect_uri", redirect), ("email", email), ("password", password),
                          ("decision", decision)])
        return try await client.raw(.post, "/application/\(world.applicationId)/authorize", headers: formType, body: body)
    }

    /// Another application of another developer, with its own key and certified version.
    static func otherApplication(_ world: OnboardingAPITests.World) async throws -> OnboardingAPITests.World {
        let client = world.client
        let developer = try await client.createTenant(kind: "distributor", parent: 1, name: "Other Software")
        let created = try await client.admin(.post, "/v1/tenants/\(developer)/applications",
                                             json: #"{"name":"Other app","generate_key_pair":true,"redirect_urls":["https://other.example/back"]}"#)
        let applicationId = try #require(created.json["application_id"] as? String)
        let version = try await client.admin(.post, "/v1/applications/\(applicationId)/versions", json: #"{"name":"1.0","status":"certified"}"#)
        return OnboardingAPITests.World(client: client, clock: world.clock, applicationId: applicationId,
                                        versionId: try #require(version.json["certification_version_id"] as? String),
                                        key: try RSAPrivateKey(pem: try #require(created.json["private_key"] as? String)), accountId: world.accountId,
                                        userToken: world.userToken)
    }

    /// The whole walk: the page, a wrong password, the redirect, the signature checked with
    /// openssl and in Swift against the published key, the token decoded, and its registration
    /// code used with the signed verify and onboarding of that application (0105 for another).
    @Test func onboardRedirectCarriesASignedRegistrationCode() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let world = try await OnboardingAPITests.world(client, clock: clock)
            let path = "/application/\(world.applicationId)/authorize"
            let state = "s+/=?&<b>\"'é 42"

            // The sign-in page: a form, everything echoed escaped, nothing loaded from elsewhere.
            let page = try await client.raw(.get, path + "?" + Self.query([("response_type", "onboard"), ("state", state), ("redirect_uri", Self.callback)]))
            #expect(page.status == .ok, "\(page.text)")
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[.cacheControl] == "no-store")
            #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            #expect(page.text.contains("<form method=\"post\" action=\"\(path)\">"))
            #expect(page.text.contains("name=\"password\"") && page.text.contains("value=\"allow\"") && page.text.contains("value=\"deny\""))
            #expect(page.text.contains("value=\"s+/=?&amp;&lt;b&gt;&quot;&#39;é 42\""), "\(page.text)")
            #expect(!page.text.contains("<b>") && !page.text.contains("src=") && !page.text.contains("href="))
            #expect(page.text.contains("Field app"))

            // A wrong password, and an unknown user: the same form again with 401, no redirect.
            let wrong = try await Self.authorize(client, world, state: state, password: "not it")
            #expect(wrong.status == .unauthorized && wrong.headers[.location] == nil)
            #expect(wrong.text.contains("e-mail or password is wrong") && wrong.text.contains("<form"))
            #expect(wrong.text.contains("value=\"farmer@example.com\""))
            let nobody = try await Self.authorize(client, world, state: state, email: "nobody@example.com", password: "not it")
            #expect(nobody.status == .unauthorized)
            #expect(nobody.text.replacingOccurrences(of: "nobody@", with: "farmer@") == wrong.text)

            // The right password: 303 to the registered redirect URI with state, token and signature.
            let allowed = try await Self.authorize(client, world, state: state)
            #expect(allowed.status == .seeOther, "\(allowed.text)")
            let location = try #require(allowed.headers[.location])
            #expect(location.hasPrefix(Self.callback + "?state="), "\(location)")
            let parameters = try Self.parameters(location)
            #expect(Set(parameters.keys) == ["state", "token", "signature"])
            #expect(parameters["state"] == state)
            let token = try #require(parameters["token"]), signature = try #require(parameters["signature"])

            // The published key verifies the signature over state followed by token: in Swift...
            let published = try await client.raw(.get, "/api/v1.0/registration/authorization-key.pem")
            #expect(published.status == .ok && published.headers[.contentType] == "application/x-pem-file")
            #expect(published.text.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
            let publicKey = try RSAPublicKey(pem: published.text)
            #expect(publicKey.bitCount == 2_048)
            #expect(RequestSignature.verify(body: Array((state + token).utf8), base64Signature: signature, publicKey: publicKey))
            #expect(!RequestSignature.verify(body: Array(("other" + token).utf8), base64Signature: signature, publicKey: publicKey))
            #expect(try await client.raw(.get, "/api/v1.0/registration/authorization-key.pem").text == published.text)

            // ... and with openssl.
            let dir = try TestDatabases.temporaryDirectory()
            try published.text.write(toFile: dir + "/pub.pem", atomically: true, encoding: .utf8)
            try Data(base64Encoded: signature)!.write(to: URL(fileURLWithPath: dir + "/sig.bin"))
            try Data((state + token).utf8).write(to: URL(fileURLWithPath: dir + "/signed.bin"))
            let checked = try await OnboardingAPITests.openssl(["dgst", "-sha256", "-verify", dir + "/pub.pem", "-signature", dir + "/sig.bin", dir + "/signed.bin"])
            #expect(checked.status == 0 && checked.output.contains("Verified OK"), "\(checked.output)")
            try Data(("x" + state + token).utf8).write(to: URL(fileURLWithPath: dir + "/tampered.bin"))
            #expect(try await OnboardingAPITests.openssl(["dgst", "-sha256", "-verify", dir + "/pub.pem", "-signature", dir + "/sig.bin", dir + "/tampered.bin"]).status != 0)

            // The token: base64 JSON {account, regcode, expires}.
            let tokenBytes = try #require(Data(base64Encoded: token))
            let json = try #require(try JSONSerialization.jsonObject(with: tokenBytes) as? [String: String])
            #expect(Set(json.keys) == ["account", "regcode", "expires"])
            let decoded = try #require(AuthorizationToken(base64: token))
            let regcode = try #require(decoded.regcode)
            #expect(regcode.count == 10 && regcode.allSatisfy(\.isHexDigit))
            #expect(UUID(uuidString: decoded.account) != nil)
            #expect(decoded.expires == clock.now() + 3_600)
            #expect(json["expires"] == OnboardingAPITests.timestamp(clock.now() + 3_600))

            // The code is for this application: another application's signed verify gets 0105 ...
            let other = try await Self.otherApplication(world)
            let foreign = try await other.signed(.post, "/api/v1.0/registration/onboard/verify", code: regcode, body: other.body())
            #expect(foreign.status == .badRequest && foreign.errorCode == "0105", "\(foreign.text)")
            // ... while this application's verify answers the token's account, and it onboards.
            let verified = try await world.signed(.post, "/api/v1.0/registration/onboard/verify", code: regcode, body: world.body())
            #expect(verified.status == .ok, "\(verified.text)")
            #expect(verified.json["accountId"] as? String == decoded.account)
            let onboarded = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: regcode, body: world.body(at: clock.now() - 9))
            #expect(onboarded.status == .created, "\(onboarded.text)")
            let used = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: regcode, body: world.body(id: "urn:x:2", at: clock.now() - 8))
            #expect(used.errorCode == "0401", "\(used.text)")

            // The same account as a code made through /v1.
            let made = try await client.send(.post, "/v1/tenants/\(world.accountId)/registration-codes", token: world.userToken)
            #expect(made.json["account_id"] as? String == decoded.account)
        }
    }

    /// `verify` answers the account without a registration code; deny goes back with
    /// `error=access_denied`; the published key stays the same.
    @Test func verifyAndDeny() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let world = try await OnboardingAPITests.world(client, clock: clock)
            let verify = try await Self.authorize(client, world, type: "verify", state: "v-1")
            #expect(verify.status == .seeOther, "\(verify.text)")
            let parameters = try Self.parameters(try #require(verify.headers[.location]))
            let token = try #require(parameters["token"])
            let tokenBytes = try #require(Data(base64Encoded: token))
            let json = try #require(try JSONSerialization.jsonObject(with: tokenBytes) as? [String: String])
            #expect(Set(json.keys) == ["account", "expires"])
            let decoded = try #require(AuthorizationToken(base64: token))
            #expect(decoded.regcode == nil && UUID(uuidString: decoded.account) != nil)
            let publicKey = try RSAPublicKey(pem: try await client.raw(.get, "/api/v1.0/registration/authorization-key.pem").text)
            #expect(RequestSignature.verify(body: Array(("v-1" + token).utf8), base64Signature: try #require(parameters["signature"]), publicKey: publicKey))

            // Deny needs no password and carries no token.
            let denied = try await Self.authorize(client, world, state: "d 1", password: "", decision: "deny")
            #expect(denied.status == .seeOther)
            #expect(denied.headers[.location] == Self.callback + "?error=access_denied&state=d%201")

            // A redirect URL with a query of its own keeps it; the parameters are added after it.
            let other = "https://app.example/other?x=1"
            let patched = try await client.admin(.patch, "/v1/applications/\(world.applicationId)", json: #"{"redirect_urls":["\#(Self.callback)","\#(other)"]}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try await Self.authorize(client, world, state: "d", redirect: other, decision: "deny").headers[.location] == other + "&error=access_denied&state=d")
            let onboard = try await Self.authorize(client, world, state: "a/b+c", redirect: other)
            let location = try #require(onboard.headers[.location])
            #expect(location.hasPrefix(other + "&state=a%2Fb%2Bc&token="), "\(location)")
            let more = try Self.parameters(location)
            #expect(more["x"] == "1" && more["state"] == "a/b+c")
            #expect(RequestSignature.verify(body: Array(("a/b+c" + (more["token"] ?? "")).utf8), base64Signature: more["signature"] ?? "", publicKey: publicKey))
        }
    }

    /// Requests that cannot be redirected get a 400 page and never a Location: an unknown
    /// application, an unregistered redirect URI (even with the right password), an unknown
    /// response type, a missing state.
    @Test func badRequestsAreNeverRedirected() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let world = try await OnboardingAPITests.world(client, clock: clock)
            let path = "/application/\(world.applicationId)/authorize"
            func expectPage(_ answer: TestApp.Client.Answer, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(answer.status == .badRequest, "\(answer.status) \(answer.text)", sourceLocation: sourceLocation)
                #expect(answer.headers[.location] == nil, sourceLocation: sourceLocation)
                #expect(answer.headers[.contentType] == "text/html; charset=utf-8", sourceLocation: sourceLocation)
                #expect(answer.text.contains(message), "\(answer.text)", sourceLocation: sourceLocation)
            }
            let good: [(String, String)] = [("response_type", "onboard"), ("state", "s"), ("redirect_uri", Self.callback)]
            expectPage(try await client.raw(.get, "/application/\(UUID().uuidString)/authorize?" + Self.query(good)), "application is unknown")
            expectPage(try await client.raw(.get, "/application/not-a-uuid/authorize?" + Self.query(good)), "application is unknown")
            for redirect in ["https://evil.example/callback", Self.callback + "/x", "https://app.example/callback?x=1", "//evil.example", ""] {
                let query = Self.query([("response_type", "onboard"), ("state", "s"), ("redirect_uri", redirect)])
                expectPage(try await client.raw(.get, path + "?" + query), "redirect_uri")
                expectPage(try await Self.authorize(client, world, state: "s", redirect: redirect), "redirect_uri")
                expectPage(try await Self.authorize(client, world, state: "s", redirect: redirect, decision: "deny"), "redirect_uri")
            }
            expectPage(try await client.raw(.get, path + "?" + Self.query([("response_type", "token"), ("state", "s"), ("redirect_uri", Self.callback)])),
                       "response_type must be onboard or verify")
            expectPage(try await client.raw(.get, path + "?" + Self.query([("state", "s"), ("redirect_uri", Self.callback)])), "response_type is missing")
            expectPage(try await client.raw(.get, path + "?" + Self.query([("response_type", "onboard"), ("redirect_uri", Self.callback)])), "state is missing")
            expectPage(try await Self.authorize(client, world, state: ""), "state is missing")
            expectPage(try await client.raw(.get, path + "?state=%zz"), "not validly encoded")
            expectPage(try await Self.authorize(client, world, state: "s", decision: "maybe"), "decision must be allow or deny")
            // The escaping holds on the error page too.
            let hostile = try await client.raw(.get, "/application/%3Cscript%3E/authorize?" + Self.query(good))
            #expect(hostile.status == .badRequest && !hostile.text.contains("<script>"))
            // A body that is not a form.
            let json = try await client.raw(.post, path, headers: [.contentType: "application/json"], body: "{}")
            #expect(json.status == .unsupportedMediaType && json.headers[.location] == nil)
        }
    }

    /// Only a user of an account connects an application; a dealer's admin gets the form again with 403.
    @Test func onlyAccountUsersAuthorize() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let world = try await OnboardingAPITests.world(client, clock: clock)
            let dealer = try await client.createTenant(kind: "reseller", parent: 1, name: "Dealer")
            _ = try await client.createUser(tenant: dealer, email: "dealer@example.com", permissions: ["manage_clients"])
            let refused = try await Self.authorize(client, world, state: "s", email: "dealer@example.com")
            #expect(refused.status == .forbidden && refused.headers[.location] == nil, "\(refused.text)")
            #expect(refused.text.contains("only a user of an account") && refused.text.contains("<form"))
            // A disabled account's user cannot sign in at all.
            #expect(try await client.admin(.patch, "/v1/tenants/\(world.accountId)", json: #"{"enabled":false}"#).status == .ok)
            #expect(try await Self.authorize(client, world, state: "s").status == .unauthorized)
        }
    }

    /// The page's sign-in shares the limits of /v1/sessions and the password grant: a locked
    /// user gets the wrong-password form even with the right password; the lock lifts by itself.
    @Test func signInIsThrottled() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock, partnerAuth: PartnerAuthSettings(throttle: SignInThrottleTests.throttle)).run { client in
            let world = try await OnboardingAPITests.world(client, clock: clock)
            for _ in 0..<3 { #expect(try await Self.authorize(client, world, state: "s", password: "wrong one").status == .unauthorized) }
            let locked = try await Self.authorize(client, world, state: "s")
            #expect(locked.status == .unauthorized && locked.headers[.location] == nil)
            #expect(locked.text == (try await Self.authorize(client, world, state: "s", password: "wrong one")).text)
            // The same lock holds for /v1/sessions.
            #expect(try await client.send(.post, "/v1/sessions", token: nil, json: #"{"email":"farmer@example.com","password":"correct horse"}"#).status == .unauthorized)
            clock.advance(121)
            #expect(try await Self.authorize(client, world, state: "s").status == .seeOther)
        }
    }
}
