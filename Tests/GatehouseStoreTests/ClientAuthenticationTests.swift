import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// HTTP Basic client credentials (id + secret) as the partner surfaces will check them.
@Suite("API client authentication")
struct ClientAuthenticationTests {
    @Test func onlyTheRightSecretOfAnEnabledClientInAnEnabledNodeWorks() async throws {
        try await TestDatabases.withMigrated(.sqlite) { database in
            let management = Management(store: SQLStore(database: database), hasher: PasswordHasher(rounds: 1000))
            let reseller = try await management.createTenant(.platformAdmin, NewTenant(kind: .reseller, parentId: 1, name: "R"))
            let issued = try await management.createClient(.platformAdmin, tenantId: reseller.id, clientId: "key", name: "K", scopes: [.write],
                                                           provisioning: false, enabled: true)
            #expect(try await management.authenticateClient(clientId: "key", secret: issued.secret)?.id == issued.client.id)
            #expect(try await management.authenticateClient(clientId: "key", secret: issued.secret + "x") == nil)
            #expect(try await management.authenticateClient(clientId: "nobody", secret: issued.secret) == nil)

            let rotated = try await management.rotateClientSecret(.platformAdmin, id: issued.client.id)
            #expect(try await management.authenticateClient(clientId: "key", secret: issued.secret) == nil)
            #expect(try await management.authenticateClient(clientId: "key", secret: rotated.secret) != nil)

            _ = try await management.updateClient(.platformAdmin, id: issued.client.id, name: nil, scopes: nil, provisioning: nil, enabled: false)
            #expect(try await management.authenticateClient(clientId: "key", secret: rotated.secret) == nil)
            _ = try await management.updateClient(.platformAdmin, id: issued.client.id, name: nil, scopes: nil, provisioning: nil, enabled: true)
            _ = try await management.updateTenant(.platformAdmin, id: reseller.id, TenantUpdate(enabled: false))
            #expect(try await management.authenticateClient(clientId: "key", secret: rotated.secret) == nil)
        }
    }
}
