import Crypto
import Foundation

/// Generation, hashing and comparison of high-entropy secrets (tokens, client secrets).
///
/// Secrets come from the system CSPRNG, are shown to their owner once, and are stored
/// only as their SHA-256 (hex). Comparisons run in constant time.
public enum Secrets {
    /// A random token: `prefix` followed by `byteCount` CSPRNG bytes in base64url (no padding).
    public static func token(prefix: String = "", byteCount: Int = 32) -> String {
        prefix + base64URL(randomBytes(byteCount))
    }

    /// `count` bytes from the system CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        // BoringSSL's CSPRNG (seeded from the kernel): one call, no system call per byte.
        return SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
    }

    /// A random string of `length` characters drawn uniformly from `alphabet`.
    public static func randomString(length: Int, alphabet: [Character]) -> String {
        precondition(!alphabet.isEmpty)
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// SHA-256 of the secret's UTF-8 bytes, as lower-case hex: what the store keeps.
    public static func hash(_ secret: String) -> String {
        hex(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Compares two byte sequences in time that depends only on their lengths.
    public static func constantTimeEquals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// Whether `secret` hashes to `storedHash`, compared in constant time.
    public static func matches(_ secret: String, hash storedHash: String) -> Bool {
        constantTimeEquals(Array(hash(secret).utf8), Array(storedHash.utf8))
    }

    /// Lower-case hex of a byte sequence.
    public static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// base64url without padding.
    public static func base64URL<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out: [UInt8] = []
        for byte in Data(bytes).base64EncodedData() {
            switch byte {
            case UInt8(ascii: "+"): out.append(UInt8(ascii: "-"))
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "_"))
            case UInt8(ascii: "="): continue
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
