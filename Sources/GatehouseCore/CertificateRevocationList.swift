import Crypto
import Foundation
import SwiftASN1
import X509

/// X.509 v2 certificate revocation lists (RFC 5280 §5) signed by Gatehouse's authority.
///
/// The list is built with SwiftASN1's DER serializer:
///
///     CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
///     TBSCertList ::= SEQUENCE {
///         version INTEGER (v2 = 1), signature AlgorithmIdentifier, issuer Name,
///         thisUpdate Time, nextUpdate Time,
///         revokedCertificates SEQUENCE OF SEQUENCE { userCertificate INTEGER, revocationDate Time } OPTIONAL,
///         crlExtensions [0] EXPLICIT Extensions  -- authorityKeyIdentifier, cRLNumber
///     }
///
/// A TLS server that checks client certificates against the list (OpenSSL with CRL checking, as
/// mosquitto's `crlfile`) refuses *every* client once `nextUpdate` has passed, and does not use a
/// list whose `thisUpdate` is still in the future: publish the next list well before `nextUpdate`,
/// with a `thisUpdate` that is not ahead of the server's clock.
extension CertificateAuthority {
    /// The `-----BEGIN X509 CRL-----` label of a revocation list in PEM.
    public static let revocationListPEMLabel = "X509 CRL"

    /// Makes a DER-encoded X.509 v2 revocation list signed by this authority (ecdsa-with-SHA256).
    ///
    /// - Parameters:
    ///   - revoked: the revoked certificates: serial number as lower-case hex, the form
    ///     ``IssuedCertificate/serial`` and ``Issued/serialHex`` have (upper case and a leading
    ///     `0x` or padding zeros are accepted too), and when it was revoked. A serial listed twice
    ///     appears once, with its earliest date. An empty list omits `revokedCertificates`.
    ///   - number: the list's cRLNumber; it must grow with each list the authority publishes (≥ 0).
    ///   - thisUpdate: when this list was made; times are kept to the whole second.
    ///   - nextUpdate: when the next list will be published, later than `thisUpdate`.
    /// - Throws: `validationFailed` for a serial that is not hex, a negative number or
    ///   `nextUpdate` not after `thisUpdate`; `internal` when encoding or signing fails.
    public func revocationList(revoked: [(serialHex: String, at: Date)], number: Int64, thisUpdate: Date, nextUpdate: Date) throws(GatehouseError) -> [UInt8] {
        guard number >= 0 else { throw GatehouseError(.validationFailed, "the CRL number must not be negative", field: "number") }
        let thisUpdateSeconds = Self.wholeSeconds(thisUpdate)
        let nextUpdateSeconds = Self.wholeSeconds(nextUpdate)
        guard nextUpdateSeconds > thisUpdateSeconds else {
            throw GatehouseError(.validationFailed, "nextUpdate must be after thisUpdate", field: "nextUpdate")
        }
        var entries: [(serial: ArraySlice<UInt8>, at: Int64)] = []
        var index: [ArraySlice<UInt8>: Int] = [:]
        for (serialHex, at) in revoked {
            let serial = try Self.serialNumberBytes(hex: serialHex)
            let seconds = Self.wholeSeconds(at)
            if let existing = index[serial] {
                entries[existing].at = min(entries[existing].at, seconds)
            } else {
                index[serial] = entries.count
                entries.append((serial, seconds))
            }
        }

        do {
            let keyIdentifier = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
                ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
            let authorityKeyIdentifier = try Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: keyIdentifier), critical: false)
            var numberCoder = DER.Serializer()
            try numberCoder.serialize(number)
            let crlNumber = Certificate.Extension(oid: Self.crlNumberOID, critical: false, value: numberCoder.serializedBytes[...])

            var tbsCoder = DER.Serializer()
            try tbsCoder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(Int(1))  // v2
                try Self.serializeSignatureAlgorithm(into: &coder)
                try coder.serialize(certificate.subject)
                try Self.serializeTime(thisUpdateSeconds, into: &coder)
                try Self.serializeTime(nextUpdateSeconds, into: &coder)
                if !entries.isEmpty {
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        for entry in entries {
                            try coder.appendConstructedNode(identifier: .sequence) { coder in
                                try coder.serialize(entry.serial)
                                try Self.serializeTime(entry.at, into: &coder)
                            }
                        }
                    }
                }
                try coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        try coder.serialize(authorityKeyIdentifier)
                        try coder.serialize(crlNumber)
                    }
                }
            }
            let tbs = tbsCoder.serializedBytes
            let signature = try privateKey.signature(for: tbs).derRepresentation

            var coder = DER.Serializer()
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                coder.serializeRawBytes(tbs)
                try Self.serializeSignatureAlgorithm(into: &coder)
                try coder.serialize(ASN1BitString(bytes: ArraySlice(signature)))
            }
            return coder.serializedBytes
        } catch {
            throw GatehouseError(.internal, "the certificate revocation list cannot be made")
        }
    }

    /// Makes the revocation list of ``revocationList(revoked:number:thisUpdate:nextUpdate:)`` in PEM
    /// (`-----BEGIN X509 CRL-----`), the form mosquitto's `crlfile` and `openssl crl` read.
    public func revocationListPEM(revoked: [(serialHex: String, at: Date)], number: Int64, thisUpdate: Date, nextUpdate: Date) throws(GatehouseError) -> String {
        Self.revocationListPEM(der: try revocationList(revoked: revoked, number: number, thisUpdate: thisUpdate, nextUpdate: nextUpdate))
    }

    /// Makes the revocation list of the certificates in `certificates` that are revoked
    /// (``IssuedCertificate/revokedAt`` set, in Unix seconds), in DER; the others are ignored.
    public func revocationList(of certificates: [IssuedCertificate], number: Int64, thisUpdate: Date, nextUpdate: Date) throws(GatehouseError) -> [UInt8] {
        try revocationList(revoked: Self.revocations(of: certificates), number: number, thisUpdate: thisUpdate, nextUpdate: nextUpdate)
    }

    /// The revoked ones of `certificates` as (serial, revocation time).
    static func revocations(of certificates: [IssuedCertificate]) -> [(serialHex: String, at: Date)] {
        certificates.compactMap { certificate in
            certificate.revokedAt.map { (serialHex: certificate.serial, at: Date(timeIntervalSince1970: TimeInterval($0))) }
        }
    }

    /// Wraps a DER revocation list in PEM (`-----BEGIN X509 CRL-----`, 64-column base64, final newline).
    public static func revocationListPEM(der: [UInt8]) -> String {
        PEMDocument(type: revocationListPEMLabel, derBytes: der).pemString + "\n"
    }

    /// The bytes of a certificate serial number given in hex, as the certificate's INTEGER holds
    /// its magnitude: leading zero bytes dropped (the DER encoder adds the one zero byte a serial
    /// whose top bit is set needs to stay positive). Accepts an optional `0x`, either case and
    /// an odd number of digits.
    static func serialNumberBytes(hex: String) throws(GatehouseError) -> ArraySlice<UInt8> {
        var digits = Substring(hex)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.utf8.count <= 2 * 64 else {
            throw GatehouseError(.validationFailed, "a serial number must be 1 to 128 hex digits", field: "serial")
        }
        var nibbles: [UInt8] = []
        nibbles.reserveCapacity(digits.utf8.count + 1)
        if digits.utf8.count % 2 == 1 { nibbles.append(0) }
        for character in digits.utf8 {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibbles.append(character - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibbles.append(character - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibbles.append(character - UInt8(ascii: "A") + 10)
            default: throw GatehouseError(.validationFailed, "a serial number must be hex digits", field: "serial")
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(nibbles.count / 2)
        for pair in stride(from: 0, to: nibbles.count, by: 2) { bytes.append(nibbles[pair] << 4 | nibbles[pair + 1]) }
        let magnitude = bytes.drop { $0 == 0 }
        guard !magnitude.isEmpty else { throw GatehouseError(.validationFailed, "a serial number must be positive", field: "serial") }
        return ArraySlice(magnitude)
    }

    /// id-ce-cRLNumber (RFC 5280 §5.2.3).
    static let crlNumberOID: ASN1ObjectIdentifier = [2, 5, 29, 20]
    /// ecdsa-with-SHA256 (RFC 5758 §3.2), whose AlgorithmIdentifier has no parameters.
    static let ecdsaWithSHA256OID: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]

    static func serializeSignatureAlgorithm(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(ecdsaWithSHA256OID)
        }
    }

    /// A time as RFC 5280 §5.1.2.4 wants it: UTCTime through 2049, GeneralizedTime from 2050 on.
    static func serializeTime(_ seconds: Int64, into coder: inout DER.Serializer) throws {
        var time = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { throw GatehouseError(.internal, "a time cannot be encoded") }
        let year = Int(parts.tm_year) + 1900
        let month = Int(parts.tm_mon) + 1, day = Int(parts.tm_mday)
        let hours = Int(parts.tm_hour), minutes = Int(parts.tm_min), second = Int(parts.tm_sec)
        if (1950...2049).contains(year) {
            try coder.serialize(UTCTime(year: year, month: month, day: day, hours: hours, minutes: minutes, seconds: second))
        } else {
            try coder.serialize(GeneralizedTime(year: year, month: month, day: day, hours: hours, minutes: minutes, seconds: second,
                                                rawFractionalSeconds: []))
        }
    }

    static func wholeSeconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }
}
