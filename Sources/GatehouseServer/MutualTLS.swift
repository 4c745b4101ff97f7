import Foundation
import GatehouseCore
import GatehouseStore
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL

/// The TLS side of Gatehouse's mutual-TLS listeners (super-admin API, REST gateway).
enum MutualTLS {
    /// A server configuration presenting `server`'s current certificate (TLS 1.2 or later) that accepts only a client
    /// chain validating against `authority` (RFC 5280: signature, validity period, client use)
    /// whose leaf is recorded, unrevoked, as a certificate of `purpose`; anything else fails the handshake.
    static func channel(authority: CertificateAuthority, server: ServerIdentity, store: SQLStore, purpose: String,
                        logger: Logger, listener: String) throws -> TLSChannelConfiguration {
        let first = server.identity(now: Int64(Date().timeIntervalSince1970))
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: first.chain, privateKey: first.key)
        // Each handshake presents the current certificate, renewed before it ends.
        tls.sslContextCallback = server.contextCallback
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .noHostnameVerification
        tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(try authority.certificatePEM.utf8), format: .pem)])
        let verifier = ClientCertificateVerifier(authority: authority.certificate)
        return TLSChannelConfiguration(tlsConfiguration: tls) { certificates in
            let chain = try certificates.map { try $0.toDERBytes() }
            guard let serial = await verifier.verify(chain: chain),
                  let record = try? await store.issuedCertificate(serial: serial),
                  record.purpose == purpose, record.revokedAt == nil
            else {
                logger.notice("\(listener): client certificate refused")
                return .failed
            }
            return .certificateVerified
        }
    }
}
