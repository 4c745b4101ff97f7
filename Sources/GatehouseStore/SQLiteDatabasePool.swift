import GatehouseCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SQLiteKit
import SQLiteNIO
import SQLKit

/// The embedded default: a small pool of reading connections to one SQLite file in WAL mode,
/// and one writing connection.
///
/// Readers run side by side on their own thread pool. Writers queue on an async lock in the
/// process and then run on the writer connection (``SQLiteWriter``), whose statements run
/// inline on the writer thread; transactions take SQLite's write lock up front with
/// `BEGIN IMMEDIATE`. One process owns a SQLite file (several nodes need PostgreSQL).
/// `synchronous=NORMAL` in WAL mode keeps every committed transaction across a crash
/// of the process.
public final class SQLiteDatabasePool: Database {
    public let engine = DatabaseEngine.sqlite
    let path: String
    let logger: Logger
    let state: SQLitePoolState
    let metrics = PoolMetrics(engine: .sqlite)
    let writer = AsyncMutex()
    /// The connection writes run on (see ``SQLiteWriter``).
    let writerConnection: SQLiteWriter

    /// The page cache of each connection, in KiB (`PRAGMA cache_size`).
    static let cacheKiB = 16_384

    /// A pool over the SQLite file at `path` with at most `maxConnections` connections.
    public convenience init(path: String, maxConnections: Int = 4, logger: Logger) {
        self.init(path: path, maxConnections: maxConnections, writerBusyWait: .seconds(10), logger: logger)
    }

    /// A pool whose writer waits at most `writerBusyWait` for a file another connection has locked.
    init(path: String, maxConnections: Int = 4, writerBusyWait: Duration, logger: Logger) {
        self.path = path
        self.logger = logger
        self.state = SQLitePoolState(path: path, maxConnections: maxConnections, logger: logger)
        self.writerConnection = SQLiteWriter(path: path, busyWait: writerBusyWait, logger: logger)
    }

    /// Set on every connection when it opens. A 16 MiB page cache per connection (SQLite's
    /// default is 2 MiB): the indexes of a million serials or devices stay in it, so look-ups
    /// do not slow down as tables grow.
    static let connectionPragmas = ["PRAGMA busy_timeout = 10000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL",
                                    "PRAGMA foreign_keys = ON", "PRAGMA cache_size = -\(cacheKiB)"]

    /// The writer connection's thread.
    public var writeExecutor: (any TaskExecutor)? { writerConnection.executor }

    /// Writes run on the writer connection with the writer lock held, the whole body on the
    /// connection's thread, so that its statements run there without a hop each.
    public func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await serializingWrites {
            // Checked under the lock, which ``shutdown()`` takes to close the connection.
            guard !writerConnection.isClosed else { throw GatehouseError(.unavailable, "the database is closed") }
            metrics.leases.increment()
            metrics.inUse.increment()
            defer { metrics.inUse.decrement() }
            do {
                return try await withTaskExecutorPreference(writerConnection.executor) {
                    try await body(SQLiteWriterDatabase(writer: writerConnection, logger: logger))
                }
            } catch {
                throw StoreError.map(error)
            }
        }
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

    public func serializingWrites<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await writer.lock()
        do {
            let result = try await body()
            await writer.unlock()
            return result
        } catch {
            await writer.unlock()
            throw error
        }
    }

    public func run() async throws {
        // Nothing runs in the background: wait for graceful shutdown (or cancellation), then close.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        }
        await shutdown()
    }

    public func shutdown() async {
        await state.close()
        await writer.lock()
        await writerConnection.close()
        await writer.unlock()
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
            let connection: SQLiteConnection
            do {
                connection = try await Self.open(path: path, logger: logger)
            } catch {
                opened -= 1
                throw error
            }
            if closed {  // the pool closed while this connection was opening
                try? await connection.close().get()  // the future-based close ignores task cancellation
                throw GatehouseError(.unavailable, "the database is closed")
            }
            return connection
        }
        return try await withCheckedThrowingContinuation { waiters.append($0) }
    }

    func release(_ connection: SQLiteConnection) async {
        if closed {
            try? await connection.close().get()  // the future-based close ignores task cancellation
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
        for connection in idle { try? await connection.close().get() }  // the future-based close ignores task cancellation
        idle.removeAll()
    }

    static func open(path: String, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: SQLiteThreads.pool, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any()
        ).get()
        do {
            for pragma in SQLiteDatabasePool.connectionPragmas {
                _ = try await connection.query(pragma).get()
            }
        } catch {
            try? await connection.close().get()  // the future-based close ignores task cancellation
            throw error
        }
        return connection
    }
}

/// The threads SQLite calls run on (blocking C calls never run on event loops).
enum SQLiteThreads {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
        return pool
    }()
}

/// A FIFO async lock: waiters suspend, they never block a thread.
actor AsyncMutex {
    var locked = false
    var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if !locked {
            locked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty {
            locked = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
