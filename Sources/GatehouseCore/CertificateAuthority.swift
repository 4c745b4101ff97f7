import Crypto
import Foundation
import SwiftASN1
import X509

/// Gatehouse's certificate authority: an ECDSA P-256 key and its self-signed certificate.
///
/// It signs the certificates Gatehouse issues: super-admin client certificates, the
/// server certificates of its TLS listeners, and (later) device and endpoint certificates.
public struct CertificateAuthority: Sendable {
    /// The authority's own certificate.
    public let certificate: Certificate
    let privateKey: P256.Signing.PrivateKey

    /// Loads an authority from its certificate and private key in PEM.
    public init(certificatePEM: String, privateKeyPEM: String) throws(GatehouseError) {
        do {
            self.certificate = try Certificate(pemEncoded: certificatePEM)
            self.privateKey = try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            throw GatehouseError(.internal, "the stored certificate authority cannot be read")
        }
        guard certificate.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw GatehouseError(.internal, "the certificate authority's key does not match its certificate")
        }
    }

    init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// Makes a new authority named `commonName`, valid for `years` from `now`.
    public static func generate(commonName: String = "Gatehouse Certificate Authority", now: Date = Date(), years: Int = 10) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Gatehouse")
            CommonName(commonName)
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(Double(years) * 365.25 * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: .init(key)
        )
        return CertificateAuthority(certificate: certificate, privateKey: key)
    }

    /// The authority's certificate in PEM.
    public var certificatePEM: String {
        get throws { try certificate.serializeAsPEM().pemString }
    }

    /// The authority's private key in PEM (PKCS#8). Secret: write it with 0600 permissions only.
    public var privateKeyPEM: String { privateKey.pemRepresentation }

    /// What a certificate issued by this authority is for.
    public enum Usage: Sendable {
        /// A TLS client (super-admin, device, endpoint).
        case client
        /// A TLS server, for the given DNS names and IP addresses.
        case server(dnsNames: [String], ipAddresses: [String])
    }

    /// A freshly issued certificate and its new private key.
    public struct Issued: Sendable {
        public let certificate: Certificate
        public let privateKey: P256.Signing.PrivateKey
        /// The certificate in PEM.
        public var certificatePEM: String { get throws { try certificate.serializeAsPEM().pemString } }
        /// The private key in PEM (PKCS#8). Secret.
        public var privateKeyPEM: String { privateKey.pemRepresentation }
        /// The serial number as lower-case hex.
        public var serialHex: String { Secrets.hex(certificate.serialNumber.bytes) }
    }

    /// Issues a certificate with a new P-256 key for `commonName`, valid for `days` from `now`.
    public func issue(commonName: String, organizationalUnit: String? = nil, usage: Usage, now: Date = Date(), days: Int) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Gatehouse")
            if let organizationalUnit { OrganizationalUnitName(organizationalUnit) }
            CommonName(commonName)
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let authorityKeyID = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        var sanNames: [GeneralName] = []
        if case .server(let dnsNames, let ipAddresses) = usage {
            sanNames += dnsNames.map { GeneralName.dnsName($0) }
            sanNames += ipAddresses.compactMap { Self.ipAddressBytes($0).map { GeneralName.ipAddress(ASN1OctetString(contentBytes: $0[...])) } }
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
            switch usage {
            case .client: try ExtendedKeyUsage([.clientAuth])
            case .server: try ExtendedKeyUsage([.serverAuth])
            }
            SubjectKeyIdentifier(hash: publicKey)
            AuthorityKeyIdentifier(keyIdentifier: authorityKeyID)
            if !sanNames.isEmpty { SubjectAlternativeNames(sanNames) }
        }
        let issued = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: .init(privateKey)
        )
        return Issued(certificate: issued, privateKey: key)
    }

    /// The bytes of an IPv4 or IPv6 address in text form, or `nil`.
    public static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
