import Foundation
import X509

/// A certificate Gatehouse's authority issued, as the store keeps it (never the private key).
public struct IssuedCertificate: Codable, Hashable, Sendable {
    /// Lower-case hex serial number.
    public var serial: String
    /// What it is for: `superadmin`, `server`, later `device` and `endpoint`.
    public var purpose: String
    public var subject: String
    public var notAfter: Int64
    public var revokedAt: Int64?
    public var createdAt: Int64

    public init(serial: String, purpose: String, subject: String, notAfter: Int64, revokedAt: Int64?, createdAt: Int64) {
        self.serial = serial
        self.purpose = purpose
        self.subject = subject
        self.notAfter = notAfter
        self.revokedAt = revokedAt
        self.createdAt = createdAt
    }
}

/// Checks a TLS client's certificate chain against Gatehouse's authority (RFC 5280 path
/// validation with swift-certificates: signature, validity period, CA constraints).
public struct ClientCertificateVerifier: Sendable {
    public let authority: Certificate

    /// A verifier trusting only `authority`.
    public init(authority: Certificate) {
        self.authority = authority
    }

    /// The leaf's serial (lower-case hex) when the chain, given as DER, is valid now and the
    /// leaf may authenticate a TLS client; `nil` otherwise.
    public func verify(chain: [[UInt8]]) async -> String? {
        guard let first = chain.first, let leaf = try? Certificate(derEncoded: first) else { return nil }
        let intermediates = chain.dropFirst().compactMap { try? Certificate(derEncoded: $0) }
        var verifier = Verifier(rootCertificates: CertificateStore([authority])) { RFC5280Policy() }
        guard case .validCertificate = await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates)) else { return nil }
        if let usage = try? leaf.extensions.extendedKeyUsage, !usage.contains(.clientAuth) { return nil }
        return Secrets.hex(leaf.serialNumber.bytes)
    }
}
