import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// /v1/tenants: the tenant tree and its feature switches.
    func addTenantRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/v1/tenants") { request, _ in
            let caller = try await caller(request)
            var kind: TenantKind?
            if let text = request.query("kind") {
                guard let parsed = TenantKind(rawValue: text) else {
                    throw GatehouseError(.invalidRequest, "kind must be one of platform, distributor, reseller, account", field: "kind")
                }
                kind = parsed
            }
            let page = try await management.listTenants(caller, kind: kind, parentId: try Self.int64(request, "parent_id"), page: try Self.page(request))
            return try JSON.response(PageBody(page))
        }
        router.post("/v1/tenants") { request, _ in
            let caller = try await caller(request)
            let body = try await self.body(V1.CreateTenant.self, request)
            let tenant = try await management.createTenant(
                caller, NewTenant(key: body.key, kind: body.kind, parentId: body.parentId, name: body.name, enabled: body.enabled ?? true))
            return try JSON.response(tenant, status: .created)
        }
        router.get("/v1/tenants/:id") { request, context in
            try JSON.response(try await management.tenant(try await caller(request), id: try context.id()))
        }
        router.patch("/v1/tenants/:id") { request, context in
            let caller = try await caller(request)
            let id = try context.id()
            let body = try await self.body(V1.UpdateTenant.self, request)
            return try JSON.response(try await management.updateTenant(caller, id: id, TenantUpdate(name: body.name, enabled: body.enabled)))
        }
        router.delete("/v1/tenants/:id") { request, context in
            try await management.deleteTenant(try await caller(request), id: try context.id())
            return Response(status: .noContent)
        }
        router.get("/v1/tenants/:id/features") { request, context in
            try JSON.response(V1.Features(features: try await management.features(try await caller(request), tenantId: try context.id())))
        }
        router.put("/v1/tenants/:id/features/:feature") { request, context in
            let caller = try await caller(request)
            let id = try context.id()
            guard let feature = context.parameters.get("feature").flatMap(Feature.init(rawValue:)) else {
                throw GatehouseError(.notFound, "no such feature; known: \(Feature.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let body = try await self.body(V1.SetFeature.self, request)
            return try JSON.response(V1.Features(features: try await management.setFeature(caller, tenantId: id, feature, enabled: body.enabled)))
        }
    }
}
