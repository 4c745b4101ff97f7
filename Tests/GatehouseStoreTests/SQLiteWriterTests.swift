import Foundation
import GatehouseCore
@testable import GatehouseStore
import GatehouseTestSupport
import NIOConcurrencyHelpers
import SQLKit
import Testing

/// SQLite's writer connection: every write runs on it, its statements inline on the writer
/// thread. What it reads and writes must be what the pooled connections read and wrote, a
/// failure must map and roll back as before, and a file locked by someone else must make a
/// writer wait, never block the thread every pool of the process shares.
@Suite("SQLite writer connection")
struct SQLiteWriterTests {
    /// A scratch table on a fresh SQLite file.
    static func withScratch<T: Sendable>(_ body: @Sendable (any Database, String) async throws -> T) async throws -> T {
        let configuration = try await TestDatabases.freshConfiguration(.sqlite)
        guard case .sqlite(let path) = configuration else { throw GatehouseError(.internal, "not SQLite") }
        return try await withDatabase(configuration, logger: TestDatabases.logger) { database in
            try await database.write { db in
                try await db.raw("CREATE TABLE scratch (id INTEGER PRIMARY KEY, n INTEGER, x REAL, t TEXT UNIQUE, b BLOB)").run()
            }
            return try await body(database, path)
        }
    }

    @Test func valuesRoundTripAndPooledReadersSeeTheCommit() async throws {
        try await Self.withScratch { database, _ in
            let text = "Zürich ☃ \u{0}-free, 'quoted' \"and\" ; -- not a comment"
            let blob = Data([0, 1, 2, 255, 0, 7])
            let written = try await database.transaction { db in
                try await db.raw("""
                    INSERT INTO scratch (n, x, t, b) VALUES (\(bind: Int64.max), \(bind: 2.5), \(bind: text), \(bind: blob)), (\(bind: Int64?.none), NULL, 'two', NULL)
                    RETURNING id, n, x, t, b
                    """).all()
            }
            #expect(written.count == 2)
            #expect(try written[0].decode(column: "n", as: Int64.self) == Int64.max)
            #expect(try written[0].decode(column: "x", as: Double.self) == 2.5)
            #expect(try written[0].decode(column: "t", as: String.self) == text)
            #expect(try written[0].decode(column: "b", as: Data.self) == blob)
            #expect(try written[1].decodeNil(column: "n") && written[1].decodeNil(column: "b"))
            #expect(try written[1].decode(column: "n", as: Int64?.self) == nil)
            #expect(written[0].allColumns == ["id", "n", "x", "t", "b"] && written[0].contains(column: "t") && !written[0].contains(column: "nope"))
            #expect(throws: (any Error).self) { try written[0].decode(column: "nope", as: String.self) }

            // A pooled (reading) connection sees what the writer committed (it reads text up
            // to a NUL: compare the length SQLite stored).
            let read = try await database.withConnection { db in try await db.raw("SELECT t, length(CAST(t AS BLOB)) AS l, b FROM scratch ORDER BY id").all() }
            #expect(try read.map { try $0.decode(column: "l", as: Int.self) } == [text.utf8.count, 3])
            #expect(try read[0].decode(column: "b", as: Data.self) == blob)
        }
    }

    @Test func aFailedTransactionMapsToConflictAndLeavesNothing() async throws {
        try await Self.withScratch { database, _ in
            try await database.write { db in try await db.raw("INSERT INTO scratch (t) VALUES ('taken')").run() }
            await #expect(throws: GatehouseError.self) {
                try await database.transaction { db in
                    try await db.raw("INSERT INTO scratch (t) VALUES ('new one')").run()
                    try await db.raw("INSERT INTO scratch (t) VALUES ('taken')").run()  // UNIQUE fails
                }
            }
            do {
                try await database.transaction { db in try await db.raw("INSERT INTO scratch (t) VALUES ('taken')").run() }
                Issue.record("a duplicate was written")
            } catch let error as GatehouseError {
                #expect(error.code == .conflict)
            }
            // The first insert of the failed transaction was rolled back; the writer goes on.
            let rows = try await database.withConnection { db in try await db.raw("SELECT t FROM scratch ORDER BY id").all() }
            #expect(try rows.map { try $0.decode(column: "t", as: String.self) } == ["taken"])
            try await database.write { db in try await db.raw("INSERT INTO scratch (t) VALUES ('after')").run() }
        }
    }

    @Test func aKeptStatementRunsAgainWithNewValuesAndAfterTheSchemaChanges() async throws {
        try await Self.withScratch { database, _ in
            for n in 1...5 {
                let row = try await database.write { db in
                    try await db.raw("INSERT INTO scratch (n, t) VALUES (\(bind: Int64(n)), \(bind: "row \(n)")) RETURNING n, t").first()
                }
                #expect(try row?.decode(column: "n", as: Int64.self) == Int64(n) && row?.decode(column: "t", as: String.self) == "row \(n)")
            }
            // The same text after a column was added reads the new column too.
            try await database.write { db in try await db.raw("ALTER TABLE scratch ADD COLUMN extra TEXT DEFAULT 'e'").run() }
            let row = try await database.write { db in try await db.raw("SELECT * FROM scratch WHERE n = \(bind: Int64(3))").first() }
            #expect(try row?.decode(column: "extra", as: String.self) == "e" && row?.decode(column: "t", as: String.self) == "row 3")
            // More distinct statements than the cache keeps: each still answers its own.
            for n in 0..<(SQLiteWriter.statementCacheSize + 20) {
                let row = try await database.write { db in try await db.raw("SELECT \(unsafeRaw: String(n)) AS k").first() }
                #expect(try row?.decode(column: "k", as: Int.self) == n)
            }
        }
    }

    /// Another pool on the same file (as another process would) holds the write lock: this
    /// pool's write waits for it and then succeeds, and meanwhile a write of a third pool on
    /// another file — on the same writer thread — goes through.
    @Test(.timeLimit(.minutes(2))) func aLockedFileMakesAWriterWaitWithoutBlockingTheThread() async throws {
        try await Self.withScratch { other, path in
            try await Self.withScratch { third, _ in
                // The waiting pool waits longer than usual: other suites' writes share the
                // thread in this test process, and the third pool's write may queue behind them.
                let database = SQLiteDatabasePool(path: path, writerBusyWait: .seconds(90), logger: TestDatabases.logger)
                do {
                    let holding = NIOLockedValueBox(false)
                    let release = AsyncStream<Void>.makeStream()
                    let holder = Task {
                        try await other.transaction { db in
                            try await db.raw("INSERT INTO scratch (t) VALUES ('held')").run()
                            holding.withLockedValue { $0 = true }
                            for await _ in release.stream { break }
                        }
                    }
                    while !holding.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
                    let waiter = Task { try await database.write { db in try await db.raw("INSERT INTO scratch (t) VALUES ('waited')").run() } }
                    try await Task.sleep(for: .milliseconds(50))  // the waiter meets the lock and tries again
                    // A writer that waited in SQLite's busy handler would hold the shared
                    // thread until the lock went away, and this write with it.
                    try await third.write { db in try await db.raw("INSERT INTO scratch (n) VALUES (1)").run() }
                    let count = try await third.withConnection { db in try await db.raw("SELECT COUNT(*) AS n FROM scratch").first() }
                    #expect(try count?.decode(column: "n", as: Int.self) == 1)
                    let waited = try await database.withConnection { db in try await db.raw("SELECT COUNT(*) AS n FROM scratch").first() }
                    #expect(try waited?.decode(column: "n", as: Int.self) == 0)
                    release.continuation.yield()
                    try await holder.value
                    try await waiter.value
                    let rows = try await database.withConnection { db in try await db.raw("SELECT t FROM scratch ORDER BY id").all() }
                    #expect(try rows.map { try $0.decode(column: "t", as: String.self) } == ["held", "waited"])
                } catch {
                    await database.shutdown()
                    throw error
                }
                await database.shutdown()
            }
        }
    }

    @Test func writesAfterShutdownFailAsUnavailable() async throws {
        let configuration = try await TestDatabases.freshConfiguration(.sqlite)
        let database = try DatabaseFactory.open(configuration, logger: TestDatabases.logger)
        try await database.write { db in try await db.raw("CREATE TABLE t (x INTEGER)").run() }
        await database.shutdown()
        do {
            try await database.write { db in try await db.raw("INSERT INTO t (x) VALUES (1)").run() }
            Issue.record("a write after shutdown succeeded")
        } catch let error as GatehouseError {
            #expect(error.code == .unavailable)
        }
    }
}
