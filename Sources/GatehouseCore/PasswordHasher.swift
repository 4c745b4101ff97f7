import Crypto
import CryptoExtras
import Foundation

/// Slow, salted password hashing with PBKDF2-HMAC-SHA256.
///
/// Hashes are stored as `pbkdf2-sha256$<rounds>$<salt base64>$<hash base64>`, so the
/// round count can be raised later and old hashes still verify.
public struct PasswordHasher: Sendable {
    /// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
    public static let defaultRounds = 600_000
    /// Rounds used by test fixtures; never the default of a server.
    public static let minimumRounds = 1_000

    public let rounds: Int

    /// A hasher that makes new hashes with `rounds` iterations.
    public init(rounds: Int = PasswordHasher.defaultRounds) {
        self.rounds = max(rounds, Self.minimumRounds)
    }

    /// Hashes a password with a fresh 16-byte salt.
    public func hash(_ password: String) -> String {
        let salt = Secrets.randomBytes(16)
        let derived = Self.derive(password, salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(Data(salt).base64EncodedString())$\(Data(derived).base64EncodedString())"
    }

    /// Checks a password against a stored hash, in constant time. Malformed hashes never verify.
    public func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256",
              let rounds = Int(parts[1]), rounds >= Self.minimumRounds, rounds <= 10_000_000,
              let salt = Data(base64Encoded: String(parts[2])),
              let expected = Data(base64Encoded: String(parts[3])), expected.count == 32
        else { return false }
        let derived = Self.derive(password, salt: Array(salt), rounds: rounds)
        return Secrets.constantTimeEquals(derived, Array(expected))
    }

    /// A password hash that no password matches, used to keep timing equal for unknown users.
    public var dummyHash: String { "pbkdf2-sha256$\(rounds)$AAAAAAAAAAAAAAAAAAAAAA==$\(Data(count: 32).base64EncodedString())" }

    static func derive(_ password: String, salt: [UInt8], rounds: Int) -> [UInt8] {
        // `unsafeUncheckedRounds` only lifts the library's lower bound; the bound we enforce
        // is `minimumRounds`, so that test fixtures can use cheap hashes.
        guard let key = try? KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: rounds)
        else { return Secrets.randomBytes(32) }  // never matches a stored hash
        return key.withUnsafeBytes { Array($0) }
    }
}
