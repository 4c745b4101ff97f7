import Foundation
import GatehouseCore
import NIOConcurrencyHelpers
import NIOSSL

/// The server certificate of a mutual-TLS listener, issued by Gatehouse's authority and kept in
/// memory only, renewed while the listener runs: a handshake that finds it within
/// ``renewBefore`` seconds of its end is answered with a new one (valid ``days`` days from then).
final class ServerIdentity: Sendable {
    /// The certificate and key a handshake gets, with the end of the certificate's validity.
    struct Current: Sendable {
        let chain: [NIOSSLCertificateSource]
        let key: NIOSSLPrivateKeySource
        let notAfter: Int64
        let serial: String
    }

    let days: Int
    let renewBefore: Int64
    private let issue: @Sendable (_ now: Int64) throws -> CertificateAuthority.Issued
    private let current: NIOLockedValueBox<Current>

    /// Issues the first certificate at `now`.
    init(days: Int = 30, renewBefore: Int64 = 7 * 86_400, now: Int64, issue: @escaping @Sendable (_ now: Int64) throws -> CertificateAuthority.Issued) throws {
        self.days = days
        self.renewBefore = renewBefore
        self.issue = issue
        self.current = NIOLockedValueBox(try Self.make(issue(now)))
    }

    static func make(_ issued: CertificateAuthority.Issued) throws -> Current {
        Current(chain: [.certificate(try NIOSSLCertificate(bytes: Array(try issued.certificatePEM.utf8), format: .pem))],
                key: .privateKey(try NIOSSLPrivateKey(bytes: Array(issued.privateKeyPEM.utf8), format: .pem)),
                notAfter: Int64(issued.certificate.notValidAfter.timeIntervalSince1970), serial: issued.serialHex)
    }

    /// The certificate to present at `now`, renewed first when it is near its end. A failed
    /// renewal keeps the current one (it is still valid for up to ``renewBefore`` seconds).
    func identity(now: Int64) -> Current {
        current.withLockedValue { current in
            if current.notAfter - now <= renewBefore, let renewed = try? Self.make(issue(now)) { current = renewed }
            return current
        }
    }

    /// A TLS callback that presents ``identity(now:)`` at each handshake.
    var contextCallback: NIOSSLContextCallback {
        { _, promise in
            let identity = self.identity(now: Int64(Date().timeIntervalSince1970))
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = identity.chain
            override.privateKey = identity.key
            promise.succeed(override)
        }
    }
}
