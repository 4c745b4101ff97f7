import Foundation
import GatehouseCore
import GatehouseServer
import HTTPTypes
import Hummingbird
import Testing

/// The dealer admin's console pages (issue 10, point 3) through the router: accounts and
/// users of the dealer's own subtree only, search by e-mail, "Generate access token" under
/// the partner-auth rules (token shown once, CSRF, rejected forms keep values), and the
/// paged audit log; end users get none of it.
@Suite("Console: dealer pages")
struct ConsoleDealerTests {
    static let accounts = "/console/dealer/accounts"

    /// The number of on-behalf mints in the audit log.
    static func mints(_ client: TestApp.Client) async throws -> Int {
        try await client.admin(.get, "/v1/audit?limit=500").items.filter { $0["action"] as? String == "token.mint_on_behalf" }.count
    }

    @Test func signedOutAndEndUsersGetNoDealerPages() async throws {
        try await TestApp().run { client in
            let f = try await PartnerFixture.make(client)
            var anonymous = ConsoleBrowser(client)
            for path in [Self.accounts, "/console/audit"] {
                let answer = try await anonymous.get(path)
                #expect(answer.status == .seeOther && answer.headers[.location] == "/console/sign-in", "\(path)")
            }
            #expect(try await anonymous.post("/console/dealer/tokens", [("account_id", "\(f.id("a"))")], csrf: "x").headers[.location] == "/console/sign-in")

            var end = ConsoleBrowser(client)
            try await end.signIn("end@user.example")
            #expect(!end.page.contains(">Accounts<") && !end.page.contains(">Audit log<"), "navigation shows only the end user's sections")
            #expect(try await end.get(Self.accounts).status == .forbidden)
            #expect(try await end.get("/console/audit").status == .forbidden)
            try await end.get("/console/accounts/\(f.id("a"))/devices")
            let minted = try await end.post("/console/dealer/tokens", [("account_id", "\(f.id("a"))"), ("user_id", "\(f.id("end"))"), ("client_id", "partner")])
            #expect(minted.status == .forbidden)
            #expect(try await Self.mints(client) == 0)
        }
    }

    @Test func aDealerSeesOnlyItsSubtreeAndFindsUsersByEmail() async throws {
        try await TestApp().run { client in
            _ = try await PartnerFixture.make(client)
            var dealer = ConsoleBrowser(client)
            try await dealer.signIn("dealer@res.example")
            #expect(dealer.page.contains(#"href="/console/dealer/accounts""#), "a dealer's navigation has Accounts")
            let page = try await dealer.get(Self.accounts)
            #expect(page.status == .ok)
            #expect(page.text.contains("Acct") && !page.text.contains("Acct B") && !page.text.contains("Foreign"))
            #expect(page.text.contains("end@user.example") && !page.text.contains("end2@user.example") && !page.text.contains("outsider@user.example"))

            let found = try await dealer.get(Self.accounts + "?email=END%40user.example")
            #expect(found.status == .ok && found.text.contains("end@user.example") && !found.text.contains("noperm@res.example"))
            let foreign = try await dealer.get(Self.accounts + "?email=outsider%40user.example")
            #expect(foreign.text.contains("No user has that e-mail address.") && !foreign.text.contains("<th scope=\"row\" data-label=\"E-mail\">outsider"))

            let bad = try await dealer.get(Self.accounts + "?email=not-an-address")
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains(#"value="not-an-address""#) && bad.text.contains(#"id="search-email-error""#) && bad.text.contains(#"aria-invalid="true""#))

            // The distributor above sees both resellers' accounts, not the foreign distributor's.
            var distributor = ConsoleBrowser(client)
            try await distributor.signIn("dealer@dist.example")
            let all = try await distributor.get(Self.accounts)
            #expect(all.text.contains("Acct B") && all.text.contains("end2@user.example") && !all.text.contains("Foreign Acct"))
        }
    }

    @Test func generateAccessTokenShowsTheTokenOnceAndItActsAsTheUser() async throws {
        try await TestApp().run { client in
            let f = try await PartnerFixture.make(client)
            var dealer = ConsoleBrowser(client)
            try await dealer.signIn("dealer@res.example")
            let page = try await dealer.get(Self.accounts)
            #expect(page.text.contains(#"<option value="partner">"#) && !page.text.contains(#"value="plain""#), "only provisioning clients are offered")

            // Without the form token nothing is minted.
            let forged = try await dealer.post("/console/dealer/tokens", [("account_id", "\(f.id("a"))"), ("user_id", "\(f.id("end"))"), ("client_id", "partner")],
                                               csrf: .some(nil))
            #expect(forged.status == .forbidden)
            let wrong = try await dealer.post("/console/dealer/tokens", [("account_id", "\(f.id("a"))"), ("user_id", "\(f.id("end"))"), ("client_id", "partner")],
                                              csrf: "0123456789abcdef")
            #expect(wrong.status == .forbidden)
            #expect(try await Self.mints(client) == 0)

            try await dealer.get(Self.accounts)
            let minted = try await dealer.post("/console/dealer/tokens", [("account_id", "\(f.id("a"))"), ("user_id", "\(f.id("end"))"), ("client_id", "partner")])
            #expect(minted.status == .created, "\(minted.text)")
            let token = try #require(ConsoleBrowser.firstMatch(#"id="minted-token">([^<]*)<"#, in: minted.text))
            let me = try await f.get("/rest/v2.2/users/self", token)
            #expect(me.status == .ok && me.json["email"] as? String == "end@user.example")
            #expect(try await Self.mints(client) == 1)
            // Shown once: not on the page again, not in the audit log.
            #expect(!(try await dealer.get(Self.accounts)).text.contains(token))
            #expect(!(try await client.admin(.get, "/v1/audit?limit=500")).text.contains(token))
        }
    }

    @Test func aRejectedMintKeepsItsValuesAndMintsNothing() async throws {
        try await TestApp().run { client in
            let f = try await PartnerFixture.make(client)
            var dealer = ConsoleBrowser(client)
            try await dealer.signIn("dealer@res.example")
            try await dealer.get(Self.accounts)
            // An account of another reseller is outside the dealer's subtree.
            let outside = try await dealer.post("/console/dealer/tokens", [("account_id", "\(f.id("b"))"), ("user_id", "\(f.id("end2"))"),
                                                                           ("client_id", "partner"), ("write", "on")])
            #expect(outside.status == .unprocessableContent)
            #expect(outside.text.contains(#"id="mint-account-error""#))
            #expect(outside.text.contains(#"value="\#(f.id("b"))""#) && outside.text.contains(#"value="\#(f.id("end2"))""#))
            #expect(outside.text.contains(#"<option value="partner" selected>"#) && outside.text.contains(#"id="mint-write" name="write" type="checkbox" checked"#))
            // A client not enabled for provisioning cannot mint.
            let readonly = try await dealer.post("/console/dealer/tokens", [("account_id", "\(f.id("a"))"), ("user_id", "\(f.id("end"))"), ("client_id", "plain")])
            #expect(readonly.status == .unprocessableContent && readonly.text.contains(#"id="mint-client-error""#))
            let missing = try await dealer.post("/console/dealer/tokens", [("account_id", "x"), ("user_id", ""), ("client_id", "")])
            #expect(missing.status == .unprocessableContent && missing.text.contains(#"id="mint-user-error""#) && missing.text.contains(#"value="x""#))
            #expect(try await Self.mints(client) == 0)

            // A dealer without the permission gets no form, and posting is refused.
            var noPerm = ConsoleBrowser(client)
            try await noPerm.signIn("noperm@res.example")
            let page = try await noPerm.get(Self.accounts)
            #expect(!page.text.contains(#"action="/console/dealer/tokens""#))
            let refused = try await noPerm.post("/console/dealer/tokens", [("account_id", "\(f.id("a"))"), ("user_id", "\(f.id("end"))"), ("client_id", "partner")])
            #expect(refused.status == .forbidden)
            #expect(try await Self.mints(client) == 0)
        }
    }

    @Test func theAuditLogShowsTheSubtreeInPages() async throws {
        try await TestApp().run { client in
            let f = try await PartnerFixture.make(client)
            _ = try await client.createUser(tenant: f.id("r"), email: "auditor@res.example", permissions: ["read_audit"])
            for index in 0..<55 { _ = try await client.createUser(tenant: f.id("a"), email: "u\(index)@acct.example") }
            _ = try await client.createUser(tenant: f.id("xa"), email: "hidden@foreign.example")
            var auditor = ConsoleBrowser(client)
            try await auditor.signIn("auditor@res.example")
            #expect(auditor.page.contains(#"href="/console/audit""#))
            let first = try await auditor.get("/console/audit")
            #expect(first.status == .ok)
            #expect(ConsoleBrowser.allMatches(#"<th scope="row" data-label="What">([^<]*)<"#, in: first.text).count == 50)
            let next = try #require(ConsoleBrowser.firstMatch(#"href="(/console/audit\?cursor=[0-9]+)" rel="next""#, in: first.text))
            let second = try await auditor.get(next)
            #expect(second.status == .ok && second.text.contains("First page"))
            let all = first.text + second.text
            #expect(all.contains("u54@acct.example") && !all.contains("hidden@foreign.example"))
            #expect(try await auditor.get("/console/audit?cursor=-1").status == .badRequest)

            var dealer = ConsoleBrowser(client)
            try await dealer.signIn("dealer@res.example")
            #expect(!dealer.page.contains(#"href="/console/audit""#), "no Audit log link without read_audit")
            #expect(try await dealer.get("/console/audit").status == .forbidden)
        }
    }
}
