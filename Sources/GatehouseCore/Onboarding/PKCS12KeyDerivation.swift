import Crypto
import Foundation

/// The PKCS#12 key derivation function (RFC 7292 appendix B.2) with SHA-256.
///
/// Only the integrity MAC of a PKCS#12 file still uses it (ID 3); the key and certificates
/// are encrypted with PBES2 instead.
enum PKCS12KeyDerivation {
    /// What the derived bytes are for (RFC 7292 B.3).
    enum Purpose: UInt8 {
        case encryptionKey = 1
        case initializationVector = 2
        case macKey = 3
    }

    /// The password as PKCS#12 wants it: a BMPString, UTF-16 big-endian, followed by two zero bytes.
    static func bmpPassword(_ password: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(password.utf16.count * 2 + 2)
        for unit in password.utf16 {
            bytes.append(UInt8(unit >> 8))
            bytes.append(UInt8(unit & 0xff))
        }
        return bytes + [0, 0]
    }

    /// Derives `count` bytes from a BMP-encoded `password` and `salt` with `iterations` rounds of SHA-256.
    static func derive(password: [UInt8], salt: [UInt8], purpose: Purpose, iterations: Int, count: Int) -> [UInt8] {
        let v = SHA256.blockByteCount  // 64
        let diversifier = [UInt8](repeating: purpose.rawValue, count: v)
        func fill(_ bytes: [UInt8]) -> [UInt8] {
            guard !bytes.isEmpty else { return [] }
            let length = v * ((bytes.count + v - 1) / v)
            return (0..<length).map { bytes[$0 % bytes.count] }
        }
        var input = fill(salt) + fill(password)
        var output: [UInt8] = []
        while true {
            var digest = SHA256.hash(data: diversifier + input)
            for _ in 1..<max(iterations, 1) { digest = digest.withUnsafeBytes { SHA256.hash(data: $0) } }
            let block = Array(digest)
            output += block
            if output.count >= count { return Array(output.prefix(count)) }
            // I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I, where B is the block repeated to v bytes.
            let b = fill(block)
            for start in stride(from: 0, to: input.count, by: v) {
                var carry: UInt16 = 1
                for k in (0..<v).reversed() {
                    let sum = UInt16(input[start + k]) + UInt16(b[k]) + carry
                    input[start + k] = UInt8(sum & 0xff)
                    carry = sum >> 8
                }
            }
        }
    }
}
