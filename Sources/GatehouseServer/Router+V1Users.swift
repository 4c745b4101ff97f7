import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// /v1/users: end users of accounts and admin users of dealer nodes.
    func addUserRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/v1/users") { request, _ in
            let caller = try await caller(request)
            let page = try await management.listUsers(caller, tenantId: try Self.int64(request, "tenant_id"), email: request.query("email"),
                                                      page: try Self.page(request))
            return try JSON.response(PageBody(page))
        }
        router.post("/v1/users") { request, _ in
            let caller = try await caller(request)
            let body = try await self.body(V1.CreateUser.self, request)
            let user = try await management.createUser(caller, tenantId: body.tenantId, email: body.email, name: body.name, password: body.password,
                                                       permissions: body.permissions ?? [], scopes: body.scopes ?? [.read, .write], enabled: body.enabled ?? true)
            return try JSON.response(user, status: .created)
        }
        router.get("/v1/users/:id") { request, context in
            try JSON.response(try await management.user(try await caller(request), id: try context.id()))
        }
        router.patch("/v1/users/:id") { request, context in
            let caller = try await caller(request)
            let id = try context.id()
            let body = try await self.body(V1.UpdateUser.self, request)
            return try JSON.response(try await management.updateUser(caller, id: id, name: body.name, email: body.email, password: body.password,
                                                                     permissions: body.permissions, scopes: body.scopes, enabled: body.enabled))
        }
        router.delete("/v1/users/:id") { request, context in
            try await management.deleteUser(try await caller(request), id: try context.id())
            return Response(status: .noContent)
        }
    }
}
