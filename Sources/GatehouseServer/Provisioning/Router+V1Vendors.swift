import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// /v1 for serial provisioning: the vendor role of a node and its tokens (for the platform
    /// or a dealer admin), and the owner side: an account enables a serial it holds and lists
    /// the serials it holds.
    func addV1VendorRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/v1/tenants/:id/vendor") { request, context in
            let caller = try await caller(request)
            let body = try await body(V1Provisioning.CreateVendor.self, request)
            return try JSON.response(try await provisioning.createVendor(caller, tenantId: try context.id(), name: body.name), status: .created)
        }
        router.get("/v1/tenants/:id/vendor") { request, context in
            try JSON.response(try await provisioning.vendor(try await caller(request), tenantId: try context.id()))
        }
        router.post("/v1/tenants/:id/vendor-tokens") { request, context in
            let caller = try await caller(request)
            let body = try await body(V1Provisioning.CreateToken.self, request)
            let (token, secret) = try await provisioning.createToken(caller, tenantId: try context.id(), name: body.name)
            return try JSON.response(V1Provisioning.IssuedToken(id: token.id, name: token.name, token: secret, createdAt: token.createdAt), status: .created)
        }
        router.get("/v1/tenants/:id/vendor-tokens") { request, context in
            try JSON.response(V1Provisioning.Items(items: try await provisioning.tokens(try await caller(request), tenantId: try context.id())))
        }
        router.delete("/v1/tenants/:id/vendor-tokens/:tokenId") { request, context in
            try await provisioning.revokeToken(try await caller(request), tenantId: try context.id(), tokenId: try context.id("tokenId"))
            return Response(status: .noContent)
        }
        router.post("/v1/tenants/:id/serials") { request, context in
            let caller = try await caller(request)
            let body = try await body(V1Provisioning.EnableSerial.self, request)
            let held = try await provisioning.enableHeld(caller, accountId: try context.id(), vendor: body.vendor, model: body.model, sn: body.sn)
            return try JSON.response(V1Provisioning.Serial(held, now: configuration.clock.now()))
        }
        router.get("/v1/tenants/:id/serials") { request, context in
            let now = configuration.clock.now()
            let held = try await provisioning.held(try await caller(request), accountId: try context.id())
            return try JSON.response(V1Provisioning.Items(items: held.map { V1Provisioning.Serial($0, now: now) }))
        }
    }
}

/// Bodies of the /v1 provisioning routes (snake_case on the wire).
enum V1Provisioning {
    struct CreateVendor: Decodable { let name: String }
    struct CreateToken: Decodable { let name: String }
    struct EnableSerial: Decodable {
        let vendor: String
        let model: String
        let sn: String
    }

    /// A vendor token as issued: the secret appears here once.
    struct IssuedToken: Encodable {
        let id: Int64
        let name: String
        let token: String
        let createdAt: Int64
    }

    struct Items<Item: Encodable>: Encodable { let items: [Item] }

    /// A serial an account holds.
    struct Serial: Encodable {
        let vendor: String
        let model: String
        let sn: String
        let status: String
        let deviceId: Int64?
        let enabledAt: Int64?
        let windowEndsAt: Int64?
        let activatedAt: Int64?

        init(_ held: HeldSerial, now: Int64) {
            vendor = held.vendor
            model = held.model
            sn = held.serial.sn
            status = held.serial.status(at: now).rawValue
            deviceId = held.serial.deviceId
            enabledAt = held.serial.enabledAt
            windowEndsAt = held.serial.windowEndsAt
            activatedAt = held.serial.activatedAt
        }
    }
}
