import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// Sign-in for admin users (/v1 sessions) and who-am-I.
    func addSessionRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/v1/sessions") { request, context in
            let body = try await self.body(V1.SignIn.self, request)
            let user = try await partnerAuth.checkPassword(username: body.email, password: body.password, address: context.clientAddress,
                                                           failure: GatehouseError(.unauthenticated, "e-mail or password is wrong"))
            let session = try await management.startSession(for: user)
            return try JSON.response(V1.Session(token: session.token, expiresAt: session.expiresAt, user: session.user), status: .created)
        }
        router.delete("/v1/sessions/current") { request, _ in
            guard case .user = try await caller(request) else {
                throw GatehouseError(.conflict, "the platform admin token is not a session; replace it with 'gatehouse admin-token --rotate'")
            }
            try await management.revoke(bearer: Self.bearerToken(request))
            return Response(status: .noContent)
        }
        router.get("/v1/me") { request, _ in
            switch try await caller(request) {
            case .platformAdmin, .system: return try JSON.response(V1.Me(kind: "platform_admin", user: nil, tenant: nil))
            case .user(let user, let tenant): return try JSON.response(V1.Me(kind: "user", user: user, tenant: tenant))
            }
        }
    }
}
