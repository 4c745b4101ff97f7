import GatehouseCore
import SQLKit

extension SQLStore {
    static func issuedCertificate(from row: any SQLRow) throws -> IssuedCertificate {
        IssuedCertificate(
            serial: try row.decode(column: "serial", as: String.self),
            purpose: try row.decode(column: "purpose", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            notAfter: try row.decode(column: "not_after", as: Int64.self),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    /// Records a newly issued (live) certificate inside the caller's transaction.
    static func insertIssuedCertificate(_ db: any SQLDatabase, _ certificate: IssuedCertificate) async throws {
        try await db.raw("""
            INSERT INTO issued_certificates (serial, purpose, subject, not_after, revoked_at, created_at)
            VALUES (\(bind: certificate.serial), \(bind: certificate.purpose), \(bind: certificate.subject), \(bind: certificate.notAfter),
                    NULL, \(bind: certificate.createdAt))
            """).run()
    }

    /// Revokes the live certificates among `serials` inside the caller's transaction; answers the serials revoked now.
    static func revokeIssuedCertificates(_ db: any SQLDatabase, serials: [String], at: Int64) async throws -> [String] {
        var revoked: [String] = []
        for chunk in serials.chunked(500) {
            var inList = SQLQueryString("")
            inList.appendInterpolation(binds: Array(chunk))
            revoked += try await db.raw("""
                UPDATE issued_certificates SET revoked_at = \(bind: at) WHERE serial IN (\(inList)) AND revoked_at IS NULL RETURNING serial
                """).all().map { try $0.decode(column: "serial", as: String.self) }
        }
        return revoked
    }

    /// Records a certificate the authority issued, with an audit entry.
    public func recordCertificate(_ certificate: IssuedCertificate, audit: AuditIntent) async throws {
        try await database.transaction { db in
            try await Self.insertIssuedCertificate(db, certificate)
            try await Self.audit(db, at: certificate.createdAt, intent: audit, action: "certificate.issue", targetType: "certificate",
                                 targetId: certificate.serial, tenantId: Management.platformTenantId)
        }
    }

    /// A recorded certificate by serial.
    public func issuedCertificate(serial: String) async throws -> IssuedCertificate? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT serial, purpose, subject, not_after, revoked_at, created_at FROM issued_certificates WHERE serial = \(bind: serial)
                """).first().map(Self.issuedCertificate(from:))
        }
    }

    /// Revokes a certificate at once; returns whether a live one was found.
    public func revokeCertificate(serial: String, at: Int64, audit: AuditIntent) async throws -> Bool {
        try await database.transaction { db in
            let rows = try await Self.revokeIssuedCertificates(db, serials: [serial], at: at)
            if !rows.isEmpty {
                try await Self.audit(db, at: at, intent: audit, action: "certificate.revoke", targetType: "certificate", targetId: serial,
                                     tenantId: Management.platformTenantId)
            }
            return !rows.isEmpty
        }
    }

    /// Every recorded certificate, oldest first.
    public func issuedCertificates() async throws -> [IssuedCertificate] {
        try await database.withConnection { db in
            try await db.raw("SELECT serial, purpose, subject, not_after, revoked_at, created_at FROM issued_certificates ORDER BY created_at, serial")
                .all().map(Self.issuedCertificate(from:))
        }
    }
}
