import GatehouseCore
import PostgresNIO
import SQLKit

/// Tells every node about device-channel changes (a settings change, a queued command, an
/// answered command, a replaced connection) so that the node holding the device's connection
/// acts at once. On PostgreSQL the events travel by `NOTIFY` on one channel that every node
/// `LISTEN`s to; on SQLite (one process) the server hands them over in-process.
extension SQLStore {
    /// The PostgreSQL notification channel of device-channel events.
    static let deviceEventsChannel = "gatehouse_device_channel"

    /// Whether events must travel through the database (several nodes may share it).
    public var deviceEventsCrossNode: Bool { database.engine == .postgres }

    /// Publishes `payloads` to every node (PostgreSQL only; a no-op on SQLite).
    public func publishDeviceEvents(_ payloads: [String]) async throws {
        guard database.engine == .postgres, !payloads.isEmpty else { return }
        try await database.withConnection { db in
            for chunk in payloads.chunked(100) where !chunk.isEmpty {
                // One statement per chunk; NOTIFY de-duplicates identical payloads in a transaction.
                var query = SQLQueryString("SELECT ")
                for (index, payload) in chunk.enumerated() {
                    if index > 0 { query.appendInterpolation(unsafeRaw: ", ") }
                    query.appendInterpolation(unsafeRaw: "pg_notify('\(Self.deviceEventsChannel)', ")
                    query.appendInterpolation(bind: payload)
                    query.appendInterpolation(unsafeRaw: ")")
                }
                try await db.raw(query).run()
            }
        }
    }

    /// Listens for events published by any node until cancelled, calling `ready` each time the
    /// subscription is (re)established (events may have been missed before) and `handle` with
    /// each payload. Returns at once on SQLite.
    public func listenDeviceEvents(ready: @escaping @Sendable () async -> Void, handle: @escaping @Sendable (String) async -> Void) async throws {
        guard let pool = database as? PostgresDatabasePool else { return }
        while !Task.isCancelled {
            do {
                try await pool.client.withConnection { connection in
                    // A listen written to a closed connection is never answered (see GuardedPostgresSQL).
                    guard !connection.isClosed else { throw ConnectionCloseWatch.closed }
                    try await connection.listen(on: Self.deviceEventsChannel) { notifications in
                        await ready()
                        for try await notification in notifications { await handle(notification.payload) }
                    }
                }
            } catch {
                if Task.isCancelled { return }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
