import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseStore
import GatehouseTestSupport
import Logging
import SQLKit
import Testing

/// The certificate authority's key in the database: sealed with the master key by bootstrap,
/// sealed in place at the next start when an older version left it in clear, and a key that
/// does not open stops the start with a clear error.
@Suite("Certificate authority key at start")
struct AuthorityKeyAtStartTests {
    static func keyField(_ path: String) async throws -> String {
        try await withDatabase(.sqlite(path: path), logger: TestDatabases.logger) { database in
            try await database.withConnection { db in
                let row = try #require(try await db.raw("SELECT private_key_pem FROM certificate_authority WHERE id = 1").first())
                return try row.decode(column: "private_key_pem", as: String.self)
            }
        }
    }

    /// An older database (the key PEM in clear) gets it sealed at the next start; the same
    /// authority then still issues certificates (an onboarded endpoint's chains to `ca.pem`).
    @Test func anOlderDatabaseHasItsKeySealedAtTheNextStart() async throws {
        let clock = TestClock()
        let app = try TestApp(clock: clock)
        try await app.run { _ in }
        let directory = app.configuration.dataDirectory, databasePath = directory + "/gatehouse.sqlite"
        let keyPEM = try String(contentsOfFile: directory + "/ca-key.pem", encoding: .utf8)
        let caPEM = try String(contentsOfFile: directory + "/ca.pem", encoding: .utf8)
        let keyBody = try #require(keyPEM.split(separator: "\n").dropFirst().first.map(String.init))
        let made = try await Self.keyField(databasePath)
        #expect(made.hasPrefix("v1.") && !made.contains(keyBody) && !made.contains("PRIVATE KEY"))

        // As a version before sealing left it.
        try await withDatabase(.sqlite(path: databasePath), logger: TestDatabases.logger) { database in
            try await database.write { db in
                try await db.raw("UPDATE certificate_authority SET private_key_pem = \(bind: keyPEM) WHERE id = 1").run()
            }
        }
        try await app.run { client in
            let world = try await OnboardingAPITests.world(client, clock: clock)
            let onboarded = try await world.signed(.post, "/api/v1.0/registration/onboard/request", code: try await world.code(), body: world.body())
            #expect(onboarded.status == .created, "\(onboarded.text)")
            let pem = try #require((onboarded.json["authentication"] as? [String: Any])?["certificate"] as? String)
            let scratch = try TestDatabases.temporaryDirectory()
            try pem.write(toFile: scratch + "/endpoint.pem", atomically: true, encoding: .utf8)
            #expect(try await client.raw(.get, "/pki/ca.pem").text.hasPrefix(caPEM.trimmingCharacters(in: .newlines)))
            let verified = try await OnboardingAPITests.openssl(["verify", "-CAfile", directory + "/ca.pem", scratch + "/endpoint.pem"])
            #expect(verified.output.contains(": OK"), "\(verified.output)")
        }
        let sealed = try await Self.keyField(databasePath)
        #expect(sealed.hasPrefix("v1.") && !sealed.contains(keyBody) && !sealed.contains("PRIVATE KEY"))
        #expect(try String(contentsOfFile: directory + "/ca.pem", encoding: .utf8) == caPEM)
        let vault = try SecretVault(keyData: SecretVault.keyData(fromFileText: String(contentsOfFile: directory + "/master.key", encoding: .utf8)))
        #expect(try vault.open(sealed, context: SQLStore.authorityKeySealContext(certificatePEM: caPEM)) == keyPEM)
    }

    /// A master key that does not open the stored authority key stops bootstrap with an error
    /// that says so (the check value already stops a node whose key differs from the database's).
    @Test func aKeyThatDoesNotOpenStopsTheStart() async throws {
        let app = try TestApp()
        try await app.run { _ in }
        let directory = app.configuration.dataDirectory
        let stranger = try SecretVault(keyData: SecretVault.generateKeyData())
        try await withDatabase(.sqlite(path: directory + "/gatehouse.sqlite"), logger: TestDatabases.logger) { database in
            do {
                try await Bootstrap.run(store: SQLStore(database: database), vault: stranger, dataDirectory: directory, logger: TestDatabases.logger, announce: false)
                Issue.record("bootstrap accepted a master key that does not open the authority's key")
            } catch let error as GatehouseError {
                #expect(error.code == .internal && error.message.contains("master key"), "\(error)")
            }
        }
    }
}
