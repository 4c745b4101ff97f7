import Foundation
import GatehouseCore
import HTTPTypes
import Testing

@Suite("/v1 management API")
struct ManagementAPITests {
    @Test func tenantsUsersAndClientsLifecycle() async throws {
        try await TestApp().run { client in
            let distributor = try await client.createTenant(kind: "distributor", parent: 1, name: "Dist", key: "dist")
            let reseller = try await client.createTenant(kind: "reseller", parent: distributor, name: "Res")
            let account = try await client.createTenant(kind: "account", parent: reseller, name: "Acc")

            let got = try await client.admin(.get, "/v1/tenants/\(account)")
            #expect(got.json["path"] as? String == "/1/\(distributor)/\(reseller)/\(account)/")
            #expect(got.json["kind"] as? String == "account")

            // Kind rules: an account cannot hold a reseller.
            let wrong = try await client.admin(.post, "/v1/tenants", json: #"{"kind":"reseller","parent_id":\#(account),"name":"X"}"#)
            #expect(wrong.status == .unprocessableContent)
            #expect(wrong.errorCode == "validation_failed")
            let duplicate = try await client.admin(.post, "/v1/tenants", json: #"{"kind":"account","parent_id":1,"name":"X","key":"dist"}"#)
            #expect(duplicate.status == .conflict)

            let renamed = try await client.admin(.patch, "/v1/tenants/\(account)", json: #"{"name":"Renamed"}"#)
            #expect(renamed.json["name"] as? String == "Renamed")

            let listed = try await client.admin(.get, "/v1/tenants?parent_id=\(distributor)")
            #expect(listed.items.map { ($0["id"] as? NSNumber)?.int64Value } == [reseller])
            let paged = try await client.admin(.get, "/v1/tenants?limit=2")
            #expect(paged.items.count == 2)
            let cursor = try #require(paged.json["next_cursor"] as? String)
            let rest = try await client.admin(.get, "/v1/tenants?limit=2&cursor=\(cursor)")
            #expect(rest.items.count == 2)
            #expect(rest.json["next_cursor"] is NSNull)

            let user = try await client.createUser(tenant: account, email: "End@Example.com")
            let fetched = try await client.admin(.get, "/v1/users/\(user)")
            #expect(fetched.json["email"] as? String == "end@example.com")
            #expect(fetched.json["password_hash"] == nil && fetched.json["password"] == nil)
            let byEmail = try await client.admin(.get, "/v1/users?email=end@example.com")
            #expect(byEmail.items.count == 1)
            let memberPermissions = try await client.admin(.patch, "/v1/users/\(user)", json: #"{"permissions":["manage_users"]}"#)
            #expect(memberPermissions.status == .unprocessableContent)

            let created = try await client.admin(.post, "/v1/clients", json: #"{"tenant_id":\#(reseller),"client_id":"key","name":"Back end","scopes":["write","read"]}"#)
            #expect(created.status == .created)
            let secret = try #require(created.json["client_secret"] as? String)
            #expect(secret.hasPrefix("ghs_"))
            let clientId = try #require(created.id)
            let shown = try await client.admin(.get, "/v1/clients/\(clientId)")
            #expect(shown.json["client_secret"] == nil)
            #expect(shown.json["scopes"] as? [String] == ["read", "write"])
            let rotated = try await client.admin(.post, "/v1/clients/\(clientId)/secret")
            let newSecret = try #require(rotated.json["client_secret"] as? String)
            #expect(newSecret != secret)

            // Deleting a node with children is refused; leaves go first.
            #expect(try await client.admin(.delete, "/v1/tenants/\(reseller)").status == .conflict)
            #expect(try await client.admin(.delete, "/v1/tenants/\(account)").status == .noContent)
            #expect(try await client.admin(.get, "/v1/users/\(user)").status == .notFound)  // went with its node
            #expect(try await client.admin(.delete, "/v1/clients/\(clientId)").status == .noContent)
            #expect(try await client.admin(.delete, "/v1/tenants/1").status == .conflict)

            let audit = try await client.admin(.get, "/v1/audit?limit=500")
            let actions = audit.items.compactMap { $0["action"] as? String }
            #expect(actions.contains("tenant.create") && actions.contains("client.rotate_secret") && actions.contains("tenant.delete"))
            #expect(!audit.text.contains(secret) && !audit.text.contains(newSecret))
        }
    }

    @Test func dealerAdminIsLimitedToItsSubtree() async throws {
        try await TestApp().run { client in
            let mine = try await client.createTenant(kind: "distributor", parent: 1, name: "Mine")
            let theirs = try await client.createTenant(kind: "distributor", parent: 1, name: "Theirs")
            let theirAccount = try await client.createTenant(kind: "account", parent: theirs, name: "TA")
            let theirUser = try await client.createUser(tenant: theirAccount, email: "them@example.com")
            _ = try await client.createUser(tenant: mine, email: "boss@example.com",
                                            permissions: ["manage_tenants", "manage_users", "manage_clients", "read_audit"])
            let token = try await client.signIn("boss@example.com")

            let me = try await client.send(.get, "/v1/me", token: token)
            #expect(me.json["kind"] as? String == "user")

            let visible = try await client.send(.get, "/v1/tenants", token: token)
            #expect(visible.items.map { ($0["id"] as? NSNumber)?.int64Value } == [mine])
            #expect(try await client.send(.get, "/v1/tenants/\(theirs)", token: token).status == .notFound)
            #expect(try await client.send(.get, "/v1/users/\(theirUser)", token: token).status == .notFound)
            #expect(try await client.send(.get, "/v1/users?tenant_id=\(theirAccount)", token: token).status == .notFound)

            let reseller = try await client.send(.post, "/v1/tenants", token: token, json: #"{"kind":"reseller","parent_id":\#(mine),"name":"R"}"#)
            #expect(reseller.status == .created)
            let resellerId = try #require(reseller.id)
            let outside = try await client.send(.post, "/v1/tenants", token: token, json: #"{"kind":"reseller","parent_id":1,"name":"R"}"#)
            #expect(outside.status == .notFound)

            // Operator-only switches, own node, and permissions the caller does not hold.
            let feature = try await client.send(.put, "/v1/tenants/\(resellerId)/features/generate_access_token", token: token, json: #"{"enabled":true}"#)
            #expect(feature.status == .forbidden)
            #expect(try await client.send(.patch, "/v1/tenants/\(mine)", token: token, json: #"{"name":"x"}"#).status == .forbidden)
            let escalate = try await client.send(.post, "/v1/users", token: token,
                                                 json: #"{"tenant_id":\#(resellerId),"email":"r@example.com","name":"R","password":"long enough","permissions":["generate_access_token"]}"#)
            #expect(escalate.status == .forbidden)
            let provisioning = try await client.send(.post, "/v1/clients", token: token,
                                                     json: #"{"tenant_id":\#(resellerId),"name":"C","scopes":["read"],"provisioning":true}"#)
            #expect(provisioning.status == .forbidden)
            let plainClient = try await client.send(.post, "/v1/clients", token: token, json: #"{"tenant_id":\#(resellerId),"name":"C","scopes":["read"]}"#)
            #expect(plainClient.status == .created)

            // The operator switches the feature on; the dealer can read it.
            let switched = try await client.admin(.put, "/v1/tenants/\(resellerId)/features/generate_access_token", json: #"{"enabled":true}"#)
            #expect(switched.status == .ok)
            let features = try await client.send(.get, "/v1/tenants/\(resellerId)/features", token: token)
            #expect(features.text.contains(#""enabled":true"#))

            // The audit log shows the dealer its own subtree only.
            let audit = try await client.send(.get, "/v1/audit", token: token)
            let targets = Set(audit.items.compactMap { $0["tenant_id"] as? NSNumber }.map(\.int64Value))
            #expect(!targets.isEmpty && targets.isSubset(of: [mine, resellerId]))

            // A member of an account has no management rights at all.
            _ = try await client.createUser(tenant: theirAccount, email: "member@example.com")
            let member = try await client.signIn("member@example.com")
            #expect(try await client.send(.get, "/v1/audit", token: member).status == .forbidden)
            #expect(try await client.send(.post, "/v1/tenants", token: member, json: #"{"kind":"account","parent_id":\#(theirAccount),"name":"x"}"#).status == .forbidden)
        }
    }

    @Test func sessionsFailAlikeAndEnd() async throws {
        try await TestApp().run { client in
            let account = try await client.createTenant(kind: "account", parent: 1, name: "A")
            let user = try await client.createUser(tenant: account, email: "u@example.com")
            let wrongPassword = try await client.send(.post, "/v1/sessions", token: nil, json: #"{"email":"u@example.com","password":"wrong one"}"#)
            let unknownUser = try await client.send(.post, "/v1/sessions", token: nil, json: #"{"email":"nobody@example.com","password":"wrong one"}"#)
            #expect(wrongPassword.status == .unauthorized && unknownUser.status == .unauthorized)
            #expect((wrongPassword.json["error"] as? [String: Any])?["message"] as? String == (unknownUser.json["error"] as? [String: Any])?["message"] as? String)

            let token = try await client.signIn("u@example.com")
            #expect(try await client.send(.get, "/v1/me", token: token).status == .ok)
            #expect(try await client.send(.delete, "/v1/sessions/current", token: token).status == .noContent)
            #expect(try await client.send(.get, "/v1/me", token: token).status == .unauthorized)
            #expect(try await client.admin(.delete, "/v1/sessions/current").status == .conflict)  // the admin token is not a session

            // Disabling a user or its node ends its sessions.
            let again = try await client.signIn("u@example.com")
            #expect(try await client.admin(.patch, "/v1/users/\(user)", json: #"{"enabled":false}"#).status == .ok)
            #expect(try await client.send(.get, "/v1/me", token: again).status == .unauthorized)
            #expect(try await client.send(.post, "/v1/sessions", token: nil, json: #"{"email":"u@example.com","password":"correct horse"}"#).status == .unauthorized)
            #expect(try await client.admin(.patch, "/v1/users/\(user)", json: #"{"enabled":true}"#).status == .ok)
            let third = try await client.signIn("u@example.com")
            #expect(try await client.admin(.patch, "/v1/tenants/\(account)", json: #"{"enabled":false}"#).status == .ok)
            #expect(try await client.send(.get, "/v1/me", token: third).status == .unauthorized)
        }
    }
}
