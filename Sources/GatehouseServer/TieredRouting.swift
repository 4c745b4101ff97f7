import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

extension GatehouseApp {
    /// The principal behind `Authorization: LKey|Acc|SI …`, or `unauthenticated`.
    func tieredPrincipal(_ request: Request) async throws -> TieredPrincipal {
        guard let header = request.headers[.authorization] else {
            throw GatehouseError(.unauthenticated, "an Authorization header is required: LKey <license key>, Acc <channel token> or SI <group token>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { throw GatehouseError(.unauthenticated, "the Authorization header must be '<scheme> <credential>'") }
        var credential = parts[1]
        while let first = credential.first, first == " " || first == "\t" { credential.removeFirst() }
        while let last = credential.last, last == " " || last == "\t" { credential.removeLast() }
        return try await tiered.authenticate(scheme: String(parts[0]), credential: String(credential))
    }

    /// Runs a handler for one credential tier, then counts the call (refused ones too, once
    /// the credential is known) and the bytes served against the caller's account.
    func tieredCall(_ request: Request, _ handler: (TieredPrincipal) async throws -> Response) async throws -> Response {
        let principal = try await tieredPrincipal(request)
        do {
            let response = try await handler(principal)
            usage.record(account: principal.account.accountId, bytes: response.body.contentLength ?? 0)
            return response
        } catch {
            usage.record(account: principal.account.accountId, bytes: 0)
            throw error
        }
    }

    /// An LKey caller (the account's back end); other tiers get `forbidden`.
    static func account(_ principal: TieredPrincipal) throws -> AccountPrincipal {
        guard case .account(let account) = principal else { throw GatehouseError(.forbidden, "this API needs a license key (Authorization: LKey)") }
        return account
    }

    /// An Acc caller (one channel's front end).
    static func channel(_ principal: TieredPrincipal) throws -> ChannelPrincipal {
        guard case .channel(let channel) = principal else { throw GatehouseError(.forbidden, "this API needs a channel token (Authorization: Acc)") }
        return channel
    }

    /// An SI caller (a group's front end).
    static func group(_ principal: TieredPrincipal) throws -> GroupPrincipal {
        guard case .group(let group) = principal else { throw GatehouseError(.forbidden, "this API needs a group token (Authorization: SI)") }
        return group
    }

    /// `limit` and `offset` query parameters.
    static func offsetPaging(_ request: Request) throws -> (limit: Int?, offset: Int?) {
        func int(_ name: String) throws -> Int? {
            guard let text = request.query(name), !text.isEmpty else { return nil }
            guard let value = Int(text) else { throw GatehouseError.invalid(name, "\(name) must be an integer") }
            return value
        }
        return (try int("limit"), try int("offset"))
    }

    /// Channel settings from a create or edit body.
    static func channelSettings(_ body: TieredBody) throws -> ChannelSettings {
        let source = try body.object("source")
        var mode: RecordingMode?
        if let text = try body.string("rec_mode") {
            guard let parsed = RecordingMode(rawValue: text) else { throw GatehouseError.invalid("rec_mode", "rec_mode must be on, off or by_event") }
            mode = parsed
        }
        return ChannelSettings(
            name: try body.string("name"), timezone: try body.string("timezone"), recMode: mode,
            sourceURL: try source?.string("url", field: "source.url"), sourceLogin: try source?.string("login", field: "source.login"),
            sourcePassword: try source?.string("password", field: "source.password"), meta: try body.stringMap("meta"))
    }

    /// Lists events for a principal with the query's filters (`channel_id`, `type`, `start`, `end`, `limit`, `offset`).
    func listEvents(_ request: Request, _ principal: TieredPrincipal, channelId: Int64?, path: String) async throws -> Response {
        let paging = try Self.offsetPaging(request)
        let start = try request.query("start").map { try TieredJSON.parseTime($0, field: "start") }
        let end = try request.query("end").map { try TieredJSON.parseTime($0, field: "end") }
        let type = request.query("type").flatMap { $0.isEmpty ? nil : $0 }
        let page = try await tiered.events(principal, channelId: channelId, type: type, start: start, end: end, limit: paging.limit, offset: paging.offset)
        var query = ""
        for name in ["channel_id", "type", "start", "end"] {
            if let value = request.query(name) { query += "&\(name)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
        }
        return try TieredJSON.list(page, path: path, query: query, TieredPresentation.event)
    }

    /// Stores an event from `{type, time?, payload?}`.
    func postEvent(_ request: Request, _ principal: TieredPrincipal, channelId: Int64) async throws -> Response {
        let body = try await TieredBody.read(request, limit: min(configuration.maxBodySize, 128 * 1024))
        guard let type = try body.string("type") else { throw GatehouseError.invalid("type", "type is required") }
        var time: Int64?
        if let number = try? body.int("time") { time = number } else if let text = try body.string("time") { time = try TieredJSON.parseTime(text, field: "time") }
        let event = try await tiered.addEvent(principal, channelId: channelId, type: type, time: time, payload: try body.jsonText("payload") ?? "{}")
        return try TieredJSON.response(TieredPresentation.event(event), status: .created)
    }
}
