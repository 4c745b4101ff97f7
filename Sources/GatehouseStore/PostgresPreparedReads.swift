import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit

/// A hot point read that PostgreSQL prepares once per connection: its text is fixed (the
/// keys travel as one array, `= ANY($1)`), so after its first runs on a connection the
/// server reuses a generic plan instead of parsing and planning the statement each time.
/// Planning was about a quarter of PostgreSQL's time under the bearer and activation
/// benchmarks, with the coalesced reads' `IN (…)` lists of every length.
protocol PreparedRowRead: PostgresPreparedStatement where Row == PostgresRow {}

extension PreparedRowRead {
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// A ``PreparedRowRead`` of one array of keys (`$1`).
protocol PreparedKeyRead: PreparedRowRead {
    associatedtype Key: PostgresArrayEncodable
    init(keys: [Key])
    var keys: [Key] { get }
}

extension PreparedKeyRead {
    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        try bindings.append(keys)
        return bindings
    }
}

extension GuardedPostgresSQL {
    /// Runs a prepared statement on this connection and collects its rows (failed, like every
    /// statement here, as soon as the connection closes).
    func rows<Statement: PostgresPreparedStatement>(of statement: Statement) async throws -> [any SQLRow] where Statement.Row == PostgresRow {
        let connection = self.connection, logger = self.logger
        let collected = NIOLockedValueBox<[PostgresRow]>([])
        try await ConnectionCloseWatch.shared.run(on: connection) {
            let done = connection.eventLoop.makePromise(of: Void.self)
            done.completeWithTask {
                var rows: [PostgresRow] = []
                for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
                collected.withLockedValue { $0 = rows }
            }
            return done.futureResult
        }.get()
        return collected.withLockedValue { $0 }.map { $0.sql() }
    }
}

extension SQLDatabase {
    /// The rows of `read`: prepared on PostgreSQL; elsewhere those of `portable`, its `IN (…)`
    /// form (each is built only where it runs).
    func rows<Read: PreparedRowRead>(_ read: @autoclosure () -> Read, portable: @autoclosure () -> SQLQueryString) async throws -> [any SQLRow] {
        if let postgres = self as? GuardedPostgresSQL { return try await postgres.rows(of: read()) }
        return try await raw(portable()).all()
    }
}
