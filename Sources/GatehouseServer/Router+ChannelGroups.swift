import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// Channel groups of the license-key admin API, each with its `SI` token.
    func addChannelGroupRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/api/v3/channel_groups/") { request, _ in
            try await tieredCall(request) { principal in
                let paging = try Self.offsetPaging(request)
                let page = try await tiered.groups(try Self.account(principal), limit: paging.limit, offset: paging.offset)
                return try TieredJSON.list(page, path: "/api/v3/channel_groups/", TieredPresentation.group)
            }
        }
        router.post("/api/v3/channel_groups/") { request, _ in
            try await tieredCall(request) { principal in
                let account = try Self.account(principal)
                let body = try await TieredBody.read(request, limit: configuration.maxBodySize)
                guard let name = try body.string("name") else { throw GatehouseError.invalid("name", "name is required") }
                let group = try await tiered.createGroup(account, name: name, channelIds: try body.intArray("channels") ?? [])
                return try TieredJSON.response(TieredPresentation.group(group), status: .created)
            }
        }
        router.get("/api/v3/channel_groups/:id/") { request, context in
            try await tieredCall(request) { principal in
                let record = try await tiered.group(try Self.account(principal), id: try context.id())
                return try TieredJSON.response(TieredPresentation.group(try tiered.presentGroup(record)))
            }
        }
        router.put("/api/v3/channel_groups/:id/") { request, context in
            try await tieredCall(request) { principal in
                let account = try Self.account(principal)
                let body = try await TieredBody.read(request, limit: configuration.maxBodySize)
                let group = try await tiered.updateGroup(account, id: try context.id(), name: try body.string("name"), channelIds: try body.intArray("channels"),
                                                         regenerateToken: try body.bool("regenerate_token") ?? false)
                return try TieredJSON.response(TieredPresentation.group(group))
            }
        }
        router.delete("/api/v3/channel_groups/:id/") { request, context in
            try await tieredCall(request) { principal in
                try await tiered.deleteGroup(try Self.account(principal), id: try context.id())
                return Response(status: .noContent)
            }
        }
    }
}
