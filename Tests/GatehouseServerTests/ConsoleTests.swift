import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import Testing

/// The console's sign-in, session cookie, CSRF and origin rules, and sign-out.
@Suite("Console: sign-in and forms")
struct ConsoleTests {
    @Test func signedOutPagesAndFormsGoToSignIn() async throws {
        try await TestApp().run { client in
            let world = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            for path in ["/console", world.devices, "/console/qr.png?d=x"] {
                let answer = try await browser.get(path)
                #expect(answer.status == .seeOther && answer.headers[.location] == "/console/sign-in", "\(path)")
            }
            // A form posted without a session does nothing and goes to sign-in.
            let posted = try await browser.post("/console/accounts/\(world.account)/cameras",
                                                [("title", "Porch"), ("preset", "\(world.preset)"), ("ssid", "Net")], csrf: "x")
            #expect(posted.status == .seeOther && posted.headers[.location] == "/console/sign-in")
            // A session cookie that is not a session is no better.
            browser.cookies["gatehouse-console"] = "ghu_made_up"
            #expect(try await browser.get(world.devices).headers[.location] == "/console/sign-in")
            // The admin token is not a user session either.
            browser.cookies["gatehouse-console"] = client.adminToken
            #expect(try await browser.get(world.devices).headers[.location] == "/console/sign-in")
        }
    }

    @Test func signInSetsAStrictHttpOnlySessionCookieAndPagesCarryTheirPolicy() async throws {
        try await TestApp().run { client in
            let world = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            let form = try await browser.get("/console/sign-in")
            #expect(form.status == .ok)
            #expect(form.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            #expect(form.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(form.headers[.cacheControl] == "no-store" && form.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(form.text.contains(#"<meta name="viewport""#) && form.text.contains(#"<label for="email">"#) && form.text.contains(#"<label for="password">"#))
            let preCookie = try #require(ConsoleBrowser.setCookies(form).first { $0.hasPrefix("gatehouse-sign-in=") })
            #expect(preCookie.contains("HttpOnly") && preCookie.contains("SameSite=Strict") && !preCookie.contains("Secure"))

            let signedIn = try await browser.post("/console/sign-in", [("email", ConsoleWorld.user), ("password", "correct horse")])
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/console")
            let cookie = try #require(ConsoleBrowser.setCookies(signedIn).first { $0.hasPrefix("gatehouse-console=") })
            let attributes = Set(cookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(attributes == ["Path=/", "Max-Age=43200", "HttpOnly", "SameSite=Strict"], "\(cookie)")
            // The cookie is a /v1 user session, stored hashed with its expiry.
            let token = try #require(browser.cookies["gatehouse-console"])
            #expect(token.hasPrefix("ghu_"))
            #expect(try await client.send(.get, "/v1/me", token: token).json["kind"] as? String == "user")
            // An account's user lands on its devices.
            let home = try await browser.get("/console")
            #expect(home.status == .seeOther && home.headers[.location] == world.devices)
            let page = try await browser.get(world.devices)
            #expect(page.status == .ok && page.text.contains("Devices of Home &amp; Garden"))
            #expect(page.headers[.contentSecurityPolicy] != nil)
            // Static files come from Gatehouse itself.
            let css = try await browser.get("/console/static/console.css")
            #expect(css.status == .ok && css.headers[.contentType]?.hasPrefix("text/css") == true)
            #expect(try await browser.get("/console/static/nothing.css").status == .notFound)
            let unknown = try await browser.get("/console/no/such/page")
            #expect(unknown.status == .notFound && unknown.headers[.contentType]?.hasPrefix("text/html") == true)
        }
    }

    @Test func underTLSTheCookiesAreSecureHostCookies() async throws {
        var configuration = try TestApp().configuration
        configuration.publicURL = "https://gatehouse.example"
        try await TestApp(configuration: configuration).run { client in
            _ = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            let form = try await browser.get("/console/sign-in")
            #expect(ConsoleBrowser.setCookies(form).first?.hasPrefix("__Host-gatehouse-sign-in=") == true)
            #expect(ConsoleBrowser.setCookies(form).first?.contains("; Secure") == true)
            let signedIn = try await browser.post("/console/sign-in", [("email", ConsoleWorld.user), ("password", "correct horse")],
                                                  headers: [.origin: "https://gatehouse.example"])
            #expect(signedIn.status == .seeOther)
            let cookie = try #require(ConsoleBrowser.setCookies(signedIn).first { $0.hasPrefix("__Host-gatehouse-console=") })
            #expect(cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))
            // The configured public origin is the only one accepted.
            _ = try await browser.get("/console")
            let other = try await browser.post("/console/sign-out", headers: [.origin: "http://gatehouse.example"])
            #expect(other.status == .forbidden)
        }
    }

    @Test func aWrongPasswordKeepsTheEmailAndShowsTheErrorAndTheThrottleApplies() async throws {
        let clock = TestClock()
        let throttle = SignInThrottle(perUsername: 3, perAddress: 50, window: 60, lockout: 120)
        try await TestApp(clock: clock, partnerAuth: PartnerAuthSettings(throttle: throttle)).run { client in
            _ = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            let wrong = try await browser.signIn(ConsoleWorld.user, "wrong password")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains(#"value="\#(ConsoleWorld.user)""#))
            #expect(wrong.text.contains(#"role="alert""#) && wrong.text.contains("wrong"))
            // The password is never sent back.
            #expect(!wrong.text.contains("wrong password"))
            #expect(browser.cookies["gatehouse-console"] == nil)
            // Empty fields: the error is next to the field at fault.
            let empty = try await browser.post("/console/sign-in", [("email", ""), ("password", "")])
            #expect(empty.status == .unprocessableContent)
            #expect(empty.text.contains(#"id="email-error""#) && empty.text.contains(#"id="password-error""#))
            #expect(empty.text.contains(#"aria-invalid="true" aria-describedby="email-error""#))
            // Two more failures lock the name: the right password fails too, on the console and on /v1.
            for _ in 0..<2 { _ = try await browser.post("/console/sign-in", [("email", ConsoleWorld.user), ("password", "nope")]) }
            let locked = try await browser.post("/console/sign-in", [("email", ConsoleWorld.user), ("password", "correct horse")])
            #expect(locked.status == .unauthorized && browser.cookies["gatehouse-console"] == nil)
            #expect(try await client.send(.post, "/v1/sessions", token: nil, json: #"{"email":"\#(ConsoleWorld.user)","password":"correct horse"}"#).status
                    == .unauthorized)
            clock.advance(121)
            #expect(try await browser.post("/console/sign-in", [("email", ConsoleWorld.user), ("password", "correct horse")]).status == .seeOther)
            #expect(browser.cookies["gatehouse-console"] != nil)
        }
    }

    @Test func signInNeedsItsFormTokenAndASameOriginPost() async throws {
        try await TestApp().run { client in
            _ = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            try await browser.get("/console/sign-in")
            let fields = [("email", ConsoleWorld.user), ("password", "correct horse")]
            #expect(try await browser.post("/console/sign-in", fields, csrf: .some(nil)).status == .forbidden)
            #expect(try await browser.post("/console/sign-in", fields, csrf: "0123").status == .forbidden)
            // A token without its cookie (another browser's) is refused.
            let token = try #require(browser.formToken)
            var stranger = ConsoleBrowser(client)
            #expect(try await stranger.post("/console/sign-in", fields, csrf: token).status == .forbidden)
            // Another site's page posting the form: refused by Origin, or by Sec-Fetch-Site.
            #expect(try await browser.post("/console/sign-in", fields, headers: [.origin: "https://evil.example"]).status == .forbidden)
            #expect(try await browser.post("/console/sign-in", fields, headers: [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"]).status == .forbidden)
            #expect(browser.cookies["gatehouse-console"] == nil)
            // The same origin (Origin matching the request's host; the test framework's is "localhost") is fine.
            #expect(try await browser.post("/console/sign-in", fields, headers: [.origin: "http://localhost:8080"]).status == .forbidden)
            let ok = try await browser.post("/console/sign-in", fields, headers: [.origin: "http://localhost", HTTPField.Name("Sec-Fetch-Site")!: "same-origin"])
            #expect(ok.status == .seeOther && browser.cookies["gatehouse-console"] != nil)
        }
    }

    @Test func formsOfASessionNeedItsTokenAndChangeNothingWithout() async throws {
        try await TestApp().run { client in
            let world = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            try await browser.signIn(ConsoleWorld.user)
            try await browser.get(world.devices)
            let add = [("title", "Porch"), ("preset", "\(world.preset)"), ("ssid", "HomeNet"), ("wifi_password", "pw")]
            let path = "/console/accounts/\(world.account)/cameras"
            let missing = try await browser.post(path, add, csrf: .some(nil))
            #expect(missing.status == .forbidden && missing.text.contains("nothing was changed"))
            #expect(try await browser.post(path, add, csrf: "not-the-token").status == .forbidden)
            // The sign-in form's token (another secret) does not open a session's forms.
            var other = ConsoleBrowser(client)
            try await other.get("/console/sign-in")
            #expect(try await browser.post(path, add, csrf: other.formToken).status == .forbidden)
            #expect(try await browser.post(path, add, headers: [.origin: "https://evil.example"]).status == .forbidden)
            #expect(try await browser.post(path, add, headers: [HTTPField.Name("Sec-Fetch-Site")!: "same-site"]).status == .forbidden)
            // No token was issued by any of them: the audit log has none.
            let audit = try await client.admin(.get, "/v1/audit?limit=500")
            #expect(!audit.items.contains { ($0["action"] as? String)?.contains("token") == true && ($0["actor"] as? String)?.hasPrefix("user:") == true },
                    "\(audit.items)")
            // Sign-out needs the token too: without it the session lives on.
            try await browser.get(world.devices)
            #expect(try await browser.post("/console/sign-out", csrf: .some(nil)).status == .forbidden)
            #expect(try await browser.get(world.devices).status == .ok)
        }
    }

    @Test func signOutEndsTheSessionEverywhere() async throws {
        try await TestApp().run { client in
            let world = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            try await browser.signIn(ConsoleWorld.user)
            let token = try #require(browser.cookies["gatehouse-console"])
            try await browser.get(world.devices)
            let out = try await browser.post("/console/sign-out")
            #expect(out.status == .seeOther && out.headers[.location] == "/console/sign-in?signed-out=1")
            #expect(ConsoleBrowser.setCookies(out).contains { $0.hasPrefix("gatehouse-console=;") && $0.contains("Max-Age=0") })
            #expect(browser.cookies["gatehouse-console"] == nil)
            #expect(try await browser.get("/console/sign-in?signed-out=1").text.contains("You are signed out."))
            // The old cookie no longer opens anything, in the console or on /v1.
            browser.cookies["gatehouse-console"] = token
            #expect(try await browser.get(world.devices).headers[.location] == "/console/sign-in")
            #expect(try await client.send(.get, "/v1/me", token: token).status == .unauthorized)
        }
    }

    @Test func aDisabledUserIsSignedOutAtTheNextRequest() async throws {
        try await TestApp().run { client in
            let world = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            try await browser.signIn(ConsoleWorld.user)
            #expect(try await browser.get(world.devices).status == .ok)
            let users = try await client.admin(.get, "/v1/users?email=\(ConsoleWorld.user)")
            let id = try #require((users.items.first?["id"] as? NSNumber)?.int64Value)
            #expect(try await client.admin(.patch, "/v1/users/\(id)", json: #"{"enabled":false}"#).status == .ok)
            #expect(try await browser.get(world.devices).headers[.location] == "/console/sign-in")
        }
    }

    @Test func aDealerUserSeesTheHomePage() async throws {
        try await TestApp().run { client in
            let world = try await ConsoleWorld.make(client)
            _ = try await client.createUser(tenant: world.reseller, email: "dealer@res.example", permissions: ["manage_tenants"])
            var browser = ConsoleBrowser(client)
            try await browser.signIn("dealer@res.example")
            let home = try await browser.get("/console")
            #expect(home.status == .ok && home.text.contains("Res") && home.text.contains(#"action="/console/sign-out""#))
            // A dealer above the account sees its devices page too (the core's visibility rule).
            #expect(try await browser.get(world.devices).status == .ok)
            // A dealer of another subtree does not.
            let rival = try await client.createTenant(kind: "reseller", parent: 1, name: "Rival")
            _ = try await client.createUser(tenant: rival, email: "dealer@rival.example", permissions: ["manage_tenants"])
            var outsider = ConsoleBrowser(client)
            try await outsider.signIn("dealer@rival.example")
            #expect(try await outsider.get(world.devices).status == .notFound)
            #expect(try await outsider.post("/console/accounts/\(world.account)/registration-codes").status == .notFound)
        }
    }
}
