import Foundation
import GatehouseCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SQLiteKit
import SQLiteNIO
import SQLKit
// The sqlite3 library sqlite-nio builds and links (its C target): the same one the pooled connections use.
import VaporCSQLite

/// The one connection every SQLite write goes through, driven from the writer thread.
///
/// A write transaction is a chain of statements. Through the pooled connections each one
/// hops to a thread of the pool and back, and on a busy machine every hop waits for a core:
/// a batch of a dozen statements spent most of its time waiting to be scheduled, while it
/// held the only write lock. This connection instead runs each statement inline on the
/// ``WriterExecutor`` thread, where ``SQLiteDatabasePool/write(_:)`` runs the whole body
/// of a write: one hop in and one out per transaction. Only the writer lock's holder uses it.
///
/// The thread is shared by every pool of the process, so it must never sit in SQLite's busy
/// handler: a statement that finds the file locked by another connection (another process,
/// or a second pool on the same file) gives the thread up and is tried again shortly after,
/// for as long as the pooled connections' `busy_timeout` would have waited.
final class SQLiteWriter: Sendable {
    private let path: String
    private let logger: Logger
    /// The thread statements run on.
    var executor: WriterExecutor { WriterExecutor.shared }
    private var loop: any EventLoop { executor.loop }
    /// How long a statement is tried again while the file is locked.
    let busyWait: Duration
    /// The `sqlite3` handle and its prepared statements; used only on `loop`.
    private let state = NIOLockedValueBox(WriterState())
    private let closed = NIOLockedValueBox(false)
    /// How many prepared statements are kept for reuse (multi-row statements differ by
    /// their row count, so a batch's statements take a few dozen).
    static let statementCacheSize = 128

    init(path: String, busyWait: Duration = .seconds(10), logger: Logger) {
        self.path = path
        self.busyWait = busyWait
        self.logger = logger
    }

    /// Runs `sql` with `binds`, handing each row to `onRow`; on the writer thread, inline when
    /// already there.
    func run(_ sql: String, _ binds: [SQLiteData], _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let deadline = ContinuousClock.now + busyWait
        while true {
            do {
                if loop.inEventLoop { return try runHere(sql, binds, onRow) }
                return try await loop.submit { try self.runHere(sql, binds, onRow) }.get()
            } catch let error as SQLiteWriterError where error.primary == SQLITE_BUSY && ContinuousClock.now < deadline {
                // A statement that met SQLITE_BUSY made no change: try it again, off the thread.
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    /// Whether ``close()`` was called.
    var isClosed: Bool { closed.withLockedValue { $0 } }

    /// Closes the connection; call it holding the writer lock, so that no write is under way.
    func close() async {
        guard !isClosed else { return }
        closed.withLockedValue { $0 = true }
        try? await loop.submit {
            let open = self.state.withLockedValue { state in
                defer { state = WriterState() }
                return (state.handle, Array(state.statements.values))
            }
            for statement in open.1 { sqlite_nio_sqlite3_finalize(statement.raw) }
            if let handle = open.0 { sqlite_nio_sqlite3_close_v2(handle.raw) }
        }.get()
    }

    private func runHere(_ sql: String, _ binds: [SQLiteData], _ onRow: (any SQLRow) -> Void) throws {
        let connection = try connection()
        let statement = try prepared(sql, connection)
        var done = false
        defer { if done { keep(sql, statement) } else { sqlite_nio_sqlite3_finalize(statement) } }
        var status: Int32
        for (offset, bind) in binds.enumerated() {
            let index = Int32(offset + 1)
            switch bind {
            case .blob(let value):
                status = value.withUnsafeReadableBytes {
                    sqlite_nio_sqlite3_bind_blob64(statement, index, $0.baseAddress, UInt64($0.count), SQLiteWriter.transient)
                }
            case .float(let value): status = sqlite_nio_sqlite3_bind_double(statement, index, value)
            case .integer(let value): status = sqlite_nio_sqlite3_bind_int64(statement, index, Int64(value))
            case .null: status = sqlite_nio_sqlite3_bind_null(statement, index)
            case .text(let value):
                status = sqlite_nio_sqlite3_bind_text64(statement, index, value, UInt64(value.utf8.count), SQLiteWriter.transient, UInt8(SQLITE_UTF8))
            }
            guard status == SQLITE_OK else { throw SQLiteWriterError(connection, status) }
        }
        var columns: SQLiteWriterRow.Columns?
        while true {
            status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE {
                done = true
                return
            }
            guard status == SQLITE_ROW else { throw SQLiteWriterError(connection, status) }
            let names = try columns ?? Self.columns(statement, connection)
            columns = names
            onRow(SQLiteWriterRow(columns: names, values: try (0..<Int32(names.names.count)).map { try Self.value(statement, $0, connection) }))
        }
    }

    /// `sql` prepared: a kept statement, or a new one.
    private func prepared(_ sql: String, _ connection: OpaquePointer) throws -> OpaquePointer {
        if let kept = state.withLockedValue({ $0.statements.removeValue(forKey: sql) }) { return kept.raw }
        var statement: OpaquePointer?
        let status = sqlite_nio_sqlite3_prepare_v3(connection, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else {
            if let statement { sqlite_nio_sqlite3_finalize(statement) }
            throw SQLiteWriterError(connection, status)
        }
        return statement
    }

    /// Keeps a statement that ran to its end for the next run of `sql`, dropping the one
    /// used least recently when the cache is full.
    private func keep(_ sql: String, _ statement: OpaquePointer) {
        sqlite_nio_sqlite3_reset(statement)
        sqlite_nio_sqlite3_clear_bindings(statement)
        let evicted = state.withLockedValue { state -> OpaquePointer? in
            guard state.handle != nil else { return statement }  // closed meanwhile
            state.tick += 1
            state.statements[sql] = KeptStatement(raw: statement, lastUsed: state.tick)
            guard state.statements.count > Self.statementCacheSize,
                  let oldest = state.statements.min(by: { $0.value.lastUsed < $1.value.lastUsed }) else { return nil }
            state.statements.removeValue(forKey: oldest.key)
            return oldest.value.raw
        }
        if let evicted { sqlite_nio_sqlite3_finalize(evicted) }
    }

    /// The open connection, opened and set up on first use.
    private func connection() throws -> OpaquePointer {
        if let open = state.withLockedValue({ $0.handle }) { return open.raw }
        guard !closed.withLockedValue({ $0 }) else { throw GatehouseError(.unavailable, "the database is closed") }
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite_nio_sqlite3_open_v2(path, &opened, flags, nil)
        guard status == SQLITE_OK, let opened else {
            if let opened { sqlite_nio_sqlite3_close_v2(opened) }
            throw GatehouseError(.unavailable, "the database is not available")
        }
        state.withLockedValue { $0.handle = SQLiteHandle(raw: opened) }
        do {
            // No busy handler: ``run(_:_:_:)`` waits for a lock off the thread. Statement
            // journals (a multi-row statement's undo within its transaction) stay in memory.
            for pragma in SQLiteDatabasePool.connectionPragmas + ["PRAGMA busy_timeout = 0", "PRAGMA temp_store = MEMORY"] {
                try runHere(pragma, []) { _ in }
            }
        } catch {
            let kept = state.withLockedValue { state in
                defer { state = WriterState() }
                return Array(state.statements.values)
            }
            for statement in kept { sqlite_nio_sqlite3_finalize(statement.raw) }
            sqlite_nio_sqlite3_close_v2(opened)
            throw error
        }
        logger.debug("opened the SQLite writer connection", metadata: ["path": .string(path)])
        return opened
    }

    private static func columns(_ statement: OpaquePointer, _ connection: OpaquePointer) throws -> SQLiteWriterRow.Columns {
        var names: [String] = []
        for index in 0..<sqlite_nio_sqlite3_column_count(statement) {
            guard let name = sqlite_nio_sqlite3_column_name(statement, index) else { throw SQLiteWriterError(connection, SQLITE_NOMEM) }
            names.append(String(cString: name))
        }
        return SQLiteWriterRow.Columns(names: names)
    }

    private static func value(_ statement: OpaquePointer, _ index: Int32, _ connection: OpaquePointer) throws -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER: return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, index)))
        case SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            guard let text = sqlite_nio_sqlite3_column_text(statement, index) else { throw SQLiteWriterError(connection, SQLITE_NOMEM) }
            // By its length, so that a NUL inside the text is kept.
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, index))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, index))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes = sqlite_nio_sqlite3_column_blob(statement, index) { buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count)) }
            return .blob(buffer)
        default: return .null
        }
    }

    /// SQLite copies bound text and blobs (`SQLITE_TRANSIENT`).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// The raw connection pointer, handed between the writer thread's calls.
private struct SQLiteHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

/// A prepared statement kept for reuse, and when it was last used.
private struct KeptStatement: @unchecked Sendable {
    let raw: OpaquePointer
    let lastUsed: UInt64
}

/// The writer's connection and its kept statements.
private struct WriterState: Sendable {
    var handle: SQLiteHandle?
    var statements: [String: KeptStatement] = [:]
    var tick: UInt64 = 0
}

/// An SQLite failure of the writer connection: the primary result code and SQLite's message.
struct SQLiteWriterError: Error, CustomStringConvertible {
    /// The extended result code.
    let code: Int32
    let message: String

    init(_ connection: OpaquePointer, _ code: Int32) {
        self.code = code
        self.message = sqlite_nio_sqlite3_errmsg(connection).map { String(cString: $0) } ?? "SQLite error \(code)"
    }

    /// The primary result code (`SQLITE_CONSTRAINT`, `SQLITE_BUSY`, ...).
    var primary: Int32 { code & 0xff }
    var description: String { "SQLite error \(code): \(message)" }
}

/// A row the writer connection read.
struct SQLiteWriterRow: SQLRow {
    /// Column names and their offsets, shared by the rows of one statement.
    final class Columns: Sendable {
        let names: [String]
        let offsets: [String: Int]
        init(names: [String]) {
            self.names = names
            self.offsets = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let columns: Columns
    let values: [SQLiteData]
    private static let decoder = SQLiteDataDecoder()

    var allColumns: [String] { columns.names }
    func contains(column: String) -> Bool { columns.offsets[column] != nil }
    func decodeNil(column: String) throws -> Bool { value(column) == .null }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let offset = columns.offsets[column] else { throw MissingColumn(column: column) }
        return try Self.decoder.decode(D.self, from: values[offset])
    }

    private func value(_ column: String) -> SQLiteData { columns.offsets[column].map { values[$0] } ?? .null }

    /// A read of a column the row does not have.
    struct MissingColumn: Error {
        let column: String
    }
}

/// The writer connection seen through SQLKit, for the body of one write.
struct SQLiteWriterDatabase: SQLDatabase {
    let writer: SQLiteWriter
    let logger: Logger
    var eventLoop: any EventLoop { writer.executor.loop }
    var dialect: any SQLDialect { SQLiteDialect() }
    private static let encoder = SQLiteDataEncoder()

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        try await writer.run(sql, try binds.map { try Self.encoder.encode($0) }, onRow)
    }
}
