/// What the tiered-access surface (seed 002) needs from storage. Every mutation runs in one
/// transaction with its audit entry; limits are checked inside that transaction, so they
/// hold under concurrent requests and across nodes.
public protocol TieredStore: Sendable {
    // MARK: Accounts
    /// Creates an account node under `parentId` and its license-key record; `conflict` when the `suid` or key is taken.
    func createTieredAccount(parentId: Int64, suid: String, usrc: String, license: SealedSecret, limits: AccountLimits,
                             at: Int64, audit: AuditIntent) async throws -> TieredAccountRecord
    func tieredAccount(id: Int64) async throws -> TieredAccountRecord?
    /// Accounts filtered by `suid` or license-key hash, in id order.
    func tieredAccounts(suid: String?, licenseHash: String?, limit: Int, offset: Int) async throws -> OffsetPage<TieredAccountRecord>
    func updateTieredAccount(id: Int64, usrc: String?, limits: AccountLimits?, at: Int64, audit: AuditIntent) async throws -> TieredAccountRecord
    /// Replaces the license key; the old one stops working at once.
    func replaceLicenseKey(id: Int64, license: SealedSecret, at: Int64, audit: AuditIntent) async throws -> TieredAccountRecord

    // MARK: Credentials
    func accountPrincipal(licenseHash: String) async throws -> AccountPrincipal?
    func channelPrincipal(tokenHash: String) async throws -> ChannelPrincipal?
    func groupPrincipal(tokenHash: String) async throws -> GroupPrincipal?

    // MARK: Channels
    /// Creates a channel; `limit_exceeded` when the account already holds `hosted_cameras` channels.
    func createChannel(accountId: Int64, name: String, timezone: String, recMode: RecordingMode, sourceURL: String?, sourceLogin: String?,
                       sourcePasswordSealed: String?, meta: [String: String], tokens: [ChannelAccess: SealedSecret],
                       at: Int64, audit: AuditIntent) async throws -> ChannelRecord
    func channel(id: Int64) async throws -> ChannelRecord?
    func channels(accountId: Int64, ids: [Int64]?, limit: Int, offset: Int) async throws -> OffsetPage<ChannelRecord>
    func updateChannel(_ record: ChannelRecord, at: Int64, audit: AuditIntent) async throws -> ChannelRecord
    func deleteChannel(id: Int64, at: Int64, audit: AuditIntent) async throws
    func replaceChannelTokens(id: Int64, tokens: [ChannelAccess: SealedSecret], at: Int64, audit: AuditIntent) async throws -> ChannelRecord

    // MARK: Groups
    func createChannelGroup(accountId: Int64, name: String, channelIds: [Int64], token: SealedSecret, at: Int64, audit: AuditIntent) async throws -> ChannelGroupRecord
    func channelGroup(id: Int64) async throws -> ChannelGroupRecord?
    func channelGroups(accountId: Int64, limit: Int, offset: Int) async throws -> OffsetPage<ChannelGroupRecord>
    func updateChannelGroup(id: Int64, name: String?, channelIds: [Int64]?, token: SealedSecret?, at: Int64, audit: AuditIntent) async throws -> ChannelGroupRecord
    func deleteChannelGroup(id: Int64, at: Int64, audit: AuditIntent) async throws

    // MARK: Events and usage
    /// Stores an event; `limit_exceeded` when it would pass the channel's or the account's storage limit.
    func addChannelEvent(channelId: Int64, type: String, time: Int64, payload: String, at: Int64) async throws -> ChannelEvent
    func channelEvents(_ query: EventQuery) async throws -> OffsetPage<ChannelEvent>
    /// Adds API calls and served bytes per account (buffered by each node and flushed here).
    func addUsage(_ usage: [Int64: (apiCalls: Int64, bandwidthBytes: Int64)], month: Int64) async throws
    /// Removes events older than their channel's `records_max_age`; answers how many.
    func purgeExpiredEvents(now: Int64) async throws -> Int
}
