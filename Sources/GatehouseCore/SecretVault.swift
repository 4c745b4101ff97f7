import Crypto
import Foundation

/// Seals secrets that Gatehouse must be able to show again later — license keys, channel
/// and group tokens, camera source passwords — with the node's master key (AES-256-GCM).
///
/// Secrets that only need checking are stored as hashes; the seed's super-admin API must
/// *retrieve* license keys and the admin API must return a channel's tokens, so those are
/// also stored sealed. Each sealed value is bound to a context (its purpose and lookup
/// hash) as authenticated data, so a sealed value copied to another row does not open.
/// All nodes of one database share the master key; ``checkValue`` lets a node detect a
/// different key before it serves anything.
public struct SecretVault: Sendable {
    private let key: SymmetricKey

    /// A vault over 32 bytes of key material; anything else is refused.
    public init(keyData: Data) throws(GatehouseError) {
        guard keyData.count == 32 else { throw GatehouseError(.invalidRequest, "the master key must be 32 bytes (base64 in its file)") }
        key = SymmetricKey(data: keyData)
    }

    /// 32 fresh CSPRNG bytes for a new master key.
    public static func generateKeyData() -> Data { Data(Secrets.randomBytes(32)) }

    /// A key file's text (base64 of 32 bytes) as key material.
    public static func keyData(fromFileText text: String) throws(GatehouseError) -> Data {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else {
            throw GatehouseError(.invalidRequest, "the master key file must hold 32 bytes in base64")
        }
        return data
    }

    /// `plaintext` sealed for `context`: `v1.` + base64 of nonce, ciphertext and tag.
    public func seal(_ plaintext: String, context: String) throws -> String {
        let box = try AES.GCM.seal(Array(plaintext.utf8), using: key, authenticating: Array(context.utf8))
        guard let combined = box.combined else { throw GatehouseError(.internal, "sealing failed") }
        return "v1." + combined.base64EncodedString()
    }

    /// The plaintext of a value sealed for `context`; `internal_error` if it does not open
    /// (another master key, or a value moved between rows).
    public func open(_ sealed: String, context: String) throws(GatehouseError) -> String {
        guard sealed.hasPrefix("v1."), let data = Data(base64Encoded: String(sealed.dropFirst(3))),
              let box = try? AES.GCM.SealedBox(combined: data),
              let plain = try? AES.GCM.open(box, using: key, authenticating: Array(context.utf8))
        else { throw GatehouseError(.internal, "a sealed secret does not open with this master key") }
        return String(decoding: plain, as: UTF8.self)
    }

    /// A value derived from the key that identifies it without revealing it (HMAC-SHA256, hex).
    public var checkValue: String {
        Secrets.hex(HMAC<SHA256>.authenticationCode(for: Array("gatehouse master key check v1".utf8), using: key))
    }
}
