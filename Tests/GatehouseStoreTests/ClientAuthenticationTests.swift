import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// HTTP Basic client credentials (id + secret) as the partner surfaces check them.
@Suite("API client authentication")
struct ClientAuthenticationTests {
    @Test func onlyTheRightSecretOfAnEnabledClientInAnEnabledNodeWorks() async throws {
        try await TestDatabases.withMigrated(.sqlite) { database in
            let store = SQLStore(database: database)
            let management = Management(store: store, hasher: PasswordHasher(rounds: 1000))
            let auth = PartnerAuth(store: store, hasher: management.hasher)
            @Sendable func authenticate(_ clientId: String, _ secret: String) async throws -> APIClient? {
                do {
                    return try await auth.authenticateClient(clientId: clientId, secret: secret)
                } catch let error as GatehouseError where error.code == .invalidClient {
                    return nil
                }
            }
            let reseller = try await management.createTenant(.platformAdmin, NewTenant(kind: .reseller, parentId: 1, name: "R"))
            let issued = try await management.createClient(.platformAdmin, tenantId: reseller.id, clientId: "key", name: "K", scopes: [.write],
                                                           provisioning: false, enabled: true)
            #expect(try await authenticate("key", issued.secret)?.id == issued.client.id)
            #expect(try await authenticate("key", issued.secret + "x") == nil)
            #expect(try await authenticate("nobody", issued.secret) == nil)

            let rotated = try await management.rotateClientSecret(.platformAdmin, id: issued.client.id)
            #expect(try await authenticate("key", issued.secret) == nil)
            #expect(try await authenticate("key", rotated.secret) != nil)

            _ = try await management.updateClient(.platformAdmin, id: issued.client.id, name: nil, scopes: nil, provisioning: nil, enabled: false)
            #expect(try await authenticate("key", rotated.secret) == nil)
            _ = try await management.updateClient(.platformAdmin, id: issued.client.id, name: nil, scopes: nil, provisioning: nil, enabled: true)
            #expect(try await authenticate("key", rotated.secret) != nil)
            _ = try await management.updateTenant(.platformAdmin, id: reseller.id, TenantUpdate(enabled: false))
            #expect(try await authenticate("key", rotated.secret) == nil)
        }
    }
}
