import GatehouseCore
@testable import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// The prepared statements of the hot paths run on generic plans, made once per connection
/// and kept while the tables grow. A plan made while the tables are nearly empty must still
/// read every table by key: a sequential scan, or a merge join over a whole index, costs
/// nothing on an empty table and everything on a large one (a first version of the
/// prepared token read, planned on an empty table, scanned all of an operator's tokens for
/// each redemption and took pairs from 900/s to 690/s within 20 seconds).
@Suite("PostgreSQL hot statements plan keyed look-ups on nearly empty tables",
       .enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
struct PostgresPlanShapeTests {
    /// The statements the look-up connections run.
    static let lookups: [(String, String)] = [
        ("bearers", SQLStore.PreparedBearers.sql), ("clients", SQLStore.PreparedClients.sql),
        ("activation operators", SQLStore.PreparedActivationOperators.sql), ("issue targets", SQLStore.PreparedIssueTargets.sql),
    ]

    /// The statements of the agent-activation batch.
    static let batch: [(String, String)] = [
        ("insert tokens", PostgresActivationStatements.InsertTokens.sql), ("failure counts", PostgresActivationStatements.FailureCounts.sql),
        ("tokens", PostgresActivationStatements.Tokens.sql), ("camera ids", PostgresActivationStatements.CameraIds.sql),
        ("claim and insert", PostgresActivationStatements.ClaimAndInsert.sql),
        ("audit and webhooks", PostgresActivationStatements.AuditAndWebhooks.sql),
    ]

    /// The generic plan `db` makes for `sql` (its parameters all null).
    static func genericPlan(_ db: any SQLDatabase, _ sql: String) async throws -> [String] {
        let parameters = (1...99).last { sql.contains("$\($0)") } ?? 0
        try await db.raw("PREPARE plan_shape AS \(unsafeRaw: sql)").run()
        let arguments = parameters == 0 ? "" : "(" + Array(repeating: "NULL", count: parameters).joined(separator: ", ") + ")"
        let plan = try await db.raw("EXPLAIN EXECUTE plan_shape\(unsafeRaw: arguments)").all()
            .map { try $0.decode(column: "QUERY PLAN", as: String.self) }
        try await db.raw("DEALLOCATE plan_shape").run()
        return plan
    }

    /// The scans of `plan` that read a table without a key: sequential scans, and index
    /// scans without an index condition (a whole index, in order).
    static func unkeyedScans(_ plan: [String]) -> [String] {
        var found: [String] = []
        for (index, line) in plan.enumerated() {
            if line.contains("Seq Scan") { found.append(line) }
            guard line.contains("Index Scan") || line.contains("Index Only Scan") else { continue }
            // The node's details follow, up to the next node ("->").
            let details = plan[(index + 1)...].prefix { !$0.contains("->") }
            if !details.contains(where: { $0.contains("Index Cond:") }) { found.append(line) }
        }
        return found
    }

    @Test func everyHotStatementReadsTablesByKey() async throws {
        try await TestDatabases.withMigrated(.postgres) { database in
            // Nearly empty tables with their statistics: as the first requests find them.
            try await database.withConnection { db in try await db.raw("ANALYZE").run() }
            for (name, sql) in Self.lookups {
                let plan = try await database.withLookupConnection { try await Self.genericPlan($0, sql) }
                #expect(Self.unkeyedScans(plan).isEmpty, "\(name):\n\(plan.joined(separator: "\n"))")
                #expect(plan.contains { $0.contains("Index Cond:") }, "\(name):\n\(plan.joined(separator: "\n"))")
            }
            for (name, sql) in Self.batch {
                let plan = try await database.batchTransaction { try await Self.genericPlan($0, sql) }
                #expect(Self.unkeyedScans(plan).isEmpty, "\(name):\n\(plan.joined(separator: "\n"))")
                // Those that read a table read it through an index.
                if name != "camera ids" {
                    #expect(plan.contains { $0.contains("Index Cond:") }, "\(name):\n\(plan.joined(separator: "\n"))")
                }
            }
            // The premise: on an ordinary connection, the old token read (both keys as
            // arrays, tables joined) scans a whole index or table once its plan is generic.
            let premise = try await database.transaction { db in
                try await db.raw("SET LOCAL plan_cache_mode = force_generic_plan").run()
                return try await Self.genericPlan(db, RedemptionBatch.tokenSelect + " WHERE t.operator_id = ANY($1::bigint[]) AND t.token_hash = ANY($2::text[])")
            }
            #expect(!Self.unkeyedScans(premise).isEmpty, "\(premise.joined(separator: "\n"))")
        }
    }

    @Test func theCheckFindsAnUnkeyedScan() {
        let merge = ["Merge Join  (cost=1..2 rows=1 width=8)", "  Merge Cond: (x.organization_id = n.id)",
                     "  ->  Index Scan using tenants_pkey on tenants n  (cost=0.14..12.29 rows=10 width=10)",
                     "  ->  Index Scan using t_pkey on t x  (cost=0.13..8.15 rows=1 width=104)", "        Index Cond: (id = $1)"]
        #expect(Self.unkeyedScans(merge) == ["  ->  Index Scan using tenants_pkey on tenants n  (cost=0.14..12.29 rows=10 width=10)"])
        #expect(Self.unkeyedScans(["Seq Scan on tenants  (cost=0.00..1.01 rows=1 width=8)"]).count == 1)
    }
}
