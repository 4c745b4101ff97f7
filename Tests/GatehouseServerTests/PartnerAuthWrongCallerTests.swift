import Foundation
import GatehouseCore
import GatehouseTestSupport
import HTTPTypes
import Testing

/// Every step of seed 001 tried by every kind of wrong caller: each gets its own error,
/// in RFC 6749 form on /oauth and as {code,title,detail} on /rest.
@Suite("Partner auth: wrong callers")
struct PartnerAuthWrongCallerTests {
    func expectOAuth(_ answer: TestApp.Client.Answer, _ status: HTTPResponse.Status, _ error: String, _ what: String) {
        #expect(answer.status == status, "\(what): \(answer.status) \(answer.text)")
        #expect(answer.json["error"] as? String == error, "\(what): \(answer.text)")
        #expect(answer.json["error_description"] is String, "\(what)")
    }

    func expectREST(_ answer: TestApp.Client.Answer, _ status: HTTPResponse.Status, _ what: String) {
        #expect(answer.status == status, "\(what): \(answer.status) \(answer.text)")
        #expect((answer.json["code"] as? NSNumber)?.intValue == Int(status.code), "\(what): \(answer.text)")
        #expect(answer.json["title"] as? String == status.reasonPhrase, "\(what)")
        #expect(answer.json["detail"] is String, "\(what)")
    }

    @Test func tokenEndpoint() async throws {
        try await TestApp().run { client in
            let f = try await PartnerFixture.make(client)
            let good = "grant_type=password&username=dealer@res.example&password=correct%20horse"
            // Client authentication.
            expectOAuth(try await client.raw(.post, "/oauth/token?" + good), .unauthorized, "invalid_client", "no client credentials")
            expectOAuth(try await f.token(good, authorization: f.basic("partner", secret: "wrong")), .unauthorized, "invalid_client", "wrong secret")
            expectOAuth(try await f.token(good, authorization: f.basic("nobody", secret: "x")), .unauthorized, "invalid_client", "unknown client")
            expectOAuth(try await f.token(good, authorization: "Basic !!!notbase64"), .unauthorized, "invalid_client", "malformed Basic")
            expectOAuth(try await f.token(good, authorization: "Basic " + Data("nocolon".utf8).base64EncodedString()), .unauthorized, "invalid_client", "Basic without colon")
            let unauthorized = try await client.raw(.post, "/oauth/token?" + good)
            #expect(unauthorized.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            // Parameters.
            expectOAuth(try await f.token("username=dealer@res.example&password=x"), .badRequest, "invalid_request", "no grant_type")
            expectOAuth(try await f.token("grant_type=authorization_code&code=x"), .badRequest, "unsupported_grant_type", "unsupported grant")
            expectOAuth(try await f.token("grant_type=password&password=x"), .badRequest, "invalid_request", "no username")
            expectOAuth(try await f.token("grant_type=refresh_token"), .badRequest, "invalid_request", "no refresh_token")
            expectOAuth(try await f.token(good + "&scope=admin"), .badRequest, "invalid_scope", "unknown scope")
            expectOAuth(try await f.token(good + "&scope=write", client: "readonly"), .badRequest, "invalid_scope", "scope beyond the client")
            // The user's own scopes bound the token too.
            #expect(try await client.admin(.patch, "/v1/users/\(f.id("dealerD"))", json: #"{"scopes":["read"]}"#).status == .ok)
            expectOAuth(try await f.token("grant_type=password&scope=write&username=dealer@dist.example&password=correct%20horse", client: "dpartner"),
                        .badRequest, "invalid_scope", "scope beyond the user")
            let readOnlyUser = try await f.token("grant_type=password&username=dealer@dist.example&password=correct%20horse", client: "dpartner")
            #expect(readOnlyUser.json["scope"] as? String == "read")
            let wrongType = try await client.raw(.post, "/oauth/token", headers: [.authorization: f.basic("partner"), .contentType: "application/json"], body: "{}")
            expectOAuth(wrongType, .unsupportedMediaType, "invalid_request", "JSON body")
            // Credentials of the user: wrong password, unknown, disabled all answer alike.
            let wrong = try await f.token("grant_type=password&username=dealer@res.example&password=nope")
            expectOAuth(wrong, .badRequest, "invalid_grant", "wrong password")
            let unknown = try await f.token("grant_type=password&username=ghost@res.example&password=nope")
            expectOAuth(unknown, .badRequest, "invalid_grant", "unknown user")
            #expect(wrong.json["error_description"] as? String == unknown.json["error_description"] as? String)
            #expect(try await client.admin(.patch, "/v1/users/\(f.id("noPerm"))", json: #"{"enabled":false}"#).status == .ok)
            let disabled = try await f.token("grant_type=password&username=noperm@res.example&password=correct%20horse")
            expectOAuth(disabled, .badRequest, "invalid_grant", "disabled user")
            #expect(disabled.json["error_description"] as? String == wrong.json["error_description"] as? String)
            // Refresh tokens: malformed, another client's, an access token, a revoked one.
            let (access, refresh) = try await f.login("dealer@res.example")
            expectOAuth(try await f.token("grant_type=refresh_token&refresh_token=garbage"), .badRequest, "invalid_grant", "malformed refresh")
            expectOAuth(try await f.token("grant_type=refresh_token&refresh_token=\(refresh)", client: "plain"), .badRequest, "invalid_grant", "another client's refresh")
            expectOAuth(try await f.token("grant_type=refresh_token&refresh_token=\(access)"), .badRequest, "invalid_grant", "access token as refresh")
            expectOAuth(try await f.token("grant_type=refresh_token&refresh_token=\(refresh)&scope=admin"), .badRequest, "invalid_scope", "refresh with unknown scope")
            // A client, or its node, switched off stops working at once.
            #expect(try await client.admin(.patch, "/v1/clients/\(f.id("plainClient"))", json: #"{"enabled":false}"#).status == .ok)
            expectOAuth(try await f.token(good, client: "plain"), .unauthorized, "invalid_client", "disabled client")
            #expect(try await client.admin(.patch, "/v1/tenants/\(f.id("xr"))", json: #"{"enabled":false}"#).status == .ok)
            expectOAuth(try await f.token("grant_type=password&username=dealer@foreign.example&password=correct%20horse", client: "xpartner"),
                        .unauthorized, "invalid_client", "client of a disabled node")
            // Revocation needs the client; a token of another client is silently left alone.
            let revokeNoClient = try await client.raw(.post, "/oauth/revoke?token=\(refresh)")
            expectOAuth(revokeNoClient, .unauthorized, "invalid_client", "revoke without client")
            let foreign = try await client.raw(.post, "/oauth/revoke?token=\(refresh)", headers: [.authorization: f.basic("dpartner")])
            #expect(foreign.status == .ok)
            #expect(try await f.token("grant_type=refresh_token&refresh_token=\(refresh)").status == .ok)
            expectOAuth(try await client.raw(.post, "/oauth/revoke", headers: [.authorization: f.basic("partner")]), .badRequest, "invalid_request", "revoke without token")
        }
    }

    @Test func restCalls() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let f = try await PartnerFixture.make(client)
            let search = "/rest/v2.2/resellers/self/accounts/all/users?email=end@user.example"
            let mint = "/rest/v2.2/resellers/self/accounts/\(f.id("a"))/users/\(f.id("end"))/token"
            let (dealer, refresh) = try await f.login("dealer@res.example")
            #expect(try await f.post(mint, dealer).status == .ok)

            // No token, garbage, a refresh token, a /v1 session, the platform admin token.
            expectREST(try await client.raw(.get, search), .unauthorized, "no token")
            expectREST(try await f.get(search, "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:10003"), .unauthorized, "unknown token")
            expectREST(try await f.get(search, String(repeating: "z", count: 4000)), .unauthorized, "huge token")
            expectREST(try await f.get(search, refresh), .unauthorized, "refresh token as bearer")
            expectREST(try await f.get(search, client.adminToken), .unauthorized, "platform admin token")
            let session = try await client.signIn("dealer@res.example")
            expectREST(try await f.get(search, session), .unauthorized, "a /v1 session")
            #expect(try await client.raw(.get, search).headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)

            // Wrong reach: reseller on resellers/all, an unknown scope word, end users.
            expectREST(try await f.get("/rest/v2.2/resellers/all/accounts/all/users", dealer), .forbidden, "reseller on resellers/all")
            expectREST(try await f.get("/rest/v2.2/resellers/some/accounts/all/users", dealer), .notFound, "unknown scope word")
            let onBehalf = try #require(try await f.post(mint, dealer).json["access_token"] as? String)
            expectREST(try await f.get(search, onBehalf), .forbidden, "end user searching")
            expectREST(try await f.post(mint, onBehalf), .forbidden, "end user minting")
            expectREST(try await f.get("/rest/v2.2/resellers/self/accounts/all/users?email=not-an-email", dealer), .unprocessableContent, "bad e-mail")
            expectREST(try await f.get("/rest/v2.2/resellers/self/accounts/all/users?limit=0", dealer), .badRequest, "bad limit")

            // Users outside the caller's reach behave as if they did not exist.
            expectREST(try await f.post("/rest/v2.2/resellers/self/accounts/\(f.id("xa"))/users/\(f.id("outsider"))/token", dealer), .notFound, "foreign account")
            expectREST(try await f.post("/rest/v2.2/resellers/self/accounts/\(f.id("b"))/users/\(f.id("end2"))/token", dealer), .notFound, "sibling reseller's account")
            expectREST(try await f.post("/rest/v2.2/resellers/self/accounts/\(f.id("a"))/users/\(f.id("end2"))/token", dealer), .notFound, "user of another account")
            expectREST(try await f.post("/rest/v2.2/resellers/self/accounts/abc/users/1/token", dealer), .badRequest, "malformed account id")
            let (xdealer, _) = try await f.login("dealer@foreign.example", client: "xpartner")
            expectREST(try await f.post(mint, xdealer), .notFound, "foreign dealer")
            let foreignSearch = try await f.get(search, xdealer)
            #expect(foreignSearch.status == .ok && foreignSearch.array.isEmpty)
            let (distributor, _) = try await f.login("dealer@dist.example", client: "dpartner")
            expectREST(try await f.post(mint, distributor), .notFound, "distributor using self for a reseller's account")

            // The three switches of seed 001: client provisioning, the user's permission, the node's module.
            let (plain, _) = try await f.login("dealer@res.example", client: "plain")
            expectREST(try await f.post(mint, plain), .forbidden, "client not enabled for provisioning")
            #expect(try await client.admin(.patch, "/v1/users/\(f.id("noPerm"))", json: #"{"scopes":["read","write"]}"#).status == .ok)
            let (noPerm, _) = try await f.login("noperm@res.example")
            expectREST(try await f.post(mint, noPerm), .forbidden, "user without the permission")
            let (readOnly, _) = try await f.login("dealer@res.example", client: "readonly", scope: "read")
            expectREST(try await f.post(mint, readOnly), .forbidden, "read-only token minting")
            #expect(try await client.admin(.put, "/v1/tenants/\(f.id("r"))/features/generate_access_token", json: #"{"enabled":false}"#).status == .ok)
            expectREST(try await f.post(mint, dealer), .forbidden, "module switched off")
            #expect(try await client.admin(.put, "/v1/tenants/\(f.id("r"))/features/generate_access_token", json: #"{"enabled":true}"#).status == .ok)
            #expect(try await f.post(mint, dealer).status == .ok)

            // A disabled end user cannot be minted for; an on-behalf token of a user disabled later stops.
            #expect(try await client.admin(.patch, "/v1/users/\(f.id("end"))", json: #"{"enabled":false}"#).status == .ok)
            expectREST(try await f.post(mint, dealer), .conflict, "disabled end user")
            expectREST(try await f.get("/rest/v2.2/users/self", onBehalf), .unauthorized, "token of a disabled user")

            // Expired access tokens fail.
            clock.advance(43_200)
            expectREST(try await f.get(search, dealer), .unauthorized, "expired token")
            // Unknown routes under /rest answer in the same format.
            expectREST(try await f.get("/rest/v2.2/nothing-here", dealer), .notFound, "unknown route")
        }
    }
}
