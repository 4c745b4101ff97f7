import Crypto
import CryptoExtras
import Foundation

/// Signatures of onboarding requests (`X-Agrirouter-Signature`) and of the authorization redirect:
/// RSASSA-PKCS1-v1_5 with SHA-256 over the exact raw bytes.
///
/// Verify against the bytes as received: never re-serialize a body before checking its signature.
/// Verifying needs no ``Offload`` (well under a millisecond with a 2048-bit key); signing takes a
/// few milliseconds at most.
public enum RequestSignature {
    /// Whether `hexSignature` (hex, lower- or upper-case, exactly one signature long) signs `body`
    /// under `publicKey`. Malformed signatures (odd length, non-hex characters, wrong length) are
    /// simply not valid.
    public static func verify(body: some Collection<UInt8>, hexSignature: String, publicKey: RSAPublicKey) -> Bool {
        guard let signature = decodeHex(hexSignature) else { return false }
        return verify(body: body, signature: signature, publicKey: publicKey)
    }

    /// Whether `base64Signature` (base64 or base64url, padding optional) signs `body` under `publicKey`,
    /// as the `signature` of the authorization redirect over `state` followed by `token`.
    public static func verify(body: some Collection<UInt8>, base64Signature: String, publicKey: RSAPublicKey) -> Bool {
        guard let signature = decodeBase64(base64Signature) else { return false }
        return verify(body: body, signature: signature, publicKey: publicKey)
    }

    /// Whether the raw `signature` bytes sign `body` under `publicKey`.
    public static func verify(body: some Collection<UInt8>, signature: [UInt8], publicKey: RSAPublicKey) -> Bool {
        guard signature.count == (publicKey.bitCount + 7) / 8 else { return false }
        return publicKey.key.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: digest(body), padding: .insecurePKCS1v1_5)
    }

    /// Signs `body` and answers the signature in lower-case hex, as `X-Agrirouter-Signature` carries it.
    public static func sign(body: some Collection<UInt8>, privateKey: RSAPrivateKey) throws(GatehouseError) -> String {
        Secrets.hex(try signature(body: body, privateKey: privateKey))
    }

    /// Signs `body` and answers the signature in standard base64, as the authorization redirect's
    /// `signature` parameter carries it (sign `state` followed by `token`; URL-encode the result).
    public static func signBase64(body: some Collection<UInt8>, privateKey: RSAPrivateKey) throws(GatehouseError) -> String {
        Data(try signature(body: body, privateKey: privateKey)).base64EncodedString()
    }

    /// Signs `body` and answers the raw signature bytes.
    public static func signature(body: some Collection<UInt8>, privateKey: RSAPrivateKey) throws(GatehouseError) -> [UInt8] {
        do {
            return Array(try privateKey.key.signature(for: digest(body), padding: .insecurePKCS1v1_5).rawRepresentation)
        } catch {
            throw GatehouseError(.internal, "the body could not be signed")
        }
    }

    // MARK: Helpers

    private static func digest(_ body: some Collection<UInt8>) -> SHA256.Digest {
        body.withContiguousStorageIfAvailable { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
            ?? SHA256.hash(data: Array(body))
    }

    /// The bytes of a hex string (either case), or `nil` for odd length or any other character.
    static func decodeHex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    /// The bytes of base64 or base64url text, padded or not, or `nil`.
    static func decodeBase64(_ text: String) -> [UInt8]? {
        var normalized = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        if normalized.utf8.count % 4 != 0 { normalized += String(repeating: "=", count: 4 - normalized.utf8.count % 4) }
        return Data(base64Encoded: normalized).map(Array.init)
    }
}
