import Foundation

/// What `/api/v4/live/watch/` answers a channel token: the channel's own stream source and
/// the URLs of the account's external media server built from its templates.
public struct LiveWatch: Sendable, Hashable {
    public struct Source: Sendable, Hashable {
        /// The camera's URL without user name or password.
        public var url: String
        /// The configured login (only to an `all` token).
        public var login: String?
        public var hasPassword: Bool
    }

    public var channelId: Int64
    public var access: ChannelAccess
    public var sources: [Source]
    /// Template name → URL.
    public var urls: [String: String]
}

/// Live-video URL templates of a license-key account (issue 9 point 5).
///
/// A template is a URL of the media server with placeholders: `{channel_id}`, `{account_id}`,
/// `{access}` and `{token}` (the caller's own `Acc` token, percent-encoded, which the media
/// server can check with `GET /api/v4/channel/`). No token ever receives the camera's
/// password: it stays between the back end (LKey) and Gatehouse, so a front end cannot reach
/// the camera around the media server. An `all` token also sees the source's login.
public enum LiveTemplates {
    public static let placeholders: Set<String> = ["channel_id", "account_id", "access", "token"]
    public static let schemes: Set<String> = ["rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "ws", "wss", "srt"]

    /// Checks a set of templates: at most 8, names of 1-32 `a-z 0-9 _ -`, URLs of a known
    /// scheme, at most 1024 bytes, with only known placeholders.
    public static func validate(_ templates: [String: String]) throws(GatehouseError) -> [String: String] {
        guard templates.count <= 8 else { throw .invalid("url_templates", "at most 8 templates") }
        for (name, template) in templates {
            let field = "url_templates.\(name)"
            guard (1...32).contains(name.utf8.count), name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f || $0 == 0x2d }) else {
                throw .invalid("url_templates", "template names are 1-32 characters of a-z, 0-9, '_' or '-'")
            }
            guard template.utf8.count <= 1024, template.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7f }),
                  let colon = template.range(of: "://"), schemes.contains(template[..<colon.lowerBound].lowercased()) else {
                throw .invalid(field, "\(field) must be a URL of \(schemes.sorted().joined(separator: ", ")), without spaces, at most 1024 bytes")
            }
            var rest = Substring(template)
            while let open = rest.firstIndex(of: "{") {
                guard let close = rest[open...].firstIndex(of: "}") else { throw .invalid(field, "\(field) has an unclosed '{'") }
                let name = String(rest[rest.index(after: open)..<close])
                guard placeholders.contains(name) else {
                    throw .invalid(field, "\(field): unknown placeholder {\(name)}; use \(placeholders.sorted().map { "{\($0)}" }.joined(separator: ", "))")
                }
                rest = rest[rest.index(after: close)...]
            }
        }
        return templates
    }

    /// A template with its placeholders filled in.
    public static func render(_ template: String, channelId: Int64, accountId: Int64, access: ChannelAccess, token: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return template
            .replacingOccurrences(of: "{channel_id}", with: String(channelId))
            .replacingOccurrences(of: "{account_id}", with: String(accountId))
            .replacingOccurrences(of: "{access}", with: access.rawValue)
            .replacingOccurrences(of: "{token}", with: token.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
    }

    /// A source URL without its user name and password (nil when it cannot be parsed).
    public static func withoutCredentials(_ url: String) -> String? {
        guard let colon = url.range(of: "://") else { return nil }
        let afterScheme = url[colon.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<colon.upperBound]) + String(authority[authority.index(after: at)...]) + String(afterScheme[authorityEnd...])
    }
}

extension MediaLibrary {
    /// The live-video answer for a channel token (`token` is the caller's encoded `Acc` token).
    public func liveWatch(_ caller: TieredPrincipal, token: String) async throws -> LiveWatch {
        guard case .channel(let principal) = caller else { throw GatehouseError(.forbidden, "this API needs a channel token (Authorization: Acc)") }
        let channel = try await tiered.readableChannel(caller, id: principal.channelId)
        var sources: [LiveWatch.Source] = []
        if let url = channel.sourceURL, let bare = LiveTemplates.withoutCredentials(url) {
            sources.append(LiveWatch.Source(url: bare, login: principal.access == .all ? channel.sourceLogin : nil,
                                            hasPassword: channel.sourcePasswordSealed != nil))
        }
        let templates = try await store.liveTemplates(accountId: channel.accountId)
        var urls: [String: String] = [:]
        for (name, template) in templates {
            urls[name] = LiveTemplates.render(template, channelId: channel.id, accountId: channel.accountId, access: principal.access, token: token)
        }
        return LiveWatch(channelId: channel.id, access: principal.access, sources: sources, urls: urls)
    }

    /// The account's templates (LKey).
    public func liveTemplates(_ account: AccountPrincipal) async throws -> [String: String] {
        try await store.liveTemplates(accountId: account.accountId)
    }

    /// Replaces the account's templates (LKey); an empty set removes them.
    public func setLiveTemplates(_ account: AccountPrincipal, _ templates: [String: String]) async throws -> [String: String] {
        let templates = try LiveTemplates.validate(templates)
        try await store.setLiveTemplates(accountId: account.accountId, templates: templates, at: clock.now(),
                                         audit: AuditIntent(actor: TieredAccess.actor(.account(account)), detail: "live url templates"))
        return templates
    }
}
