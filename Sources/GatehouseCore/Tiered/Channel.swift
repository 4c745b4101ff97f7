/// What a channel token may do: `all` reads and writes the channel, `watch` only reads.
public enum ChannelAccess: String, Codable, Hashable, Sendable, CaseIterable {
    case all
    case watch
}

/// How a channel records (seed 002's `rec_mode`).
public enum RecordingMode: String, Codable, Hashable, Sendable, CaseIterable {
    case on
    case off
    case byEvent = "by_event"
}

/// Per-channel limits; `nil` means only the account's limits apply.
public struct ChannelLimits: Codable, Hashable, Sendable {
    /// Bytes of stored events this channel may hold.
    public var storageBytes: Int64?
    /// Hours events are kept; older ones are removed by maintenance.
    public var recordsMaxAge: Int64?

    public init(storageBytes: Int64? = nil, recordsMaxAge: Int64? = nil) {
        self.storageBytes = storageBytes
        self.recordsMaxAge = recordsMaxAge
    }
}

/// A channel (a camera of seed 002) as stored: a `camera` device of the registry with the
/// channel's settings, metadata, limits and its two access tokens (sealed).
public struct ChannelRecord: Hashable, Sendable {
    public var id: Int64
    public var accountId: Int64
    public var name: String
    public var timezone: String
    public var recMode: RecordingMode
    public var sourceURL: String?
    public var sourceLogin: String?
    public var sourcePasswordSealed: String?
    public var meta: [String: String]
    public var limits: ChannelLimits
    public var storageBytes: Int64
    /// Sealed channel-token secrets by access level.
    public var tokens: [ChannelAccess: SealedSecret]
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: Int64, accountId: Int64, name: String, timezone: String, recMode: RecordingMode, sourceURL: String?, sourceLogin: String?,
                sourcePasswordSealed: String?, meta: [String: String], limits: ChannelLimits, storageBytes: Int64,
                tokens: [ChannelAccess: SealedSecret], createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.accountId = accountId
        self.name = name
        self.timezone = timezone
        self.recMode = recMode
        self.sourceURL = sourceURL
        self.sourceLogin = sourceLogin
        self.sourcePasswordSealed = sourcePasswordSealed
        self.meta = meta
        self.limits = limits
        self.storageBytes = storageBytes
        self.tokens = tokens
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A secret kept as its SHA-256 (for look-up) and sealed (for showing it again).
public struct SealedSecret: Hashable, Sendable {
    public var hash: String
    public var sealed: String
    public init(hash: String, sealed: String) {
        self.hash = hash
        self.sealed = sealed
    }
}

/// The settings of a channel to create or the changes to one (`nil` keeps a value).
public struct ChannelSettings: Sendable {
    public var name: String?
    public var timezone: String?
    public var recMode: RecordingMode?
    /// `source.url`; an empty string clears it.
    public var sourceURL: String?
    public var sourceLogin: String?
    public var sourcePassword: String?
    public var meta: [String: String]?

    public init(name: String? = nil, timezone: String? = nil, recMode: RecordingMode? = nil, sourceURL: String? = nil,
                sourceLogin: String? = nil, sourcePassword: String? = nil, meta: [String: String]? = nil) {
        self.name = name
        self.timezone = timezone
        self.recMode = recMode
        self.sourceURL = sourceURL
        self.sourceLogin = sourceLogin
        self.sourcePassword = sourcePassword
        self.meta = meta
    }
}

/// A channel with its tokens opened and encoded, as its account sees it.
public struct Channel: Hashable, Sendable {
    public var record: ChannelRecord
    /// The encoded `Acc` tokens by access level.
    public var accessTokens: [ChannelAccess: String]
    public init(record: ChannelRecord, accessTokens: [ChannelAccess: String]) {
        self.record = record
        self.accessTokens = accessTokens
    }
}
