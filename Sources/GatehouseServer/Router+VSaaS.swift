import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// The operator API of seed 000: sign-in, organizations and presets.
    func addVSaaSRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/vsaas/api/v2/auth/login") { request, context in
            let body = try await TieredBody.read(request, limit: 16 * 1024)
            guard let login = try body.string("login"), let password = try body.string("password") else {
                throw GatehouseError.invalid("login", "login and password are required")
            }
            let user = try await partnerAuth.checkPassword(username: login, password: password, address: context.clientAddress,
                                                           failure: GatehouseError(.unauthenticated, "login or password is wrong"))
            let session = try await management.startSession(for: user)
            return VSaaS.json(["session": session.token, "id": user.id, "expires_at": session.expiresAt])
        }
        router.post("/vsaas/api/v2/auth/logout") { request, _ in
            _ = try await operatorCaller(request, apiKeyAllowed: false)
            try await management.revoke(bearer: request.headers[VSaaS.session] ?? "")
            return Response(status: .noContent)
        }

        router.get("/vsaas/api/v2/organizations") { request, _ in
            let caller = try await operatorCaller(request)
            return VSaaS.json(try await activation.organizations(caller, after: nil).items.map(VSaaS.organization))
        }
        router.post("/vsaas/api/v2/organizations") { request, _ in
            let caller = try await operatorCaller(request)
            let organization = try await activation.createOrganization(caller, try Self.organizationInput(request))
            return VSaaS.json(VSaaS.organization(organization), status: .created)
        }
        router.get("/vsaas/api/v2/organizations/:id") { request, context in
            VSaaS.json(VSaaS.organization(try await activation.organization(try await operatorCaller(request), id: try context.id())))
        }
        router.put("/vsaas/api/v2/organizations/:id") { request, context in
            let caller = try await operatorCaller(request)
            return VSaaS.json(VSaaS.organization(try await activation.updateOrganization(caller, id: try context.id(), try Self.organizationInput(request))))
        }
        router.delete("/vsaas/api/v2/organizations/:id") { request, context in
            try await activation.deleteOrganization(try await operatorCaller(request), id: try context.id())
            return Response(status: .noContent)
        }

        router.get("/vsaas/api/v2/presets") { request, _ in
            let caller = try await operatorCaller(request)
            let paging = try Self.offsetPaging(request)
            let page = try await activation.presets(caller, organizationId: try Self.int64(request, "organization_id"), limit: paging.limit, offset: paging.offset)
            return VSaaS.json(page.items.map(VSaaS.preset))
        }
        router.post("/vsaas/api/v2/presets") { request, _ in
            let caller = try await operatorCaller(request)
            let body = try await TieredBody.read(request, limit: 64 * 1024)
            guard let title = try body.string("title") else { throw GatehouseError.invalid("title", "title is required") }
            let preset = try await activation.createPreset(caller, organizationId: try VSaaS.id(body, "organization_id"), title: title,
                                                           settings: try body.stringMap("settings") ?? [:])
            return VSaaS.json(VSaaS.preset(preset), status: .created)
        }
        router.get("/vsaas/api/v2/presets/:id") { request, context in
            VSaaS.json(VSaaS.preset(try await activation.preset(try await operatorCaller(request), id: try context.id())))
        }
        router.put("/vsaas/api/v2/presets/:id") { request, context in
            let caller = try await operatorCaller(request)
            let body = try await TieredBody.read(request, limit: 64 * 1024)
            return VSaaS.json(VSaaS.preset(try await activation.updatePreset(caller, id: try context.id(), title: try body.string("title"),
                                                                             settings: try body.stringMap("settings"))))
        }
        router.delete("/vsaas/api/v2/presets/:id") { request, context in
            try await activation.deletePreset(try await operatorCaller(request), id: try context.id())
            return Response(status: .noContent)
        }
    }

    static func organizationInput(_ request: Request) async throws -> OrganizationInput {
        let body = try await TieredBody.read(request, limit: 64 * 1024)
        return OrganizationInput(title: try body.string("title"), note: try body.string("note"), ownerId: try VSaaS.nullableInt(body, "owner_id"),
                                 cameraLimit: try VSaaS.nullableInt(body, "camera_limit"), userLimit: try VSaaS.nullableInt(body, "user_limit"))
    }
}
