import CryptoExtras
import Foundation
import SwiftASN1

/// An RSA private key of at least 2048 bits that signs with RSASSA-PKCS1-v1_5 and SHA-256: an
/// application's key (in tests and tools) or the platform's key for the authorization redirect.
public struct RSAPrivateKey: Sendable {
    let key: _RSA.Signing.PrivateKey

    init(_ key: _RSA.Signing.PrivateKey) {
        self.key = key
    }

    /// Reads a key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1 (`BEGIN RSA PRIVATE KEY`) or, with
    /// `password`, encrypted PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`, see ``EncryptedPrivateKey``).
    ///
    /// Throws `validation_failed` (field `privateKey`) for anything else or a key under 2048 bits,
    /// and `unauthenticated` for a wrong password.
    public init(pem: String, password: String? = nil) throws(GatehouseError) {
        let document: PEMDocument
        do {
            document = try PEMDocument(pemString: pem.replacingOccurrences(of: "\r\n", with: "\n"))
        } catch {
            throw .invalid("privateKey", "the private key is not a single PEM block")
        }
        let der: [UInt8]
        switch document.discriminator {
        case "PRIVATE KEY", "RSA PRIVATE KEY":
            der = document.derBytes
        case EncryptedPrivateKey.pemLabel:
            guard let password else { throw .invalid("privateKey", "the private key is encrypted and no password was given") }
            der = try EncryptedPrivateKey.decrypt(der: document.derBytes, password: password)
        default:
            throw .invalid("privateKey", "expected a PRIVATE KEY block, found \(document.discriminator)")
        }
        do {
            key = try _RSA.Signing.PrivateKey(derRepresentation: der)
        } catch {
            throw .invalid("privateKey", "the private key is not an RSA key of at least \(RSAPublicKey.minimumBits) bits")
        }
    }

    /// Makes a new key of `bits` bits (2048 to 4096). CPU-heavy (tens to hundreds of milliseconds):
    /// off the request path, or through ``Offload``.
    public static func generate(bits: Int = 2_048) throws(GatehouseError) -> RSAPrivateKey {
        guard [2_048, 3_072, 4_096].contains(bits) else {
            throw .invalid("bits", "RSA keys have 2048, 3072 or 4096 bits")
        }
        do {
            return RSAPrivateKey(try _RSA.Signing.PrivateKey(keySize: .init(bitCount: bits)))
        } catch {
            throw GatehouseError(.internal, "the RSA key could not be generated")
        }
    }

    /// The matching public key.
    public var publicKey: RSAPublicKey { RSAPublicKey(key.publicKey) }

    /// The size of the modulus in bits.
    public var bitCount: Int { key.keySizeInBits }

    /// The key as PKCS#8 `PrivateKeyInfo` DER (the input of ``EncryptedPrivateKey``). Secret.
    public var derRepresentation: [UInt8] { Array(key.pkcs8DERRepresentation) }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, 64-character lines, final newline). Secret.
    public var pemRepresentation: String {
        PEMDocument(type: "PRIVATE KEY", derBytes: derRepresentation).pemString + "\n"
    }
}
