/// Who calls the tiered-access surface, after their credential was checked.
public enum TieredPrincipal: Hashable, Sendable {
    /// `Authorization: LKey` — the whole account.
    case account(AccountPrincipal)
    /// `Authorization: Acc` — one channel, with `all` or `watch` access.
    case channel(ChannelPrincipal)
    /// `Authorization: SI` — the channels of one group, read only.
    case group(GroupPrincipal)

    /// The account the credential belongs to.
    public var account: AccountPrincipal {
        switch self {
        case .account(let account): account
        case .channel(let channel): channel.account
        case .group(let group): group.account
        }
    }
}

/// An account as seen by its credential check: id, whether its node is enabled, limits and
/// the bandwidth used so far this month (for the bandwidth limit).
public struct AccountPrincipal: Hashable, Sendable {
    public var accountId: Int64
    public var enabled: Bool
    public var limits: AccountLimits
    public var bandwidthBytes: Int64
    public var bandwidthMonth: Int64

    public init(accountId: Int64, enabled: Bool, limits: AccountLimits, bandwidthBytes: Int64, bandwidthMonth: Int64) {
        self.accountId = accountId
        self.enabled = enabled
        self.limits = limits
        self.bandwidthBytes = bandwidthBytes
        self.bandwidthMonth = bandwidthMonth
    }
}

/// A channel token's channel and access level.
public struct ChannelPrincipal: Hashable, Sendable {
    public var channelId: Int64
    public var access: ChannelAccess
    public var account: AccountPrincipal
    public init(channelId: Int64, access: ChannelAccess, account: AccountPrincipal) {
        self.channelId = channelId
        self.access = access
        self.account = account
    }
}

/// A group token's group and its channels.
public struct GroupPrincipal: Hashable, Sendable {
    public var groupId: Int64
    public var channelIds: [Int64]
    public var account: AccountPrincipal
    public init(groupId: Int64, channelIds: [Int64], account: AccountPrincipal) {
        self.groupId = groupId
        self.channelIds = channelIds
        self.account = account
    }
}
