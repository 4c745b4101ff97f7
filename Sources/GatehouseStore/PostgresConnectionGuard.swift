import GatehouseCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import SQLKit

/// The statements of one leased PostgreSQL connection, each failed as soon as the
/// connection closes.
///
/// PostgresNIO (1.33) never completes a statement written to a connection that has just
/// closed — the server went away between the lease and the write, or the pool handed out a
/// connection that was closing — and no task cancellation reaches it: the caller waits for
/// good, holding its lease. `FaultInjectionTests` found it: after a PostgreSQL restart under
/// activation load a node's activation group commit hung in such a statement, and with it
/// every later activation on that node. Every statement Gatehouse runs on PostgreSQL goes
/// through this type: refused at once on a closed connection, and failed with `unavailable`
/// when its connection closes before it is answered.
struct GuardedPostgresSQL: SQLDatabase {
    let base: any SQLDatabase
    let connection: PostgresConnection

    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        ConnectionCloseWatch.shared.run(on: connection) { base.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try await execute(sql: query, onRow).get()
    }
}

/// The statements under way on each open connection, watched through one close callback
/// per connection (not one per statement, which would pile up on a long-lived connection).
final class ConnectionCloseWatch: Sendable {
    static let shared = ConnectionCloseWatch()

    /// The error a statement on a closed connection fails with.
    static var closed: GatehouseError { GatehouseError(.unavailable, "the database connection closed") }

    private struct Statement {
        var id: UInt64
        var answer: EventLoopPromise<Void>
        var underlying: EventLoopFuture<Void>
    }

    /// A watched connection: held here until its close callback has run, so that its address
    /// (the key) cannot be reused by a new connection meanwhile. Without the reference a pool
    /// could free a closed connection before this watch's callback ran, and a connection
    /// allocated at the same address would find the entry, skip its own close watch and have
    /// its statements failed as `closed` by the old connection's callback.
    private struct Watched {
        var connection: PostgresConnection
        var statements: [UInt64: Statement] = [:]
    }

    private struct State {
        var nextId: UInt64 = 0
        /// Statements not yet answered, by connection; a connection stays here until it closes.
        var open: [ObjectIdentifier: Watched] = [:]
        /// Statements unanswered when their connection closed, until the driver answers them:
        /// one it lost is kept for good, so that its future is never released unfulfilled
        /// (NIO traps on that in debug builds). A few at most per lost connection.
        var lost: [UInt64: EventLoopFuture<Void>] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// Runs `statement` on `connection`; its answer, or `closed` once the connection closes.
    func run(on connection: PostgresConnection, _ statement: () -> EventLoopFuture<Void>) -> EventLoopFuture<Void> {
        if connection.isClosed { return connection.eventLoop.makeFailedFuture(Self.closed) }
        let key = ObjectIdentifier(connection)
        let underlying = statement()
        let answer = connection.eventLoop.makePromise(of: Void.self)
        let (id, firstStatement) = state.withLockedValue { state -> (UInt64, Bool) in
            state.nextId += 1
            let first = state.open[key] == nil
            state.open[key, default: Watched(connection: connection)].statements[state.nextId] = Statement(id: state.nextId, answer: answer, underlying: underlying)
            return (state.nextId, first)
        }
        underlying.whenComplete { result in
            let pending = self.state.withLockedValue { state -> Bool in
                state.lost.removeValue(forKey: id)
                return state.open[key]?.statements.removeValue(forKey: id) != nil
            }
            if pending { answer.completeWith(result) }
        }
        // Runs at once if the connection has closed meanwhile.
        if firstStatement { connection.closeFuture.whenComplete { _ in self.connectionClosed(key) } }
        return answer.futureResult
    }

    private func connectionClosed(_ key: ObjectIdentifier) {
        let unanswered = state.withLockedValue { state -> [Statement] in
            let statements = Array((state.open.removeValue(forKey: key)?.statements ?? [:]).values)
            for statement in statements { state.lost[statement.id] = statement.underlying }
            return statements
        }
        for statement in unanswered { statement.answer.fail(Self.closed) }
    }
}
