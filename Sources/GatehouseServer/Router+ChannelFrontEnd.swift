import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// The front-end API of seed 002: `/api/v4/` with a channel's `Acc` token (its own
    /// channel only; `watch` tokens read, `all` tokens also write metadata and events) and
    /// `/api/v5/` with a group's `SI` token (read only).
    func addFrontEndRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/api/v4/channel/") { request, _ in
            try await tieredCall(request) { principal in
                let channel = try Self.channel(principal)
                var body = TieredPresentation.channelCommon(try await tiered.readableChannel(principal, id: channel.channelId))
                body["access"] = channel.access.rawValue
                return try TieredJSON.response(body)
            }
        }
        router.get("/api/v4/meta/") { request, _ in
            try await tieredCall(request) { principal in
                let channel = try Self.channel(principal)
                return try TieredJSON.response(try await tiered.readableChannel(principal, id: channel.channelId).meta)
            }
        }
        router.put("/api/v4/meta/") { request, _ in
            try await tieredCall(request) { principal in
                let channel = try Self.channel(principal)
                guard channel.access == .all else { throw GatehouseError(.forbidden, "a watch token cannot change anything") }
                let meta = try await TieredBody.read(request, limit: configuration.maxBodySize).asStringMap(field: "meta")
                return try TieredJSON.response(try await tiered.setChannelMeta(principal, id: channel.channelId, meta).meta)
            }
        }
        router.get("/api/v4/events/") { request, _ in
            try await tieredCall(request) { principal in
                let channel = try Self.channel(principal)
                return try await listEvents(request, principal, channelId: channel.channelId, path: "/api/v4/events/")
            }
        }
        router.post("/api/v4/events/") { request, _ in
            try await tieredCall(request) { principal in
                let channel = try Self.channel(principal)
                guard channel.access == .all else { throw GatehouseError(.forbidden, "a watch token cannot change anything") }
                return try await postEvent(request, principal, channelId: channel.channelId)
            }
        }
        router.get("/api/v5/channels/") { request, _ in
            try await tieredCall(request) { principal in
                let group = try Self.group(principal)
                let paging = try Self.offsetPaging(request)
                let page = try await tiered.groupChannels(group, limit: paging.limit, offset: paging.offset)
                return try TieredJSON.list(page, path: "/api/v5/channels/") { channel in
                    var body = TieredPresentation.channelCommon(channel.record)
                    body["access_tokens"] = Dictionary(uniqueKeysWithValues: channel.accessTokens.map { ($0.key.rawValue, $0.value) })
                    return body
                }
            }
        }
        router.get("/api/v5/channels/:id/") { request, context in
            try await tieredCall(request) { principal in
                _ = try Self.group(principal)
                return try TieredJSON.response(TieredPresentation.channelCommon(try await tiered.readableChannel(principal, id: try context.id())))
            }
        }
        router.get("/api/v5/events/") { request, _ in
            try await tieredCall(request) { principal in
                _ = try Self.group(principal)
                let channelId = try Self.int64(request, "channel_id")
                return try await listEvents(request, principal, channelId: channelId, path: "/api/v5/events/")
            }
        }
    }
}
