import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseStore
import Logging

/// Opens the configured database, migrates it, and runs `body` with a store.
func withMigratedStore<T: Sendable>(_ configuration: GatehouseConfiguration, _ body: @Sendable (SQLStore) async throws -> T) async throws -> T {
    var logger = Logger(label: "gatehouse")
    logger.logLevel = .warning
    if case .sqlite = configuration.resolvedDatabase { try SecureFile.makeDirectory(configuration.dataDirectory) }
    return try await withDatabase(configuration.resolvedDatabase, logger: logger) { database in
        try await Migrator(database: database).migrate()
        return try await body(SQLStore(database: database))
    }
}

/// `gatehouse import FILE.json`: apply a declarative tree document.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply an import file (tenants, users, clients, applications, and device rows); re-applying it changes nothing.")

    @Argument(help: "The import file: a JSON document, or JSON Lines with device rows (see docs/import-format.md).")
    var file: String

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let configuration = try storage.configuration()
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let path = file
        do {
            // A JSON document, or JSON Lines: the document, then device rows (read as a stream).
            let report = try await withMigratedStore(configuration) { store in
                try await TreeImporter(store: store, hasher: PasswordHasher(rounds: configuration.passwordHashRounds)).apply(file: path)
            }
            print("imported \(file): \(report.created) created, \(report.updated) updated, \(report.unchanged) unchanged")
        } catch let error as GatehouseError {
            throw ValidationError("import failed, nothing was changed by the failing entry: \(error)")
        }
    }
}

/// `gatehouse export`: print the whole tree as an import file.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the whole tree as an import file (secrets as hashes only).")

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let configuration = try storage.configuration()
        let document = try await withMigratedStore(configuration) { store in
            try await TreeImporter(store: store, hasher: PasswordHasher(rounds: configuration.passwordHashRounds)).export()
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
        if let output {
            try SecureFile.write(text, to: output, mode: 0o600)
        } else {
            print(text, terminator: "")
        }
    }
}

/// `gatehouse admin-token --rotate`: replace the platform admin token.
struct AdminToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-token",
        abstract: "Replace the platform admin token: the old one stops working, the new one is written to <data-dir>/admin-token.")

    @Flag(help: "Required: confirms that the current token should stop working.")
    var rotate = false

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        guard rotate else { throw ValidationError("pass --rotate to replace the platform admin token") }
        let configuration = try storage.configuration()
        let token = Secrets.token(prefix: "gha_")
        try await withMigratedStore(configuration) { store in
            try await store.rotateAdminToken(token, at: SystemClock().now())
        }
        let path = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent(Bootstrap.FileName.adminToken).path
        try SecureFile.write(token + "\n", to: path, mode: 0o600)
        print("new platform admin token written to \(path) (0600)")
    }
}
