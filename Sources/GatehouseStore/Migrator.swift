import GatehouseCore
import SQLKit

/// Applies ``Migrations`` at start, on either engine, safely from several nodes at once.
///
/// All pending steps run in one transaction that first takes an exclusive lock
/// (`pg_advisory_xact_lock` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so concurrent
/// nodes apply each step exactly once. A database already at a newer version than this
/// binary knows is refused rather than touched.
public struct Migrator: Sendable {
    public let database: any Database
    public let migrations: [Migration]

    /// The advisory lock key Gatehouse uses for migrations and bootstrap, hashed with the
    /// schema name: nodes sharing a schema serialise, databases in other schemas do not wait.
    static let lockKey: Int64 = 0x6761_7465_686f_7573  // "gatehous"

    /// A migrator for `database`, applying `migrations` (all of them by default).
    public init(database: any Database, migrations: [Migration] = Migrations.all) {
        self.database = database
        self.migrations = migrations
    }

    /// Applies every pending step; returns the versions it applied.
    @discardableResult
    public func migrate() async throws -> [Int] {
        let engine = database.engine
        let migrations = self.migrations
        // Start-up work that may wait for another node's migration: not bound by the
        // per-request operation timeout.
        return try await OperationTimeout.$override.withValue(OperationTimeout.startup) { try await database.transaction { db in
            if engine == .postgres {
                try await db.raw("SELECT pg_advisory_xact_lock(hashtextextended(current_schema(), \(bind: Self.lockKey)))").run()
            }
            try await db.raw(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
            ).run()
            let rows = try await db.raw("SELECT version FROM schema_migrations").all()
            let applied = Set(try rows.map { try $0.decode(column: "version", as: Int.self) })
            let known = Set(migrations.map(\.version))
            if let newer = applied.subtracting(known).max() {
                throw GatehouseError(.conflict, "the database is at schema version \(newer), newer than this build of Gatehouse knows; upgrade Gatehouse")
            }
            var done: [Int] = []
            for migration in migrations.sorted(by: { $0.version < $1.version }) where !applied.contains(migration.version) {
                for statement in migration.statements(for: engine) {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.raw(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: SystemClock().now()))"
                ).run()
                done.append(migration.version)
            }
            return done
        } }
    }

    /// The versions recorded as applied.
    public func appliedVersions() async throws -> [Int] {
        try await database.withConnection { db in
            let rows = try await db.raw("SELECT version FROM schema_migrations ORDER BY version").all()
            return try rows.map { try $0.decode(column: "version", as: Int.self) }
        }
    }
}
