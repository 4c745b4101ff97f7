import Foundation
import GatehouseCore
@testable import GatehouseStore
import GatehouseTestSupport
import Logging
import SQLKit
import Testing

/// A PostgreSQL that goes away under a leased connection: the next statement on it fails at
/// once with `unavailable` (PostgresNIO alone never answers a statement written to a closed
/// connection), and the pool serves again once the server is back.
@Suite("PostgreSQL connection loss", .enabled(if: ThrowawayPostgres.binDirectory != nil, Comment(rawValue: ThrowawayPostgres.skipReason)))
struct PostgresConnectionLossTests {
    @Test(.timeLimit(.minutes(2))) func aStatementOnAConnectionThatClosedFailsAtOnceAndThePoolRecovers() async throws {
        let postgres = try await ThrowawayPostgres()
        // An operation bound far longer than the test waits: what ends the statement is the
        // connection's close, not the timeout.
        let database = try DatabaseFactory.open(.postgres(try PostgresURL(postgres.url), schema: nil), operationTimeout: .seconds(600),
                                                logger: TestDatabases.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await database.run() }
            let started = ContinuousClock.now
            var failure: (any Error)?
            do {
                try await database.withConnection { db in
                    #expect(try await db.raw("SELECT 1 AS one").first()?.decode(column: "one", as: Int.self) == 1)
                    try await postgres.stop(mode: "immediate")
                    try await Task.sleep(for: .milliseconds(500))  // the driver has seen the close
                    _ = try await db.raw("SELECT 2 AS two").first()
                }
            } catch {
                failure = error
            }
            #expect((failure as? GatehouseError)?.code == .unavailable, "\(String(describing: failure))")
            #expect(ContinuousClock.now - started < .seconds(30), "failed at once, not after the operation timeout")

            try await postgres.start()
            var served = false
            let restarted = ContinuousClock.now
            while !served, ContinuousClock.now - restarted < .seconds(30) {
                served = (try? await database.withConnection { db in try await db.raw("SELECT 3 AS three").first()?.decode(column: "three", as: Int.self) }) == 3
                if !served { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(served, "the pool serves again after PostgreSQL came back")
            await database.shutdown()
            group.cancelAll()
        }
        await postgres.destroy()
    }
}
