import CryptoExtras
import Foundation
import SwiftASN1

/// An RSA public key of at least 2048 bits, such as the key an application registers to sign its
/// onboarding requests.
///
/// Compared and hashed by its SPKI DER.
public struct RSAPublicKey: Sendable, Hashable {
    /// The smallest modulus accepted, in bits.
    public static let minimumBits = 2_048

    /// The key as SubjectPublicKeyInfo DER.
    public let derRepresentation: [UInt8]
    /// The size of the modulus in bits.
    public let bitCount: Int
    let key: _RSA.Signing.PublicKey

    /// Reads a key from PEM: SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`) or PKCS#1
    /// (`-----BEGIN RSA PUBLIC KEY-----`).
    ///
    /// Throws `validation_failed` (field `publicKey`) for text that is not one PEM block, a key of
    /// another type (EC, Ed25519, …) and a modulus shorter than ``minimumBits``.
    public init(pem: String) throws(GatehouseError) {
        let document: PEMDocument
        do {
            document = try PEMDocument(pemString: pem.replacingOccurrences(of: "\r\n", with: "\n"))
        } catch {
            throw .invalid("publicKey", "the public key is not a single PEM block")
        }
        switch document.discriminator {
        case "PUBLIC KEY": try self.init(derRepresentation: document.derBytes)
        case "RSA PUBLIC KEY": try self.init(pkcs1DERRepresentation: document.derBytes)
        default:
            throw .invalid("publicKey", "expected a PUBLIC KEY block, found \(document.discriminator)")
        }
    }

    /// Reads a key from SubjectPublicKeyInfo DER; throws as ``init(pem:)``.
    public init(derRepresentation spki: [UInt8]) throws(GatehouseError) {
        let algorithm: ASN1ObjectIdentifier
        let keyBytes: ArraySlice<UInt8>
        do {
            (algorithm, keyBytes) = try DER.sequence(try DER.parse(spki), identifier: .sequence) { nodes in
                guard let algorithmNode = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no algorithm") }
                let algorithm = try DER.sequence(algorithmNode, identifier: .sequence) { nodes in
                    let oid = try ASN1ObjectIdentifier(derEncoded: &nodes)
                    while nodes.next() != nil {}  // parameters
                    return oid
                }
                return (algorithm, try ASN1BitString(derEncoded: &nodes).bytes)
            }
        } catch {
            throw .invalid("publicKey", "the public key is not a SubjectPublicKeyInfo")
        }
        guard algorithm == PKCSObjectIdentifiers.rsaEncryption else {
            throw .invalid("publicKey", "the public key is not an RSA key (it is \(Self.name(of: algorithm)))")
        }
        try self.init(pkcs1DERRepresentation: Array(keyBytes))
    }

    /// Reads a key from PKCS#1 `RSAPublicKey` DER; throws as ``init(pem:)``.
    public init(pkcs1DERRepresentation pkcs1: [UInt8]) throws(GatehouseError) {
        let modulus: ArraySlice<UInt8>
        do {
            modulus = try DER.sequence(try DER.parse(pkcs1), identifier: .sequence) { nodes in
                let modulus = try ArraySlice<UInt8>(derEncoded: &nodes)
                _ = try ArraySlice<UInt8>(derEncoded: &nodes)  // public exponent
                return modulus
            }
        } catch {
            throw .invalid("publicKey", "the public key is not a valid RSA key")
        }
        let significant = modulus.drop(while: { $0 == 0 })
        let bits = significant.first.map { significant.count * 8 - $0.leadingZeroBitCount } ?? 0
        guard bits >= Self.minimumBits else {
            throw .invalid("publicKey", "the RSA key has \(bits) bits; at least \(Self.minimumBits) are required")
        }
        do {
            key = try _RSA.Signing.PublicKey(derRepresentation: pkcs1)
        } catch {
            throw .invalid("publicKey", "the public key is not a valid RSA key")
        }
        derRepresentation = Array(key.derRepresentation)
        bitCount = key.keySizeInBits
    }

    init(_ key: _RSA.Signing.PublicKey) {
        self.key = key
        self.derRepresentation = Array(key.derRepresentation)
        self.bitCount = key.keySizeInBits
    }

    /// The key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`, 64-character lines, final newline).
    public var pemRepresentation: String {
        PEMDocument(type: "PUBLIC KEY", derBytes: derRepresentation).pemString + "\n"
    }

    public static func == (lhs: RSAPublicKey, rhs: RSAPublicKey) -> Bool {
        lhs.derRepresentation == rhs.derRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(derRepresentation)
    }

    private static func name(of algorithm: ASN1ObjectIdentifier) -> String {
        switch algorithm {
        case [1, 2, 840, 10045, 2, 1]: "an EC key"
        case [1, 3, 101, 112]: "an Ed25519 key"
        case [1, 3, 101, 113]: "an Ed448 key"
        case [1, 2, 840, 113549, 1, 1, 10]: "an RSASSA-PSS key"
        case [1, 2, 840, 10040, 4, 1]: "a DSA key"
        default: "algorithm \(algorithm)"
        }
    }
}

/// Parsed RSA public keys by their PEM text, so that a signed request does not parse its
/// application's key again. Keyed by the PEM itself: a changed key is a new entry.
final class PublicKeyCache: @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [String: RSAPublicKey] = [:]
    private let capacity = 512

    /// The key of `pem`, nil when it is not an RSA public key.
    func key(pem: String) -> RSAPublicKey? {
        if let known = lock.withLock({ keys[pem] }) { return known }
        guard let key = try? RSAPublicKey(pem: pem) else { return nil }
        lock.withLock {
            if keys.count >= capacity { keys.removeAll(keepingCapacity: true) }
            keys[pem] = key
        }
        return key
    }
}
