import GatehouseCore
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import ServiceLifecycle
import SQLKit

/// PostgreSQL through PostgresNIO connections (``PostgresConnectionSet``), for several Gatehouse nodes.
public final class PostgresDatabasePool: Database {
    public let engine = DatabaseEngine.postgres
    let client: PostgresConnectionSet
    /// A few connections of their own for the hot point reads by key (``withLookupConnection(_:)``).
    ///
    /// Those reads are prepared once per connection and run on a generic plan, so PostgreSQL
    /// neither parses nor plans them again (planning was half of PostgreSQL's time for the
    /// bearer and client look-ups of the refresh grant). A generic plan made while a table is
    /// small can be a sequential scan, kept while the table grows under load (a first attempt
    /// with prepared reads on the shared pool fell from 5,468 to 2,050 bearer requests/s over a
    /// minute). These connections have sequential scans disabled, so every plan made on them is
    /// an index look-up whatever the table's size then; they run nothing but these reads.
    let lookups: PostgresConnectionSet
    /// Connections of the same kind as ``lookups`` for the hot group-commit batches
    /// (``batchTransaction(_:)``), whose statements are prepared too.
    let batches: PostgresConnectionSet
    let metrics = PoolMetrics(engine: .postgres)

    /// A pool for `url`; with `schema`, every connection's `search_path` is that schema.
    public init(url: PostgresURL, schema: String?, maxConnections: Int = 20, operationTimeout: Duration = .seconds(15), logger: Logger) throws {
        self.operationTimeout = operationTimeout
        let tls: PostgresConnection.Configuration.TLS
        switch url.sslMode {
        case "require": tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case "prefer": tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: tls = .disable
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        let searchPath = schema.map { [("search_path", $0)] } ?? []
        configuration.options.additionalStartupParameters = searchPath
        self.client = PostgresConnectionSet(configuration: configuration, maxConnections: maxConnections, logger: logger)
        configuration.options.additionalStartupParameters = searchPath + [("plan_cache_mode", "force_generic_plan"), ("enable_seqscan", "off")]
        self.lookups = PostgresConnectionSet(configuration: configuration, maxConnections: min(maxConnections, Self.lookupConnections), logger: logger)
        self.batches = PostgresConnectionSet(configuration: configuration, maxConnections: min(maxConnections, Self.batchConnections), logger: logger)
    }

    /// How long one database operation (lease and queries) may take before it fails as
    /// `unavailable`: while PostgreSQL is away, callers get a 503, never a hang.
    public let operationTimeout: Duration

    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await lease(client, body)
    }

    public func withLookupConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await lease(lookups, body)
    }

    public func batchTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await lease(batches) { db in try await Self.transaction(on: db, .postgres, body) }
    }

    /// Connections of ``lookups``: the coalesced look-ups run at most a few at once.
    static let lookupConnections = 6
    /// Connections of ``batches``: as many as the activation batches under way at once.
    static let batchConnections = 2

    /// Runs `body` on a connection of `client`, within the operation timeout.
    private func lease<T: Sendable>(_ client: PostgresConnectionSet, _ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        metrics.leases.increment()
        let metrics = self.metrics
        let timeout = OperationTimeout.override ?? operationTimeout
        do {
            // The group never outlives this call, so `body` does not really escape.
            return try await withoutActuallyEscaping(body) { body in try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask {
                    var attempt = 0
                    while true {
                        attempt += 1
                        let leased = try await client.withConnection { connection -> Leased<T> in
                            // The pool can hand out a connection that has just closed (the
                            // server went away): take another rather than fail the operation.
                            if connection.isClosed && attempt < Self.leaseAttempts { return .closed }
                            metrics.inUse.increment()
                            defer { metrics.inUse.decrement() }
                            return .done(try await body(GuardedPostgresSQL(base: connection.sql(queryLogLevel: nil), connection: connection)))
                        }
                        if case .done(let result) = leased { return result }
                    }
                }
                group.addTask {
                    try await CancellableSleep.sleep(for: timeout)
                    throw GatehouseError(.unavailable, "the database did not answer in time")
                }
                defer { group.cancelAll() }
                guard let result = try await group.next() else { throw GatehouseError(.unavailable, "the database did not answer") }
                return result
            } }
        } catch {
            metrics.failures.increment()
            throw StoreError.map(error)
        }
    }

    /// Leases tried before an operation runs on a connection the pool handed out closed.
    static let leaseAttempts = 3

    /// What one lease gave: the operation's result, or a connection that had closed.
    enum Leased<T: Sendable>: Sendable {
        case done(T)
        case closed
    }

    public func run() async throws {
        // Keep serving until the nodes' other services have drained, then stop.
        await cancelWhenGracefulShutdown {
            // Until cancelled: a stream that never yields ends its loop on cancellation.
            let (stream, continuation) = AsyncStream<Never>.makeStream()
            for await _ in stream {}
            continuation.finish()
        }
        await shutdown()
    }

    /// Closes the connections (those in use as they are handed back); further operations fail.
    public func shutdown() async {
        client.shutdown()
        lookups.shutdown()
        batches.shutdown()
    }

    /// PostgreSQL handles concurrent writers itself.
    public func serializingWrites<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await body()
    }
}

/// A longer bound than the per-request operation timeout for work that runs under it
/// (``Migrator/migrate()`` waits for another node's migration behind a lock).
enum OperationTimeout {
    @TaskLocal static var override: Duration?
    /// The bound for start-up work.
    static let startup: Duration = .seconds(120)
}
