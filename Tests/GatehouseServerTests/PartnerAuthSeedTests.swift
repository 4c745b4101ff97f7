import Foundation
import GatehouseCore
import GatehouseTestSupport
import HTTPTypes
import Testing

/// Seed 001 walked step by step, as a dealer back end written against it does.
@Suite("Partner auth: the seed, step by step")
struct PartnerAuthSeedTests {
    @Test func dealerActsOnBehalfOfAnEndUser() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let f = try await PartnerFixture.make(client)

            // 2. Login: HTTP Basic client credentials, parameters in the query string.
            let login = try await f.token("grant_type=password&scope=write&username=dealer@res.example&password=correct%20horse")
            #expect(login.status == .ok)
            #expect(login.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(login.headers[.cacheControl] == "no-store")
            #expect(Set(login.json.keys) == ["access_token", "token_type", "refresh_token", "expires_in", "scope"])
            #expect(login.json["token_type"] as? String == "bearer")
            #expect((login.json["expires_in"] as? NSNumber)?.intValue == 43199)
            #expect(login.json["scope"] as? String == "write")
            let access = try #require(login.json["access_token"] as? String)
            let refresh = try #require(login.json["refresh_token"] as? String)
            let shape = try Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}:1$")
            #expect(access.wholeMatch(of: shape) != nil && refresh.wholeMatch(of: shape) != nil && access != refresh)

            // 4. Refresh: a new access token, the same refresh token.
            let refreshed = try await f.token("grant_type=refresh_token&scope=write&refresh_token=\(refresh)")
            #expect(refreshed.status == .ok)
            let access2 = try #require(refreshed.json["access_token"] as? String)
            #expect(access2 != access)
            #expect(refreshed.json["refresh_token"] as? String == refresh)
            #expect((refreshed.json["expires_in"] as? NSNumber)?.intValue == 43199)

            // 3. Search the end user by e-mail (a reseller: resellers/self).
            let found = try await f.get("/rest/v2.2/resellers/self/accounts/all/users?email=end@user.example", access2)
            #expect(found.status == .ok)
            #expect(found.array.count == 1)
            let userId = try #require((found.array.first?["userId"] as? NSNumber)?.int64Value)
            let accountId = try #require((found.array.first?["accountId"] as? NSNumber)?.int64Value)
            #expect(userId == f.id("end") && accountId == f.id("a"))

            // 5. Generate an access token for the end user.
            let minted = try await f.post("/rest/v2.2/resellers/self/accounts/\(accountId)/users/\(userId)/token", access2)
            #expect(minted.status == .ok, "\(minted.text)")
            #expect(Set(minted.json.keys) == ["access_token", "token_type", "expires_in", "scope"])
            #expect(minted.json["token_type"] as? String == "bearer")
            #expect((minted.json["expires_in"] as? NSNumber)?.intValue == 0)
            #expect(minted.json["scope"] as? String == "read")
            let onBehalf = try #require(minted.json["access_token"] as? String)
            #expect(onBehalf.wholeMatch(of: shape) != nil && onBehalf != access2)

            // ...and act as the end user.
            let me = try await f.get("/rest/v2.2/users/self", onBehalf)
            #expect(me.status == .ok)
            #expect((me.json["userId"] as? NSNumber)?.int64Value == userId)
            #expect(me.json["email"] as? String == "end@user.example")
            let cameras = try await f.get("/rest/v2.2/cameras", onBehalf)
            #expect(cameras.array.map { $0["name"] as? String } == ["Front door"])
            #expect(try await f.get("/rest/v2.2/cameras", access2).array.isEmpty)  // the dealer's own account has none

            // The mint is recorded: who minted it, for whom, in the audit log readable through /v1.
            let audit = try await client.admin(.get, "/v1/audit?limit=500")
            let mint = try #require(audit.items.last { $0["action"] as? String == "token.mint_on_behalf" })
            #expect(mint["actor"] as? String == "user:\(f.id("dealerR"))")
            #expect((mint["tenant_id"] as? NSNumber)?.int64Value == accountId)
            #expect(!audit.text.contains(onBehalf))
            let listed = try await client.admin(.get, "/v1/on-behalf-tokens")
            #expect(listed.items.count == 1)
            #expect((listed.items.first?["minted_by"] as? NSNumber)?.int64Value == f.id("dealerR"))

            // A distributor searches across its resellers (resellers/all), never outside its subtree.
            let (distributor, _) = try await f.login("dealer@dist.example", client: "dpartner")
            let all = try await f.get("/rest/v2.2/resellers/all/accounts/all/users", distributor)
            #expect(Set(all.array.compactMap { $0["email"] as? String }) == ["end@user.example", "end2@user.example"])
            let paged = try await f.get("/rest/v2.2/resellers/all/accounts/all/users?limit=1", distributor)
            #expect(paged.array.count == 1)
            let cursor = try #require(paged.headers[HTTPField.Name("X-Next-Cursor")!])
            let next = try await f.get("/rest/v2.2/resellers/all/accounts/all/users?limit=1&cursor=\(cursor)", distributor)
            #expect(next.array.first?["email"] as? String == "end2@user.example")
            #expect(try await f.post("/rest/v2.2/resellers/all/accounts/\(f.id("b"))/users/\(f.id("end2"))/token", distributor).status == .ok)

            // Tokens expire: the access token after its lifetime, the refresh token keeps working.
            clock.advance(43_200)
            #expect(try await f.get("/rest/v2.2/users/self", access2).status == .unauthorized)
            let later = try await f.token("grant_type=refresh_token&refresh_token=\(refresh)")
            #expect(later.status == .ok)
            let access3 = try #require(later.json["access_token"] as? String)
            #expect(try await f.get("/rest/v2.2/users/self", onBehalf).status == .ok)  // on-behalf: no expiry by default

            // Revocation (RFC 7009) by the client that holds the token; logout ends the refresh token.
            let revoke = try await client.raw(.post, "/oauth/revoke", headers: [.authorization: f.basic("partner"), .contentType: "application/x-www-form-urlencoded"],
                                              body: "token=\(onBehalf)")
            #expect(revoke.status == .ok)
            #expect(try await f.get("/rest/v2.2/users/self", onBehalf).status == .unauthorized)
            #expect(try await f.post("/oauth/logout", access3).status == .noContent)
            #expect(try await f.get("/rest/v2.2/users/self", access3).status == .unauthorized)
            let afterLogout = try await f.token("grant_type=refresh_token&refresh_token=\(refresh)")
            #expect(afterLogout.status == .badRequest)
            #expect(afterLogout.json["error"] as? String == "invalid_grant")
        }
    }

    @Test func formBodiesAndParameterCredentials() async throws {
        try await TestApp().run { client in
            let f = try await PartnerFixture.make(client)
            let body = "grant_type=password&username=dealer%40res.example&password=correct+horse&client_id=partner&client_secret=\(f.secrets["partner"] ?? "")"
            let answer = try await client.raw(.post, "/oauth/token", headers: [.contentType: "application/x-www-form-urlencoded"], body: body)
            #expect(answer.status == .ok, "\(answer.text)")
            #expect(answer.json["scope"] as? String == "read write")  // no scope asked: all the client and user allow
            let refresh = try #require(answer.json["refresh_token"] as? String)
            let narrowed = try await client.raw(.post, "/oauth/token", headers: [.contentType: "application/x-www-form-urlencoded", .authorization: f.basic("partner")],
                                                body: "grant_type=refresh_token&scope=read&refresh_token=\(refresh)")
            #expect(narrowed.json["scope"] as? String == "read")
            // An on-behalf token revoked through /v1 fails at once.
            let (access, _) = try await f.login("dealer@res.example")
            let minted = try await f.post("/rest/v2.2/resellers/self/accounts/\(f.id("a"))/users/\(f.id("end"))/token?scope=read", access)
            let token = try #require(minted.json["access_token"] as? String)
            let tokenId = try #require((try await client.admin(.get, "/v1/on-behalf-tokens").items.first?["id"] as? NSNumber)?.int64Value)
            #expect(try await client.admin(.delete, "/v1/on-behalf-tokens/\(tokenId)").status == .noContent)
            #expect(try await f.get("/rest/v2.2/users/self", token).status == .unauthorized)
        }
    }
}
