import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// JSON shapes of the partner REST API (camelCase, as the seed's system uses).
enum Partner {
    struct UserBody: Encodable {
        let userId: Int64
        let accountId: Int64
        let email: String
        let name: String
        let enabled: Bool
    }

    struct SelfBody: Encodable {
        let userId: Int64
        let accountId: Int64
        let email: String
        let name: String
        let scope: String
    }

    struct CameraBody: Encodable {
        let cameraId: Int64
        let accountId: Int64
        let name: String
        let serial: String?
        let createdAt: Int64
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func response<T: Encodable>(_ value: T, headers: HTTPFields = [:]) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json;charset=UTF-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

extension GatehouseApp {
    /// The partner REST API (seed 001): dealer user search, on-behalf tokens, and the end-user
    /// calls those tokens open.
    func addPartnerRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/rest/v2.2/resellers/:scope/accounts/all/users") { request, context in
            let caller = try await partnerCaller(request, needs: .read)
            let page = try await partnerAuth.searchUsers(caller, scope: try Self.resellerScope(context), email: request.query("email"),
                                                         page: try Self.page(request))
            let users = page.items.map {
                Partner.UserBody(userId: $0.user.id, accountId: $0.account.id, email: $0.user.email, name: $0.user.name, enabled: $0.user.enabled)
            }
            var headers = HTTPFields()
            if let next = page.nextCursor { headers[HTTPField.Name("X-Next-Cursor")!] = next }
            return try Partner.response(users, headers: headers)
        }
        router.post("/rest/v2.2/resellers/:scope/accounts/:accountId/users/:userId/token") { request, context in
            let caller = try await partnerCaller(request, needs: .write)
            let tokens = try await partnerAuth.mintOnBehalf(
                caller, scope: try Self.resellerScope(context), accountId: try context.id("accountId"), userId: try context.id("userId"),
                requested: try PartnerAuth.parseScopes(request.query("scope")))
            return Self.tokenResponse(tokens)
        }
        router.get("/rest/v2.2/users/self") { request, _ in
            let user = try Self.endUser(try await partnerCaller(request, needs: .read))
            return try Partner.response(Partner.SelfBody(userId: user.user.id, accountId: user.user.tenantId, email: user.user.email,
                                                         name: user.user.name, scope: user.scopes.map(\.rawValue).joined(separator: " ")))
        }
        router.get("/rest/v2.2/cameras") { request, _ in
            let user = try Self.endUser(try await partnerCaller(request, needs: .read))
            let page = try await store.devices(under: nil, tenantId: user.user.tenantId, kind: "camera", page: try Self.page(request))
            let cameras = page.items.map {
                Partner.CameraBody(cameraId: $0.id, accountId: $0.tenantId, name: $0.name, serial: $0.serial, createdAt: $0.createdAt)
            }
            var headers = HTTPFields()
            if let next = page.nextCursor { headers[HTTPField.Name("X-Next-Cursor")!] = next }
            return try Partner.response(cameras, headers: headers)
        }
    }

    /// The caller of a partner REST call; reading needs `read` or `write`, changing needs `write`.
    func partnerCaller(_ request: Request, needs scope: Scope) async throws -> PartnerCaller {
        let caller = try await partnerAuth.caller(bearer: Self.bearerToken(request))
        let held = Set(caller.token.scopes)
        let allowed = scope == .read ? !held.isEmpty : held.contains(.write)
        guard allowed else { throw GatehouseError(.forbidden, "the token's scope does not allow this call (needs \(scope.rawValue))") }
        return caller
    }

    /// The user a partner call acts as; a client_credentials token (no user) gets 403.
    static func endUser(_ caller: PartnerCaller) throws(GatehouseError) -> (user: User, scopes: [Scope]) {
        guard let user = caller.user else {
            throw GatehouseError(.forbidden, "a client_credentials token acts for no user; this call needs a user's token")
        }
        return (user, caller.token.scopes)
    }

    static func resellerScope(_ context: GatehouseRequestContext) throws -> PartnerAuth.ResellerScope {
        guard let text = context.parameters.get("scope"), let scope = PartnerAuth.ResellerScope(rawValue: text) else {
            throw GatehouseError(.notFound, "use resellers/self or resellers/all")
        }
        return scope
    }
}
