import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit

/// A hot statement that PostgreSQL prepares once per connection: its text is fixed (keys
/// and rows travel as arrays, `= ANY($1)`, `unnest($1, …)`), so after its first run on a
/// connection the server reuses a generic plan instead of parsing and planning the statement
/// each time. Planning was about a quarter of PostgreSQL's time under the bearer and
/// activation benchmarks, with the coalesced reads' `IN (…)` lists of every length. Runs on
/// connections whose plans never scan a table whole (``Database/withLookupConnection(_:)``,
/// ``Database/batchTransaction(_:)``).
protocol PreparedRowStatement: PostgresPreparedStatement where Row == PostgresRow {}

extension PreparedRowStatement {
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// A ``PreparedRowStatement`` of one array of keys (`$1`).
protocol PreparedKeyRead: PreparedRowStatement {
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

/// A join that reads one table by key for each row before it: `LATERAL (SELECT * FROM
/// table x WHERE condition OFFSET 0) alias`, `condition` written on `x`. `OFFSET 0` keeps the
/// subquery a probe of its own, which PostgreSQL plans as an index look-up whatever the
/// table's size: a generic plan made while the tables are nearly empty is then the plan it
/// would be on large ones, never a merge join over a whole index or a scan of a whole table
/// (``PostgresPlanShapeTests``).
func keyedProbe(_ table: String, as alias: String, where condition: String, optional: Bool = false) -> String {
    let probe = "LATERAL (SELECT * FROM \(table) x WHERE \(condition) OFFSET 0) \(alias)"
    return optional ? "LEFT JOIN \(probe) ON true" : "CROSS JOIN \(probe)"
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
    func rows<Read: PreparedRowStatement>(_ read: @autoclosure () -> Read, portable: @autoclosure () -> SQLQueryString) async throws -> [any SQLRow] {
        if let postgres = self as? GuardedPostgresSQL { return try await postgres.rows(of: read()) }
        return try await raw(portable()).all()
    }
}
