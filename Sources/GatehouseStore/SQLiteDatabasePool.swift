import GatehouseCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SQLiteKit
import SQLiteNIO
import SQLKit

/// The embedded default: a small pool of connections to one SQLite file in WAL mode.
///
/// Readers run side by side; writers take the write lock with `BEGIN IMMEDIATE` and wait
/// for each other (busy timeout), so concurrent requests never see `SQLITE_BUSY`.
/// `synchronous=NORMAL` in WAL mode keeps every committed transaction across a crash
/// of the process.
public final class SQLiteDatabasePool: Database {
    public let engine = DatabaseEngine.sqlite
    let path: String
    let logger: Logger
    let state: SQLitePoolState
    let metrics = PoolMetrics(engine: .sqlite)

    /// A pool over the SQLite file at `path` with at most `maxConnections` connections.
    public init(path: String, maxConnections: Int = 4, logger: Logger) {
        self.path = path
        self.logger = logger
        self.state = SQLitePoolState(path: path, maxConnections: maxConnections, logger: logger)
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection: SQLiteConnection
        do {
            connection = try await state.lease()
        } catch {
            metrics.failures.increment()
            throw StoreError.map(error)
        }
        metrics.leases.increment()
        metrics.inUse.increment()
        defer { metrics.inUse.decrement() }
        do {
            let result = try await body(connection.sql())
            await state.release(connection)
            return result
        } catch {
            await state.release(connection)
            throw StoreError.map(error)
        }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    public func shutdown() async {
        await state.close()
    }
}

/// The idle connections and waiters of a ``SQLiteDatabasePool``.
actor SQLitePoolState {
    let path: String
    let maxConnections: Int
    let logger: Logger
    var idle: [SQLiteConnection] = []
    var opened = 0
    var closed = false
    var waiters: [CheckedContinuation<SQLiteConnection, any Error>] = []

    init(path: String, maxConnections: Int, logger: Logger) {
        self.path = path
        self.maxConnections = max(1, maxConnections)
        self.logger = logger
    }

    func lease() async throws -> SQLiteConnection {
        guard !closed else { throw GatehouseError(.unavailable, "the database is closed") }
        if let connection = idle.popLast() { return connection }
        if opened < maxConnections {
            opened += 1
            do {
                return try await Self.open(path: path, logger: logger)
            } catch {
                opened -= 1
                throw error
            }
        }
        return try await withCheckedThrowingContinuation { waiters.append($0) }
    }

    func release(_ connection: SQLiteConnection) async {
        if closed {
            try? await connection.close()
            return
        }
        if !waiters.isEmpty {
            waiters.removeFirst().resume(returning: connection)
        } else {
            idle.append(connection)
        }
    }

    func close() async {
        guard !closed else { return }
        closed = true
        for waiter in waiters { waiter.resume(throwing: GatehouseError(.unavailable, "the database is closed")) }
        waiters.removeAll()
        for connection in idle { try? await connection.close() }
        idle.removeAll()
    }

    static func open(path: String, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger).get()
        do {
            for pragma in ["PRAGMA busy_timeout = 10000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"] {
                _ = try await connection.query(pragma).get()
            }
        } catch {
            try? await connection.close()
            throw error
        }
        return connection
    }
}
