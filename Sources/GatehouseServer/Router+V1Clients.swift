import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// /v1/clients: API clients (id + secret) of the tree's nodes.
    func addClientRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/v1/clients") { request, _ in
            let caller = try await caller(request)
            let page = try await management.listClients(caller, tenantId: try Self.int64(request, "tenant_id"), page: try Self.page(request))
            return try JSON.response(PageBody(page))
        }
        router.post("/v1/clients") { request, _ in
            let caller = try await caller(request)
            let body = try await self.body(V1.CreateClient.self, request)
            let issued = try await management.createClient(caller, tenantId: body.tenantId, clientId: body.clientId, name: body.name, scopes: body.scopes,
                                                           provisioning: body.provisioning ?? false, enabled: body.enabled ?? true)
            return try JSON.response(V1.ClientWithSecret(client: issued.client, clientSecret: issued.secret), status: .created)
        }
        router.get("/v1/clients/:id") { request, context in
            try JSON.response(try await management.client(try await caller(request), id: try context.id()))
        }
        router.patch("/v1/clients/:id") { request, context in
            let caller = try await caller(request)
            let id = try context.id()
            let body = try await self.body(V1.UpdateClient.self, request)
            return try JSON.response(try await management.updateClient(caller, id: id, name: body.name, scopes: body.scopes,
                                                                       provisioning: body.provisioning, enabled: body.enabled))
        }
        router.delete("/v1/clients/:id") { request, context in
            try await management.deleteClient(try await caller(request), id: try context.id())
            return Response(status: .noContent)
        }
        router.post("/v1/clients/:id/secret") { request, context in
            let issued = try await management.rotateClientSecret(try await caller(request), id: try context.id())
            return try JSON.response(V1.ClientWithSecret(client: issued.client, clientSecret: issued.secret))
        }
    }

    /// /v1/audit: the audit log of the caller's subtree.
    func addAuditRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/v1/audit") { request, _ in
            let caller = try await caller(request)
            return try JSON.response(PageBody(try await management.audit(caller, page: try Self.page(request))))
        }
    }
}
