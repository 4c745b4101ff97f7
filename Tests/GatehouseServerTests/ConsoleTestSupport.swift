import Foundation
import GatehouseCore
import GatehouseServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

extension TestApp {
    /// A test application over an explicit configuration (e.g. with `publicURL`).
    init(configuration: GatehouseConfiguration) {
        self.configuration = configuration
    }
}

/// A tiny browser for console router tests: keeps cookies like a browser does (per name,
/// dropped at `Max-Age=0`), remembers the last page, and posts forms with the page's `csrf`
/// field unless told otherwise.
struct ConsoleBrowser {
    let client: TestApp.Client
    var cookies: [String: String] = [:]
    /// The text of the last page received.
    var page = ""

    init(_ client: TestApp.Client) { self.client = client }

    /// The `csrf` value of the last page that had a form (error pages have none).
    private(set) var formToken: String?

    /// GET `path` with the cookies; records the page and any cookies set.
    @discardableResult
    mutating func get(_ path: String, headers extra: HTTPFields = [:]) async throws -> TestApp.Client.Answer {
        var headers = extra
        if let cookie = cookieHeader { headers[.cookie] = cookie }
        let answer = try await client.raw(.get, path, headers: headers)
        absorb(answer)
        return answer
    }

    /// POSTs `fields` form-encoded with the cookies; `csrf` is the last page's unless `csrf` is
    /// given (`.some(nil)` sends none).
    @discardableResult
    mutating func post(_ path: String, _ fields: [(String, String)] = [], csrf: String?? = .none, headers extra: HTTPFields = [:]) async throws
        -> TestApp.Client.Answer {
        var headers = extra
        headers[.contentType] = "application/x-www-form-urlencoded"
        if let cookie = cookieHeader { headers[.cookie] = cookie }
        var all = fields
        switch csrf {
        case .none: if let token = formToken { all.append(("csrf", token)) }
        case .some(.some(let token)): all.append(("csrf", token))
        case .some(.none): break
        }
        let body = all.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        let answer = try await client.raw(.post, path, headers: headers, body: body)
        absorb(answer)
        return answer
    }

    /// Signs in through the form; answers the POST's answer (303 on success), after following
    /// the redirects to the user's first page (so `formToken` is the session's).
    @discardableResult
    mutating func signIn(_ email: String, _ password: String = "correct horse") async throws -> TestApp.Client.Answer {
        try await get("/console/sign-in")
        let answer = try await post("/console/sign-in", [("email", email), ("password", password)])
        var next = answer
        for _ in 0..<3 {
            guard next.status == .seeOther, let location = next.headers[.location] else { break }
            next = try await get(location)
        }
        return answer
    }

    /// The `Set-Cookie` values of an answer.
    static func setCookies(_ answer: TestApp.Client.Answer) -> [String] {
        answer.headers[values: .setCookie]
    }

    var cookieHeader: String? {
        cookies.isEmpty ? nil : cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
    }

    mutating func absorb(_ answer: TestApp.Client.Answer) {
        for line in Self.setCookies(answer) {
            let pair = line.split(separator: ";", maxSplits: 1)[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(pair[0]), value = pair.count > 1 ? String(pair[1]) : ""
            if line.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        if answer.headers[.contentType]?.hasPrefix("text/html") == true {
            page = answer.text
            if let token = Self.firstMatch(#"name="csrf" value="([^"]*)""#, in: page) { formToken = token }
        }
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }

    /// The first capture group of `pattern` in `text`.
    static func firstMatch(_ pattern: String, in text: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]),
              let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), match.numberOfRanges > 1,
              let range = Range(match.range(at: 1), in: text) else { return nil }
        return String(text[range])
    }

    /// Every first capture group of `pattern` in `text`.
    static func allMatches(_ pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]) else { return [] }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }
}

/// A reseller with an account (a user and a camera preset) and a second account with its own
/// user: the usual world of the console's tests.
struct ConsoleWorld {
    let reseller: Int64
    let account: Int64
    let other: Int64
    let preset: Int64

    static let user = "owner@home.example"
    static let otherUser = "owner@elsewhere.example"

    static func make(_ client: TestApp.Client) async throws -> ConsoleWorld {
        let reseller = try await client.createTenant(kind: "reseller", parent: 1, name: "Res")
        let account = try await client.createTenant(kind: "account", parent: reseller, name: "Home & Garden")
        let other = try await client.createTenant(kind: "account", parent: reseller, name: "Elsewhere")
        _ = try await client.createUser(tenant: account, email: user)
        _ = try await client.createUser(tenant: other, email: otherUser)
        let preset = try await client.admin(.post, "/v1/tenants/\(account)/presets", json: #"{"title":"Indoor","settings":{}}"#)
        #expect(preset.status == .created, "\(preset.text)")
        _ = try await client.admin(.post, "/v1/tenants/\(other)/presets", json: #"{"title":"Outdoor","settings":{}}"#)
        return ConsoleWorld(reseller: reseller, account: account, other: other, preset: try #require(preset.id))
    }

    var devices: String { "/console/accounts/\(account)/devices" }
    var otherDevices: String { "/console/accounts/\(other)/devices" }
}
