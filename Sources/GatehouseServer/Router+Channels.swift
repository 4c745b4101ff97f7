import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// The license-key admin API (seed 002, `Authorization: LKey`): the account, its channels
    /// (cameras) with limits, metadata, tokens and events.
    func addChannelRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/api/v3/account/") { request, _ in
            try await tieredCall(request) { principal in
                let record = try await tiered.usage(try Self.account(principal))
                return try TieredJSON.response(TieredPresentation.account(record, licenseKey: nil))
            }
        }
        router.get("/api/v3/channels/") { request, _ in
            try await tieredCall(request) { principal in
                let paging = try Self.offsetPaging(request)
                let page = try await tiered.channels(try Self.account(principal), limit: paging.limit, offset: paging.offset)
                return try TieredJSON.list(page, path: "/api/v3/channels/", TieredPresentation.channel)
            }
        }
        router.post("/api/v3/channels/") { request, _ in
            try await tieredCall(request) { principal in
                let account = try Self.account(principal)
                let settings = try Self.channelSettings(try await TieredBody.read(request, limit: configuration.maxBodySize))
                return try TieredJSON.response(TieredPresentation.channel(try await tiered.createChannel(account, settings)), status: .created)
            }
        }
        router.get("/api/v3/channels/:id/") { request, context in
            try await tieredCall(request) { principal in
                let record = try await tiered.channel(try Self.account(principal), id: try context.id())
                return try TieredJSON.response(TieredPresentation.channel(try tiered.present(record)))
            }
        }
        router.put("/api/v3/channels/:id/") { request, context in
            try await tieredCall(request) { principal in
                _ = try Self.account(principal)
                let settings = try Self.channelSettings(try await TieredBody.read(request, limit: configuration.maxBodySize))
                let record = try await tiered.updateChannel(principal, id: try context.id(), settings)
                return try TieredJSON.response(TieredPresentation.channel(try tiered.present(record)))
            }
        }
        router.delete("/api/v3/channels/:id/") { request, context in
            try await tieredCall(request) { principal in
                try await tiered.deleteChannel(try Self.account(principal), id: try context.id())
                return Response(status: .noContent)
            }
        }
        router.get("/api/v3/channels/:id/limits/") { request, context in
            try await tieredCall(request) { principal in
                let record = try await tiered.channel(try Self.account(principal), id: try context.id())
                return try TieredJSON.response(TieredPresentation.channelLimits(record.limits))
            }
        }
        router.put("/api/v3/channels/:id/limits/") { request, context in
            try await tieredCall(request) { principal in
                let account = try Self.account(principal)
                let body = try await TieredBody.read(request, limit: configuration.maxBodySize)
                let limits = ChannelLimits(storageBytes: try body.int("storage_bytes"), recordsMaxAge: try body.int("records_max_age"))
                let record = try await tiered.setChannelLimits(account, id: try context.id(), limits)
                return try TieredJSON.response(TieredPresentation.channelLimits(record.limits))
            }
        }
        router.get("/api/v3/channels/:id/meta/") { request, context in
            try await tieredCall(request) { principal in
                try TieredJSON.response(try await tiered.channel(try Self.account(principal), id: try context.id()).meta)
            }
        }
        router.put("/api/v3/channels/:id/meta/") { request, context in
            try await tieredCall(request) { principal in
                _ = try Self.account(principal)
                let meta = try await TieredBody.read(request, limit: configuration.maxBodySize).asStringMap(field: "meta")
                return try TieredJSON.response(try await tiered.setChannelMeta(principal, id: try context.id(), meta).meta)
            }
        }
        router.post("/api/v3/channels/:id/access_tokens/") { request, context in
            try await tieredCall(request) { principal in
                let account = try Self.account(principal)
                let body = try await TieredBody.read(request, limit: configuration.maxBodySize, optional: true)
                var access: ChannelAccess?
                if let text = try body.string("access") {
                    guard let parsed = ChannelAccess(rawValue: text) else { throw GatehouseError.invalid("access", "access must be all or watch") }
                    access = parsed
                }
                let channel = try await tiered.regenerateChannelTokens(account, id: try context.id(), access: access)
                return try TieredJSON.response(TieredPresentation.channel(channel))
            }
        }
        router.get("/api/v3/channels/:id/events/") { request, context in
            try await tieredCall(request) { principal in
                _ = try Self.account(principal)
                let id = try context.id()
                return try await listEvents(request, principal, channelId: id, path: "/api/v3/channels/\(id)/events/")
            }
        }
        router.post("/api/v3/channels/:id/events/") { request, context in
            try await tieredCall(request) { principal in
                _ = try Self.account(principal)
                return try await postEvent(request, principal, channelId: try context.id())
            }
        }
    }
}
