import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// The hot point reads run prepared on a generic plan, made once per connection. A plan made
/// while a table is nearly empty must still be an index look-up, or it stays a sequential scan
/// while the table grows to millions of rows under load (a first version fell from 5,468 to
/// 2,050 bearer requests/s within a minute).
@Suite("PostgreSQL look-up connections plan index look-ups",
       .enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
struct PostgresLookupPlanTests {
    static let lookup = "EXPLAIN SELECT t.id, s.token_length FROM tenants t LEFT JOIN operator_settings s ON s.tenant_id = t.id WHERE t.id = ANY('{1,2}'::bigint[])"

    static func plan(_ lease: (@Sendable (any SQLDatabase) async throws -> String) async throws -> String) async throws -> String {
        try await lease { db in
            try await db.raw(SQLQueryString(lookup)).all().map { try $0.decode(column: "QUERY PLAN", as: String.self) }.joined(separator: "\n")
        }
    }

    @Test func aPlanMadeOnAnEmptyTableIsAnIndexLookUp() async throws {
        try await TestDatabases.withMigrated(.postgres) { database in
            // A table of one page, with its statistics: as the first requests find it.
            try await database.withConnection { db in try await db.raw("ANALYZE tenants").run() }
            let lookup = try await Self.plan { try await database.withLookupConnection($0) }
            #expect(lookup.contains("Index Scan") && !lookup.contains("Seq Scan"), "\(lookup)")
            let generic = try await database.withLookupConnection { db in
                try await db.raw("SHOW plan_cache_mode").first()?.decode(column: "plan_cache_mode", as: String.self)
            }
            #expect(generic == "force_generic_plan")
            // The premise: an ordinary connection plans the same read as a sequential scan.
            let ordinary = try await Self.plan { try await database.withConnection($0) }
            #expect(ordinary.contains("Seq Scan"), "\(ordinary)")
        }
    }
}
