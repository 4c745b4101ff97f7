import GatehouseCore
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import ServiceLifecycle
import SQLKit

/// PostgreSQL through PostgresNIO's `PostgresClient` pool, for several Gatehouse nodes.
public final class PostgresDatabasePool: Database {
    public let engine = DatabaseEngine.postgres
    let client: PostgresClient
    let metrics = PoolMetrics(engine: .postgres)

    /// A pool for `url`; with `schema`, every connection's `search_path` is that schema.
    public init(url: PostgresURL, schema: String?, maxConnections: Int = 20, logger: Logger) throws {
        let tls: PostgresClient.Configuration.TLS
        switch url.sslMode {
        case "require": tls = .require(.makeClientConfiguration())
        case "prefer": tls = .prefer(.makeClientConfiguration())
        default: tls = .disable
        }
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: tls)
        configuration.options.maximumConnections = maxConnections
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(5)
        if let schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        metrics.leases.increment()
        do {
            return try await client.withConnection { connection in
                metrics.inUse.increment()
                defer { metrics.inUse.decrement() }
                return try await body(connection.sql(queryLogLevel: nil))
            }
        } catch {
            metrics.failures.increment()
            throw StoreError.map(error)
        }
    }

    public func run() async throws {
        // Keep serving until the nodes' other services have drained, then stop.
        await cancelWhenGracefulShutdown { await self.client.run() }
    }

    public func shutdown() async {}

    /// PostgreSQL handles concurrent writers itself.
    public func serializingWrites<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await body()
    }
}
