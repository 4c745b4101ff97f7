import GatehouseCore
import SQLKit

/// The platform's authorization key (seed 004's redirect signature): one row, made once for
/// every node of the database.
extension SQLStore {
    /// The platform's authorization key, if one was made.
    public func authorizationKey() async throws -> StoredAuthorizationKey? {
        try await database.withConnection { db in
            try await db.raw("SELECT public_key_pem, private_key_sealed, created_at FROM authorization_key WHERE id = 1").first()
                .map(Self.storedAuthorizationKey(from:))
        }
    }

    /// Stores `key` unless one is stored (`ON CONFLICT DO NOTHING`, audited when it was
    /// stored) and answers the stored key.
    public func storeAuthorizationKeyOnce(_ key: StoredAuthorizationKey) async throws -> StoredAuthorizationKey {
        try await database.transaction { db in
            // Nodes making the first key at once: the first insert wins, the others do nothing
            // and read the winner's key (the insert waits for a concurrent one to commit).
            let inserted = try await db.raw("""
                INSERT INTO authorization_key (id, public_key_pem, private_key_sealed, created_at)
                VALUES (1, \(bind: key.publicKeyPEM), \(bind: key.privateKeySealed), \(bind: key.createdAt))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """).first() != nil
            if inserted {
                try await Self.audit(db, at: key.createdAt, intent: AuditIntent(actor: "system", detail: "authorization redirect signing key created"),
                                     action: "platform.authorization_key", targetType: "tenant", targetId: "1", tenantId: Management.platformTenantId)
            }
            guard let row = try await db.raw("SELECT public_key_pem, private_key_sealed, created_at FROM authorization_key WHERE id = 1").first() else {
                throw GatehouseError(.internal, "the authorization key was not stored")
            }
            return try Self.storedAuthorizationKey(from: row)
        }
    }

    static func storedAuthorizationKey(from row: any SQLRow) throws -> StoredAuthorizationKey {
        StoredAuthorizationKey(publicKeyPEM: try row.decode(column: "public_key_pem", as: String.self),
                               privateKeySealed: try row.decode(column: "private_key_sealed", as: String.self),
                               createdAt: try row.decode(column: "created_at", as: Int64.self))
    }
}
