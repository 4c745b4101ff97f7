import GatehouseCore
import Logging
import Metrics
import ServiceLifecycle
import SQLKit

/// The SQL engine behind a ``Database``.
public enum DatabaseEngine: String, Sendable {
    case sqlite
    case postgres
}

/// A pool of SQL connections to one database, run as a `Service`.
///
/// Queries are written once with SQLKit and run on both engines; the few places where the
/// engines differ (DDL, locking) switch on ``engine``.
public protocol Database: Service {
    var engine: DatabaseEngine { get }
    /// Leases a connection for the duration of `body`.
    func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Leases a connection for the hot point reads by key (bearer, client, operator and
    /// token-issue look-ups), which PostgreSQL runs as prepared statements; outside a transaction.
    func withLookupConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs `body` in one transaction, like ``transaction(_:)``, for a hot group-commit batch
    /// whose statements PostgreSQL prepares once per connection (``PreparedRowStatement``):
    /// there on a few connections of their own whose plans never scan a table whole.
    func batchTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Closes every connection; further calls fail.
    func shutdown() async
    /// Runs `body` holding the process-wide writer lock, where the engine needs one.
    func serializingWrites<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T
    /// Runs `body`, one self-contained write statement (or several that need no common
    /// transaction; ``transaction(_:)`` wraps it in one), holding the writer lock, on a
    /// connection that may write; without `BEGIN`/`COMMIT` round trips.
    func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Where ``write(_:)`` runs its body, if on one thread: group commits start their drain
    /// loops there (nil: wherever the runtime puts them).
    var writeExecutor: (any TaskExecutor)? { get }
}

/// Counts connection leases for /metrics.
struct PoolMetrics: Sendable {
    let inUse: Meter
    let leases: Counter
    let failures: Counter

    init(engine: DatabaseEngine) {
        inUse = Meter(label: "gatehouse_db_connections_in_use", dimensions: [("engine", engine.rawValue)])
        leases = Counter(label: "gatehouse_db_leases_total", dimensions: [("engine", engine.rawValue)])
        failures = Counter(label: "gatehouse_db_errors_total", dimensions: [("engine", engine.rawValue)])
    }
}

extension Database {
    /// The default: no thread of its own.
    public var writeExecutor: (any TaskExecutor)? { nil }

    /// The default: any connection of the pool.
    public func withLookupConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withConnection(body)
    }

    /// The default: the writer lock, then a leased connection.
    public func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await serializingWrites { try await self.withConnection(body) }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    /// On SQLite the write lock is taken up front (`BEGIN IMMEDIATE`) so writers never deadlock.
    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await write { db in try await Self.transaction(on: db, engine, body) }
    }

    /// The default: an ordinary ``transaction(_:)``.
    public func batchTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await transaction(body)
    }

    /// Runs `body` between `BEGIN` and `COMMIT` on `db`; rolls back if it throws.
    static func transaction<T: Sendable>(on db: any SQLDatabase, _ engine: DatabaseEngine, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await db.raw(engine == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN").run()
        do {
            let result = try await body(db)
            try await db.raw("COMMIT").run()
            return result
        } catch {
            try? await db.raw("ROLLBACK").run()
            throw error
        }
    }

    /// Whether the database answers a trivial query.
    public func ping() async throws {
        _ = try await withConnection { db in try await db.raw("SELECT 1 AS one").first() }
    }
}

/// Opens `configuration`, runs the database service around `body`, and shuts it down after.
public func withDatabase<T: Sendable>(
    _ configuration: DatabaseConfiguration, logger: Logger, _ body: @Sendable (any Database) async throws -> T
) async throws -> T {
    let database = try DatabaseFactory.open(configuration, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await database.run() }
        do {
            let result = try await body(database)
            await database.shutdown()
            group.cancelAll()
            return result
        } catch {
            await database.shutdown()
            group.cancelAll()
            throw error
        }
    }
}

/// Opens databases by configuration.
public enum DatabaseFactory {
    /// A new, not yet running, database for `configuration`.
    /// `operationTimeout` bounds one PostgreSQL operation, so callers get `unavailable` while the server is away.
    public static func open(_ configuration: DatabaseConfiguration, operationTimeout: Duration = .seconds(10), logger: Logger) throws -> any Database {
        switch configuration {
        case .sqlite(let path): return SQLiteDatabasePool(path: path, logger: logger)
        case .postgres(let url, let schema):
            return try PostgresDatabasePool(url: url, schema: schema, operationTimeout: operationTimeout, logger: logger)
        }
    }
}
