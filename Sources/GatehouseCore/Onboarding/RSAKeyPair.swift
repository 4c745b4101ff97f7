/// A freshly generated RSA key pair for an application, in the forms an application registers
/// (public key as SPKI PEM) and keeps (private key as PKCS#8 PEM).
public struct RSAKeyPair: Sendable {
    /// The private key. Secret.
    public let privateKey: RSAPrivateKey
    /// The public key.
    public var publicKey: RSAPublicKey { privateKey.publicKey }
    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    public var publicKeyPEM: String { publicKey.pemRepresentation }
    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Secret.
    public var privateKeyPEM: String { privateKey.pemRepresentation }

    /// Generates an RSA key pair (2048 bits unless told otherwise); see ``RSAPrivateKey/generate(bits:)``.
    public static func generate(bits: Int = 2_048) throws(GatehouseError) -> RSAKeyPair {
        RSAKeyPair(privateKey: try RSAPrivateKey.generate(bits: bits))
    }
}
