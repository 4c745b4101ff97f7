import Foundation

/// The rules of the tiered-access surface (seed 002): super-admin accounts and license keys,
/// the license-key admin API (channels, groups, limits, metadata), and the channel (`Acc`)
/// and group (`SI`) tokens of front ends.
///
/// Every secret (license key, channel and group token) comes from the CSPRNG, is looked up
/// by its SHA-256 and kept sealed by the master key so that its owner can see it again.
public struct TieredAccess: Sendable {
    public let store: any TieredStore
    public let vault: SecretVault
    public let clock: any GatehouseClock
    /// Written into every channel token.
    public let endpoint: TieredEndpoint

    /// The service over a store, with the vault for sealed secrets.
    public init(store: any TieredStore, vault: SecretVault, clock: any GatehouseClock, endpoint: TieredEndpoint) {
        self.store = store
        self.vault = vault
        self.clock = clock
        self.endpoint = endpoint
    }

    /// Purposes bound into sealed values.
    enum Purpose {
        static let license = "license_key"
        static let channelToken = "channel_token"
        static let groupToken = "group_token"
        static let sourcePassword = "source_password"
    }

    func sealed(_ secret: String, purpose: String) throws -> SealedSecret {
        let hash = Secrets.hash(secret)
        return SealedSecret(hash: hash, sealed: try vault.seal(secret, context: purpose + ":" + hash))
    }

    func open(_ secret: SealedSecret, purpose: String) throws -> String {
        try vault.open(secret.sealed, context: purpose + ":" + secret.hash)
    }

    // MARK: Super-admin

    /// Creates an account with the given or a generated license key.
    public func createAccount(_ new: NewTieredAccount, actor: String, parentId: Int64) async throws -> TieredAccount {
        let suid = try TieredValidation.suid(new.suid)
        let usrc = try new.usrc.map { try Validation.name($0, field: "usrc") } ?? suid
        let key = try new.licenseKey.map { try TieredValidation.licenseKey($0) } ?? Self.newLicenseKey()
        let limits = try TieredValidation.limits(new.limits)
        let record = try await store.createTieredAccount(
            parentId: parentId, suid: suid, usrc: usrc, license: try sealed(key, purpose: Purpose.license), limits: limits,
            at: clock.now(), audit: AuditIntent(actor: actor, detail: "license-key account \(suid)"))
        return TieredAccount(record: record, licenseKey: key)
    }

    /// A generated license key: `v3.` and 32 characters of A-Z a-z 0-9 (190 bits).
    public static func newLicenseKey() -> String {
        "v3." + Secrets.randomString(length: 32, alphabet: Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    }

    /// An account with its license key opened.
    func withKey(_ record: TieredAccountRecord) throws -> TieredAccount {
        TieredAccount(record: record, licenseKey: try open(SealedSecret(hash: record.licenseHash, sealed: record.licenseSealed), purpose: Purpose.license))
    }

    /// One account with its key.
    public func account(id: Int64) async throws -> TieredAccount {
        guard let record = try await store.tieredAccount(id: id) else { throw GatehouseError.notFound("account", id) }
        return try withKey(record)
    }

    /// Accounts, optionally found by `suid` or by license key.
    public func findAccounts(suid: String?, licenseKey: String?, limit: Int?, offset: Int?) async throws -> OffsetPage<TieredAccount> {
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        let page = try await store.tieredAccounts(suid: suid, licenseHash: licenseKey.map(Secrets.hash), limit: paging.limit, offset: paging.offset)
        return try page.map { try withKey($0) }
    }

    /// Changes an account's company name or limits.
    public func updateAccount(id: Int64, usrc: String?, limits: AccountLimits?, actor: String) async throws -> TieredAccount {
        let usrc = try usrc.map { try Validation.name($0, field: "usrc") }
        let limits = try limits.map { try TieredValidation.limits($0) }
        let record = try await store.updateTieredAccount(id: id, usrc: usrc, limits: limits, at: clock.now(), audit: AuditIntent(actor: actor))
        return try withKey(record)
    }

    /// Replaces an account's license key with `value` or a generated one; the old key stops at once.
    public func regenerateLicenseKey(id: Int64, value: String?, actor: String) async throws -> TieredAccount {
        let key = try value.map { try TieredValidation.licenseKey($0) } ?? Self.newLicenseKey()
        let record = try await store.replaceLicenseKey(id: id, license: try sealed(key, purpose: Purpose.license), at: clock.now(),
                                                       audit: AuditIntent(actor: actor, detail: "license key replaced"))
        return TieredAccount(record: record, licenseKey: key)
    }

    // MARK: Credentials

    /// The caller behind `Authorization: LKey|Acc|SI <credential>`.
    public func authenticate(scheme: String, credential: String) async throws -> TieredPrincipal {
        let principal: TieredPrincipal
        switch scheme.lowercased() {
        case "lkey":
            guard !credential.isEmpty, credential.utf8.count <= 256,
                  let account = try await store.accountPrincipal(licenseHash: Secrets.hash(credential)) else {
                throw GatehouseError(.unauthenticated, "the license key is not valid")
            }
            principal = .account(account)
        case "acc":
            let decoded = try ChannelTokenCodec.decode(credential)
            guard let channel = try await store.channelPrincipal(tokenHash: Secrets.hash(decoded.secret)),
                  decoded.camid == nil || decoded.camid == channel.channelId else {
                throw GatehouseError(.unauthenticated, "the channel token is not valid")
            }
            principal = .channel(channel)
        case "si":
            guard !credential.isEmpty, credential.utf8.count <= 256,
                  let group = try await store.groupPrincipal(tokenHash: Secrets.hash(credential)) else {
                throw GatehouseError(.unauthenticated, "the group token is not valid")
            }
            principal = .group(group)
        default:
            throw GatehouseError(.unauthenticated, "use Authorization: LKey, Acc or SI")
        }
        guard principal.account.enabled else { throw GatehouseError(.unauthenticated, "the account is disabled") }
        if case .account = principal { return principal }
        let account = principal.account
        if let limit = account.limits.bandwidthBytes, account.bandwidthMonth == Int64.usageMonth(of: clock.now()), account.bandwidthBytes >= limit {
            throw GatehouseError(.limitExceeded, "the account's monthly bandwidth limit is used up")
        }
        return principal
    }

    // MARK: Channels (LKey)

    /// A channel with its tokens opened.
    public func present(_ record: ChannelRecord) throws -> Channel {
        var tokens: [ChannelAccess: String] = [:]
        for (access, secret) in record.tokens {
            tokens[access] = ChannelTokenCodec.encode(secret: try open(secret, purpose: Purpose.channelToken), channelId: record.id, access: access, endpoint: endpoint)
        }
        return Channel(record: record, accessTokens: tokens)
    }

    func newChannelTokens(_ levels: [ChannelAccess]) throws -> [ChannelAccess: SealedSecret] {
        var tokens: [ChannelAccess: SealedSecret] = [:]
        for access in levels { tokens[access] = try sealed(ChannelTokenCodec.newSecret(), purpose: Purpose.channelToken) }
        return tokens
    }

    /// Creates a channel of the caller's account with a fresh `all` and `watch` token.
    public func createChannel(_ account: AccountPrincipal, _ settings: ChannelSettings) async throws -> Channel {
        let name = try Validation.name(settings.name ?? "Channel")
        let timezone = try TieredValidation.timezone(settings.timezone ?? "UTC")
        let url = try settings.sourceURL.flatMap { $0.isEmpty ? nil : try TieredValidation.sourceURL($0) }
        let login = try settings.sourceLogin.map { try TieredValidation.shortText($0, "source.login") }
        let password = try settings.sourcePassword.map { try TieredValidation.shortText($0, "source.password") }
        let meta = try TieredValidation.meta(settings.meta ?? [:])
        let record = try await store.createChannel(
            accountId: account.accountId, name: name, timezone: timezone, recMode: settings.recMode ?? .off, sourceURL: url, sourceLogin: login,
            sourcePasswordSealed: try password.map { try vault.seal($0, context: Purpose.sourcePassword) }, meta: meta,
            tokens: try newChannelTokens(ChannelAccess.allCases), at: clock.now(), audit: AuditIntent(actor: Self.actor(.account(account)), detail: name))
        return try present(record)
    }

    /// A channel of the caller's account (others behave as if they did not exist).
    public func channel(_ account: AccountPrincipal, id: Int64) async throws -> ChannelRecord {
        guard let record = try await store.channel(id: id), record.accountId == account.accountId else { throw GatehouseError.notFound("channel", id) }
        return record
    }

    /// The account's channels, in id order.
    public func channels(_ account: AccountPrincipal, limit: Int?, offset: Int?) async throws -> OffsetPage<Channel> {
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        let page = try await store.channels(accountId: account.accountId, ids: nil, limit: paging.limit, offset: paging.offset)
        return try page.map(present)
    }

    /// Changes a channel's settings (absent fields keep their value; `meta` replaces the metadata).
    public func updateChannel(_ caller: TieredPrincipal, id: Int64, _ settings: ChannelSettings) async throws -> ChannelRecord {
        var record = try await writableChannel(caller, id: id)
        if let name = settings.name { record.name = try Validation.name(name) }
        if let timezone = settings.timezone { record.timezone = try TieredValidation.timezone(timezone) }
        if let mode = settings.recMode { record.recMode = mode }
        if let url = settings.sourceURL { record.sourceURL = url.isEmpty ? nil : try TieredValidation.sourceURL(url) }
        if let login = settings.sourceLogin { record.sourceLogin = login.isEmpty ? nil : try TieredValidation.shortText(login, "source.login") }
        if let password = settings.sourcePassword {
            record.sourcePasswordSealed = password.isEmpty ? nil : try vault.seal(try TieredValidation.shortText(password, "source.password"), context: Purpose.sourcePassword)
        }
        if let meta = settings.meta { record.meta = try TieredValidation.meta(meta) }
        return try await store.updateChannel(record, at: clock.now(), audit: AuditIntent(actor: Self.actor(caller), detail: "channel settings"))
    }

    /// Sets a channel's limits.
    public func setChannelLimits(_ account: AccountPrincipal, id: Int64, _ limits: ChannelLimits) async throws -> ChannelRecord {
        var record = try await channel(account, id: id)
        record.limits = ChannelLimits(
            storageBytes: try TieredValidation.limit(limits.storageBytes, "storage_bytes"),
            recordsMaxAge: try TieredValidation.limit(limits.recordsMaxAge, "records_max_age"))
        return try await store.updateChannel(record, at: clock.now(), audit: AuditIntent(actor: Self.actor(.account(account)), detail: "channel limits"))
    }

    /// Replaces a channel's metadata (LKey, or the channel's own `all` token).
    public func setChannelMeta(_ caller: TieredPrincipal, id: Int64, _ meta: [String: String]) async throws -> ChannelRecord {
        var record = try await writableChannel(caller, id: id)
        record.meta = try TieredValidation.meta(meta)
        return try await store.updateChannel(record, at: clock.now(), audit: AuditIntent(actor: Self.actor(caller), detail: "channel meta"))
    }

    /// Deletes a channel with its tokens, group memberships and events.
    public func deleteChannel(_ account: AccountPrincipal, id: Int64) async throws {
        _ = try await channel(account, id: id)
        try await store.deleteChannel(id: id, at: clock.now(), audit: AuditIntent(actor: Self.actor(.account(account))))
    }

    /// New tokens for a channel (`access` nil: both); the old ones stop working at once.
    public func regenerateChannelTokens(_ account: AccountPrincipal, id: Int64, access: ChannelAccess?) async throws -> Channel {
        _ = try await channel(account, id: id)
        let record = try await store.replaceChannelTokens(
            id: id, tokens: try newChannelTokens(access.map { [$0] } ?? ChannelAccess.allCases), at: clock.now(),
            audit: AuditIntent(actor: Self.actor(.account(account)), detail: "tokens \(access?.rawValue ?? "all, watch") replaced"))
        return try present(record)
    }

    // MARK: Channels as their front ends see them (Acc, SI)

    /// The channel a principal may read: the token's own channel, a channel of the group, or any channel of the account.
    public func readableChannel(_ caller: TieredPrincipal, id: Int64) async throws -> ChannelRecord {
        switch caller {
        case .account(let account): return try await channel(account, id: id)
        case .channel(let channel):
            guard channel.channelId == id, let record = try await store.channel(id: id) else { throw GatehouseError.notFound("channel", id) }
            return record
        case .group(let group):
            guard group.channelIds.contains(id), let record = try await store.channel(id: id), record.accountId == group.account.accountId else {
                throw GatehouseError.notFound("channel", id)
            }
            return record
        }
    }

    /// A channel the principal may change: LKey for its account's channels, `all` tokens for their own.
    func writableChannel(_ caller: TieredPrincipal, id: Int64) async throws -> ChannelRecord {
        switch caller {
        case .account(let account): return try await channel(account, id: id)
        case .channel(let channel):
            guard channel.access == .all else { throw GatehouseError(.forbidden, "a watch token cannot change anything") }
            return try await readableChannel(caller, id: id)
        case .group:
            throw GatehouseError(.forbidden, "a group token cannot change anything")
        }
    }

    /// The channels of a group token (with their watch tokens).
    public func groupChannels(_ group: GroupPrincipal, limit: Int?, offset: Int?) async throws -> OffsetPage<Channel> {
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        let page = try await store.channels(accountId: group.account.accountId, ids: group.channelIds, limit: paging.limit, offset: paging.offset)
        return try page.map { record in
            var watchOnly = record
            watchOnly.tokens = record.tokens.filter { $0.key == .watch }
            return try present(watchOnly)
        }
    }

    // MARK: Events

    /// Stores an event of a channel (LKey, or the channel's `all` token).
    public func addEvent(_ caller: TieredPrincipal, channelId: Int64, type: String, time: Int64?, payload: String) async throws -> ChannelEvent {
        _ = try await writableChannel(caller, id: channelId)
        let type = try TieredValidation.eventType(type)
        guard payload.utf8.count <= 65_536 else { throw GatehouseError.invalid("payload", "payload must be at most 64 KiB of JSON") }
        let now = clock.now()
        return try await store.addChannelEvent(channelId: channelId, type: type, time: time ?? now * 1000, payload: payload, at: now)
    }

    /// Events of the channels a principal may read, newest first.
    public func events(_ caller: TieredPrincipal, channelId: Int64?, type: String?, start: Int64?, end: Int64?, limit: Int?, offset: Int?) async throws -> OffsetPage<ChannelEvent> {
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        let type = try type.map { try TieredValidation.eventType($0) }
        if let start, let end, start > end { throw GatehouseError.invalid("start", "start must not be after end") }
        let ids: [Int64]
        if let channelId {
            ids = [try await readableChannel(caller, id: channelId).id]
        } else {
            switch caller {
            case .channel(let channel): ids = [channel.channelId]
            case .group(let group): ids = group.channelIds
            case .account: throw GatehouseError.invalid("channel_id", "channel_id is required")
            }
        }
        return try await store.channelEvents(EventQuery(channelIds: ids, type: type, start: start, end: end, limit: paging.limit, offset: paging.offset))
    }

    // MARK: Groups (LKey)

    /// A new group token (256 bits from the CSPRNG).
    public static func newGroupToken() -> String { Secrets.token(prefix: "si1.", byteCount: 32) }

    func groupChannelIds(_ account: AccountPrincipal, _ ids: [Int64]) async throws -> [Int64] {
        guard ids.count <= 10_000 else { throw GatehouseError.invalid("channels", "a group holds at most 10000 channels") }
        let unique = Array(Set(ids)).sorted()
        for id in unique {
            guard let record = try await store.channel(id: id), record.accountId == account.accountId else {
                throw GatehouseError(.notFound, "channel \(id) not found", field: "channels")
            }
        }
        return unique
    }

    public func presentGroup(_ record: ChannelGroupRecord) throws -> ChannelGroup {
        ChannelGroup(record: record, token: try open(record.token, purpose: Purpose.groupToken))
    }

    /// Creates a group of the account's channels with a fresh `SI` token.
    public func createGroup(_ account: AccountPrincipal, name: String, channelIds: [Int64]) async throws -> ChannelGroup {
        let name = try Validation.name(name)
        let ids = try await groupChannelIds(account, channelIds)
        let record = try await store.createChannelGroup(accountId: account.accountId, name: name, channelIds: ids,
                                                        token: try sealed(Self.newGroupToken(), purpose: Purpose.groupToken),
                                                        at: clock.now(), audit: AuditIntent(actor: Self.actor(.account(account)), detail: name))
        return try presentGroup(record)
    }

    /// A group of the caller's account.
    public func group(_ account: AccountPrincipal, id: Int64) async throws -> ChannelGroupRecord {
        guard let record = try await store.channelGroup(id: id), record.accountId == account.accountId else { throw GatehouseError.notFound("channel group", id) }
        return record
    }

    public func groups(_ account: AccountPrincipal, limit: Int?, offset: Int?) async throws -> OffsetPage<ChannelGroup> {
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        let page = try await store.channelGroups(accountId: account.accountId, limit: paging.limit, offset: paging.offset)
        return try page.map(presentGroup)
    }

    /// Renames a group, replaces its channels, or (with `regenerateToken`) gives it a new token.
    public func updateGroup(_ account: AccountPrincipal, id: Int64, name: String?, channelIds: [Int64]?, regenerateToken: Bool) async throws -> ChannelGroup {
        _ = try await group(account, id: id)
        let name = try name.map { try Validation.name($0) }
        let ids = try await channelIds.asyncMap { try await groupChannelIds(account, $0) }
        let token = regenerateToken ? try sealed(Self.newGroupToken(), purpose: Purpose.groupToken) : nil
        let record = try await store.updateChannelGroup(id: id, name: name, channelIds: ids, token: token, at: clock.now(),
                                                        audit: AuditIntent(actor: Self.actor(.account(account)), detail: regenerateToken ? "token replaced" : ""))
        return try presentGroup(record)
    }

    public func deleteGroup(_ account: AccountPrincipal, id: Int64) async throws {
        _ = try await group(account, id: id)
        try await store.deleteChannelGroup(id: id, at: clock.now(), audit: AuditIntent(actor: Self.actor(.account(account))))
    }

    /// The account of an LKey caller with its usage.
    public func usage(_ account: AccountPrincipal) async throws -> TieredAccountRecord {
        guard let record = try await store.tieredAccount(id: account.accountId) else { throw GatehouseError.notFound("account", account.accountId) }
        return record
    }

    /// How a principal appears in the audit log (never its secret).
    public static func actor(_ principal: TieredPrincipal) -> String {
        switch principal {
        case .account(let account): "lkey:account:\(account.accountId)"
        case .channel(let channel): "acc:channel:\(channel.channelId):\(channel.access.rawValue)"
        case .group(let group): "si:group:\(group.groupId)"
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
