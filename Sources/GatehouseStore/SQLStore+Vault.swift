import GatehouseCore
import SQLKit

extension SQLStore {
    /// Records the master key's check value on first use; `conflict` when the database was
    /// sealed with another master key (every node of one database must share the key).
    public func checkMasterKey(_ checkValue: String, at: Int64) async throws {
        try await database.transaction { db in
            // Nodes starting together race to record the first value; the first one wins and
            // every node then compares against it.
            try await db.raw("""
                INSERT INTO vault_check (id, check_value, created_at) VALUES (1, \(bind: checkValue), \(bind: at)) ON CONFLICT (id) DO NOTHING
                """).run()
            guard let row = try await db.raw("SELECT check_value FROM vault_check WHERE id = 1").first() else {
                throw GatehouseError(.internal, "the master key check value was not recorded")
            }
            let stored = try row.decode(column: "check_value", as: String.self)
            guard Secrets.constantTimeEquals(Array(stored.utf8), Array(checkValue.utf8)) else {
                throw GatehouseError(.conflict, "this database was sealed with another master key; give every node the same master key file")
            }
        }
    }
}
