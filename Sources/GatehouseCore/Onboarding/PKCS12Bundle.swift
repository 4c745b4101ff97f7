import Crypto
import Foundation
import SwiftASN1
import X509

/// PKCS#12 (PFX v3, RFC 7292) files holding a certificate, its chain and its private key, as
/// onboarding hands them out for `certificateType` `P12`.
///
/// The layout is the one openssl 3 writes by default, so that openssl, Java, .NET and browsers
/// read it: the certificates in a PBES2-encrypted `encryptedData` (or, if asked, in plain data),
/// the key in a `pkcs8ShroudedKeyBag` encrypted as ``EncryptedPrivateKey`` does (PBKDF2-HMAC-SHA256,
/// AES-256-CBC, password as UTF-8), a `localKeyId` (SHA-1 of the certificate) tying key and
/// certificate, an optional `friendlyName`, and an HMAC-SHA256 integrity MAC whose key comes from
/// the PKCS#12 KDF (ID 3, SHA-256) over the password as a BMPString.
///
/// One build costs two PBKDF2 runs and the MAC key derivation (about 25 ms at the default counts,
/// measured in a debug build on a busy machine): on a request path, run it through ``Offload``.
public enum PKCS12Bundle {
    /// The default iteration count of the integrity MAC's key derivation (openssl's default).
    public static let defaultMACIterations = 2_048

    /// Builds a PKCS#12 file and answers its DER bytes (base64 them for JSON).
    ///
    /// - Parameters:
    ///   - certificate: The end-entity certificate.
    ///   - privateKeyDER: Its private key as PKCS#8 `PrivateKeyInfo` DER; must match `certificate`.
    ///   - caCertificates: Certificates of the chain, added without attributes.
    ///   - password: The password protecting key, certificates and MAC.
    ///   - friendlyName: An optional name for key and certificate (characters of the Basic Multilingual Plane only).
    ///   - iterations: PBKDF2 iterations for the key and the certificates.
    ///   - macIterations: Iterations of the MAC key derivation.
    ///   - encryptCertificates: Whether the certificates are encrypted too (openssl 3's default) or plain.
    /// - Throws: `validation_failed` for a key that is not PKCS#8, does not match the certificate, or bad counts.
    public static func build(
        certificate: Certificate,
        privateKeyDER: some Collection<UInt8>,
        caCertificates: [Certificate] = [],
        password: String,
        friendlyName: String? = nil,
        iterations: Int = EncryptedPrivateKey.defaultIterations,
        macIterations: Int = defaultMACIterations,
        encryptCertificates: Bool = true
    ) throws(GatehouseError) -> [UInt8] {
        let keyInfo = Array(privateKeyDER)
        guard EncryptedPrivateKey.isPrivateKeyInfo(keyInfo), let key = try? Certificate.PrivateKey(derBytes: keyInfo) else {
            throw .invalid("privateKey", "the private key is not a PKCS#8 key of a supported type")
        }
        guard key.publicKey == certificate.publicKey else {
            throw .invalid("privateKey", "the private key does not belong to the certificate")
        }
        guard macIterations >= 1, macIterations <= PBES2.maximumIterations else {
            throw .invalid("macIterations", "the MAC iteration count must be between 1 and \(PBES2.maximumIterations)")
        }
        var friendlyNameBytes: [UInt8]?
        if let friendlyName {
            guard friendlyName.utf16.allSatisfy({ !(0xD800...0xDFFF).contains($0) }) else {
                throw .invalid("friendlyName", "the friendly name may only hold characters of the Basic Multilingual Plane")
            }
            friendlyNameBytes = Array(PKCS12KeyDerivation.bmpPassword(friendlyName).dropLast(2))
        }
        let utf8Password = Array(password.utf8)
        let shroudedKey = try EncryptedPrivateKey.encryptedPrivateKeyInfo(keyInfo, password: utf8Password, iterations: iterations)
        let certificateScheme = try EncryptedPrivateKey.scheme(iterations: iterations)

        do {
            let certificateDER = try derBytes(certificate)
            var attributes = [Attribute(type: PKCSObjectIdentifiers.localKeyID, value: try derBytes(
                ASN1OctetString(contentBytes: Array(Insecure.SHA1.hash(data: certificateDER))[...])))]
            if let friendlyNameBytes {
                attributes.append(Attribute(type: PKCSObjectIdentifiers.friendlyName, value: try derBytes(
                    ASN1BMPString(contentBytes: friendlyNameBytes[...]))))
            }

            var certificateBags = [SafeBag(type: PKCSObjectIdentifiers.certBag, value: try certBag(certificateDER), attributes: attributes)]
            for authority in caCertificates {
                certificateBags.append(SafeBag(type: PKCSObjectIdentifiers.certBag, value: try certBag(try derBytes(authority)), attributes: []))
            }
            let certificateContents = try sequenceOf(certificateBags)
            let keyContents = try sequenceOf([SafeBag(type: PKCSObjectIdentifiers.pkcs8ShroudedKeyBag, value: shroudedKey, attributes: attributes)])

            // AuthenticatedSafe ::= SEQUENCE OF ContentInfo
            var coder = DER.Serializer()
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                if encryptCertificates {
                    let ciphertext = try certificateScheme.encrypt(certificateContents, password: utf8Password)
                    try serializeEncryptedData(ciphertext, scheme: certificateScheme, into: &coder)
                } else {
                    try serializeData(certificateContents, into: &coder)
                }
                try serializeData(keyContents, into: &coder)
            }
            let authenticatedSafe = coder.serializedBytes

            // MacData over the content of the outer data ContentInfo.
            let macSalt = Secrets.randomBytes(16)
            let macKey = PKCS12KeyDerivation.derive(
                password: PKCS12KeyDerivation.bmpPassword(password), salt: macSalt, purpose: .macKey,
                iterations: macIterations, count: SHA256.byteCount)
            let mac = HMAC<SHA256>.authenticationCode(for: authenticatedSafe, using: SymmetricKey(data: macKey))

            var pfx = DER.Serializer()
            try pfx.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(3)
                try serializeData(authenticatedSafe, into: &coder)
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in  // DigestInfo
                        try coder.appendConstructedNode(identifier: .sequence) { coder in
                            try coder.serialize(PKCSObjectIdentifiers.sha256)
                            try coder.serialize(ASN1Null())
                        }
                        try coder.serialize(ASN1OctetString(contentBytes: Array(mac)[...]))
                    }
                    try coder.serialize(ASN1OctetString(contentBytes: macSalt[...]))
                    try coder.serialize(macIterations)
                }
            }
            return pfx.serializedBytes
        } catch {
            throw GatehouseError(.internal, "the PKCS#12 file could not be built")
        }
    }

    /// Builds a PKCS#12 file for a certificate freshly issued by Gatehouse's ``CertificateAuthority``.
    public static func build(
        issued: CertificateAuthority.Issued,
        caCertificates: [Certificate] = [],
        password: String,
        friendlyName: String? = nil,
        iterations: Int = EncryptedPrivateKey.defaultIterations
    ) throws(GatehouseError) -> [UInt8] {
        try build(
            certificate: issued.certificate, privateKeyDER: issued.privateKey.derRepresentation,
            caCertificates: caCertificates, password: password, friendlyName: friendlyName, iterations: iterations)
    }

    // MARK: ASN.1 pieces

    /// `SafeBag ::= SEQUENCE { bagId, [0] EXPLICIT bagValue, bagAttributes SET OF PKCS12Attribute OPTIONAL }`.
    private struct SafeBag: DERSerializable {
        var type: ASN1ObjectIdentifier
        var value: [UInt8]
        var attributes: [Attribute]

        func serialize(into coder: inout DER.Serializer) throws {
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(type)
                coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { coder in
                    coder.serializeRawBytes(value)
                }
                if !attributes.isEmpty { try coder.serializeSetOf(attributes) }
            }
        }
    }

    /// `PKCS12Attribute ::= SEQUENCE { attrId, attrValues SET OF ANY }` with one value (DER).
    private struct Attribute: DERSerializable {
        var type: ASN1ObjectIdentifier
        var value: [UInt8]

        func serialize(into coder: inout DER.Serializer) throws {
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(type)
                coder.appendConstructedNode(identifier: .set) { coder in coder.serializeRawBytes(value) }
            }
        }
    }

    /// `CertBag ::= SEQUENCE { certId x509Certificate, [0] EXPLICIT OCTET STRING }`.
    private static func certBag(_ certificateDER: [UInt8]) throws -> [UInt8] {
        var coder = DER.Serializer()
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(PKCSObjectIdentifiers.x509Certificate)
            try coder.serialize(
                ASN1OctetString(contentBytes: certificateDER[...]),
                explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
        }
        return coder.serializedBytes
    }

    /// `ContentInfo { data, [0] EXPLICIT OCTET STRING }`.
    private static func serializeData(_ content: [UInt8], into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(PKCSObjectIdentifiers.data)
            try coder.serialize(ASN1OctetString(contentBytes: content[...]), explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
        }
    }

    /// `ContentInfo { encryptedData, [0] EXPLICIT EncryptedData { 0, EncryptedContentInfo { data, PBES2, [0] IMPLICIT ciphertext } } }`.
    private static func serializeEncryptedData(_ ciphertext: [UInt8], scheme: PBES2, into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(PKCSObjectIdentifiers.encryptedData)
            try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    try coder.serialize(0)
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        try coder.serialize(PKCSObjectIdentifiers.data)
                        try coder.serialize(scheme)
                        try ASN1OctetString(contentBytes: ciphertext[...]).serialize(
                            into: &coder, withIdentifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific))
                    }
                }
            }
        }
    }

    private static func sequenceOf(_ bags: [SafeBag]) throws -> [UInt8] {
        var coder = DER.Serializer()
        try coder.serializeSequenceOf(bags)
        return coder.serializedBytes
    }

    private static func derBytes(_ value: some DERSerializable) throws -> [UInt8] {
        var coder = DER.Serializer()
        try coder.serialize(value)
        return coder.serializedBytes
    }
}
