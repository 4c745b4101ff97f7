import GatehouseCore
import Hummingbird

extension V1 {
    struct CreateDevice: Decodable {
        let tenantId: Int64
        let kind: String
        let name: String
        let serial: String?
    }

    struct OnBehalfToken: Encodable {
        let id: Int64
        let userId: Int64?
        let clientId: Int64?
        let mintedBy: Int64?
        let scopes: [Scope]
        let createdAt: Int64
        let expiresAt: Int64?
        let revokedAt: Int64?
    }
}

extension GatehouseApp {
    /// /v1/devices (the device registry) and /v1/on-behalf-tokens (tokens dealers minted).
    func addDeviceRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/v1/devices") { request, _ in
            let caller = try await caller(request)
            let tenantId = try Self.int64(request, "tenant_id")
            if let tenantId { _ = try await management.tenant(caller, id: tenantId) }
            return try JSON.response(PageBody(try await store.devices(under: caller.scopePath, tenantId: tenantId, kind: nil, page: try Self.page(request))))
        }
        router.post("/v1/devices") { request, _ in
            let caller = try await caller(request)
            try caller.require(.manageTenants)
            let body = try await self.body(V1.CreateDevice.self, request)
            guard Device.kinds.contains(body.kind) else {
                throw GatehouseError.invalid("kind", "kind must be one of \(Device.kinds.sorted().joined(separator: ", "))")
            }
            let tenant = try await management.tenant(caller, id: body.tenantId)
            guard tenant.kind == .account else { throw GatehouseError.invalid("tenant_id", "devices belong to accounts") }
            let name = try Validation.name(body.name)
            let serial = try body.serial.map { try Validation.name($0, field: "serial") }
            let device = try await store.createDevice(tenantId: tenant.id, kind: body.kind, name: name, serial: serial, at: management.clock.now(),
                                                      audit: AuditIntent(actor: caller.auditName, detail: "\(body.kind) \(name)"))
            return try JSON.response(device, status: .created)
        }
        router.get("/v1/devices/:id") { request, context in
            let caller = try await caller(request)
            let id = try context.id()
            guard let device = try await store.device(id: id), let tenant = try await store.tenant(id: device.tenantId), caller.canSee(tenant) else {
                throw GatehouseError.notFound("device", id)
            }
            return try JSON.response(device)
        }
        router.delete("/v1/devices/:id") { request, context in
            let caller = try await caller(request)
            try caller.require(.manageTenants)
            let id = try context.id()
            guard let device = try await store.device(id: id), let tenant = try await store.tenant(id: device.tenantId), caller.canSee(tenant) else {
                throw GatehouseError.notFound("device", id)
            }
            try await store.deleteDevice(id: id, at: management.clock.now(), audit: AuditIntent(actor: caller.auditName, detail: device.name))
            return Response(status: .noContent)
        }
        router.get("/v1/on-behalf-tokens") { request, _ in
            let caller = try await caller(request)
            try caller.require(.readAudit)
            let page = try await store.onBehalfTokens(under: caller.scopePath, page: try Self.page(request))
            let items = page.items.map {
                V1.OnBehalfToken(id: $0.id, userId: $0.userId, clientId: $0.clientId, mintedBy: $0.mintedBy, scopes: $0.scopes,
                                 createdAt: $0.createdAt, expiresAt: $0.expiresAt, revokedAt: $0.revokedAt)
            }
            return try JSON.response(PageBody(Page(items: items, nextCursor: page.nextCursor)))
        }
        router.delete("/v1/on-behalf-tokens/:id") { request, context in
            let caller = try await caller(request)
            try caller.require(.manageUsers)
            let id = try context.id()
            let visible = try await store.onBehalfTokens(under: caller.scopePath, page: PageRequest(limit: 1, after: id - 1)).items
            guard let token = visible.first, token.id == id else { throw GatehouseError.notFound("on-behalf token", id) }
            _ = try await store.revokeToken(id: id, at: management.clock.now())
            return Response(status: .noContent)
        }
    }
}
