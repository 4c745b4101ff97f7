import GatehouseCore
import SQLKit

/// The certificate authority's private key at rest: sealed with the master key, bound to the
/// authority's certificate, and sealed in place in databases made before keys were sealed.
extension SQLStore {
    /// The sealing context of the authority's key: bound to its certificate, so a sealed key
    /// copied next to another certificate (or into another database) does not open.
    public static func authorityKeySealContext(certificatePEM: String) -> String {
        "certificate-authority-key:" + Secrets.hash(certificatePEM)
    }

    /// Seals the authority's key with `vault` if it is still stored in clear (a database made
    /// before keys were sealed); `true` when this call sealed it. Safe when several nodes
    /// start at once: on PostgreSQL it waits for the bootstrap lock, and the update only
    /// touches a key that is still in clear. The caller has checked the master key
    /// (``checkMasterKey(_:at:)``) first, so the key is never sealed with a stranger's.
    @discardableResult
    public func sealAuthorityKeyIfClear(vault: SecretVault) async throws -> Bool {
        guard let stored = try await storedAuthority(), Self.isClear(stored.keyField) else { return false }
        let engine = database.engine
        return try await database.transaction { db in
            if engine == .postgres {
                try await db.raw("SELECT pg_advisory_xact_lock(hashtextextended(current_schema(), \(bind: Migrator.lockKey)))").run()
            }
            guard let row = try await db.raw("""
                SELECT certificate_pem, private_key_pem FROM certificate_authority WHERE id = 1 AND private_key_pem LIKE '-----BEGIN%'
                """).first() else { return false }
            let certificatePEM = try row.decode(column: "certificate_pem", as: String.self)
            let keyPEM = try row.decode(column: "private_key_pem", as: String.self)
            let sealed = try vault.seal(keyPEM, context: Self.authorityKeySealContext(certificatePEM: certificatePEM))
            try await db.raw("""
                UPDATE certificate_authority SET private_key_pem = \(bind: sealed) WHERE id = 1 AND private_key_pem LIKE '-----BEGIN%'
                """).run()
            return true
        }
    }

    /// The authority's row as stored: its certificate and its key field (sealed, or PEM in an old database).
    func storedAuthority() async throws -> (certificatePEM: String, keyField: String)? {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT certificate_pem, private_key_pem FROM certificate_authority WHERE id = 1").first() else { return nil }
            return (try row.decode(column: "certificate_pem", as: String.self), try row.decode(column: "private_key_pem", as: String.self))
        }
    }

    /// Whether a stored key field is a PEM in clear rather than a sealed value.
    static func isClear(_ keyField: String) -> Bool { keyField.hasPrefix("-----BEGIN") }

    /// The key PEM of a stored key field; only the sealed form is accepted.
    static func openAuthorityKey(_ keyField: String, certificatePEM: String, vault: SecretVault) throws(GatehouseError) -> String {
        guard !isClear(keyField) else {
            throw GatehouseError(.internal, "the certificate authority's key is not sealed yet; start `gatehouse serve` once to seal it")
        }
        do {
            return try vault.open(keyField, context: authorityKeySealContext(certificatePEM: certificatePEM))
        } catch {
            throw GatehouseError(.internal, "the certificate authority's key in the database does not open with this master key; give every node the same master key file")
        }
    }
}
