import GatehouseCore
import SQLKit

extension SQLStore: IssuedCertificateStore {
    /// At most `limit` recorded certificates, newest first (issue time, then serial), before `before`.
    public func issuedCertificates(before: IssuedCertificateCursor?, limit: Int) async throws -> [IssuedCertificate] {
        try await database.withConnection { db in
            var filter = SQLQueryString("1 = 1")
            if let before {
                filter = SQLQueryString("(created_at < \(bind: before.createdAt) OR (created_at = \(bind: before.createdAt) AND serial < \(bind: before.serial)))")
            }
            return try await db.raw("""
                SELECT serial, purpose, subject, not_after, revoked_at, created_at FROM issued_certificates
                WHERE \(filter) ORDER BY created_at DESC, serial DESC LIMIT \(unsafeRaw: String(max(limit, 0)))
                """).all().map(Self.issuedCertificate(from:))
        }
    }
}
