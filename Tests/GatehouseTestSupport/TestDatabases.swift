import Foundation
import GatehouseCore
import GatehouseStore
import Logging

/// Throwaway databases for tests: a SQLite file in a temporary directory, or a fresh schema
/// in the PostgreSQL named by `GATEHOUSE_TEST_DATABASE_URL`.
public enum TestDatabases {
    /// The PostgreSQL URL CI sets; `nil` when PostgreSQL tests must be skipped.
    public static let postgresURL: String? = {
        guard let url = ProcessInfo.processInfo.environment["GATEHOUSE_TEST_DATABASE_URL"], !url.isEmpty else { return nil }
        return url
    }()

    /// Why PostgreSQL tests are skipped, shown by the test runner.
    public static let postgresSkipReason =
        "SKIPPED: GATEHOUSE_TEST_DATABASE_URL is not set, so the PostgreSQL tests did not run (.ci/run sets it; see README)"

    public static var logger: Logger {
        var logger = Logger(label: "gatehouse-test")
        logger.logLevel = .warning
        return logger
    }

    /// A new empty temporary directory.
    public static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A configuration of a fresh, empty database of `engine` (for PostgreSQL: a new schema).
    public static func freshConfiguration(_ engine: DatabaseEngine) async throws -> DatabaseConfiguration {
        switch engine {
        case .sqlite:
            return .sqlite(path: try temporaryDirectory() + "/gatehouse.sqlite")
        case .postgres:
            guard let text = postgresURL else { throw GatehouseError(.unavailable, "GATEHOUSE_TEST_DATABASE_URL is not set") }
            let url = try PostgresURL(text)
            let schema = "gh_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
            try await withDatabase(.postgres(url, schema: nil), logger: logger) { database in
                try await database.withConnection { db in try await db.raw("CREATE SCHEMA \(unsafeRaw: String(schema))").run() }
            }
            return .postgres(url, schema: String(schema))
        }
    }

    /// Runs `body` with a running, migrated database of `engine`.
    public static func withMigrated<T: Sendable>(_ engine: DatabaseEngine, _ body: @Sendable (any Database) async throws -> T) async throws -> T {
        let configuration = try await freshConfiguration(engine)
        return try await withDatabase(configuration, logger: logger) { database in
            try await Migrator(database: database).migrate()
            return try await body(database)
        }
    }
}
