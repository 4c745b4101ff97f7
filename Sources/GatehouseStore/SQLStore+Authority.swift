import GatehouseCore
import SQLKit

/// What first start creates: the authority, the super-admin certificate and the admin token.
public struct BootstrapMaterial: Sendable {
    public var authorityCertificatePEM: String
    public var authorityKeyPEM: String
    public var superAdminCertificatePEM: String
    public var superAdminKeyPEM: String
    public var superAdminSerial: String
    public var superAdminNotAfter: Int64
    /// The platform admin token in plain text; only its hash is stored.
    public var adminToken: String

    public init(authorityCertificatePEM: String, authorityKeyPEM: String, superAdminCertificatePEM: String, superAdminKeyPEM: String,
                superAdminSerial: String, superAdminNotAfter: Int64, adminToken: String) {
        self.authorityCertificatePEM = authorityCertificatePEM
        self.authorityKeyPEM = authorityKeyPEM
        self.superAdminCertificatePEM = superAdminCertificatePEM
        self.superAdminKeyPEM = superAdminKeyPEM
        self.superAdminSerial = superAdminSerial
        self.superAdminNotAfter = superAdminNotAfter
        self.adminToken = adminToken
    }
}

extension SQLStore {
    /// The stored authority, if bootstrap has run: its certificate, and its key opened with
    /// `vault`. `internal_error` when the key does not open (another master key) or is still
    /// in clear (a database from before keys were sealed, not yet started again).
    public func authority(vault: SecretVault) async throws -> (certificatePEM: String, keyPEM: String)? {
        guard let stored = try await storedAuthority() else { return nil }
        return (stored.certificatePEM, try Self.openAuthorityKey(stored.keyField, certificatePEM: stored.certificatePEM, vault: vault))
    }

    /// Runs bootstrap exactly once across every node: under the migration lock, if no
    /// authority is stored, calls `make` and stores what it made. Returns the material when
    /// this call created it, `nil` when another node (or an earlier start) already had. The
    /// authority's key is stored sealed with `vault`; the material keeps it in clear.
    public func bootstrapOnce(at: Int64, vault: SecretVault, _ make: @Sendable () throws -> BootstrapMaterial) async throws -> BootstrapMaterial? {
        let engine = database.engine
        return try await database.transaction { db in
            if engine == .postgres {
                try await db.raw("SELECT pg_advisory_xact_lock(hashtextextended(current_schema(), \(bind: Migrator.lockKey)))").run()
            }
            if try await db.raw("SELECT id FROM certificate_authority WHERE id = 1").first() != nil { return nil }
            let material = try make()
            let sealedKey = try vault.seal(material.authorityKeyPEM, context: Self.authorityKeySealContext(certificatePEM: material.authorityCertificatePEM))
            try await db.raw("""
                INSERT INTO certificate_authority (id, certificate_pem, private_key_pem, created_at)
                VALUES (1, \(bind: material.authorityCertificatePEM), \(bind: sealedKey), \(bind: at))
                """).run()
            try await db.raw("""
                INSERT INTO issued_certificates (serial, purpose, subject, not_after, revoked_at, created_at)
                VALUES (\(bind: material.superAdminSerial), 'superadmin', 'CN=superadmin', \(bind: material.superAdminNotAfter), NULL, \(bind: at))
                """).run()
            try await db.raw("""
                INSERT INTO access_tokens (token_hash, kind, user_id, expires_at, revoked_at, created_at)
                VALUES (\(bind: Secrets.hash(material.adminToken)), \(bind: AccessTokenKind.platformAdmin.rawValue), NULL, NULL, NULL, \(bind: at))
                """).run()
            try await Self.audit(db, at: at, intent: AuditIntent(actor: "system", detail: "certificate authority and platform admin token created"),
                                 action: "platform.bootstrap", targetType: "tenant", targetId: "1", tenantId: Management.platformTenantId)
            return material
        }
    }

    /// Replaces every platform admin token with a new one (`gatehouse admin-token --rotate`).
    public func rotateAdminToken(_ token: String, at: Int64) async throws {
        try await invalidating { try await database.transaction { db in
            try await db.raw("""
                UPDATE access_tokens SET revoked_at = \(bind: at) WHERE kind = \(bind: AccessTokenKind.platformAdmin.rawValue) AND revoked_at IS NULL
                """).run()
            try await db.raw("""
                INSERT INTO access_tokens (token_hash, kind, user_id, expires_at, revoked_at, created_at)
                VALUES (\(bind: Secrets.hash(token)), \(bind: AccessTokenKind.platformAdmin.rawValue), NULL, NULL, NULL, \(bind: at))
                """).run()
            try await Self.audit(db, at: at, intent: AuditIntent(actor: "system", detail: "platform admin token rotated"),
                                 action: "platform.rotate_admin_token", targetType: "tenant", targetId: "1", tenantId: Management.platformTenantId)
        } }
    }
}
