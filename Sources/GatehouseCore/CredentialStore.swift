/// A bearer token together with whom it belongs to, read in one query.
public struct BearerContext: Sendable {
    public var token: AccessTokenRecord
    public var user: User?
    public var tenant: Tenant?
    public var client: APIClient?
    /// Whether the client's node is enabled (when there is a client).
    public var clientTenantEnabled: Bool

    public init(token: AccessTokenRecord, user: User?, tenant: Tenant?, client: APIClient?, clientTenantEnabled: Bool) {
        self.token = token
        self.user = user
        self.tenant = tenant
        self.client = client
        self.clientTenantEnabled = clientTenantEnabled
    }
}

/// A user found by a dealer's search, with the account it belongs to.
public struct UserInAccount: Sendable, Hashable {
    public var user: User
    public var account: Tenant
    public init(user: User, account: Tenant) {
        self.user = user
        self.account = account
    }
}

/// Persistence of OAuth tokens, sign-in throttling and the device registry.
public protocol CredentialStore: Sendable {
    /// A client by its public id, with whether its node is enabled.
    func clientForAuthentication(clientId: String) async throws -> (record: APIClientRecord, tenantEnabled: Bool)?
    /// A token by the SHA-256 of its text, with its user, the user's node and its client.
    func bearer(hash: String) async throws -> BearerContext?
    /// Inserts tokens in one transaction; a token with `refreshId == -1` is linked to the
    /// first token of the batch (an access token issued with its refresh token). Returns the ids.
    func issue(_ tokens: [AccessTokenRecord], audit: (AuditIntent, action: String, tenantId: Int64?)?) async throws -> [Int64]
    /// Inserts one token with no audit entry, possibly in one transaction with other callers' (group commit).
    func issueOne(_ token: AccessTokenRecord) async throws
    /// Revokes a token; revoking a refresh token also revokes the access tokens made from it.
    /// Returns whether a live token was revoked.
    func revokeToken(id: Int64, at: Int64) async throws -> Bool
    /// On-behalf tokens minted for users in a subtree, newest last.
    func onBehalfTokens(under path: String?, page: PageRequest) async throws -> Page<AccessTokenRecord>

    /// The keys among `keys` that are locked at `now`.
    func lockedKeys(_ keys: [String], at now: Int64) async throws -> [String]
    /// Counts a failure (or an attempt charged before it is checked) for `key`; locks it for
    /// `lockout` seconds once `limit` fall in one `window`. Answers the count in the window,
    /// this one included: one atomic upsert, so concurrent callers on any node each see their
    /// own place in line.
    @discardableResult
    func recordFailure(key: String, at now: Int64, limit: Int, window: Int64, lockout: Int64) async throws -> Int
    /// Takes back one charged attempt of `key` that turned out not to be a failure (a right
    /// password); lifts a lock that count no longer justifies.
    func forgiveFailure(key: String, limit: Int) async throws
    /// Forgets the failures of `key` (after a successful sign-in).
    func clearFailures(key: String) async throws
    /// Deletes tokens that expired or were revoked before `before`, and sign-in counters
    /// with no lock whose window started before it. Returns how many rows went.
    func purge(before: Int64, now: Int64) async throws -> Int

    /// Users of accounts in a subtree (`path`), optionally only in accounts directly under
    /// `parentId`, optionally with one e-mail address; ordered by user id.
    func usersInAccounts(under path: String, parentId: Int64?, email: String?, page: PageRequest) async throws -> Page<UserInAccount>

    func createDevice(tenantId: Int64, kind: String, name: String, serial: String?, at: Int64, audit: AuditIntent) async throws -> Device
    func device(id: Int64) async throws -> Device?
    func deleteDevice(id: Int64, at: Int64, audit: AuditIntent) async throws
    func devices(under path: String?, tenantId: Int64?, kind: String?, page: PageRequest) async throws -> Page<Device>
}
