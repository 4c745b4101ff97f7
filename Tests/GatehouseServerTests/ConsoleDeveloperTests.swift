import Foundation
import GatehouseCore
import GatehouseServer
import HTTPTypes
import Hummingbird
import Testing

/// The application developer's console pages (issue 10, point 5; seed 004) through the router:
/// applications with a pasted public key or a key pair generated here (the private key shown
/// once, never stored), redirect URLs checked line by line, certification versions; the rights
/// are those of `/v1/applications` (`manage_clients` to change, the subtree to see).
@Suite("Console: application developer pages")
struct ConsoleDeveloperTests {
    static let developer = "dev@devco.example"
    static let applications = "/console/developer/applications"

    /// A developer node with a user who may manage applications, one who may only look, an
    /// account user under it, and a developer elsewhere.
    static func world(_ client: TestApp.Client) async throws -> Int64 {
        let node = try await client.createTenant(kind: "distributor", parent: 1, name: "Dev Co")
        _ = try await client.createUser(tenant: node, email: developer, permissions: ["manage_clients"])
        _ = try await client.createUser(tenant: node, email: "viewer@devco.example")
        let account = try await client.createTenant(kind: "account", parent: node, name: "Farm")
        _ = try await client.createUser(tenant: account, email: "farmer@farm.example")
        let other = try await client.createTenant(kind: "distributor", parent: 1, name: "Elsewhere")
        _ = try await client.createUser(tenant: other, email: "dev@elsewhere.example", permissions: ["manage_clients"])
        return node
    }

    static func applicationsOf(_ client: TestApp.Client, _ node: Int64) async throws -> [[String: Any]] {
        try await client.admin(.get, "/v1/tenants/\(node)/applications").items
    }

    @Test func aDeveloperCreatesAnApplicationWithAGeneratedKeyPair() async throws {
        try await TestApp().run { client in
            let node = try await Self.world(client)
            var dev = ConsoleBrowser(client)
            try await dev.signIn(Self.developer)
            #expect(dev.page.contains(#"href="\#(Self.applications)">Applications</a>"#))
            let list = try await dev.get(Self.applications)
            #expect(list.status == .ok && list.text.contains("No applications yet.") && list.text.contains(#"<label for="application-public-key">"#))

            #expect(try await dev.post(Self.applications, [("name", "Forged"), ("key", "generate")], csrf: .some(nil)).status == .forbidden)
            #expect(try await Self.applicationsOf(client, node).isEmpty)

            let created = try await dev.post(Self.applications, [("name", "Field app"), ("key", "generate"), ("redirect_urls", "https://app.example/back\n\n")])
            #expect(created.status == .created, "\(created.text)")
            let pem = try #require(ConsoleBrowser.firstMatch(#"<pre class="key" id="private-key"[^>]*>([^<]*)</pre>"#, in: created.text))
                .replacingOccurrences(of: "&#43;", with: "+").replacingOccurrences(of: "&#x2B;", with: "+")
            let privateKey = try RSAPrivateKey(pem: pem)
            let download = try #require(ConsoleBrowser.firstMatch(#"id="private-key-download" href="data:application/x-pem-file;base64,([^"]*)""#, in: created.text))
            #expect(String(decoding: try #require(Data(base64Encoded: download)), as: UTF8.self) == pem)

            // What is stored is the public half of that key, and the private half is nowhere to be seen again.
            let stored = try #require(try await Self.applicationsOf(client, node).first)
            #expect(stored["name"] as? String == "Field app" && stored["redirect_urls"] as? [String] == ["https://app.example/back"])
            let publicKey = try RSAPublicKey(pem: try #require(stored["public_key"] as? String))
            #expect(publicKey.pemRepresentation == privateKey.publicKey.pemRepresentation)
            let applicationId = try #require(stored["application_id"] as? String)
            let again = try await dev.get(Self.applications + "/" + applicationId)
            #expect(again.status == .ok && !again.text.contains("PRIVATE KEY") && again.text.contains("BEGIN PUBLIC KEY"))
            #expect(again.text.contains(applicationId) && again.text.contains("https://app.example/back"))
            let listed = try await dev.get(Self.applications)
            #expect(listed.text.contains(#"<a href="\#(Self.applications)/\#(applicationId)">Field app</a>"#))

            // A new key pair replaces the key; the old public key is gone.
            let rekeyed = try await dev.post(Self.applications + "/" + applicationId + "/key", [("key", "generate")])
            #expect(rekeyed.status == .ok && rekeyed.text.contains(#"id="private-key""#))
            let replaced = try await client.admin(.get, "/v1/applications/\(applicationId)")
            #expect(replaced.json["public_key"] as? String != stored["public_key"] as? String)
        }
    }

    @Test func aDeveloperRegistersAKeyAndEditsRedirectsAndVersions() async throws {
        try await TestApp().run { client in
            let node = try await Self.world(client)
            var dev = ConsoleBrowser(client)
            try await dev.signIn(Self.developer)
            try await dev.get(Self.applications)
            let pair = try RSAKeyPair.generate()

            // Rejected forms keep what was typed (the pasted key and the URLs), errors next to their fields.
            let badKey = try await dev.post(Self.applications, [("name", "Paste app"), ("key", "pem"), ("public_key", "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"),
                                                               ("redirect_urls", "https://ok.example/cb")])
            #expect(badKey.status == .unprocessableContent && badKey.text.contains(#"id="application-public-key-error""#), "\(badKey.text)")
            #expect(badKey.text.contains("not an RSA public key") && badKey.text.contains("nope") && badKey.text.contains(#"value="Paste app""#))
            #expect(badKey.text.contains(#"value="pem" checked"#) && badKey.text.contains("https://ok.example/cb</textarea>"))
            let badURL = try await dev.post(Self.applications, [("name", "Paste app"), ("key", "pem"), ("public_key", pair.publicKeyPEM),
                                                               ("redirect_urls", "https://ok.example/cb\nftp://files.example/x")])
            #expect(badURL.status == .unprocessableContent && badURL.text.contains(#"id="application-redirects-error""#))
            #expect(badURL.text.contains("Line 2 (ftp://files.example/x)") && badURL.text.contains("ftp://files.example/x</textarea>"))
            let noName = try await dev.post(Self.applications, [("name", ""), ("key", "pem"), ("public_key", "")])
            #expect(noName.status == .unprocessableContent && noName.text.contains(#"id="application-name-error""#) && noName.text.contains(#"id="application-public-key-error""#))
            #expect(try await Self.applicationsOf(client, node).isEmpty)

            let created = try await dev.post(Self.applications, [("name", "Paste app"), ("key", "pem"), ("public_key", pair.publicKeyPEM),
                                                                ("redirect_urls", "https://ok.example/cb")])
            #expect(created.status == .seeOther, "\(created.text)")
            let stored = try #require(try await Self.applicationsOf(client, node).first)
            #expect(try RSAPublicKey(pem: try #require(stored["public_key"] as? String)).pemRepresentation == pair.publicKey.pemRepresentation)
            let applicationId = try #require(stored["application_id"] as? String)
            let page = "\(Self.applications)/\(applicationId)"
            #expect(created.headers[.location] == page + "?done=created")
            let shown = try await dev.get(page + "?done=created")
            #expect(shown.text.contains("Application created.") && !shown.text.contains(#"id="private-key""#))

            // Redirect URLs: checked line by line; a rejected list stays in the box.
            let badRedirects = try await dev.post(page + "/redirect-urls", [("redirect_urls", "https://a.example/1\nhttps://user:pw@b.example/2")])
            #expect(badRedirects.status == .unprocessableContent && badRedirects.text.contains(#"id="redirects-text-error""#))
            #expect(badRedirects.text.contains("Line 2") && badRedirects.text.contains("https://user:pw@b.example/2</textarea>"))
            #expect(try await dev.post(page + "/redirect-urls", [("redirect_urls", "https://x.example/")], csrf: .some(nil)).status == .forbidden)
            let savedRedirects = try await dev.post(page + "/redirect-urls", [("redirect_urls", "https://a.example/1\r\nhttp://localhost:8080/cb\r\n")])
            #expect(savedRedirects.status == .seeOther)
            #expect((try await client.admin(.get, "/v1/applications/\(applicationId)")).json["redirect_urls"] as? [String]
                == ["https://a.example/1", "http://localhost:8080/cb"])

            // Certification versions.
            let unnamed = try await dev.post(page + "/versions", [("name", ""), ("status", "certified"), ("cu_onboarding", "true")])
            #expect(unnamed.status == .unprocessableContent && unnamed.text.contains(#"id="version-name-error""#))
            #expect(unnamed.text.contains(#"<option value="certified" selected>"#) && unnamed.text.contains(#"id="version-cu" name="cu_onboarding" type="checkbox" value="true" checked"#))
            let added = try await dev.post(page + "/versions", [("name", "1.0"), ("status", "certified")])
            #expect(added.status == .seeOther)
            let versions = try await client.admin(.get, "/v1/applications/\(applicationId)/versions").items
            #expect(versions.count == 1 && versions.first?["name"] as? String == "1.0" && versions.first?["status"] as? String == "certified")
            let versionId = try #require(versions.first?["certification_version_id"] as? String)
            #expect(try await dev.get(page).text.contains(versionId))

            // A bad key for an existing application keeps the pasted text.
            let rekey = try await dev.post(page + "/key", [("key", "pem"), ("public_key", "garbage")])
            #expect(rekey.status == .unprocessableContent && rekey.text.contains(#"id="key-public-key-error""#) && rekey.text.contains(">garbage</textarea>"))
        }
    }

    @Test func theRightsOfTheApplicationsAPIApply() async throws {
        try await TestApp().run { client in
            let node = try await Self.world(client)
            var anonymous = ConsoleBrowser(client)
            #expect(try await anonymous.get(Self.applications).headers[.location] == "/console/sign-in")
            #expect(try await anonymous.post(Self.applications, [("name", "X"), ("key", "none")], csrf: "x").headers[.location] == "/console/sign-in")

            var dev = ConsoleBrowser(client)
            try await dev.signIn(Self.developer)
            try await dev.get(Self.applications)
            #expect(try await dev.post(Self.applications, [("name", "Mine"), ("key", "none")]).status == .seeOther)
            let applicationId = try #require(try await Self.applicationsOf(client, node).first?["application_id"] as? String)
            let page = "\(Self.applications)/\(applicationId)"

            // A user of the node without manage_clients sees the list but no forms, and may not change anything.
            var viewer = ConsoleBrowser(client)
            try await viewer.signIn("viewer@devco.example")
            #expect(!viewer.page.contains(#"href="\#(Self.applications)""#))
            let seen = try await viewer.get(Self.applications)
            #expect(seen.status == .ok && seen.text.contains("Mine") && !seen.text.contains(#"id="application-name""#))
            #expect(try await viewer.post(Self.applications, [("name", "Sneaky"), ("key", "none")], csrf: viewer.formToken).status == .forbidden)
            #expect(try await viewer.post(page + "/versions", [("name", "9"), ("status", "draft")], csrf: viewer.formToken).status == .forbidden)
            // Users of accounts have no developer pages; developers elsewhere do not see this one.
            var farmer = ConsoleBrowser(client)
            try await farmer.signIn("farmer@farm.example")
            #expect(try await farmer.get(Self.applications).status == .forbidden)
            #expect(try await farmer.get(page).status == .forbidden)
            var stranger = ConsoleBrowser(client)
            try await stranger.signIn("dev@elsewhere.example")
            #expect(!(try await stranger.get(Self.applications)).text.contains("Mine"))
            #expect(try await stranger.get(page).status == .notFound)
            #expect(try await stranger.post(page + "/versions", [("name", "9"), ("status", "draft")], csrf: stranger.formToken).status == .notFound)
            #expect(try await stranger.post(page + "/redirect-urls", [("redirect_urls", "https://evil.example/")], csrf: stranger.formToken).status == .notFound)
            #expect(try await stranger.get(Self.applications + "/not-a-uuid").status == .notFound)
            #expect(try await client.admin(.get, "/v1/applications/\(applicationId)/versions").items.isEmpty)
            #expect((try await client.admin(.get, "/v1/applications/\(applicationId)")).json["redirect_urls"] as? [String] == [])
            #expect(try await Self.applicationsOf(client, node).count == 1)
        }
    }
}
