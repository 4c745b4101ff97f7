import Foundation
import GatehouseCore

/// The QR image link of a just-issued activation token.
///
/// The image is an `<img>` the console serves itself (same origin), so its URL has to carry
/// the Wi-Fi name and password the user typed. They travel sealed with the master key
/// (AES-256-GCM, as the vault seals every retrievable secret), bound to the session that
/// asked (the sealed value opens only with that session's cookie) and to an expiry, so the
/// URL shows nothing in a log or history, works on every node, and needs no storage.
enum ConsoleQR {
    /// How long the image link works, in seconds.
    static let lifetime: Int64 = 3600

    struct Content: Codable, Sendable {
        let ssid: String
        let password: String
        let operatorId: Int64
        let token: String
        let expiresAt: Int64
    }

    static func context(session: ConsoleSession) -> String { "console-qr:" + Secrets.hash(session.token) }

    /// The image URL for `content`, sealed for `session`.
    static func url(_ content: Content, session: ConsoleSession, vault: SecretVault) throws -> String {
        let json = String(decoding: try JSONEncoder().encode(content), as: UTF8.self)
        let sealed = try vault.seal(json, context: context(session: session))
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        return ConsolePaths.qr + "?d=" + (sealed.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
    }

    /// The content of a sealed link, if it was sealed for `session` and has not expired.
    static func open(_ sealed: String, session: ConsoleSession, vault: SecretVault, now: Int64) -> Content? {
        guard sealed.utf8.count <= 4096, let json = try? vault.open(sealed, context: context(session: session)),
              let content = try? JSONDecoder().decode(Content.self, from: Data(json.utf8)), content.expiresAt > now
        else { return nil }
        return content
    }
}
