import Foundation
import GatehouseCore
import GatehouseServer
import HTTPTypes
import Hummingbird
import Testing

/// The platform operator's console pages (issue 10, point 4) through the router: browse the
/// tenant tree, create a node, enable/disable it, switch features; only a user of the platform
/// node with `manage_tenants` may, CSRF refusals change nothing, rejected forms keep values.
@Suite("Console: operator pages")
struct ConsoleOperatorTests {
    static let operatorUser = "ops@platform.example"

    /// A platform user with `manage_tenants` and a distributor with its own admin.
    static func world(_ client: TestApp.Client) async throws -> (distributor: Int64, account: Int64) {
        _ = try await client.createUser(tenant: 1, email: operatorUser, permissions: ["manage_tenants"])
        let distributor = try await client.createTenant(kind: "distributor", parent: 1, name: "North Dist")
        let account = try await client.createTenant(kind: "account", parent: distributor, name: "North Home")
        _ = try await client.createUser(tenant: distributor, email: "admin@north.example", permissions: ["manage_tenants"])
        _ = try await client.createUser(tenant: account, email: "end@north.example")
        _ = try await client.createUser(tenant: 1, email: "viewer@platform.example")
        return (distributor, account)
    }

    static func children(_ client: TestApp.Client, of parent: Int64) async throws -> [String] {
        try await client.admin(.get, "/v1/tenants?parent_id=\(parent)&limit=500").items.compactMap { $0["name"] as? String }
    }

    @Test func onlyThePlatformOperatorGetsTheTenantTree() async throws {
        try await TestApp().run { client in
            let w = try await Self.world(client)
            var anonymous = ConsoleBrowser(client)
            #expect(try await anonymous.get("/console/operator/tenants/1").headers[.location] == "/console/sign-in")
            #expect(try await anonymous.post("/console/operator/tenants/1/children", [("kind", "distributor"), ("name", "X")], csrf: "x").status == .seeOther)

            for email in ["admin@north.example", "end@north.example", "viewer@platform.example"] {
                var user = ConsoleBrowser(client)
                try await user.signIn(email)
                #expect(!user.page.contains(#"href="/console/operator/tenants""#), "\(email) has no Tenant tree link")
                #expect(try await user.get("/console/operator/tenants/\(w.distributor)").status == .forbidden, "\(email)")
                let posted = try await user.post("/console/operator/tenants/\(w.distributor)/children", [("kind", "reseller"), ("name", "Sneaky")],
                                                 csrf: user.formToken)
                #expect(posted.status == .forbidden, "\(email)")
                let feature = try await user.post("/console/operator/tenants/\(w.distributor)/features/generate_access_token", [("enabled", "true")],
                                                  csrf: user.formToken)
                #expect(feature.status == .forbidden, "\(email)")
            }
            #expect(try await Self.children(client, of: w.distributor) == ["North Home"])
            let features = try await client.admin(.get, "/v1/tenants/\(w.distributor)/features")
            #expect(!features.text.contains(#""enabled":true"#), "\(features.text)")
        }
    }

    @Test func theOperatorBrowsesCreatesAndDisablesNodes() async throws {
        try await TestApp().run { client in
            let w = try await Self.world(client)
            var ops = ConsoleBrowser(client)
            try await ops.signIn(Self.operatorUser)
            #expect(ops.page.contains(#"href="/console/operator/tenants""#))
            let root = try await ops.get("/console/operator/tenants")
            #expect(root.status == .seeOther && root.headers[.location] == "/console/operator/tenants/1")
            let platform = try await ops.get("/console/operator/tenants/1")
            #expect(platform.status == .ok && platform.text.contains(#"href="/console/operator/tenants/\#(w.distributor)">North Dist</a>"#))
            let node = try await ops.get("/console/operator/tenants/\(w.distributor)")
            #expect(node.text.contains("North Home") && node.text.contains(#"<option value="reseller">"#) && !node.text.contains(#"<option value="distributor">"#))
            #expect(try await ops.get("/console/operator/tenants/999999").status == .notFound)

            // Without the form token nothing is created.
            #expect(try await ops.post("/console/operator/tenants/\(w.distributor)/children", [("kind", "reseller"), ("name", "Forged")], csrf: .some(nil)).status == .forbidden)
            #expect(try await Self.children(client, of: w.distributor) == ["North Home"])

            try await ops.get("/console/operator/tenants/\(w.distributor)")
            let created = try await ops.post("/console/operator/tenants/\(w.distributor)/children", [("kind", "reseller"), ("name", "South Res"), ("key", "south-res")])
            #expect(created.status == .seeOther, "\(created.text)")
            #expect(try await Self.children(client, of: w.distributor).sorted() == ["North Home", "South Res"])
            let after = try await ops.get(try #require(created.headers[.location]))
            #expect(after.text.contains("Node created.") && after.text.contains("South Res"))

            // A rejected form keeps what was typed, with the error next to its field.
            let taken = try await ops.post("/console/operator/tenants/\(w.distributor)/children", [("kind", "reseller"), ("name", "Again"), ("key", "south-res")])
            #expect(taken.status == .unprocessableContent, "\(taken.text)")
            #expect(taken.text.contains(#"id="node-key-error""#) && taken.text.contains(#"value="Again""#) && taken.text.contains(#"value="south-res""#))
            #expect(taken.text.contains(#"<option value="reseller" selected>"#))
            let unnamed = try await ops.post("/console/operator/tenants/\(w.distributor)/children", [("kind", ""), ("name", ""), ("key", "k-1")])
            #expect(unnamed.status == .unprocessableContent && unnamed.text.contains(#"id="node-kind-error""#) && unnamed.text.contains(#"id="node-name-error""#))
            #expect(unnamed.text.contains(#"value="k-1""#))

            // Disable the account: its user can no longer sign in; enable it again.
            try await ops.get("/console/operator/tenants/\(w.distributor)")
            let disabled = try await ops.post("/console/operator/tenants/\(w.account)/enabled", [("enabled", "false")])
            #expect(disabled.status == .seeOther)
            #expect((try await client.admin(.get, "/v1/tenants/\(w.account)")).json["enabled"] as? Bool == false)
            var end = ConsoleBrowser(client)
            #expect(try await end.signIn("end@north.example").status != .seeOther)
            try await ops.get("/console/operator/tenants/\(w.distributor)")
            #expect(try await ops.post("/console/operator/tenants/\(w.account)/enabled", [("enabled", "true")]).status == .seeOther)
            #expect((try await client.admin(.get, "/v1/tenants/\(w.account)")).json["enabled"] as? Bool == true)
            // The platform node itself cannot be disabled.
            #expect(try await ops.post("/console/operator/tenants/1/enabled", [("enabled", "false")]).status == .forbidden)
        }
    }

    @Test func theOperatorSwitchesFeaturesOfANode() async throws {
        try await TestApp().run { client in
            let w = try await Self.world(client)
            var ops = ConsoleBrowser(client)
            try await ops.signIn(Self.operatorUser)
            let page = try await ops.get("/console/operator/tenants/\(w.distributor)")
            #expect(page.text.contains(#"aria-label="Switch on Generate Access Token"#))
            let switched = try await ops.post("/console/operator/tenants/\(w.distributor)/features/generate_access_token", [("enabled", "true")])
            #expect(switched.status == .seeOther)
            let on = try await client.admin(.get, "/v1/tenants/\(w.distributor)/features")
            #expect(on.text.contains(#""enabled":true"#), "\(on.text)")
            let shown = try await ops.get(try #require(switched.headers[.location]))
            #expect(shown.text.contains("Feature switch saved.") && shown.text.contains(#"aria-label="Switch off Generate Access Token"#))
            #expect(try await ops.post("/console/operator/tenants/\(w.distributor)/features/no_such_thing", [("enabled", "true")]).status == .notFound)
            #expect(try await ops.post("/console/operator/tenants/\(w.distributor)/features/generate_access_token", [("enabled", "maybe")]).status
                    == .unprocessableContent)
        }
    }
}
