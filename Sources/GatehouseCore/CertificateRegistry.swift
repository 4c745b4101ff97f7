/// Where the certificates the authority issued are recorded (the SQL store).
public protocol IssuedCertificateStore: Sendable {
    /// A recorded certificate by (lower-case hex) serial.
    func issuedCertificate(serial: String) async throws -> IssuedCertificate?
    /// At most `limit` certificates, newest first (by issue time, then serial), strictly
    /// before `before` when given.
    func issuedCertificates(before: IssuedCertificateCursor?, limit: Int) async throws -> [IssuedCertificate]
    /// Revokes a live certificate at once; answers whether a live one was found.
    func revokeCertificate(serial: String, at: Int64, audit: AuditIntent) async throws -> Bool
}

/// A position in the newest-first list of issued certificates.
public struct IssuedCertificateCursor: Sendable, Hashable {
    public var createdAt: Int64
    public var serial: String

    public init(createdAt: Int64, serial: String) {
        self.createdAt = createdAt
        self.serial = serial
    }

    /// The cursor of the page after `certificate`: `<created_at>-<serial>`.
    public init(after certificate: IssuedCertificate) {
        self.init(createdAt: certificate.createdAt, serial: certificate.serial)
    }

    public var text: String { "\(createdAt)-\(serial)" }

    /// Parses `<created_at>-<serial>`; `invalid_request` (field `cursor`) otherwise.
    public static func parse(_ text: String) throws(GatehouseError) -> IssuedCertificateCursor {
        let parts = text.split(separator: "-", maxSplits: 1)
        guard parts.count == 2, let createdAt = Int64(parts[0]), createdAt >= 0, let serial = CertificateRegistry.serial(String(parts[1])) else {
            throw GatehouseError(.invalidRequest, "cursor is not valid", field: "cursor")
        }
        return IssuedCertificateCursor(createdAt: createdAt, serial: serial)
    }
}

/// The certificates Gatehouse's authority issued (super-admin client certificates, endpoint
/// certificates), as the platform operator sees and revokes them: the same records as
/// `gatehouse cert list` / `revoke`, and the revoked ones are what `/pki/crl` lists. Only
/// the platform operator (`Caller.requireOperator(.manageTenants)`) may list or revoke.
public struct CertificateRegistry: Sendable {
    public let store: any IssuedCertificateStore
    public let clock: any GatehouseClock

    /// The most certificates one page holds.
    public static let pageSize = 50

    public init(store: any IssuedCertificateStore, clock: any GatehouseClock) {
        self.store = store
        self.clock = clock
    }

    /// One page of issued certificates, newest first; `cursor` is the previous page's `nextCursor`.
    public func certificates(_ caller: Caller, cursor: String?, limit: Int = pageSize) async throws -> Page<IssuedCertificate> {
        try caller.requireOperator(.manageTenants)
        var before: IssuedCertificateCursor?
        if let cursor, !cursor.isEmpty { before = try IssuedCertificateCursor.parse(cursor) }
        let size = min(max(limit, 1), PageRequest.maxLimit)
        var items = try await store.issuedCertificates(before: before, limit: size + 1)
        var next: String?
        if items.count > size {
            items.removeLast(items.count - size)
            next = items.last.map { IssuedCertificateCursor(after: $0).text }
        }
        return Page(items: items, nextCursor: next)
    }

    /// Revokes the certificate with `serial` (hex, any case) at once: its holder is refused at
    /// the next TLS handshake and it appears on the revocation list. `not_found` for an unknown
    /// serial, `conflict` when it is already revoked.
    public func revoke(_ caller: Caller, serial text: String) async throws -> IssuedCertificate {
        try caller.requireOperator(.manageTenants)
        guard let serial = Self.serial(text), var certificate = try await store.issuedCertificate(serial: serial) else {
            throw GatehouseError(.notFound, "no certificate has that serial number")
        }
        guard certificate.revokedAt == nil else { throw GatehouseError(.conflict, "certificate \(serial) is already revoked") }
        let now = clock.now()
        guard try await store.revokeCertificate(serial: serial, at: now, audit: AuditIntent(actor: caller.auditName, detail: certificate.subject)) else {
            throw GatehouseError(.conflict, "certificate \(serial) is already revoked")
        }
        certificate.revokedAt = now
        return certificate
    }

    /// A serial as recorded (lower-case hex, 1–64 digits), or nil.
    public static func serial(_ text: String) -> String? {
        let lower = text.lowercased()
        guard (1...64).contains(lower.utf8.count), lower.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        return lower
    }
}
