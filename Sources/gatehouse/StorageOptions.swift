import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseStore

/// Reads `GATEHOUSE_<NAME>` from the environment; a flag given on the command line wins.
func environment(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment["GATEHOUSE_" + name], !value.isEmpty else { return nil }
    return value
}

/// Where the data lives; shared by every command that opens the database.
struct StorageOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data directory: embedded database and bootstrap credentials (env GATEHOUSE_DATA_DIR; default ./gatehouse-data).")
    var dataDir: String?

    @Option(name: .customLong("database-url"), help: "postgres://user:password@host:port/database to use PostgreSQL instead of the embedded SQLite (env GATEHOUSE_DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .customLong("password-hash-rounds"), help: "PBKDF2-HMAC-SHA256 rounds for new password hashes (env GATEHOUSE_PASSWORD_HASH_ROUNDS; default 600000).")
    var passwordHashRounds: Int?

    @Option(name: .customLong("master-key-file"), help: "File with the master key that seals retrievable secrets; every node of one database needs the same one (env GATEHOUSE_MASTER_KEY_FILE; default <data-dir>/master.key, created on first start).")
    var masterKeyFile: String?

    var resolvedMasterKeyFile: String? { masterKeyFile ?? environment("MASTER_KEY_FILE") }

    var resolvedDataDir: String { dataDir ?? environment("DATA_DIR") ?? "./gatehouse-data" }

    func resolvedDatabase() throws -> DatabaseConfiguration? {
        guard let url = databaseURL ?? environment("DATABASE_URL") else { return nil }
        do {
            return try DatabaseConfiguration.parse(url: url)
        } catch {
            throw ValidationError("--database-url: \(error.message)")
        }
    }

    func resolvedRounds() throws -> Int {
        guard let text = passwordHashRounds.map(String.init) ?? environment("PASSWORD_HASH_ROUNDS") else { return PasswordHasher.defaultRounds }
        guard let rounds = Int(text), rounds >= PasswordHasher.minimumRounds else {
            throw ValidationError("--password-hash-rounds must be an integer of at least \(PasswordHasher.minimumRounds)")
        }
        return rounds
    }

    /// The configuration for commands other than serve.
    func configuration() throws -> GatehouseConfiguration {
        var configuration = GatehouseConfiguration(dataDirectory: resolvedDataDir, database: try resolvedDatabase(), passwordHashRounds: try resolvedRounds())
        configuration.masterKeyFile = resolvedMasterKeyFile
        return configuration
    }
}
