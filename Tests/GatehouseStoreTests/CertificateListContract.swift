import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// The issued-certificate list the console pages through, run on both engines.
enum CertificateListContract {
    /// Newest first by issue time, then serial; a cursor continues strictly after the last row
    /// (rows sharing an issue time are neither repeated nor skipped); revocation shows.
    static func newestFirstWithCursor(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let base: Int64 = 1_700_000_000
            for (serial, offset) in [("0a", 0), ("0b", 5), ("0c", 5), ("0d", 5), ("0e", 9)] as [(String, Int64)] {
                try await store.recordCertificate(IssuedCertificate(serial: serial, purpose: "endpoint", subject: "urn:\(serial)", notAfter: base + 1000,
                                                                    revokedAt: nil, createdAt: base + offset), audit: AuditIntent(actor: "test"))
            }
            let first = try await store.issuedCertificates(before: nil, limit: 2)
            #expect(first.map(\.serial) == ["0e", "0d"])
            let second = try await store.issuedCertificates(before: IssuedCertificateCursor(after: try #require(first.last)), limit: 2)
            #expect(second.map(\.serial) == ["0c", "0b"])
            let third = try await store.issuedCertificates(before: IssuedCertificateCursor(after: try #require(second.last)), limit: 2)
            #expect(third.map(\.serial) == ["0a"])
            #expect(try await store.revokeCertificate(serial: "0c", at: base + 20, audit: AuditIntent(actor: "test")))
            #expect(try await store.issuedCertificates(before: nil, limit: 10).first { $0.serial == "0c" }?.revokedAt == base + 20)
            #expect(try await store.issuedCertificates(before: nil, limit: 0).isEmpty)
        }
    }
}
