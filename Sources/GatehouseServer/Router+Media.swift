import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

extension GatehouseApp {
    /// Images and clips (issue 9 point 4): devices upload with their own credential
    /// (`Authorization: Agent <id>:<key>` or `X-Exosite-CIK`); front ends list, fetch and delete
    /// with the channel's `Acc` token; the account attaches existing devices as channels (LKey).
    func addMediaRoutes(to router: Router<GatehouseRequestContext>) {
        for kind in MediaKind.allCases {
            let plural = kind.rawValue + "s"
            router.post("/api/v1.0/device/media/\(plural)") { request, _ in
                try await mediaUpload(request, kind: kind, deviceId: try await mediaDevice(request))
            }
            router.get("/api/v4/storage/\(plural)/") { request, _ in
                try await tieredCall(request) { principal in
                    let paging = try Self.offsetPaging(request)
                    let start = try request.query("start").map { try Self.mediaTime($0, field: "start") }
                    let end = try request.query("end").map { try Self.mediaTime($0, field: "end") }
                    let page = try await media.items(principal, kind: kind, start: start, end: end, limit: paging.limit, offset: paging.offset)
                    var query = ""
                    for name in ["start", "end"] {
                        if let value = request.query(name) { query += "&\(name)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
                    }
                    return try TieredJSON.list(page, path: "/api/v4/storage/\(plural)/", query: query, Self.mediaBody)
                }
            }
            router.get("/api/v4/storage/\(plural)/:id/") { request, context in
                try await tieredCall(request) { principal in
                    try TieredJSON.response(Self.mediaBody(try await media.item(principal, kind: kind, id: try context.id())))
                }
            }
            router.get("/api/v4/storage/\(plural)/:id/download/") { request, context in
                try await tieredCall(request) { principal in
                    try mediaResponse(request, try await media.item(principal, kind: kind, id: try context.id()))
                }
            }
            router.delete("/api/v4/storage/\(plural)/:id/") { request, context in
                try await tieredCall(request) { principal in
                    try await media.delete(principal, kind: kind, id: try context.id())
                    return Response(status: .noContent)
                }
            }
        }
        router.get("/api/v4/live/watch/") { request, _ in
            try await tieredCall(request) { principal in
                let token = try Self.accToken(request)
                return try TieredJSON.response(Self.liveWatchBody(try await media.liveWatch(principal, token: token)))
            }
        }
        router.get("/api/v3/live/templates/") { request, _ in
            try await tieredCall(request) { principal in
                try TieredJSON.response(["url_templates": try await media.liveTemplates(try Self.account(principal))])
            }
        }
        router.put("/api/v3/live/templates/") { request, _ in
            try await tieredCall(request) { principal in
                let account = try Self.account(principal)
                let body = try await TieredBody.read(request, limit: configuration.maxBodySize)
                guard let templates = try body.stringMap("url_templates") else { throw GatehouseError.invalid("url_templates", "url_templates is required") }
                return try TieredJSON.response(["url_templates": try await media.setLiveTemplates(account, templates)])
            }
        }
        router.get("/api/v3/devices/") { request, _ in
            try await tieredCall(request) { principal in
                let paging = try Self.offsetPaging(request)
                let page = try await media.devices(try Self.account(principal), limit: paging.limit, offset: paging.offset)
                return try TieredJSON.list(page, path: "/api/v3/devices/") { device in
                    ["id": device.id, "kind": device.kind, "name": device.name, "serial": device.serial ?? NSNull(),
                     "channel_id": device.hasChannel ? device.id : NSNull()] as [String: Any]
                }
            }
        }
        router.post("/api/v3/devices/:id/channel/") { request, context in
            try await tieredCall(request) { principal in
                let account = try Self.account(principal)
                let body = try await TieredBody.read(request, limit: configuration.maxBodySize, optional: true)
                let channel = try await media.attachChannel(account, deviceId: try context.id(), settings: try Self.channelSettings(body))
                var answer = TieredPresentation.channelCommon(channel.record)
                answer["access_tokens"] = Dictionary(uniqueKeysWithValues: channel.accessTokens.map { ($0.key.rawValue, $0.value) })
                return try TieredJSON.response(answer, status: .created)
            }
        }
    }

    /// `POST /api/v1.0/gateway/rest/media/{images|clips}/<endpointId>` on the REST gateway
    /// listener: the same upload for an onboarded endpoint, authenticated by its certificate.
    func addGatewayMediaRoutes(to router: Router<GatehouseRequestContext>) {
        for kind in MediaKind.allCases {
            router.post("/api/v1.0/gateway/rest/media/\(kind.rawValue)s/:endpointId") { request, context in
                let endpoint = try await gatewayEndpoint(context)
                guard let deviceId = endpoint.deviceId else { throw GatehouseError(.unauthenticated, "the endpoint has no device") }
                return try await mediaUpload(request, kind: kind, deviceId: deviceId)
            }
        }
    }

    /// The device behind `Authorization: Agent <id>:<key>` or `X-Exosite-CIK`.
    func mediaDevice(_ request: Request) async throws -> Int64 {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "agent" else {
                throw GatehouseError(.unauthenticated, "use Authorization: Agent <agent_id>:<agent_key>, or X-Exosite-CIK")
            }
            return try await media.device(agentCredential: parts[1].trimmingCharacters(in: .whitespaces))
        }
        if let cik = request.headers[.exositeCIK] {
            return try await media.device(cik: cik.trimmingCharacters(in: .whitespaces))
        }
        throw GatehouseError(.unauthenticated, "a device credential is required: Authorization: Agent <agent_id>:<agent_key>, or X-Exosite-CIK")
    }

    /// Streams an upload to the store; `201` with the stored item.
    func mediaUpload(_ request: Request, kind: MediaKind, deviceId: Int64) async throws -> Response {
        let time = try request.query("time").flatMap { $0.isEmpty ? nil : $0 }.map { text throws(GatehouseError) -> Int64 in
            guard let value = Int64(text) else { throw GatehouseError.invalid("time", "time must be unix seconds") }
            return value
        }
        var duration: Int64?
        if let text = request.query("duration"), !text.isEmpty {
            guard let value = Int64(text) else { throw GatehouseError.invalid("duration", "duration must be whole seconds") }
            duration = value
        } else if kind == .clip {
            throw GatehouseError.invalid("duration", "duration is required for clips")
        }
        let declared = request.headers[.contentLength].flatMap { Int64($0) }
        let item = try await media.upload(deviceId: deviceId, kind: kind, contentType: request.headers[.contentType], time: time, duration: duration,
                                          declaredLength: declared, body: request.body)
        return try TieredJSON.response(Self.mediaBody(item), status: .created)
    }

    /// An item as JSON; `url` is where its bytes are (with the same token).
    static func mediaBody(_ item: MediaItem) -> [String: Any] {
        [
            "id": item.id, "kind": item.kind.rawValue, "channel_id": item.channelId, "time": item.time, "duration": item.duration ?? NSNull(),
            "size": item.size, "content_type": item.contentType, "sha256": item.sha256, "created_at": item.createdAt,
            "url": "/api/v4/storage/\(item.kind.rawValue)s/\(item.id)/download/",
        ]
    }

    static func liveWatchBody(_ watch: LiveWatch) -> [String: Any] {
        [
            "channel_id": watch.channelId, "access": watch.access.rawValue, "urls": watch.urls,
            "sources": watch.sources.map { source -> [String: Any] in
                var body: [String: Any] = ["url": source.url, "has_password": source.hasPassword]
                if watch.access == .all { body["login"] = source.login ?? NSNull() }
                return body
            },
        ]
    }

    /// The encoded token of `Authorization: Acc <token>`.
    static func accToken(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization] else { throw GatehouseError(.unauthenticated, "an Acc token is required") }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "acc" else { throw GatehouseError(.forbidden, "this API needs a channel token (Authorization: Acc)") }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// A time filter: unix seconds or ISO 8601.
    static func mediaTime(_ text: String, field: String) throws -> Int64 {
        if let seconds = Int64(text) {
            guard seconds >= 0 else { throw GatehouseError.invalid(field, "\(field) must not be negative") }
            return seconds
        }
        do {
            return try TieredJSON.parseTime(text, field: field) / 1000
        } catch {
            throw GatehouseError.invalid(field, "\(field) must be unix seconds or an ISO 8601 time such as 2026-11-23T10:00:00Z")
        }
    }

    /// An item's bytes with its Content-Type, `ETag` (SHA-256), and one `Range` as `206`.
    func mediaResponse(_ request: Request, _ item: MediaItem) throws -> Response {
        let etag = "\"\(item.sha256)\""
        var headers: HTTPFields = [.acceptRanges: "bytes", .eTag: etag, .cacheControl: "private, max-age=3600"]
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: {
            let tag = $0.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag
        }) {
            return Response(status: .notModified, headers: headers)
        }
        let status: HTTPResponse.Status
        let first: Int64, last: Int64
        switch ByteRange.resolve(request.headers[.range], size: item.size) {
        case .whole:
            (status, first, last) = (.ok, 0, item.size - 1)
        case .partial(let from, let to):
            (status, first, last) = (.partialContent, from, to)
            headers[.contentRange] = "bytes \(from)-\(to)/\(item.size)"
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(item.size)"
            headers[.contentType] = "application/json; charset=utf-8"
            let body = JSONText.bytes(["status": 416, "errorType": "range_not_satisfiable", "errorDetail": "the range is outside the \(item.size) bytes"])
            return Response(status: .rangeNotSatisfiable, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        headers[.contentType] = item.contentType
        let length = Int(max(0, last - first + 1))
        headers[.contentLength] = String(length)
        let media = self.media
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: length) { writer in
            try await media.stream(item, first: first, last: last) { buffer in try await writer.write(buffer) }
            try await writer.finish(nil)
        })
    }
}
