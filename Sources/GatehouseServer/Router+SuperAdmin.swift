import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// The router of the mutual-TLS admin listener: health and the super-admin API of seed 002.
    /// Only clients with a live super-admin certificate get this far (checked at the handshake).
    func makeAdminRouter() -> Router<GatehouseRequestContext> {
        let router = Router(context: GatehouseRequestContext.self)
        let table = RouteTableBox()
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: ErrorMiddleware(routes: table))
        router.get("/healthz") { _, _ in try JSON.response(["status": "ok", "listener": "admin"]) }
        addSuperAdminRoutes(to: router)
        table.set(RouteTable(router.routes.map { ($0.method, $0.path.description) }))
        return router
    }

    /// How the super-admin appears in the audit log.
    static let superAdminActor = "superadmin:mtls"

    /// `POST/GET /api/v2/admin/users/`, one account, its limits, and its license key.
    func addSuperAdminRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/api/v2/admin/users/") { request, _ in
            let body = try await TieredBody.read(request, limit: configuration.maxBodySize)
            guard let suid = try body.string("suid") else { throw GatehouseError.invalid("suid", "suid is required") }
            var parentId = Management.platformTenantId
            if let key = try body.string("parent") {
                guard let parent = try await store.tenant(key: key) else { throw GatehouseError.invalid("parent", "no node with key \(key)") }
                parentId = parent.id
            }
            let new = NewTieredAccount(
                suid: suid, usrc: try body.string("usrc"), licenseKey: try body.object("license_key")?.string("value", field: "license_key.value"),
                limits: try Self.accountLimits(try body.object("limits")) ?? AccountLimits(), parentKey: nil)
            let account = try await tiered.createAccount(new, actor: Self.superAdminActor, parentId: parentId)
            return try TieredJSON.response(TieredPresentation.account(account.record, licenseKey: account.licenseKey), status: .created)
        }
        router.get("/api/v2/admin/users/") { request, _ in
            let paging = try Self.offsetPaging(request)
            let page = try await tiered.findAccounts(suid: request.query("suid"), licenseKey: request.query("license_key"), limit: paging.limit, offset: paging.offset)
            return try TieredJSON.list(page, path: "/api/v2/admin/users/") { TieredPresentation.account($0.record, licenseKey: $0.licenseKey) }
        }
        router.get("/api/v2/admin/users/:id/") { _, context in
            let account = try await tiered.account(id: try context.id())
            return try TieredJSON.response(TieredPresentation.account(account.record, licenseKey: account.licenseKey))
        }
        router.put("/api/v2/admin/users/:id/") { request, context in
            let body = try await TieredBody.read(request, limit: configuration.maxBodySize)
            let account = try await tiered.updateAccount(id: try context.id(), usrc: try body.string("usrc"), limits: try Self.accountLimits(try body.object("limits")),
                                                         actor: Self.superAdminActor)
            return try TieredJSON.response(TieredPresentation.account(account.record, licenseKey: account.licenseKey))
        }
        router.post("/api/v2/admin/users/:id/license_key/") { request, context in
            let body = try await TieredBody.read(request, limit: configuration.maxBodySize, optional: true)
            let account = try await tiered.regenerateLicenseKey(id: try context.id(), value: try body.string("value", field: "value"), actor: Self.superAdminActor)
            return try TieredJSON.response(TieredPresentation.account(account.record, licenseKey: account.licenseKey))
        }
    }

    /// `{"hosted_cameras", "storage_bytes", "bandwidth_bytes"}`; absent keys are unlimited.
    static func accountLimits(_ body: TieredBody?) throws -> AccountLimits? {
        guard let body else { return nil }
        return AccountLimits(hostedCameras: try body.int("hosted_cameras", field: "limits.hosted_cameras"),
                             storageBytes: try body.int("storage_bytes", field: "limits.storage_bytes"),
                             bandwidthBytes: try body.int("bandwidth_bytes", field: "limits.bandwidth_bytes"))
    }
}
