import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseStore
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import Testing

/// The platform operator's resource pages of the console (issue 10, point 4) through the
/// router: organizations and presets, webhooks of an activation operator (a dealer node),
/// issued certificates with revoke. Signed out is a 303 to sign-in, other roles 403, a form
/// without its token 403 with nothing changed, a rejected form 422 with the typed values.
@Suite("Console: operator organizations, presets, webhooks and certificates")
struct ConsoleOperatorResourcesTests {
    static let operatorUser = ConsoleOperatorTests.operatorUser

    /// The operator tests' world (a platform operator, a distributor with its admin, an
    /// account with its user, a platform user without rights) plus a preset of the account.
    struct World {
        let distributor: Int64
        let account: Int64
        let preset: Int64
    }

    static func world(_ client: TestApp.Client) async throws -> World {
        let (distributor, account) = try await ConsoleOperatorTests.world(client)
        let preset = try await client.admin(.post, "/v1/tenants/\(account)/presets", json: #"{"title":"Indoor","settings":{"fps":"15"}}"#)
        #expect(preset.status == .created, "\(preset.text)")
        return World(distributor: distributor, account: account, preset: try #require(preset.id))
    }

    /// Runs `body` with a store over the application's own database.
    static func withStore<T: Sendable>(_ app: TestApp, _ body: @Sendable (SQLStore) async throws -> T) async throws -> T {
        try await withDatabase(app.configuration.resolvedDatabase, logger: TestDatabases.logger) { database in
            try await body(SQLStore(database: database))
        }
    }

    static func record(_ app: TestApp, serial: String, purpose: String, subject: String, createdAt: Int64) async throws {
        try await withStore(app) { store in
            try await store.recordCertificate(IssuedCertificate(serial: serial, purpose: purpose, subject: subject, notAfter: 4_000_000_000,
                                                                revokedAt: nil, createdAt: createdAt), audit: AuditIntent(actor: "test"))
        }
    }

    static func children(_ client: TestApp.Client, of parent: Int64) async throws -> [String] {
        try await ConsoleOperatorTests.children(client, of: parent)
    }

    @Test func signedOutAndOtherRolesAreRefusedAndNothingChanges() async throws {
        let app = try TestApp()
        try await app.run { client in
            let w = try await Self.world(client)
            let hook = try await Self.withStore(app) { store in
                try await store.createWebhook(operatorId: w.distributor, url: "https://hooks.example/a", events: [.cameraActivated],
                                              vault: try SecretVault(keyData: SecretVault.generateKeyData()), at: 1, audit: AuditIntent(actor: "test"))
            }
            try await Self.record(app, serial: "0abc01", purpose: "superadmin", subject: "CN=ops-laptop", createdAt: 1_700_000_000)
            let pages = ["/console/operator/organizations", "/console/operator/operators/\(w.distributor)/organizations",
                         "/console/operator/organizations/\(w.account)", "/console/operator/presets/\(w.preset)",
                         "/console/operator/webhooks", "/console/operator/operators/\(w.distributor)/webhooks", "/console/operator/certificates"]
            let actions: [(String, [(String, String)])] = [
                ("/console/operator/operators/\(w.distributor)/organizations", [("title", "Sneaky Org")]),
                ("/console/operator/organizations/\(w.account)", [("title", "Renamed")]),
                ("/console/operator/organizations/\(w.account)/delete", []),
                ("/console/operator/organizations/\(w.account)/presets", [("title", "Sneaky preset")]),
                ("/console/operator/presets/\(w.preset)", [("title", "Renamed preset")]),
                ("/console/operator/presets/\(w.preset)/delete", []),
                ("/console/operator/operators/\(w.distributor)/webhooks", [("url", "https://evil.example/"), ("event-token.issued", "on")]),
                ("/console/operator/operators/\(w.distributor)/webhooks/\(hook.webhook.id)/delete", []),
                ("/console/operator/certificates/0abc01/revoke", []),
            ]
            var anonymous = ConsoleBrowser(client)
            for path in pages {
                #expect(try await anonymous.get(path).headers[.location] == "/console/sign-in", "\(path)")
            }
            for (path, fields) in actions {
                let answer = try await anonymous.post(path, fields, csrf: "x")
                #expect(answer.status == .seeOther && answer.headers[.location] == "/console/sign-in", "\(path)")
            }
            for email in ["admin@north.example", "end@north.example", "viewer@platform.example"] {
                var user = ConsoleBrowser(client)
                try await user.signIn(email)
                for label in ["Organizations", "Webhooks", "Certificates"] {
                    #expect(!user.page.contains(">\(label)</a>"), "\(email) has no \(label) link")
                }
                for path in pages { #expect(try await user.get(path).status == .forbidden, "\(email) GET \(path)") }
                try await user.get("/console")
                for (path, fields) in actions {
                    #expect(try await user.post(path, fields, csrf: user.formToken).status == .forbidden, "\(email) POST \(path)")
                }
            }
            // Nothing changed.
            #expect(try await Self.children(client, of: w.distributor) == ["North Home"])
            let presets = try await client.admin(.get, "/v1/tenants/\(w.account)/presets")
            #expect(presets.items.compactMap { $0["title"] as? String } == ["Indoor"], "\(presets.text)")
            let (webhooks, certificate) = try await Self.withStore(app) { store in
                (try await store.webhooks(operatorId: w.distributor).map(\.url), try await store.issuedCertificate(serial: "0abc01"))
            }
            #expect(webhooks == ["https://hooks.example/a"])
            #expect(certificate?.revokedAt == nil)
        }
    }

    @Test func theOperatorManagesOrganizations() async throws {
        try await TestApp().run { client in
            let w = try await Self.world(client)
            var ops = ConsoleBrowser(client)
            try await ops.signIn(Self.operatorUser)
            #expect(ops.page.contains(#"href="/console/operator/organizations""#) && ops.page.contains(#"href="/console/operator/webhooks""#)
                    && ops.page.contains(#"href="/console/operator/certificates""#))
            #expect(try await ops.get("/console/operator/organizations").headers[.location] == "/console/operator/operators/1/organizations")
            #expect(try await ops.get("/console/operator/organizations?operator=\(w.distributor)").headers[.location]
                    == "/console/operator/operators/\(w.distributor)/organizations")
            let all = try await ops.get("/console/operator/operators/1/organizations")
            #expect(all.status == .ok && all.text.contains(#"href="/console/operator/organizations/\#(w.account)">North Home</a>"#))
            #expect(all.text.contains(#"<option value="\#(w.distributor)">North Dist (distributor \#(w.distributor))</option>"#))
            let tree = try await ops.get("/console/operator/tenants/\(w.distributor)")
            #expect(tree.text.contains(#"href="/console/operator/operators/\#(w.distributor)/organizations""#))
            #expect(try await ops.get("/console/operator/operators/999999/organizations").status == .notFound)
            #expect(try await ops.get("/console/operator/organizations/999999").status == .notFound)
            // An account is not an activation operator, and a dealer node is not an organization.
            #expect(try await ops.get("/console/operator/operators/\(w.account)/organizations").status.code / 100 == 4)
            #expect(try await ops.get("/console/operator/organizations/\(w.distributor)").status.code / 100 == 4)

            // Without the form token nothing is created.
            let create = "/console/operator/operators/\(w.distributor)/organizations"
            try await ops.get(create)
            #expect(try await ops.post(create, [("title", "Forged")], csrf: .some(nil)).status == .forbidden)
            #expect(try await ops.post(create, [("title", "Forged")], csrf: "not-the-token").status == .forbidden)
            #expect(try await Self.children(client, of: w.distributor) == ["North Home"])

            // Rejected: no name, a negative limit; what was typed stays, errors next to their fields.
            let rejected = try await ops.post(create, [("title", ""), ("note", "Shop <b>2</b>"), ("camera_limit", "-3"), ("user_limit", "7")])
            #expect(rejected.status == .unprocessableContent, "\(rejected.text)")
            #expect(rejected.text.contains(#"id="org-title-error""#) && rejected.text.contains(#"id="org-camera-limit-error""#))
            #expect(!rejected.text.contains(#"id="org-user-limit-error""#))
            #expect(rejected.text.contains("Shop &lt;b&gt;2&lt;/b&gt;</textarea>") && rejected.text.contains(#"value="-3""#) && rejected.text.contains(#"value="7""#))
            #expect(rejected.text.contains(#"aria-describedby="org-camera-limit-error""#))
            // The core's own check (a note over 2000 bytes) is shown next to the note, and nothing is made.
            let long = String(repeating: "n", count: 2001)
            let tooLong = try await ops.post(create, [("title", "Long Note Org"), ("note", long)])
            #expect(tooLong.status == .unprocessableContent && tooLong.text.contains(#"id="org-note-error""#) && tooLong.text.contains(#"value="Long Note Org""#))
            #expect(try await Self.children(client, of: w.distributor) == ["North Home"])

            let made = try await ops.post(create, [("title", "South Shop"), ("note", "second site"), ("camera_limit", "5"), ("user_limit", "")])
            #expect(made.status == .seeOther, "\(made.text)")
            #expect(try await Self.children(client, of: w.distributor).sorted() == ["North Home", "South Shop"])
            let location = try #require(made.headers[.location])
            let id = try #require(Int64(location.split(separator: "/").last?.split(separator: "?").first ?? ""))
            let page = try await ops.get(location)
            #expect(page.text.contains("Organization created.") && page.text.contains(#"value="5""#) && page.text.contains("second site</textarea>"))

            // Edit: a rejected edit changes nothing, a good one saves.
            let badEdit = try await ops.post("/console/operator/organizations/\(id)", [("title", "South Shop Renamed"), ("note", long), ("camera_limit", "5")])
            #expect(badEdit.status == .unprocessableContent && badEdit.text.contains(#"id="org-note-error""#) && badEdit.text.contains(#"value="South Shop Renamed""#))
            #expect(try await client.admin(.get, "/v1/tenants/\(id)").json["name"] as? String == "South Shop")
            let saved = try await ops.post("/console/operator/organizations/\(id)", [("title", "South Shop 2"), ("note", ""), ("camera_limit", ""), ("user_limit", "3")])
            #expect(saved.status == .seeOther)
            #expect(try await client.admin(.get, "/v1/tenants/\(id)").json["name"] as? String == "South Shop 2")
            let edited = try await ops.get(try #require(saved.headers[.location]))
            #expect(edited.text.contains("Organization saved.") && edited.text.contains(#"id="org-camera-limit" name="camera_limit" type="text" inputmode="numeric" maxlength="20" value="""#)
                    && edited.text.contains(#"value="3""#))

            // Delete: an organization with a node... has none; it goes.
            #expect(try await ops.post("/console/operator/organizations/\(id)/delete", [], csrf: .some(nil)).status == .forbidden)
            let deleted = try await ops.post("/console/operator/organizations/\(id)/delete")
            #expect(deleted.status == .seeOther && deleted.headers[.location] == "/console/operator/operators/\(w.distributor)/organizations?done=deleted")
            #expect(try await Self.children(client, of: w.distributor) == ["North Home"])
            #expect(try await ops.get(try #require(deleted.headers[.location])).text.contains("Organization deleted."))
        }
    }

    @Test func theOperatorManagesPresets() async throws {
        try await TestApp().run { client in
            let w = try await Self.world(client)
            var ops = ConsoleBrowser(client)
            try await ops.signIn(Self.operatorUser)
            let page = try await ops.get("/console/operator/organizations/\(w.account)")
            #expect(page.status == .ok && page.text.contains(#"aria-label="Edit preset Indoor""#) && page.text.contains("fps=15"))
            #expect(page.text.contains(#"aria-label="Delete preset Indoor""#))
            let add = "/console/operator/organizations/\(w.account)/presets"
            #expect(try await ops.post(add, [("title", "Forged")], csrf: .some(nil)).status == .forbidden)

            let rejected = try await ops.post(add, [("title", "Outdoor"), ("settings", "fps=10\r\nnight mode")])
            #expect(rejected.status == .unprocessableContent && rejected.text.contains(#"id="preset-settings-error""#) && rejected.text.contains("Line 2"))
            #expect(rejected.text.contains(#"value="Outdoor""#) && rejected.text.contains("fps=10\nnight mode</textarea>"))
            let twice = try await ops.post(add, [("title", "Outdoor"), ("settings", "fps=10\nfps=12")])
            #expect(twice.status == .unprocessableContent && twice.text.contains("given twice"))
            let untitled = try await ops.post(add, [("title", " "), ("settings", "")])
            #expect(untitled.status == .unprocessableContent && untitled.text.contains(#"id="preset-title-error""#))
            // The core's check of a setting (a name over 64 bytes) lands next to the settings box.
            let longName = try await ops.post(add, [("title", "Outdoor"), ("settings", String(repeating: "k", count: 65) + "=1")])
            #expect(longName.status == .unprocessableContent && longName.text.contains(#"id="preset-settings-error""#), "\(longName.text)")

            let made = try await ops.post(add, [("title", "Outdoor"), ("settings", "fps = 10\nnight=auto\n\n")])
            #expect(made.status == .seeOther, "\(made.text)")
            let presets = try await client.admin(.get, "/v1/tenants/\(w.account)/presets")
            let outdoor = try #require(presets.items.first { $0["title"] as? String == "Outdoor" }, "\(presets.text)")
            #expect(outdoor["settings"] as? [String: String] == ["fps": "10", "night": "auto"])
            let outdoorId = try #require((outdoor["id"] as? NSNumber)?.int64Value)

            let edit = try await ops.get("/console/operator/presets/\(outdoorId)")
            #expect(edit.status == .ok && edit.text.contains("fps=10\nnight=auto</textarea>"))
            let badEdit = try await ops.post("/console/operator/presets/\(outdoorId)", [("title", ""), ("settings", "fps=1")])
            #expect(badEdit.status == .unprocessableContent && badEdit.text.contains(#"id="preset-title-error""#) && badEdit.text.contains("fps=1</textarea>"))
            let saved = try await ops.post("/console/operator/presets/\(outdoorId)", [("title", "Outdoor HD"), ("settings", "fps=30")])
            #expect(saved.status == .seeOther)
            let after = try await client.admin(.get, "/v1/presets/\(outdoorId)")
            #expect(after.json["title"] as? String == "Outdoor HD" && after.json["settings"] as? [String: String] == ["fps": "30"])
            #expect(try await ops.get("/console/operator/presets/999999").status == .notFound)

            #expect(try await ops.post("/console/operator/presets/\(outdoorId)/delete", [], csrf: .some(nil)).status == .forbidden)
            let deleted = try await ops.post("/console/operator/presets/\(outdoorId)/delete")
            #expect(deleted.status == .seeOther && deleted.headers[.location] == "/console/operator/organizations/\(w.account)?done=preset-deleted")
            #expect(try await client.admin(.get, "/v1/presets/\(outdoorId)").status == .notFound)
            #expect(try await ops.post("/console/operator/presets/\(outdoorId)/delete").status == .notFound)
        }
    }

    @Test func theOperatorManagesWebhooksOfADealerNode() async throws {
        let app = try TestApp()
        try await app.run { client in
            let w = try await Self.world(client)
            var ops = ConsoleBrowser(client)
            try await ops.signIn(Self.operatorUser)
            #expect(try await ops.get("/console/operator/webhooks").headers[.location] == "/console/operator/operators/1/webhooks")
            let path = "/console/operator/operators/\(w.distributor)/webhooks"
            let empty = try await ops.get(path)
            #expect(empty.status == .ok && empty.text.contains("No webhooks for this operator yet."))
            #expect(empty.text.contains(#"<label for="webhook-event-camera-activated">"#) && empty.text.contains(#"name="event-token.issued" type="checkbox" value="on" checked"#))
            #expect(try await ops.get("/console/operator/operators/\(w.account)/webhooks").status.code / 100 == 4)

            #expect(try await ops.post(path, [("url", "https://hooks.example/in"), ("event-camera.activated", "on")], csrf: .some(nil)).status == .forbidden)
            let badURL = try await ops.post(path, [("url", "ftp://hooks.example/in"), ("event-camera.activated", "on")])
            #expect(badURL.status == .unprocessableContent && badURL.text.contains(#"id="webhook-url-error""#) && badURL.text.contains(#"value="ftp://hooks.example/in""#))
            #expect(badURL.text.contains(#"name="event-camera.activated" type="checkbox" value="on" checked"#))
            #expect(!badURL.text.contains(#"name="event-token.issued" type="checkbox" value="on" checked"#))
            let noEvents = try await ops.post(path, [("url", "https://hooks.example/in")])
            #expect(noEvents.status == .unprocessableContent && noEvents.text.contains(#"id="webhook-events-error""#) && noEvents.text.contains(#"value="https://hooks.example/in""#))
            #expect(try await Self.withStore(app) { try await $0.webhooks(operatorId: w.distributor) }.isEmpty)

            let added = try await ops.post(path, [("url", "https://hooks.example/in"), ("event-camera.activated", "on"), ("event-token.issued", "on")])
            #expect(added.status == .ok, "\(added.text)")
            let secret = try #require(ConsoleBrowser.firstMatch(#"<code id="webhook-secret">(whsec_[^<]+)</code>"#, in: added.text))
            let hooks = try await Self.withStore(app) { try await $0.webhooks(operatorId: w.distributor) }
            #expect(hooks.map(\.url) == ["https://hooks.example/in"] && hooks.first?.events == [.cameraActivated, .tokenIssued])
            let hook = try #require(hooks.first)
            // Shown once: the page after does not hold it.
            let again = try await ops.get(path)
            #expect(!again.text.contains(secret) && again.text.contains("https://hooks.example/in") && again.text.contains("no deliveries yet"))

            // Recent deliveries: a queued event shows.
            _ = try await Self.withStore(app) { store in
                try await store.enqueueWebhookEvent(operatorId: w.distributor, event: .tokenIssued, payload: #"{"token":"x"}"#, at: 1_700_000_000)
            }
            let queued = try await ops.get(path)
            // (The delivery service may already have tried it: hooks.example does not resolve.)
            #expect(queued.text.contains("(token.issued)</td>") || queued.text.contains("(token.issued)\n"), "\(queued.text)")
            #expect(queued.text.contains("Recent deliveries") && queued.text.contains("<li>token.issued: "), "\(queued.text)")

            // The webhook is the distributor's: another operator's page cannot delete it.
            #expect(try await ops.post("/console/operator/operators/1/webhooks/\(hook.id)/delete").status == .notFound)
            #expect(try await ops.post("\(path)/\(hook.id)/delete", [], csrf: .some(nil)).status == .forbidden)
            #expect(try await Self.withStore(app) { try await $0.webhooks(operatorId: w.distributor) }.count == 1)
            let deleted = try await ops.post("\(path)/\(hook.id)/delete")
            #expect(deleted.status == .seeOther && deleted.headers[.location] == path + "?done=deleted")
            #expect(try await Self.withStore(app) { try await $0.webhooks(operatorId: w.distributor) }.isEmpty)
            #expect(try await ops.get(path + "?done=deleted").text.contains("Webhook deleted."))
        }
    }

    @Test func theOperatorRevokesCertificates() async throws {
        let app = try TestApp()
        try await app.run { client in
            _ = try await Self.world(client)
            try await Self.record(app, serial: "0abc01", purpose: "superadmin", subject: "CN=ops-laptop", createdAt: 1_700_000_000)
            try await Self.record(app, serial: "0abc02", purpose: "endpoint", subject: "urn:dev:cam-7", createdAt: 1_700_000_100)
            var ops = ConsoleBrowser(client)
            try await ops.signIn(Self.operatorUser)
            let list = try await ops.get("/console/operator/certificates")
            #expect(list.status == .ok)
            // The server's own TLS certificate, issued at start, is the newest.
            let rows = ConsoleBrowser.allMatches(#"<code class="serial">([0-9a-f]+)</code>"#, in: list.text)
            #expect(rows.suffix(2) == ["0abc02", "0abc01"] && rows.count == 3, "newest first: \(rows)")
            #expect(list.text.contains("CN=ops-laptop") && list.text.contains("super-admin (admin listener)") && list.text.contains("endpoint (REST gateway)"))
            #expect(list.text.contains(#"aria-label="Revoke certificate CN=ops-laptop 0abc01""#) && list.text.contains(#"href="/pki/crl""#))

            #expect(try await ops.post("/console/operator/certificates/0abc01/revoke", [], csrf: .some(nil)).status == .forbidden)
            #expect(try await Self.withStore(app) { try await $0.issuedCertificate(serial: "0abc01") }?.revokedAt == nil)
            #expect(try await ops.post("/console/operator/certificates/ffff99/revoke").status == .notFound)
            #expect(try await ops.post("/console/operator/certificates/not-hex/revoke").status == .notFound)

            let revoked = try await ops.post("/console/operator/certificates/0ABC01/revoke")
            #expect(revoked.status == .seeOther && revoked.headers[.location] == "/console/operator/certificates?done=revoked&serial=0abc01")
            let after = try await ops.get(try #require(revoked.headers[.location]))
            #expect(after.text.contains("Certificate 0abc01 revoked.") && after.text.contains(#"class="status-revoked">revoked on"#))
            #expect(!after.text.contains(#"aria-label="Revoke certificate CN=ops-laptop 0abc01""#) && after.text.contains(#"aria-label="Revoke certificate urn:dev:cam-7 0abc02""#))
            #expect(try await Self.withStore(app) { try await $0.issuedCertificate(serial: "0abc01") }?.revokedAt != nil)
            #expect(try await ops.post("/console/operator/certificates/0abc01/revoke").status == .conflict)

            // The revocation list carries it (the serial's bytes, as an INTEGER), and not the live one.
            let crl = try await client.raw(.get, "/pki/crl")
            #expect(crl.status == .ok)
            let der = Array(crl.body.readableBytesView)
            #expect(der.contains(subsequence: [0x02, 0x03, 0x0a, 0xbc, 0x01] as [UInt8]))
            #expect(!der.contains(subsequence: [0x02, 0x03, 0x0a, 0xbc, 0x02] as [UInt8]))
        }
    }

    @Test func certificatesArePagedNewestFirst() async throws {
        let app = try TestApp()
        try await app.run { client in
            _ = try await Self.world(client)
            try await Self.withStore(app) { store in
                for index in 0..<53 {
                    try await store.recordCertificate(IssuedCertificate(serial: String(format: "%04x", index + 1), purpose: "endpoint", subject: "urn:dev:\(index)",
                                                                        notAfter: 2_000_000_000, revokedAt: nil, createdAt: 1_700_000_000 + Int64(index / 2)),
                                                      audit: AuditIntent(actor: "test"))
                }
            }
            var ops = ConsoleBrowser(client)
            try await ops.signIn(Self.operatorUser)
            let first = try await ops.get("/console/operator/certificates")
            // 53 recorded here and the server's own certificate (issued at start, the newest).
            let one = ConsoleBrowser.allMatches(#"<code class="serial">([0-9a-f]+)</code>"#, in: first.text)
            #expect(one.count == 50 && one.dropFirst().first == "0035" && one.last == "0005", "\(one)")
            let next = try #require(ConsoleBrowser.firstMatch(#"<a href="(/console/operator/certificates\?cursor=[^"]+)">Next page</a>"#, in: first.text))
            let second = try await ops.get(next)
            #expect(ConsoleBrowser.allMatches(#"<code class="serial">([0-9a-f]+)</code>"#, in: second.text) == ["0004", "0003", "0002", "0001"])
            #expect(!second.text.contains("Next page"))
            #expect(try await ops.get("/console/operator/certificates?cursor=garbage").status.code / 100 == 4)
        }
    }
}

private extension Array where Element: Equatable {
    /// Whether `subsequence` occurs in order, contiguously.
    func contains(subsequence: [Element]) -> Bool {
        guard !subsequence.isEmpty, subsequence.count <= count else { return subsequence.isEmpty }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<($0 + subsequence.count)]) == subsequence }
    }
}
