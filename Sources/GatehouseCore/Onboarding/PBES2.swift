import Crypto
import CryptoExtras
import Foundation
import SwiftASN1

/// PBES2 (RFC 8018 §6.2): PBKDF2-HMAC key derivation plus AES-CBC, serialized as the
/// `AlgorithmIdentifier` that encrypted PKCS#8 keys and PKCS#12 `encryptedData` carry.
///
/// Gatehouse writes PBKDF2-HMAC-SHA256 with AES-256-CBC (what `openssl` 3 writes by default);
/// it reads any PBKDF2 PRF of SHA-1/256/384/512 and AES-128/192/256-CBC.
struct PBES2: DERParseable, DERSerializable, Sendable {
    /// The pseudo-random function of PBKDF2.
    enum PRF: Sendable {
        case sha1, sha256, sha384, sha512
    }

    /// Why decryption or parsing failed; mapped to a `GatehouseError` by the public callers.
    enum Failure: Error {
        case unsupported(String)
        case malformed
        case wrongPassword
    }

    /// The most PBKDF2 iterations Gatehouse derives, reading or writing (a bound on the work an input can ask for).
    static let maximumIterations = 10_000_000

    var salt: [UInt8]
    var iterations: Int
    var prf: PRF
    /// The AES key length in bytes: 16, 24 or 32.
    var keyLength: Int
    var iv: [UInt8]

    /// Fresh parameters: a random 16-byte salt and IV, PBKDF2-HMAC-SHA256 and AES-256-CBC.
    static func random(iterations: Int) -> PBES2 {
        PBES2(salt: Secrets.randomBytes(16), iterations: iterations, prf: .sha256, keyLength: 32, iv: Secrets.randomBytes(16))
    }

    init(salt: [UInt8], iterations: Int, prf: PRF, keyLength: Int, iv: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.prf = prf
        self.keyLength = keyLength
        self.iv = iv
    }

    // MARK: Encryption

    /// Encrypts `plaintext` with a key derived from `password` (the raw bytes PBKDF2 takes).
    func encrypt(_ plaintext: [UInt8], password: [UInt8]) throws -> [UInt8] {
        let key = try deriveKey(password: password)
        return Array(try AES._CBC.encrypt(plaintext, using: key, iv: AES._CBC.IV(ivBytes: iv)))
    }

    /// Decrypts `ciphertext`; a padding error means the password is wrong (or the data damaged).
    func decrypt(_ ciphertext: ArraySlice<UInt8>, password: [UInt8]) throws(Failure) -> [UInt8] {
        guard !ciphertext.isEmpty, ciphertext.count % 16 == 0 else { throw .malformed }
        let key: SymmetricKey
        let iv: AES._CBC.IV
        do {
            key = try deriveKey(password: password)
            iv = try AES._CBC.IV(ivBytes: self.iv)
        } catch {
            throw .malformed
        }
        do {
            return Array(try AES._CBC.decrypt(ciphertext, using: key, iv: iv))
        } catch {
            throw .wrongPassword
        }
    }

    private func deriveKey(password: [UInt8]) throws -> SymmetricKey {
        let hash: KDF.Insecure.PBKDF2.HashFunction
        switch prf {
        case .sha1: hash = .insecureSHA1
        case .sha256: hash = .sha256
        case .sha384: hash = .sha384
        case .sha512: hash = .sha512
        }
        // The iteration count is the caller's choice (bounded by `maximumIterations`), not the library's floor.
        return try KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: hash, outputByteCount: keyLength, unsafeUncheckedRounds: iterations)
    }

    // MARK: ASN.1

    private typealias OID = PKCSObjectIdentifiers

    /// Serializes the `AlgorithmIdentifier { pbes2, PBES2-params }`.
    func serialize(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(OID.pbes2)
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                // keyDerivationFunc
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    try coder.serialize(OID.pbkdf2)
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        try coder.serialize(ASN1OctetString(contentBytes: salt[...]))
                        try coder.serialize(iterations)
                        if prf != .sha1 {  // hmacWithSHA1 is the DEFAULT and so is left out in DER
                            try coder.appendConstructedNode(identifier: .sequence) { coder in
                                try coder.serialize(Self.prfIdentifier(prf))
                                try coder.serialize(ASN1Null())
                            }
                        }
                    }
                }
                // encryptionScheme
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    try coder.serialize(try Self.cipherIdentifier(keyLength: keyLength))
                    try coder.serialize(ASN1OctetString(contentBytes: iv[...]))
                }
            }
        }
    }

    /// Parses an `AlgorithmIdentifier`; throws `Failure.unsupported` for well-formed schemes Gatehouse does not read.
    init(derEncoded node: ASN1Node) throws {
        self = try DER.sequence(node, identifier: .sequence) { nodes in
            let scheme = try ASN1ObjectIdentifier(derEncoded: &nodes)
            guard scheme == OID.pbes2 else {
                throw Failure.unsupported("the key is encrypted with \(scheme), not PBES2")
            }
            guard let parameters = nodes.next() else { throw Failure.malformed }
            return try DER.sequence(parameters, identifier: .sequence) { nodes in
                guard let kdfNode = nodes.next(), let schemeNode = nodes.next() else { throw Failure.malformed }
                let kdf = try Self.parseKDF(kdfNode)
                let (keyLength, iv) = try Self.parseCipher(schemeNode)
                if let declared = kdf.keyLength, declared != keyLength { throw Failure.malformed }
                return PBES2(salt: kdf.salt, iterations: kdf.iterations, prf: kdf.prf, keyLength: keyLength, iv: iv)
            }
        }
    }

    private static func parseKDF(_ node: ASN1Node) throws -> (salt: [UInt8], iterations: Int, keyLength: Int?, prf: PRF) {
        try DER.sequence(node, identifier: .sequence) { nodes in
            let kdf = try ASN1ObjectIdentifier(derEncoded: &nodes)
            guard kdf == OID.pbkdf2 else { throw Failure.unsupported("the key derivation \(kdf) is not PBKDF2") }
            guard let parameters = nodes.next() else { throw Failure.malformed }
            return try DER.sequence(parameters, identifier: .sequence) { nodes in
                let salt = try ASN1OctetString(derEncoded: &nodes)
                let iterations = try Int(derEncoded: &nodes)
                guard iterations >= 1, iterations <= maximumIterations else {
                    throw Failure.unsupported("PBKDF2 asks for \(iterations) iterations (at most \(maximumIterations))")
                }
                let keyLength: Int? = try DER.optionalImplicitlyTagged(&nodes)
                var prf = PRF.sha1
                if let prfNode = nodes.next() {
                    prf = try DER.sequence(prfNode, identifier: .sequence) { nodes in
                        let oid = try ASN1ObjectIdentifier(derEncoded: &nodes)
                        let _: ASN1Null? = try DER.optionalImplicitlyTagged(&nodes)
                        switch oid {
                        case OID.hmacWithSHA1: return .sha1
                        case OID.hmacWithSHA256: return .sha256
                        case OID.hmacWithSHA384: return .sha384
                        case OID.hmacWithSHA512: return .sha512
                        default: throw Failure.unsupported("the PBKDF2 function \(oid) is not supported")
                        }
                    }
                }
                return (Array(salt.bytes), iterations, keyLength, prf)
            }
        }
    }

    private static func parseCipher(_ node: ASN1Node) throws -> (keyLength: Int, iv: [UInt8]) {
        try DER.sequence(node, identifier: .sequence) { nodes in
            let cipher = try ASN1ObjectIdentifier(derEncoded: &nodes)
            let keyLength: Int
            switch cipher {
            case OID.aes128CBC: keyLength = 16
            case OID.aes192CBC: keyLength = 24
            case OID.aes256CBC: keyLength = 32
            default: throw Failure.unsupported("the cipher \(cipher) is not supported (only AES-CBC)")
            }
            let iv = try ASN1OctetString(derEncoded: &nodes)
            guard iv.bytes.count == 16 else { throw Failure.malformed }
            return (keyLength, Array(iv.bytes))
        }
    }

    private static func prfIdentifier(_ prf: PRF) -> ASN1ObjectIdentifier {
        switch prf {
        case .sha1: OID.hmacWithSHA1
        case .sha256: OID.hmacWithSHA256
        case .sha384: OID.hmacWithSHA384
        case .sha512: OID.hmacWithSHA512
        }
    }

    private static func cipherIdentifier(keyLength: Int) throws -> ASN1ObjectIdentifier {
        switch keyLength {
        case 16: return OID.aes128CBC
        case 24: return OID.aes192CBC
        case 32: return OID.aes256CBC
        default: throw Failure.unsupported("AES keys have 16, 24 or 32 bytes")
        }
    }
}
