import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import NIOCore
import Testing

/// A body of serials far larger than one request's work is one transaction that may take
/// longer than the operation timeout on PostgreSQL (the full benchmark's million serials got a
/// 503 "the database did not answer in time"): it must still be written, all of it.
@Suite("Bulk serial import outlasts the operation timeout on PostgreSQL",
       .enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
struct BulkSerialTimeoutTests {
    @Test func aSerialBodyLongerThanTheOperationTimeoutIsWritten() async throws {
        let configuration = try await TestDatabases.freshConfiguration(.postgres)
        // Only the import runs on the pool with the short timeout: the set-up and the checks
        // run on a second pool of the same schema with an ordinary one, so a machine loaded
        // by the whole suite cannot fail them instead (a 1 s bound on every statement did).
        let tight = try DatabaseFactory.open(configuration, operationTimeout: .seconds(1), logger: TestDatabases.logger)
        let setup = try DatabaseFactory.open(configuration, operationTimeout: .seconds(60), logger: TestDatabases.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await tight.run() }
            group.addTask { try await setup.run() }
            defer { group.cancelAll() }
            do {
                try await Migrator(database: setup).migrate()
                // The premise: an ordinary operation longer than the timeout fails as unavailable.
                let slow = await ProvisioningContract.failure {
                    try await tight.withConnection { db in try await db.raw("SELECT pg_sleep(2)").run() }
                }
                #expect(slow?.code == .unavailable, "\(String(describing: slow))")

                let f = try await ProvisioningContract.fixture(setup)
                let count = 30_000
                var body = ByteBuffer()
                for n in 0..<count { body.writeString("BULK-\(n),lot \(n % 7)\n") }
                let started = ContinuousClock.now
                try await SQLStore(database: tight).addSerials(modelId: f.model.id, batches: SerialCSVBatches(body), at: f.clock.now()) {
                    AuditIntent(actor: "test", detail: "\($0) serial numbers")
                }
                let took = ContinuousClock.now - started
                let stored = try await setup.withConnection { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM provision_serials WHERE model_id = \(bind: f.model.id)").first()?.decode(column: "n", as: Int64.self)
                }
                #expect(stored == Int64(count))
                // Shows the test reached past the timeout (else it proves nothing on a fast machine).
                print("BulkSerialTimeoutTests: \(count) serials in \(took) (operation timeout 1 s)")
                #expect(took > .seconds(1), "the body was written in \(took): too fast to outlast the timeout; enlarge it")
            } catch {
                await tight.shutdown()
                await setup.shutdown()
                throw error
            }
            await tight.shutdown()
            await setup.shutdown()
        }
    }
}
