import GatehouseCore
import Testing

@Suite("Field rules, tree rules and callers")
struct RulesTests {
    @Test func keys() throws {
        #expect(try Validation.key("acme-eu.1") == "acme-eu.1")
        for bad in ["", "-x", "Acme", "a b", "ä", String(repeating: "a", count: 64), "a/b"] {
            #expect(throws: GatehouseError.self, "\(bad)") { try Validation.key(bad) }
        }
    }

    @Test func emails() throws {
        #expect(try Validation.email(" Ann@Example.COM ") == "ann@example.com")
        for bad in ["", "ann", "@x", "ann@", "a@b@c", "a b@c.d", String(repeating: "a", count: 250) + "@x.io"] {
            #expect(throws: GatehouseError.self, "\(bad)") { try Validation.email(bad) }
        }
    }

    @Test func namesPasswordsClientIdsScopes() throws {
        #expect(try Validation.name("  Acme  ") == "Acme")
        #expect(throws: GatehouseError.self) { try Validation.name("   ") }
        #expect(throws: GatehouseError.self) { try Validation.name("a\u{0}b") }
        #expect(throws: GatehouseError.self) { try Validation.password("short") }
        #expect(throws: GatehouseError.self) { try Validation.clientId("has:colon") }
        #expect(try Validation.scopes([.write, .read, .write]) == [.read, .write])
        #expect(throws: GatehouseError.self) { try Validation.scopes([]) }
    }

    @Test func treeShape() {
        #expect(TenantKind.distributor.allowedParents == [.platform])
        #expect(TenantKind.reseller.allowedParents == [.platform, .distributor])
        #expect(!TenantKind.account.isDealer)
        #expect(TenantKind.platform.allowedParents.isEmpty)
    }

    @Test func callersAndPermissions() throws {
        let dealer = Tenant(id: 2, key: "d", kind: .distributor, parentId: 1, name: "D", enabled: true, path: "/1/2/", createdAt: 0, updatedAt: 0)
        let account = Tenant(id: 3, key: "a", kind: .account, parentId: 2, name: "A", enabled: true, path: "/1/2/3/", createdAt: 0, updatedAt: 0)
        let other = Tenant(id: 4, key: "o", kind: .account, parentId: 1, name: "O", enabled: true, path: "/1/4/", createdAt: 0, updatedAt: 0)
        let admin = User(id: 1, tenantId: 2, email: "a@x", name: "A", permissions: [.manageUsers], enabled: true, createdAt: 0, updatedAt: 0)
        let caller = Caller.user(admin, dealer)
        #expect(caller.canSee(account) && caller.canSee(dealer) && !caller.canSee(other))
        #expect(throws: Never.self) { try caller.require(.manageUsers) }
        #expect(throws: GatehouseError.self) { try caller.require(.manageTenants) }
        #expect(throws: GatehouseError.self) { try caller.requireOperator(.manageUsers) }
        let member = Caller.user(User(id: 2, tenantId: 3, email: "m@x", name: "M", permissions: [.manageUsers], enabled: true, createdAt: 0, updatedAt: 0), account)
        #expect(throws: GatehouseError.self) { try member.require(.manageUsers) }  // members hold no admin rights
        #expect(Caller.platformAdmin.canSee(other))
        #expect(throws: Never.self) { try Caller.platformAdmin.requireOperator(.manageTenants) }
    }

    @Test func pageRequests() throws {
        #expect(try PageRequest.parse(limit: nil, cursor: nil) == PageRequest(limit: 50, after: nil))
        #expect(try PageRequest.parse(limit: "10", cursor: "42") == PageRequest(limit: 10, after: 42))
        for (limit, cursor) in [("0", nil), ("501", nil), ("x", nil), (nil, "-1"), (nil, "abc")] as [(String?, String?)] {
            #expect(throws: GatehouseError.self) { try PageRequest.parse(limit: limit, cursor: cursor) }
        }
    }
}
