import GatehouseCore
@testable import GatehouseStore
import GatehouseTestSupport
import Logging
import PostgresNIO
import Testing

/// The PostgreSQL connection set (a pool without timers): bounded, in line, cancellable,
/// and never handing out a connection the server has closed.
@Suite("PostgreSQL connection set", .enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
struct PostgresConnectionSetTests {
    static func set(max: Int) throws -> PostgresConnectionSet {
        let url = try PostgresURL(TestDatabases.postgresURL ?? "")
        let configuration = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.username, password: url.password,
                                                             database: url.database, tls: .disable)
        return PostgresConnectionSet(configuration: configuration, maxConnections: max, logger: TestDatabases.logger)
    }

    static func backend(_ connection: PostgresConnection) async throws -> Int32 {
        for try await pid in try await connection.query("SELECT pg_backend_pid()", logger: TestDatabases.logger).decode(Int32.self) { return pid }
        throw GatehouseError(.internal, "no backend pid")
    }

    @Test func manyOperationsShareAtMostTheBoundOfConnections() async throws {
        let set = try Self.set(max: 2)
        defer { set.shutdown() }
        let backends = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await set.withConnection { connection in
                        for try await _ in try await connection.query("SELECT pg_sleep(0.01)", logger: TestDatabases.logger) {}
                        return try await Self.backend(connection)
                    }
                }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(backends.count <= 2 && set.openCount <= 2, "\(backends)")
    }

    @Test func aConnectionTheServerClosedIsReplaced() async throws {
        let set = try Self.set(max: 1)
        defer { set.shutdown() }
        let first = try await set.withConnection { try await Self.backend($0) }
        // Another session ends that backend, as a server restart or an administrator would.
        let other = try Self.set(max: 1)
        defer { other.shutdown() }
        try await other.withConnection { connection in
            for try await _ in try await connection.query("SELECT pg_terminate_backend(\(first))", logger: TestDatabases.logger) {}
        }
        // The set notices at the latest when the driver has seen the close; it then opens a new one.
        var second = first
        for _ in 0..<50 where second == first {
            second = (try? await set.withConnection { try await Self.backend($0) }) ?? first
            if second == first { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(second != first)
        #expect(set.openCount == 1)
    }

    @Test func aCancelledWaiterLeavesTheLine() async throws {
        let set = try Self.set(max: 1)
        defer { set.shutdown() }
        let (held, release) = AsyncStream<Void>.makeStream()
        let (leased, leasedSignal) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await set.withConnection { _ in
                leasedSignal.yield()
                for await _ in held { break }
            }
        }
        for await _ in leased { break }
        let waiter = Task { try await set.withConnection { try await Self.backend($0) } }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        release.yield()
        try await holder.value
        // The place went back to the set, not to the cancelled waiter.
        _ = try await set.withConnection { try await Self.backend($0) }
        #expect(set.openCount == 1)
    }

    @Test func afterShutdownLeasesFailAsUnavailable() async throws {
        let set = try Self.set(max: 2)
        _ = try await set.withConnection { try await Self.backend($0) }
        set.shutdown()
        let error = await #expect(throws: GatehouseError.self) { try await set.withConnection { try await Self.backend($0) } }
        #expect(error?.code == .unavailable)
        #expect(set.openCount == 0)
    }
}
