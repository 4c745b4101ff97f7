import Foundation
import SwiftASN1

/// Private keys encrypted with a password: PKCS#8 `EncryptedPrivateKeyInfo` (RFC 5958) with PBES2.
///
/// Gatehouse writes PBKDF2-HMAC-SHA256 (random 16-byte salt, ``defaultIterations`` unless told
/// otherwise) and AES-256-CBC (random 16-byte IV), the scheme `openssl pkcs8 -topk8 -v2 aes-256-cbc
/// -v2prf hmacWithSHA256` writes; `openssl pkey -passin …` and every TLS stack read it. The password
/// is taken as its UTF-8 bytes, as openssl 3 does.
///
/// Encrypting and decrypting cost one PBKDF2 run each (about 10 ms at the default count, measured
/// in a debug build on a busy machine): on a request path, run them through ``Offload``.
public enum EncryptedPrivateKey {
    /// The default PBKDF2 iteration count, 10,000.
    ///
    /// The key travels to its device once, protected by a random high-entropy secret, so the count
    /// only has to slow down guessing of that secret, not of a human password; 10,000 keeps one
    /// onboarding cheap (openssl's own default is 2,048; OWASP's 600,000 for stored human passwords
    /// would cost a quarter of a second per onboarding).
    public static let defaultIterations = 10_000

    /// The PEM label of an encrypted PKCS#8 key.
    public static let pemLabel = "ENCRYPTED PRIVATE KEY"

    /// Encrypts a PKCS#8 `PrivateKeyInfo` (for example `P256.Signing.PrivateKey.derRepresentation`)
    /// and answers the DER of the `EncryptedPrivateKeyInfo`.
    ///
    /// Throws `validation_failed` when `privateKeyDER` is not a PKCS#8 key or `iterations` is out of range.
    public static func encrypt(
        privateKeyDER: some Collection<UInt8>, password: String, iterations: Int = defaultIterations
    ) throws(GatehouseError) -> [UInt8] {
        let plaintext = Array(privateKeyDER)
        guard isPrivateKeyInfo(plaintext) else {
            throw .invalid("privateKey", "the private key is not a PKCS#8 PrivateKeyInfo")
        }
        return try encryptedPrivateKeyInfo(plaintext, password: Array(password.utf8), iterations: iterations)
    }

    /// Encrypts a PKCS#8 `PrivateKeyInfo` and answers it as PEM: `-----BEGIN ENCRYPTED PRIVATE KEY-----`,
    /// base64 in lines of 64 characters, ending with a newline.
    public static func encryptPEM(
        privateKeyDER: some Collection<UInt8>, password: String, iterations: Int = defaultIterations
    ) throws(GatehouseError) -> String {
        let der = try encrypt(privateKeyDER: privateKeyDER, password: password, iterations: iterations)
        return PEMDocument(type: pemLabel, derBytes: der).pemString + "\n"
    }

    /// Decrypts an `EncryptedPrivateKeyInfo` in DER and answers the PKCS#8 `PrivateKeyInfo` DER.
    ///
    /// Reads PBES2 with PBKDF2 (HMAC-SHA-1/256/384/512) and AES-128/192/256-CBC, as written by Gatehouse
    /// and by openssl. Throws `unauthenticated` when the password is wrong, `validation_failed` when
    /// the data is not an encrypted key or uses another scheme.
    public static func decrypt(der: some Collection<UInt8>, password: String) throws(GatehouseError) -> [UInt8] {
        let encrypted: (scheme: PBES2, ciphertext: ArraySlice<UInt8>)
        do {
            encrypted = try DER.sequence(try DER.parse(Array(der)), identifier: .sequence) { nodes in
                guard let algorithm = nodes.next() else { throw PBES2.Failure.malformed }
                let scheme = try PBES2(derEncoded: algorithm)
                let data = try ASN1OctetString(derEncoded: &nodes)
                return (scheme, data.bytes)
            }
        } catch PBES2.Failure.unsupported(let reason) {
            throw .invalid("encryptedPrivateKey", "unsupported encryption: \(reason)")
        } catch {
            throw .invalid("encryptedPrivateKey", "the data is not a PKCS#8 EncryptedPrivateKeyInfo")
        }
        let plaintext: [UInt8]
        do {
            plaintext = try encrypted.scheme.decrypt(encrypted.ciphertext, password: Array(password.utf8))
        } catch .wrongPassword {
            throw wrongPassword
        } catch {
            throw .invalid("encryptedPrivateKey", "the encrypted data is damaged")
        }
        // CBC padding alone lets about one wrong password in 256 through; the plaintext must also be a key.
        guard isPrivateKeyInfo(plaintext) else { throw wrongPassword }
        return plaintext
    }

    /// Decrypts the `ENCRYPTED PRIVATE KEY` block of a PEM text (other blocks, such as the certificate that
    /// follows the key in an onboarding answer, are skipped) and answers the PKCS#8 `PrivateKeyInfo` DER.
    public static func decrypt(pem: String, password: String) throws(GatehouseError) -> [UInt8] {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: pem)
        } catch {
            throw .invalid("encryptedPrivateKey", "the text is not valid PEM")
        }
        guard let document = documents.first(where: { $0.discriminator == pemLabel }) else {
            if documents.contains(where: { $0.discriminator.hasSuffix("PRIVATE KEY") }) {
                throw .invalid("encryptedPrivateKey", "the private key is not encrypted")
            }
            throw .invalid("encryptedPrivateKey", "the text holds no \(pemLabel) block")
        }
        return try decrypt(der: document.derBytes, password: password)
    }

    // MARK: Shared with PKCS#12

    static let wrongPassword = GatehouseError(.unauthenticated, "the password does not decrypt the private key")

    /// The DER of an `EncryptedPrivateKeyInfo` for a checked PKCS#8 key; `password` in the bytes PBKDF2 takes.
    static func encryptedPrivateKeyInfo(_ privateKeyInfo: [UInt8], password: [UInt8], iterations: Int) throws(GatehouseError) -> [UInt8] {
        let scheme = try scheme(iterations: iterations)
        do {
            let ciphertext = try scheme.encrypt(privateKeyInfo, password: password)
            var coder = DER.Serializer()
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(scheme)
                try coder.serialize(ASN1OctetString(contentBytes: ciphertext[...]))
            }
            return coder.serializedBytes
        } catch {
            throw GatehouseError(.internal, "the private key could not be encrypted")
        }
    }

    /// Fresh PBES2 parameters, after checking the iteration count.
    static func scheme(iterations: Int) throws(GatehouseError) -> PBES2 {
        guard iterations >= 1, iterations <= PBES2.maximumIterations else {
            throw .invalid("iterations", "the iteration count must be between 1 and \(PBES2.maximumIterations)")
        }
        return PBES2.random(iterations: iterations)
    }

    /// Whether `bytes` is one DER `PrivateKeyInfo`: SEQUENCE { INTEGER version, AlgorithmIdentifier, OCTET STRING, … }.
    static func isPrivateKeyInfo(_ bytes: [UInt8]) -> Bool {
        guard let root = try? DER.parse(bytes), root.identifier == .sequence, case .constructed(let children) = root.content
        else { return false }
        var nodes = children.makeIterator()
        guard let version = nodes.next(), version.identifier == .integer,
              let algorithm = nodes.next(), algorithm.identifier == .sequence,
              let key = nodes.next(), key.identifier == .octetString
        else { return false }
        return true
    }
}
