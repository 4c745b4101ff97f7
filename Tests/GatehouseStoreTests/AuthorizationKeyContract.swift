import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

extension SQLiteStoreContractTests {
    @Test func onboardingAuthorizationKeyIsMadeOnce() async throws { try await OnboardingContract.authorizationKeyIsMadeOnce(.sqlite) }
}

extension PostgresStoreContractTests {
    @Test func onboardingAuthorizationKeyIsMadeOnce() async throws { try await OnboardingContract.authorizationKeyIsMadeOnce(.postgres) }
}

extension OnboardingContract {
    /// The platform's authorization key is made once for a database: two stores over the same
    /// database (two nodes), making it at the same time, end up with one key; a later keyring
    /// reads it; its private half is sealed with the master key, never stored in the clear.
    static func authorizationKeyIsMadeOnce(_ engine: DatabaseEngine) async throws {
        let configuration = try await TestDatabases.freshConfiguration(engine)
        let vault = try SecretVault(keyData: SecretVault.generateKeyData())
        let clock = TestClock(1_800_000_000)
        try await withDatabase(configuration, logger: TestDatabases.logger) { first in
            try await Migrator(database: first).migrate()
            try await withDatabase(configuration, logger: TestDatabases.logger) { second in
                let stores = [SQLStore(database: first), SQLStore(database: second)]
                #expect(try await stores[1].authorizationKey() == nil)

                // Four keyrings on two nodes ask for the key at once.
                let published = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<4 {
                        group.addTask { try await AuthorizationKeyring(store: stores[index % 2], vault: vault, clock: clock).publicKeyPEM() }
                    }
                    var all: [String] = []
                    for try await pem in group { all.append(pem) }
                    return all
                }
                #expect(Set(published).count == 1)
                let publicKeyPEM = try #require(published.first)
                #expect(publicKeyPEM.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
                #expect(try RSAPublicKey(pem: publicKeyPEM).bitCount == 2_048)

                let stored = try #require(try await stores[0].authorizationKey())
                #expect(try await stores[1].authorizationKey() == stored)
                #expect(stored.publicKeyPEM == publicKeyPEM && stored.createdAt == clock.now())
                #expect(stored.privateKeySealed.hasPrefix("v1.") && !stored.privateKeySealed.contains("PRIVATE KEY"))
                #expect(try await count(first, "authorization_key") == 1)
                #expect(try await count(first, "audit_log", "action = 'platform.authorization_key'") == 1)

                // Storing another key changes nothing: the first one is answered.
                let other = StoredAuthorizationKey(publicKeyPEM: "other", privateKeySealed: "v1.other", createdAt: 5)
                #expect(try await stores[1].storeAuthorizationKeyOnce(other) == stored)

                // A later keyring (a node started afterwards) signs with the same key.
                let keyring = AuthorizationKeyring(store: stores[1], vault: vault, clock: clock)
                let key = try await keyring.privateKey()
                #expect(key.publicKey == (try RSAPublicKey(pem: publicKeyPEM)))
                let signature = try RequestSignature.signBase64(body: Array("state".utf8) + Array("token".utf8), privateKey: key)
                #expect(RequestSignature.verify(body: Array("statetoken".utf8), base64Signature: signature, publicKey: try RSAPublicKey(pem: publicKeyPEM)))

                // Another master key cannot open it.
                let foreign = AuthorizationKeyring(store: stores[0], vault: try SecretVault(keyData: SecretVault.generateKeyData()), clock: clock)
                await #expect(throws: GatehouseError.self) { _ = try await foreign.privateKey() }
            }
        }
    }
}
