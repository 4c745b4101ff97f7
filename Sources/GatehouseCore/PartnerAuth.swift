import Foundation

/// Limits on failed password sign-ins, counted in the database so they hold across nodes.
public struct SignInThrottle: Sendable, Hashable {
    /// Failures per user name within `window` before the name is locked.
    public var perUsername: Int
    /// Failures per client address within `window` before the address is locked.
    public var perAddress: Int
    /// Seconds over which failures are counted.
    public var window: Int64
    /// Seconds a lock lasts; it lifts by itself.
    public var lockout: Int64

    public init(perUsername: Int = 5, perAddress: Int = 50, window: Int64 = 900, lockout: Int64 = 900) {
        self.perUsername = perUsername
        self.perAddress = perAddress
        self.window = window
        self.lockout = lockout
    }
}

/// Settings of the partner-auth surface.
public struct PartnerAuthSettings: Sendable, Hashable {
    /// Lifetime of an access token in seconds; answered as `expires_in` (one less, as the seed shows 43199).
    public var accessTokenLifetime: Int64
    /// Lifetime of an on-behalf token in seconds; 0 means it does not expire (revoke it instead), as in the seed.
    public var onBehalfTokenLifetime: Int64
    /// The `<n>` after the colon in `<uuid>:<n>` tokens: the issuing realm.
    public var tokenRealm: Int
    public var throttle: SignInThrottle

    public init(accessTokenLifetime: Int64 = 43_200, onBehalfTokenLifetime: Int64 = 0, tokenRealm: Int = 1, throttle: SignInThrottle = SignInThrottle()) {
        self.accessTokenLifetime = accessTokenLifetime
        self.onBehalfTokenLifetime = onBehalfTokenLifetime
        self.tokenRealm = tokenRealm
        self.throttle = throttle
    }
}

/// What the token endpoint and the on-behalf call answer.
public struct IssuedTokens: Sendable, Hashable {
    public var accessToken: String
    public var refreshToken: String?
    /// Seconds until the access token expires; 0 when it does not.
    public var expiresIn: Int64
    public var scopes: [Scope]
}

/// A caller of the partner REST API, identified by its bearer access token.
public struct PartnerCaller: Sendable {
    /// The token's user; `nil` for a client_credentials token, which acts as its API client.
    public var user: User?
    /// The user's node, or for a client_credentials token the client's node.
    public var tenant: Tenant
    public var token: AccessTokenRecord
    public var client: APIClient?
}

/// The partner-auth protocol of seed 001: OAuth password and refresh grants for API clients,
/// dealer search of end users, and access tokens a dealer mints on behalf of an end user.
public struct PartnerAuth: Sendable {
    public let store: any CredentialStore & ManagementStore
    public let hasher: PasswordHasher
    public let clock: any GatehouseClock
    public let settings: PartnerAuthSettings

    /// The partner-auth service over a store.
    public init(store: any CredentialStore & ManagementStore, hasher: PasswordHasher, clock: any GatehouseClock = SystemClock(), settings: PartnerAuthSettings = PartnerAuthSettings()) {
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.settings = settings
    }

    /// A token in the protocol's `<uuid>:<n>` form: a random (CSPRNG) version-4 UUID and the realm.
    public func newToken() -> String {
        var bytes = Secrets.randomBytes(16)
        bytes[6] = (bytes[6] & 0x0f) | 0x40
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        return "\(uuid.uuidString.lowercased()):\(settings.tokenRealm)"
    }

    /// Parses a `scope` parameter ("read write", "read,write"); `nil` or empty means "all allowed".
    public static func parseScopes(_ text: String?) throws(GatehouseError) -> [Scope]? {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        var scopes: [Scope] = []
        for part in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "+" }) {
            guard let scope = Scope(rawValue: String(part)) else { throw GatehouseError(.invalidScope, "unknown scope \(part)") }
            scopes.append(scope)
        }
        return scopes.isEmpty ? nil : Array(Set(scopes)).sorted()
    }

    /// Checks client credentials; `invalid_client` when unknown, wrong, disabled or in a disabled node.
    public func authenticateClient(clientId: String, secret: String) async throws -> APIClient {
        let failure = GatehouseError(.invalidClient, "client authentication failed")
        guard clientId.utf8.count <= 128, secret.utf8.count <= 512,
              let found = try await store.clientForAuthentication(clientId: clientId)
        else {
            _ = Secrets.matches(secret, hash: String(repeating: "0", count: 64))
            throw failure
        }
        guard Secrets.matches(secret, hash: found.record.secretHash), found.record.client.enabled, found.tenantEnabled else { throw failure }
        return found.record.client
    }

    /// The password grant: a new access and refresh token for the user, within the client's and
    /// the user's scopes. Wrong password, unknown, disabled and locked users all get the same
    /// `invalid_grant` (see ``checkPassword(username:password:address:failure:)``).
    public func passwordGrant(client: APIClient, username: String, password: String, requested: [Scope]?, address: String) async throws -> IssuedTokens {
        let user = try await checkPassword(username: username, password: password, address: address,
                                           failure: GatehouseError(.invalidGrant, "Bad credentials"))
        let now = clock.now()
        let scopes = try grantable(requested, client: client.scopes, user: user.scopes)
        let access = newToken(), refresh = newToken()
        try await issuePair(access: access, refresh: refresh, user: user, client: client, scopes: scopes, now: now)
        return IssuedTokens(accessToken: access, refreshToken: refresh, expiresIn: settings.accessTokenLifetime - 1, scopes: scopes)
    }

    /// Checks a user name and password for every password sign-in (OAuth password grant,
    /// /v1 sessions). Failures count against the user name and the client address in the
    /// database; a locked name or address, a wrong password, an unknown or disabled user all
    /// throw `failure` alike, after the same hashing work.
    public func checkPassword(username: String, password: String, address: String, failure: GatehouseError) async throws -> User {
        let now = clock.now()
        let email = (try? Validation.email(username)) ?? username.lowercased()
        let userKey = "user:" + email
        let addressKey = "addr:" + address
        let throttle = settings.throttle
        var allowed = try await store.lockedKeys([userKey, addressKey], at: now).isEmpty
        if allowed {
            // The attempt is charged before the password is checked, so that guesses in flight
            // at once, on any node, each take their place in line: at most the limit of them is
            // ever checked. A right password gives its charge back, and so does an attempt that is
            // not checked.
            let userCount = try await store.recordFailure(key: userKey, at: now, limit: throttle.perUsername, window: throttle.window, lockout: throttle.lockout)
            let addressCount = try await store.recordFailure(key: addressKey, at: now, limit: throttle.perAddress, window: throttle.window, lockout: throttle.lockout)
            allowed = userCount <= throttle.perUsername && addressCount <= throttle.perAddress
            if !allowed {
                // Over the limit: not checked, so not counted (the lock stays: the count is at the limit).
                try await store.forgiveFailure(key: userKey, limit: throttle.perUsername)
                try await store.forgiveFailure(key: addressKey, limit: throttle.perAddress)
            }
        }
        let record = allowed && !email.isEmpty && email.utf8.count <= 254 ? try await store.user(email: email) : nil
        let hasher = self.hasher
        let stored = record?.passwordHash ?? hasher.dummyHash
        let passwordOK = await Offload.run { hasher.verify(password, against: stored) }
        guard allowed, let record, passwordOK, record.user.enabled,
              let tenant = try await store.tenant(id: record.user.tenantId), tenant.enabled
        else { throw failure }
        try await store.clearFailures(key: userKey)
        try await store.forgiveFailure(key: addressKey, limit: throttle.perAddress)
        return record.user
    }

    /// The refresh grant: a new access token from a live refresh token of the same client. The
    /// refresh token itself is answered unchanged and keeps working until the user logs out
    /// (or it is revoked); earlier access tokens stay valid until they expire.
    public func refreshGrant(client: APIClient, refreshToken: String, requested: [Scope]?) async throws -> IssuedTokens {
        let failure = GatehouseError(.invalidGrant, "Invalid refresh token")
        let now = clock.now()
        guard refreshToken.utf8.count <= 256, let context = try await store.bearer(hash: Secrets.hash(refreshToken)),
              context.token.kind == .oauthRefresh, context.token.isUsable(at: now), context.token.clientId == client.id,
              let user = context.user, user.enabled, let tenant = context.tenant, tenant.enabled
        else { throw failure }
        let scopes = try grantable(requested, client: context.token.scopes, user: user.scopes)
        let access = newToken()
        try await store.issueOne(AccessTokenRecord(tokenHash: Secrets.hash(access), kind: .oauthAccess, userId: user.id,
                                                   expiresAt: now + settings.accessTokenLifetime, createdAt: now, clientId: client.id,
                                                   scopes: scopes, refreshId: context.token.id))
        return IssuedTokens(accessToken: access, refreshToken: refreshToken, expiresIn: settings.accessTokenLifetime - 1, scopes: scopes)
    }

    /// The client_credentials grant (RFC 6749 §4.4): an access token that acts as the client
    /// itself in the client's node, within the client's scopes; no refresh token.
    public func clientCredentialsGrant(client: APIClient, requested: [Scope]?) async throws -> IssuedTokens {
        let scopes = try grantable(requested, client: client.scopes, user: client.scopes)
        let now = clock.now()
        let access = newToken()
        try await store.issueOne(AccessTokenRecord(tokenHash: Secrets.hash(access), kind: .clientCredentials, userId: nil,
                                                   expiresAt: now + settings.accessTokenLifetime, createdAt: now, clientId: client.id, scopes: scopes))
        return IssuedTokens(accessToken: access, refreshToken: nil, expiresIn: settings.accessTokenLifetime - 1, scopes: scopes)
    }

    /// RFC 7009 revocation by the client the token was issued to. Unknown tokens, and tokens of
    /// other clients, are ignored (the endpoint answers 200 either way).
    public func revoke(client: APIClient, token: String) async throws {
        guard token.utf8.count <= 256, let context = try await store.bearer(hash: Secrets.hash(token)),
              context.token.clientId == client.id
        else { return }
        _ = try await store.revokeToken(id: context.token.id, at: clock.now())
    }

    /// Logout: ends the caller's access token and the refresh token it came from (with every
    /// access token made from that refresh token), on every node at once.
    public func logout(_ caller: PartnerCaller) async throws {
        let now = clock.now()
        if let refreshId = caller.token.refreshId {
            _ = try await store.revokeToken(id: refreshId, at: now)
        }
        _ = try await store.revokeToken(id: caller.token.id, at: now)
    }

    /// The caller behind a bearer access token (OAuth, client_credentials or on-behalf);
    /// `unauthenticated` otherwise.
    public func caller(bearer token: String) async throws -> PartnerCaller {
        let failure = GatehouseError(.unauthenticated, "the access token is invalid, expired or revoked")
        guard !token.isEmpty, token.utf8.count <= 256, let context = try await store.bearer(hash: Secrets.hash(token)),
              context.token.isUsable(at: clock.now())
        else { throw failure }
        if context.token.kind == .clientCredentials {
            guard let client = context.client, client.enabled, context.clientTenantEnabled,
                  let tenant = try await store.tenant(id: client.tenantId), tenant.enabled
            else { throw failure }
            return PartnerCaller(user: nil, tenant: tenant, token: context.token, client: client)
        }
        guard context.token.kind == .oauthAccess || context.token.kind == .onBehalf,
              let user = context.user, user.enabled, let tenant = context.tenant, tenant.enabled
        else { throw failure }
        if let client = context.client, !(client.enabled && context.clientTenantEnabled) { throw failure }
        return PartnerCaller(user: user, tenant: tenant, token: context.token, client: context.client)
    }

    /// Which accounts a dealer addresses: `self` (its own accounts) or `all` (a distributor's
    /// accounts across its resellers).
    public enum ResellerScope: String, Sendable {
        case selfScope = "self"
        case all
    }

    /// The subtree path and direct parent a dealer's `self`/`all` addresses; `forbidden` for
    /// end users, and for `all` from anything but a distributor or the platform.
    func reach(of caller: PartnerCaller, _ scope: ResellerScope) throws(GatehouseError) -> (path: String, parentId: Int64?) {
        guard caller.tenant.kind.isDealer, caller.token.kind == .oauthAccess || caller.token.kind == .clientCredentials else {
            throw GatehouseError(.forbidden, "only dealer admin users may do this")
        }
        switch scope {
        case .selfScope:
            return (caller.tenant.path, caller.tenant.kind == .reseller ? nil : caller.tenant.id)
        case .all:
            guard caller.tenant.kind == .distributor || caller.tenant.kind == .platform else {
                throw GatehouseError(.forbidden, "resellers/all is for distributors; a reseller uses resellers/self")
            }
            return (caller.tenant.path, nil)
        }
    }

    /// Users of the dealer's accounts, optionally with one e-mail address.
    public func searchUsers(_ caller: PartnerCaller, scope: ResellerScope, email: String?, page: PageRequest) async throws -> Page<UserInAccount> {
        let reach = try reach(of: caller, scope)
        let email = try email.map { try Validation.email($0) }
        return try await store.usersInAccounts(under: reach.path, parentId: reach.parentId, email: email, page: page)
    }

    /// Mints an access token that acts as `userId` of `accountId`. Needs the dealer node's
    /// "Generate Access Token" module, a client enabled for provisioning, the caller's
    /// "Generate access token" permission, and the user inside the caller's reach.
    public func mintOnBehalf(_ caller: PartnerCaller, scope: ResellerScope, accountId: Int64, userId: Int64, requested: [Scope]?) async throws -> IssuedTokens {
        let reach = try reach(of: caller, scope)
        let features = try await store.features(tenantId: caller.tenant.id)
        guard features.contains(FeatureSwitch(feature: .generateAccessToken, enabled: true)) else {
            throw GatehouseError(.forbidden, "the Generate Access Token module is not enabled for this dealer")
        }
        guard let client = caller.client, client.provisioning else {
            throw GatehouseError(.forbidden, "this API client is not enabled for provisioning")
        }
        guard let dealer = caller.user else {
            throw GatehouseError(.forbidden, "a client_credentials token acts for no user; mint with a dealer admin user's token")
        }
        guard dealer.permissions.contains(.generateAccessToken) else {
            throw GatehouseError(.forbidden, "the user lacks the Generate access token permission")
        }
        guard let account = try await store.tenant(id: accountId), account.kind == .account, account.path.hasPrefix(reach.path),
              reach.parentId == nil || account.parentId == reach.parentId
        else { throw GatehouseError.notFound("account", accountId) }
        guard let target = try await store.user(id: userId)?.user, target.tenantId == account.id else {
            throw GatehouseError.notFound("user", userId)
        }
        guard target.enabled, account.enabled else { throw GatehouseError(.conflict, "the user or its account is disabled") }
        let scopes = try grantable(requested ?? [.read], client: [.read, .write], user: target.scopes)
        let now = clock.now()
        let token = newToken()
        let lifetime = settings.onBehalfTokenLifetime
        _ = try await store.issue(
            [AccessTokenRecord(tokenHash: Secrets.hash(token), kind: .onBehalf, userId: target.id, expiresAt: lifetime > 0 ? now + lifetime : nil,
                               createdAt: now, clientId: client.id, scopes: scopes, mintedBy: dealer.id)],
            audit: (AuditIntent(actor: "user:\(dealer.id)", detail: "for user \(target.id) via client \(client.clientId), scope \(scopes.map(\.rawValue).joined(separator: " "))"),
                    action: "token.mint_on_behalf", tenantId: account.id))
        return IssuedTokens(accessToken: token, refreshToken: nil, expiresIn: lifetime, scopes: scopes)
    }

    // MARK: Helpers

    func grantable(_ requested: [Scope]?, client: [Scope], user: [Scope]) throws(GatehouseError) -> [Scope] {
        let allowed = Set(client).intersection(user)
        guard let requested else {
            guard !allowed.isEmpty else { throw GatehouseError(.invalidScope, "the client and user allow no common scope") }
            return allowed.sorted()
        }
        guard Set(requested).isSubset(of: allowed) else {
            throw GatehouseError(.invalidScope, "the requested scope exceeds what the client and user allow")
        }
        return requested.sorted()
    }

    func issuePair(access: String, refresh: String, user: User, client: APIClient, scopes: [Scope], now: Int64) async throws {
        _ = try await store.issue([
            AccessTokenRecord(tokenHash: Secrets.hash(refresh), kind: .oauthRefresh, userId: user.id, expiresAt: nil, createdAt: now,
                              clientId: client.id, scopes: scopes),
            AccessTokenRecord(tokenHash: Secrets.hash(access), kind: .oauthAccess, userId: user.id, expiresAt: now + settings.accessTokenLifetime,
                              createdAt: now, clientId: client.id, scopes: scopes, refreshId: -1),
        ], audit: nil)
    }
}
