import Foundation
import GatehouseCore
import GatehouseTestSupport
import HTTPTypes
import Testing

/// The client_credentials grant (RFC 6749 §4.4): a token that acts as the API client in its
/// node, with the client's scopes and no refresh token.
@Suite("Partner auth: client_credentials grant")
struct ClientCredentialsGrantTests {
    func expectOAuth(_ answer: TestApp.Client.Answer, _ status: HTTPResponse.Status, _ error: String, _ what: String) {
        #expect(answer.status == status, "\(what): \(answer.status) \(answer.text)")
        #expect(answer.json["error"] as? String == error, "\(what): \(answer.text)")
        #expect(answer.json["error_description"] is String, "\(what)")
    }

    @Test func tokenActsAsTheClientInItsNode() async throws {
        try await TestApp().run { client in
            let f = try await PartnerFixture.make(client)
            let granted = try await f.token("grant_type=client_credentials")
            #expect(granted.status == .ok, "\(granted.text)")
            #expect(granted.headers[.cacheControl] == "no-store")
            #expect(Set(granted.json.keys) == ["access_token", "token_type", "expires_in", "scope"])  // no refresh token
            #expect(granted.json["token_type"] as? String == "bearer")
            #expect((granted.json["expires_in"] as? NSNumber)?.intValue == 43199)
            #expect(granted.json["scope"] as? String == "read write")
            let token = try #require(granted.json["access_token"] as? String)
            #expect(token.wholeMatch(of: try Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}:1$")) != nil)

            // The client's node is reseller "Res": its search sees that reseller's accounts only.
            let found = try await f.get("/rest/v2.2/resellers/self/accounts/all/users", token)
            #expect(found.status == .ok, "\(found.text)")
            #expect(found.array.compactMap { $0["email"] as? String } == ["end@user.example"])
            let all = try await f.get("/rest/v2.2/resellers/all/accounts/all/users", token)
            #expect(all.status == .forbidden, "a reseller's client has no resellers/all")
            // A distributor's client reaches its resellers' accounts.
            let distributor = try #require(try await f.token("grant_type=client_credentials", client: "dpartner").json["access_token"] as? String)
            let wide = try await f.get("/rest/v2.2/resellers/all/accounts/all/users", distributor)
            #expect(Set(wide.array.compactMap { $0["email"] as? String }) == ["end@user.example", "end2@user.example"])

            // There is no user behind it: user calls and minting on behalf answer 403.
            #expect(try await f.get("/rest/v2.2/users/self", token).status == .forbidden)
            #expect(try await f.get("/rest/v2.2/cameras", token).status == .forbidden)
            let mint = try await f.post("/rest/v2.2/resellers/self/accounts/\(f.id("a"))/users/\(f.id("end"))/token", token)
            #expect(mint.status == .forbidden, "\(mint.text)")
            // It is no refresh token, and it does not open the management API.
            expectOAuth(try await f.token("grant_type=refresh_token&refresh_token=\(token)"), .badRequest, "invalid_grant", "as a refresh token")
            #expect(try await client.raw(.get, "/v1/tenants", headers: [.authorization: "Bearer \(token)"]).status == .unauthorized)
        }
    }

    @Test func scopesAndFailures() async throws {
        try await TestApp().run { client in
            let f = try await PartnerFixture.make(client)
            let read = try await f.token("grant_type=client_credentials&scope=read")
            #expect(read.json["scope"] as? String == "read")
            let readToken = try #require(read.json["access_token"] as? String)
            #expect(try await f.get("/rest/v2.2/resellers/self/accounts/all/users", readToken).status == .ok)
            #expect(try await f.post("/rest/v2.2/resellers/self/accounts/\(f.id("a"))/users/\(f.id("end"))/token", readToken).status == .forbidden)
            #expect(try await f.token("grant_type=client_credentials", client: "readonly").json["scope"] as? String == "read")
            expectOAuth(try await f.token("grant_type=client_credentials&scope=write", client: "readonly"), .badRequest, "invalid_scope", "scope beyond the client")
            expectOAuth(try await f.token("grant_type=client_credentials&scope=admin"), .badRequest, "invalid_scope", "unknown scope")
            expectOAuth(try await f.token("grant_type=client_credentials", authorization: f.basic("partner", secret: "wrong")),
                        .unauthorized, "invalid_client", "wrong secret")
            expectOAuth(try await client.raw(.post, "/oauth/token?grant_type=client_credentials"), .unauthorized, "invalid_client", "no client")

            // Revoked, or its client switched off: the token stops working at once.
            let token = try #require(try await f.token("grant_type=client_credentials").json["access_token"] as? String)
            let revoke = try await client.raw(.post, "/oauth/revoke?token=\(token)", headers: [.authorization: f.basic("partner")])
            #expect(revoke.status == .ok)
            #expect(try await f.get("/rest/v2.2/resellers/self/accounts/all/users", token).status == .unauthorized)
            let plain = try #require(try await f.token("grant_type=client_credentials", client: "plain").json["access_token"] as? String)
            #expect(try await f.get("/rest/v2.2/resellers/self/accounts/all/users", plain).status == .ok)
            #expect(try await client.admin(.patch, "/v1/clients/\(f.id("plainClient"))", json: #"{"enabled":false}"#).status == .ok)
            #expect(try await f.get("/rest/v2.2/resellers/self/accounts/all/users", plain).status == .unauthorized)
            expectOAuth(try await f.token("grant_type=client_credentials", client: "plain"), .unauthorized, "invalid_client", "disabled client")
        }
    }
}
