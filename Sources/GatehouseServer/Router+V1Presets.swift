import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// /v1 management of an organization's presets (the same presets as the operator API's
    /// `/vsaas/api/v2/presets`), for the platform admin and dealer admins within their subtree.
    func addPresetRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/v1/tenants/:id/presets") { request, context in
            let scope = try await activation.organizationScope(try await caller(request), organizationId: try context.id(), write: false)
            let paging = try Self.offsetPaging(request)
            let page = try await activation.presets(scope, organizationId: scope.operatorId, limit: paging.limit, offset: paging.offset)
            return VSaaS.json(["items": page.items.map(VSaaS.preset), "total": page.total, "limit": page.limit, "offset": page.offset] as [String: Any])
        }
        router.post("/v1/tenants/:id/presets") { request, context in
            let caller = try await caller(request)
            let body = try await TieredBody.read(request, limit: configuration.maxBodySize)
            guard let title = try body.string("title") else { throw GatehouseError.invalid("title", "title is required") }
            let settings = try body.stringMap("settings") ?? [:]
            let scope = try await activation.organizationScope(caller, organizationId: try context.id(), write: true)
            return VSaaS.json(VSaaS.preset(try await activation.createPreset(scope, organizationId: scope.operatorId, title: title, settings: settings)),
                              status: .created)
        }
        router.get("/v1/presets/:id") { request, context in
            let id = try context.id()
            let scope = try await activation.presetScope(try await caller(request), presetId: id, write: false)
            return VSaaS.json(VSaaS.preset(try await activation.preset(scope, id: id)))
        }
        router.patch("/v1/presets/:id") { request, context in
            let caller = try await caller(request)
            let id = try context.id()
            let body = try await TieredBody.read(request, limit: configuration.maxBodySize)
            let (title, settings) = (try body.string("title"), try body.stringMap("settings"))
            let scope = try await activation.presetScope(caller, presetId: id, write: true)
            return VSaaS.json(VSaaS.preset(try await activation.updatePreset(scope, id: id, title: title, settings: settings)))
        }
        router.delete("/v1/presets/:id") { request, context in
            let id = try context.id()
            try await activation.deletePreset(try await activation.presetScope(try await caller(request), presetId: id, write: true), id: id)
            return Response(status: .noContent)
        }
    }
}
