import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import Testing

/// The end user's devices page (issue 10, point 2) through the router: add a camera (token,
/// QR image, payload), delete it, "+ Connection", enable a serial, revoke an endpoint; and
/// that a user of one account can neither see nor act on another account's devices.
@Suite("Console: an account's devices")
struct ConsoleDevicesTests {
    /// Adds a camera through the console form; answers the token and the QR image path.
    static func addCamera(_ browser: inout ConsoleBrowser, _ world: ConsoleWorld, title: String = "Porch", ssid: String = "Café;Net",
                          password: String = "p:w 1") async throws -> (token: String, qr: String) {
        try await browser.get(world.devices)
        let added = try await browser.post("/console/accounts/\(world.account)/cameras",
                                           [("title", title), ("preset", "\(world.preset)"), ("ssid", ssid), ("wifi_password", password)])
        #expect(added.status == .created, "\(added.text)")
        let token = try #require(ConsoleBrowser.firstMatch(#"id="issued-token">([^<]*)<"#, in: added.text))
        let qr = try #require(ConsoleBrowser.firstMatch(#"id="qr-image" src="([^"]*)""#, in: added.text)).replacingOccurrences(of: "&amp;", with: "&")
        return (token, qr)
    }

    /// The camera's agent redeems `token` (seed 000): the camera appears in the account.
    static func redeem(_ client: TestApp.Client, operatorId: Int64, token: String, serial: String) async throws -> TestApp.Client.Answer {
        try await client.raw(.post, "/vsaas/api/v2/agents/activate", headers: [.contentType: "application/x-www-form-urlencoded"],
                             body: "operatorid=\(operatorId)&sign=\(token)&serial=\(serial)")
    }

    @Test func addCameraShowsTheTokenItsPayloadAndAQRImageThatDecodesToIt() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let world = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            try await browser.signIn(ConsoleWorld.user)
            let (token, qr) = try await Self.addCamera(&browser, world)
            let expected = "Café;Net\np:w 1\n\(world.reseller):\(token)"
            // The page shows the three lines exactly (HTML-escaped).
            #expect(ConsoleBrowser.firstMatch(#"id="qr-payload"[^>]*>([^<]*)</pre>"#, in: browser.page) == expected)
            #expect(qr.hasPrefix("/console/qr.png?d=") && !qr.contains("p:w") && !qr.contains("Net"), "the Wi-Fi password is not readable in the URL")
            let image = try await browser.get(qr)
            #expect(image.status == .ok && image.headers[.contentType] == "image/png" && image.headers[.cacheControl] == "no-store")
            let file = try TestDatabases.temporaryDirectory() + "/qr.png"
            try Data(buffer: image.body).write(to: URL(fileURLWithPath: file))
            let decoded = try await LiveServer.shellAsync("sh", ["-c", #"zbarimg --raw -q -Sdisable -Sqrcode.enable -Sbinary "$0" 2>/dev/null"#, file])
            #expect(decoded.status == 0 && decoded.output == expected, "zbarimg: \(decoded.output)")

            // The image link opens only in the session that made it.
            var other = ConsoleBrowser(client)
            try await other.signIn(ConsoleWorld.otherUser)
            #expect(try await other.get(qr).status == .notFound)
            #expect(try await browser.get(qr.replacingOccurrences(of: "d=v1", with: "d=v2")).status == .notFound)

            // The image link lasts an hour.
            clock.advance(3601)
            #expect(try await browser.get(qr).status == .notFound)

            // The agent redeems the token: the camera is listed with its agent's serial.
            #expect(try await Self.redeem(client, operatorId: world.reseller, token: token, serial: "CAM-0001").status == .ok)
            let page = try await browser.get(world.devices)
            #expect(page.text.contains("Porch") && page.text.contains("CAM-0001"))
            #expect(page.text.contains(#"aria-label="Delete camera Porch""#))
        }
    }

    @Test func aRejectedCameraFormKeepsWhatWasTypedButNotThePassword() async throws {
        try await TestApp().run { client in
            let world = try await ConsoleWorld.make(client)
            var browser = ConsoleBrowser(client)
            try await browser.signIn(ConsoleWorld.user)
            try await browser.get(world.devices)
            let longSSID = String(repeating: "n", count: 33)
            let rejected = try await browser.post("/console/accounts/\(world.account)/cameras",
                                                  [("title", "Back yard"), ("preset", "\(world.preset)"), ("ssid", longSSID), ("wifi_password", "s3cret-wifi")])
            #expect(rejected.status == .unprocessableContent)
            #expect(rejected.text.contains(#"value="Back yard""#) && rejected.text.contains(#"value="\#(longSSID)""#))
            #expect(rejected.text.contains(#"<option value="\#(world.preset)" selected>"#))
            #expect(!rejected.text.contains("s3cret-wifi"))
            #expect(rejected.text.contains(#"aria-invalid="true" aria-describedby="camera-ssid-error""#))
            #expect(ConsoleBrowser.firstMatch(#"id="camera-ssid-error">([^<]*)<"#, in: rejected.text)?.contains("Wi-Fi network name") == true)
            #expect(!rejected.text.contains(#"id="issued""#))
            // A missing name and a preset of another account: each error next to its field.
            let otherPreset = try #require(try await client.admin(.get, "/v1/tenants/\(world.other)/presets").items.first.flatMap { ($0["id"] as? NSNumber)?.int64Value })
            let second = try await browser.post("/console/accounts/\(world.account)/cameras",
                                                [("title", ""), ("preset", "\(otherPreset)"), ("ssid", "HomeNet")])
            #expect(second.status == .unprocessableContent)
            #expect(second.text.contains(#"id="camera-title-error""#))
            let third = try await browser.post("/console/accounts/\(world.account)/cameras",
                                               [("title", "Shed"), ("preset", "\(otherPreset)"), ("ssid", "HomeNet")])
            #expect(third.status == .unprocessableContent && third.text.contains(#"id="camera-preset-error""#), "\(third.text)")
            #expect(third.text.contains(#"value="Shed""#) && third.text.contains(#"value="HomeNet""#))
            // None of the rejected forms drew a token.
            let audit = try await client.admin(.get, "/v1/audit?limit=500")
            #expect(!audit.items.contains { $0["action"] as? String == "token.issue" })
        }
    }

    @Test func deleteACameraDeactivatesItsAgentAndOnlyItsAccountMayDoIt() async throws {
        try await TestApp().run { client in
            let world = try await ConsoleWorld.make(client)
            var owner = ConsoleBrowser(client)
            try await owner.signIn(ConsoleWorld.user)
            let (token, _) = try await Self.addCamera(&owner, world)
            let activated = try await Self.redeem(client, operatorId: world.reseller, token: token, serial: "CAM-7")
            #expect(activated.status == .ok, "\(activated.text)")
            let agentId = try #require((activated.json["agent_id"] as? NSNumber)?.int64Value), agentKey = try #require(activated.json["agent_key"] as? String)
            let page = try await owner.get(world.devices)
            let deviceId = try #require(ConsoleBrowser.firstMatch(#"/cameras/(\d+)/delete"#, in: page.text))

            // A user of another account: not its account (404), not its camera (404); nothing changes.
            var stranger = ConsoleBrowser(client)
            try await stranger.signIn(ConsoleWorld.otherUser)
            #expect(try await stranger.get(world.devices).status == .notFound)
            let strangersOwn = try await stranger.get(world.otherDevices)
            #expect(strangersOwn.status == .ok && !strangersOwn.text.contains("Porch"))
            #expect(try await stranger.post("/console/accounts/\(world.account)/cameras/\(deviceId)/delete").status == .notFound)
            #expect(try await stranger.post("/console/accounts/\(world.other)/cameras/\(deviceId)/delete").status == .notFound)
            #expect(try await owner.get(world.devices).text.contains("CAM-7"))

            // The owner deletes it: gone from the list, its agent told at once.
            try await owner.get(world.devices)
            let deleted = try await owner.post("/console/accounts/\(world.account)/cameras/\(deviceId)/delete")
            #expect(deleted.status == .seeOther && deleted.headers[.location] == world.devices + "?done=camera-deleted")
            let after = try await owner.get(world.devices + "?done=camera-deleted")
            #expect(!after.text.contains("CAM-7") && after.text.contains("Camera deleted."))
            let status = try await client.raw(.post, "/vsaas/api/v2/agents/status", headers: [.contentType: "application/x-www-form-urlencoded"],
                                              body: "agent_id=\(agentId)&agent_key=\(agentKey)")
            #expect(status.status == .gone, "\(status.text)")
            #expect(try await owner.post("/console/accounts/\(world.account)/cameras/\(deviceId)/delete").status == .notFound)
        }
    }

    @Test func aUserOfOneAccountCannotActOnAnother() async throws {
        try await TestApp().run { client in
            let world = try await ConsoleWorld.make(client)
            var stranger = ConsoleBrowser(client)
            try await stranger.signIn(ConsoleWorld.otherUser)
            try await stranger.get(world.otherDevices)
            let base = "/console/accounts/\(world.account)"
            #expect(try await stranger.get(world.devices).status == .notFound)
            #expect(try await stranger.post(base + "/cameras", [("title", "X"), ("preset", "\(world.preset)"), ("ssid", "N")]).status == .notFound)
            #expect(try await stranger.post(base + "/registration-codes").status == .notFound)
            #expect(try await stranger.post(base + "/serials", [("vendor", "acme"), ("model", "cam1"), ("sn", "A")]).status == .notFound)
            #expect(try await stranger.post(base + "/endpoints/1/revoke").status == .notFound)
            // The platform node and the reseller are not accounts: no devices page for them.
            #expect(try await stranger.get("/console/accounts/1/devices").status == .notFound)
            let audit = try await client.admin(.get, "/v1/audit?limit=500")
            #expect(!audit.items.contains { ($0["actor"] as? String)?.hasPrefix("user:") == true }, "\(audit.items)")
        }
    }

    @Test func connectionGivesARegistrationCodeThatOnboardsAndRevokeEndsTheEndpoint() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let world = try await OnboardingAPITests.world(client, clock: clock)
            var browser = ConsoleBrowser(client)
            try await browser.signIn("farmer@example.com")
            let devices = "/console/accounts/\(world.accountId)/devices"
            let page = try await browser.get(devices)
            #expect(page.text.contains("No endpoints yet.") && page.text.contains(">+ Connection</button>"))
            let made = try await browser.post("/console/accounts/\(world.accountId)/registration-codes")
            #expect(made.status == .created)
            let code = try #require(ConsoleBrowser.firstMatch(#"id="code-value">([^<]*)<"#, in: made.text))
            #expect(code.count == 10 && code.allSatisfy(\.isHexDigit))
            let expires = try #require(ConsoleBrowser.firstMatch(#"id="code-expires" datetime="([^"]*)""#, in: made.text))
            #expect(expires == Date(timeIntervalSince1970: TimeInterval(clock.now() + 3600)).formatted(.iso8601))
            // The code onboards an endpoint, which the page then lists.
            let onboarded = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: code, body: world.body(id: "urn:console:1"))
            #expect(onboarded.status == .created, "\(onboarded.text)")
            let listed = try await browser.get(devices)
            #expect(listed.text.contains("urn:console:1") && listed.text.contains(#"aria-label="Revoke endpoint urn:console:1""#))
            let endpointId = try #require(ConsoleBrowser.firstMatch(#"/endpoints/(\d+)/revoke"#, in: listed.text))

            // Another account's user cannot revoke it.
            let otherAccount = try await client.createTenant(kind: "account", parent: 1, name: "Brown Farm")
            _ = try await client.createUser(tenant: otherAccount, email: "brown@example.com")
            var stranger = ConsoleBrowser(client)
            try await stranger.signIn("brown@example.com")
            try await stranger.get("/console/accounts/\(otherAccount)/devices")
            #expect(try await stranger.post("/console/accounts/\(otherAccount)/endpoints/\(endpointId)/revoke").status == .notFound)
            #expect(try await stranger.post("/console/accounts/\(world.accountId)/endpoints/\(endpointId)/revoke").status == .notFound)

            try await browser.get(devices)
            let revoked = try await browser.post("/console/accounts/\(world.accountId)/endpoints/\(endpointId)/revoke")
            #expect(revoked.status == .seeOther && revoked.headers[.location] == devices + "?done=endpoint-revoked")
            let endpoints = try await client.send(.get, "/v1/tenants/\(world.accountId)/endpoints", token: world.userToken)
            #expect(endpoints.items.first?["status"] as? String == "revoked")
            let after = try await browser.get(devices + "?done=endpoint-revoked")
            #expect(after.text.contains("Endpoint revoked.") && !after.text.contains(#"aria-label="Revoke endpoint urn:console:1""#))
            // Revoking again: a conflict page, not a crash.
            #expect(try await browser.post("/console/accounts/\(world.accountId)/endpoints/\(endpointId)/revoke").status == .conflict)
        }
    }

    @Test func enableASerialTheAccountHolds() async throws {
        try await TestApp().run { client in
            let vendor = try await ProvisioningAPITests.vendor(client)
            _ = try await client.createUser(tenant: vendor.accountId, email: "serial-owner@example.com")
            var browser = ConsoleBrowser(client)
            try await browser.signIn("serial-owner@example.com")
            let devices = "/console/accounts/\(vendor.accountId)/devices"
            try await browser.get(devices)
            // An unknown serial: the error next to the serial number, the fields kept.
            let unknown = try await browser.post("/console/accounts/\(vendor.accountId)/serials", [("vendor", "acme"), ("model", "cam1"), ("sn", "ZZ")])
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.text.contains(#"id="serial-sn-error""#) && unknown.text.contains(#"value="acme""#) && unknown.text.contains(#"value="ZZ""#))
            let enabled = try await browser.post("/console/accounts/\(vendor.accountId)/serials", [("vendor", "acme"), ("model", "cam1"), ("sn", "A")])
            #expect(enabled.status == .seeOther && enabled.headers[.location] == devices + "?done=serial-enabled", "\(enabled.text)")
            let page = try await browser.get(devices + "?done=serial-enabled")
            #expect(page.text.contains("Serial enabled.") && page.text.contains(#"data-label="Status">enabled<"#))
            // The device activates, and the page says so.
            #expect(try await vendor.activate("A").status == .ok)
            #expect(try await browser.get(devices).text.contains(#"data-label="Status">activated<"#))
        }
    }
}
