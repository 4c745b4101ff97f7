import GatehouseCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// PostgreSQL connections opened on demand, up to a bound, and kept open: a pool without
/// timers.
///
/// PostgresNIO's `PostgresClient` arms an idle-timeout timer (a `Task.sleep` on a dispatch
/// timer, with two tasks around it) each time a connection goes back idle, and cancels it at
/// the next lease: under load, about one timer per lease, and some 10% of the server's CPU
/// spent on dispatch threads (perf, refresh grant on PostgreSQL). Here a lease takes an idle
/// connection or opens one, else waits in line; a release hands the connection to the next in
/// line or keeps it. A connection found closed is dropped and its place opened again; nothing
/// is closed for being idle (there are at most `maxConnections`).
final class PostgresConnectionSet: Sendable {
    private struct Waiter {
        let id: UInt64
        /// Resumed with a connection, or with nil: a place is free, open a connection in it.
        let continuation: CheckedContinuation<PostgresConnection?, any Error>
    }

    private struct State {
        var idle: [PostgresConnection] = []
        /// Connections open or being opened, idle or leased.
        var count = 0
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
        /// Waiters cancelled before they were queued.
        var cancelled: Set<UInt64> = []
        var shutDown = false
        /// The id of the last connection opened (for PostgresNIO's logs).
        var lastConnectionId = 0
    }

    private let state = NIOLockedValueBox(State())
    private let configuration: PostgresConnection.Configuration
    private let maxConnections: Int
    private let logger: Logger

    init(configuration: PostgresConnection.Configuration, maxConnections: Int, logger: Logger) {
        self.configuration = configuration
        self.maxConnections = max(1, maxConnections)
        self.logger = logger
    }

    /// Runs `body` with a connection of its own, handed back after (closed ones are dropped).
    func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await lease()
        do {
            let result = try await body(connection)
            release(connection)
            return result
        } catch {
            release(connection)
            throw error
        }
    }

    /// Closes every idle connection and those handed back from now on; leases fail.
    func shutdown() {
        let (idle, waiters) = state.withLockedValue { state -> ([PostgresConnection], [Waiter]) in
            state.shutDown = true
            defer { state.idle = []; state.waiters = [] }
            state.count -= state.idle.count
            return (state.idle, state.waiters)
        }
        for connection in idle { Self.close(connection) }
        for waiter in waiters { waiter.continuation.resume(throwing: Self.closedError) }
    }

    /// Connections open or being opened (for tests).
    var openCount: Int { state.withLockedValue { $0.count } }

    static var closedError: GatehouseError { GatehouseError(.unavailable, "the database connection pool is closed") }

    private enum Next {
        case use(PostgresConnection)
        case open
        case wait
    }

    private func lease() async throws -> PostgresConnection {
        let next = try state.withLockedValue { state throws -> Next in
            guard !state.shutDown else { throw Self.closedError }
            while let connection = state.idle.popLast() {
                if !connection.isClosed { return .use(connection) }
                state.count -= 1
            }
            if state.count < maxConnections {
                state.count += 1
                return .open
            }
            return .wait
        }
        switch next {
        case .use(let connection): return connection
        case .open: return try await open()
        case .wait:
            if let connection = try await waitInLine() { return connection }
            return try await open()
        }
    }

    private func waitInLine() async throws -> PostgresConnection? {
        let id = state.withLockedValue { state -> UInt64 in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresConnection?, any Error>) in
                let queued = state.withLockedValue { state -> Bool in
                    if state.cancelled.remove(id) != nil { return false }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return true
                }
                if !queued { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else {
                    state.cancelled.insert(id)
                    return nil
                }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Opens a connection in a place already counted; on failure frees the place (for the next
    /// in line to try) and throws.
    private func open() async throws -> PostgresConnection {
        let id = state.withLockedValue { state -> Int in
            state.lastConnectionId += 1
            return state.lastConnectionId
        }
        do {
            let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
            return try await PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger).get()
        } catch {
            freePlace()
            throw error
        }
    }

    private func release(_ connection: PostgresConnection) {
        enum Action {
            case none
            case close
            case hand(Waiter, PostgresConnection?)
        }
        let action = state.withLockedValue { state -> Action in
            if state.shutDown {
                state.count -= 1
                return .close
            }
            if connection.isClosed {
                guard !state.waiters.isEmpty else {
                    state.count -= 1
                    return .none
                }
                return .hand(state.waiters.removeFirst(), nil)
            }
            guard !state.waiters.isEmpty else {
                state.idle.append(connection)
                return .none
            }
            return .hand(state.waiters.removeFirst(), connection)
        }
        switch action {
        case .none: break
        case .close: Self.close(connection)
        case .hand(let waiter, let handed): waiter.continuation.resume(returning: handed)
        }
    }

    /// Closes `connection`, holding it until it has closed (PostgresNIO traps on a connection
    /// released open).
    private static func close(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// A place whose connection could not be opened: the next in line may try, else it is free.
    private func freePlace() {
        let waiter = state.withLockedValue { state -> Waiter? in
            guard !state.shutDown, !state.waiters.isEmpty else {
                state.count -= 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.continuation.resume(returning: nil)
    }
}
