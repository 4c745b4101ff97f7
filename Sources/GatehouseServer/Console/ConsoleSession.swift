import GatehouseCore
import Hummingbird

/// A signed-in console user: the session token from its cookie (a /v1 user session, stored
/// hashed with its expiry), the core caller it stands for, and the form token of the session.
struct ConsoleSession: Sendable {
    /// The session token (the cookie's value); never rendered.
    let token: String
    let user: User
    let tenant: Tenant
    /// The CSRF token every form of this session carries (see ``ConsoleSession/formToken(for:)``).
    let csrf: String
    /// The vendor role of the user's own node, when it has one and the user may act for it
    /// (`manage_clients`): the console then offers the vendor's pages.
    var vendor: Vendor?

    /// The core caller: the user acting within its own node's subtree.
    var caller: Caller { .user(user, tenant) }

    /// The session of a request's cookie, or nil when there is none or it is no longer valid
    /// (expired, revoked, its user or node disabled, or not a user session).
    static func resolve(_ request: Request, console: Console, management: Management, provisioning: Provisioning? = nil) async throws -> ConsoleSession? {
        guard let token = request.cookies[console.sessionCookie]?.value, !token.isEmpty, token.utf8.count <= 512 else { return nil }
        let caller: Caller
        do {
            caller = try await management.caller(bearer: token)
        } catch let error as GatehouseError where error.code == .unauthenticated {
            return nil
        }
        guard case .user(let user, let tenant) = caller else { return nil }
        var session = ConsoleSession(token: token, user: user, tenant: tenant, csrf: formToken(for: token))
        if let provisioning, tenant.kind.isDealer, user.permissions.contains(.manageClients) {
            session.vendor = try await provisioning.store.vendor(tenantId: tenant.id)
        }
        return session
    }

    /// The form token bound to `secret` (the session token, or the sign-in cookie before a
    /// session exists): SHA-256 of the secret under a label of its own, so it is neither the
    /// secret nor its stored hash. A page from another site cannot read the cookie, so it
    /// cannot know the token.
    static func formToken(for secret: String) -> String {
        Secrets.hash("gatehouse console form v1\n" + secret)
    }

    /// Whether a submitted form token is the one `secret` makes (compared in constant time).
    static func formTokenMatches(_ submitted: String?, secret: String) -> Bool {
        guard let submitted, !submitted.isEmpty else { return false }
        return Secrets.constantTimeEquals(Array(submitted.utf8), Array(formToken(for: secret).utf8))
    }
}
