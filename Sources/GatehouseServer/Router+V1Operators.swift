import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// /v1 management of operator nodes for agent activation: `x-vsaas-api-key` keys and
    /// the token format, validity and watcher URL.
    func addOperatorRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/v1/tenants/:id/vsaas-api-keys") { request, context in
            let caller = try await caller(request)
            let body = try await TieredBody.read(request, limit: configuration.maxBodySize, optional: true)
            let created = try await activation.createAPIKey(caller, operatorId: try context.id(), name: try body.string("name") ?? "API key")
            return VSaaS.json(["id": created.key.id, "name": created.key.name, "key": created.secret, "created_at": created.key.createdAt], status: .created)
        }
        router.get("/v1/tenants/:id/vsaas-api-keys") { request, context in
            let keys = try await activation.apiKeys(try await caller(request), operatorId: try context.id())
            return VSaaS.json(["items": keys.map { ["id": $0.id, "name": $0.name, "created_at": $0.createdAt] as [String: Any] }])
        }
        router.delete("/v1/tenants/:id/vsaas-api-keys/:keyId") { request, context in
            try await activation.revokeAPIKey(try await caller(request), operatorId: try context.id(), keyId: try context.id("keyId"))
            return Response(status: .noContent)
        }
        router.get("/v1/tenants/:id/activation-settings") { request, context in
            VSaaS.json(Self.settingsBody(try await activation.settings(try await caller(request), operatorId: try context.id())))
        }
        router.patch("/v1/tenants/:id/activation-settings") { request, context in
            let caller = try await caller(request)
            let id = try context.id()
            var settings = try await activation.settings(caller, operatorId: id)
            let body = try await TieredBody.read(request, limit: configuration.maxBodySize)
            if let alphabet = try body.string("token_alphabet") { settings.tokenAlphabet = alphabet }
            if let length = try body.int("token_length") { settings.tokenLength = Int(clamping: length) }
            if let validity = try body.int("token_validity") { settings.tokenValidity = validity }
            if body.object["watcher_url"] is NSNull { settings.watcherURL = nil } else if let url = try body.string("watcher_url") { settings.watcherURL = url }
            return VSaaS.json(Self.settingsBody(try await activation.setSettings(caller, operatorId: id, settings)))
        }
    }

    static func settingsBody(_ settings: OperatorSettings) -> [String: Any] {
        ["token_alphabet": settings.tokenAlphabet, "token_length": settings.tokenLength, "token_validity": settings.tokenValidity,
         "watcher_url": settings.watcherURL ?? NSNull()]
    }
}
