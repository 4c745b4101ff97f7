import GatehouseCore
import SQLKit

/// Building blocks of the group-commit batches: multi-row statements and ids taken ahead.
enum MultiRowSQL {
    /// `head` followed by one bound `(…)` row per item, as `values` gives it.
    static func rows<T>(_ head: String, _ items: some Collection<T>, _ values: (T) -> [any Encodable & Sendable]) -> SQLQueryString {
        var query = SQLQueryString(head)
        for (index, item) in items.enumerated() {
            query.appendInterpolation(unsafeRaw: index == 0 ? "(" : ", (")
            query.appendInterpolation(binds: values(item))
            query.appendInterpolation(unsafeRaw: ")")
        }
        return query
    }

    /// `count` new ids of each of `tables` (an identity / `AUTOINCREMENT` key named `id`), in
    /// one statement, taken before inserting so that each row knows its own id with one
    /// multi-row `INSERT` (`RETURNING` does not promise an order). On SQLite the batch holds
    /// the write lock, so the next ids are free; an explicit id also moves the
    /// `AUTOINCREMENT` counter. On PostgreSQL they come from the identity sequences.
    static func reserveIds(_ db: any SQLDatabase, _ engine: DatabaseEngine, tables: [String], count: Int) async throws -> [String: [Int64]] {
        guard count > 0 else { return Dictionary(uniqueKeysWithValues: tables.map { ($0, []) }) }
        var ids: [String: [Int64]] = [:]
        switch engine {
        case .sqlite:
            let columns = tables.map { table in
                "MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '\(table)'), 0), COALESCE((SELECT MAX(id) FROM \(table)), 0)) AS \(table)"
            }.joined(separator: ", ")
            guard let row = try await db.raw("SELECT \(unsafeRaw: columns)").first() else { throw GatehouseError(.internal, "no id row") }
            for table in tables {
                let last = try row.decode(column: table, as: Int64.self)
                ids[table] = (1...Int64(count)).map { last + $0 }
            }
        case .postgres:
            // The sequences are looked up once per statement, not once per id.
            let sequences = tables.map { "pg_get_serial_sequence('\($0)', 'id')::regclass AS \($0)" }.joined(separator: ", ")
            let columns = tables.map { "nextval(s.\($0)) AS \($0)" }.joined(separator: ", ")
            let rows = try await db.raw("SELECT \(unsafeRaw: columns) FROM (SELECT \(unsafeRaw: sequences)) s, generate_series(1, \(bind: count))").all()
            for table in tables { ids[table] = try rows.map { try $0.decode(column: table, as: Int64.self) } }
        }
        return ids
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
