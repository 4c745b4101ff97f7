import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

extension SQLiteStoreContractTests {
    @Test func authorityKeyIsSealedAndOldKeysAreSealedOnce() async throws { try await AuthorityKeyContract.sealedAndUpgradedOnce(.sqlite) }
}

extension PostgresStoreContractTests {
    @Test func authorityKeyIsSealedAndOldKeysAreSealedOnce() async throws { try await AuthorityKeyContract.sealedAndUpgradedOnce(.postgres) }
}

/// The certificate authority's private key at rest, on both engines.
enum AuthorityKeyContract {
    static let keyPEM = "-----BEGIN PRIVATE KEY-----\nQXV0aG9yaXR5S2V5Qm9keUZvclRoZVRlc3Q=\n-----END PRIVATE KEY-----\n"
    static let keyBody = "QXV0aG9yaXR5S2V5Qm9keUZvclRoZVRlc3Q="

    static func keyField(_ database: any Database) async throws -> String {
        try await database.withConnection { db in
            let row = try #require(try await db.raw("SELECT private_key_pem FROM certificate_authority WHERE id = 1").first())
            return try row.decode(column: "private_key_pem", as: String.self)
        }
    }

    static func set(_ database: any Database, _ column: String, to value: String) async throws {
        try await database.write { db in
            try await db.raw("UPDATE certificate_authority SET \(unsafeRaw: column) = \(bind: value) WHERE id = 1").run()
        }
    }

    /// Bootstrap stores the key sealed with the master key, bound to the authority's
    /// certificate; a key an older version stored in clear is refused until sealed, and is
    /// sealed exactly once when several nodes start at once; another master key, or the
    /// sealed key next to another certificate, does not open.
    static func sealedAndUpgradedOnce(_ engine: DatabaseEngine) async throws {
        let configuration = try await TestDatabases.freshConfiguration(engine)
        let vault = try SecretVault(keyData: SecretVault.generateKeyData())
        try await withDatabase(configuration, logger: TestDatabases.logger) { first in
            try await Migrator(database: first).migrate()
            try await withDatabase(configuration, logger: TestDatabases.logger) { second in
                let stores = [SQLStore(database: first), SQLStore(database: second)]
                let material = BootstrapMaterial(authorityCertificatePEM: "ca-certificate", authorityKeyPEM: keyPEM, superAdminCertificatePEM: "c",
                                                 superAdminKeyPEM: "k", superAdminSerial: "01", superAdminNotAfter: 9, adminToken: "token")
                #expect(try await stores[0].bootstrapOnce(at: 1, vault: vault) { material }?.authorityKeyPEM == keyPEM)
                let sealed = try await keyField(first)
                #expect(sealed.hasPrefix("v1.") && !sealed.contains(keyBody) && !sealed.contains("PRIVATE KEY"))
                #expect(try await stores[1].authority(vault: vault)?.keyPEM == keyPEM)
                #expect(try await stores[1].authority(vault: vault)?.certificatePEM == "ca-certificate")
                #expect(try await stores[1].sealAuthorityKeyIfClear(vault: vault) == false)
                #expect(try await keyField(first) == sealed)
                let stranger = try SecretVault(keyData: SecretVault.generateKeyData())
                await #expect(throws: GatehouseError.self) { _ = try await stores[0].authority(vault: stranger) }

                // A database from before keys were sealed: the PEM in clear is not read as it is.
                try await set(first, "private_key_pem", to: keyPEM)
                await #expect(throws: GatehouseError.self) { _ = try await stores[1].authority(vault: vault) }
                // Four starts on two nodes at once: one seals it, in place.
                let sealedBy = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<4 { group.addTask { try await stores[index % 2].sealAuthorityKeyIfClear(vault: vault) } }
                    var count = 0
                    for try await sealedHere in group where sealedHere { count += 1 }
                    return count
                }
                #expect(sealedBy == 1)
                let resealed = try await keyField(second)
                #expect(resealed.hasPrefix("v1.") && !resealed.contains(keyBody))
                #expect(try await stores[0].authority(vault: vault)?.keyPEM == keyPEM)
                #expect(try await stores[0].bootstrapOnce(at: 2, vault: vault) { material } == nil)

                // The sealed key is bound to its certificate.
                try await set(first, "certificate_pem", to: "another-certificate")
                await #expect(throws: GatehouseError.self) { _ = try await stores[1].authority(vault: vault) }
            }
        }
    }
}
