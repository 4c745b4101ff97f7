/// Limits of a license-key account (seed 002); `nil` means unlimited.
public struct AccountLimits: Codable, Hashable, Sendable {
    /// How many channels (cameras) the account may hold.
    public var hostedCameras: Int64?
    /// Bytes of stored events the account may hold.
    public var storageBytes: Int64?
    /// Bytes the account's channel API may serve per calendar month (UTC).
    public var bandwidthBytes: Int64?

    public init(hostedCameras: Int64? = nil, storageBytes: Int64? = nil, bandwidthBytes: Int64? = nil) {
        self.hostedCameras = hostedCameras
        self.storageBytes = storageBytes
        self.bandwidthBytes = bandwidthBytes
    }
}

/// Usage counters of a license-key account.
public struct AccountUsage: Hashable, Sendable {
    public var channels: Int64
    public var tokensIssued: Int64
    public var apiCalls: Int64
    public var storageBytes: Int64
    /// Bytes served in `bandwidthMonth` (`yyyymm`, UTC).
    public var bandwidthBytes: Int64
    public var bandwidthMonth: Int64

    public init(channels: Int64, tokensIssued: Int64, apiCalls: Int64, storageBytes: Int64, bandwidthBytes: Int64, bandwidthMonth: Int64) {
        self.channels = channels
        self.tokensIssued = tokensIssued
        self.apiCalls = apiCalls
        self.storageBytes = storageBytes
        self.bandwidthBytes = bandwidthBytes
        self.bandwidthMonth = bandwidthMonth
    }
}

/// A license-key account as stored: an account node of the tenant tree with its `suid`,
/// its license key (hashed for look-up, sealed for retrieval) and limits.
public struct TieredAccountRecord: Hashable, Sendable {
    /// The account's tenant node id; also the account's `id` on the wire.
    public var tenantId: Int64
    public var suid: String
    public var usrc: String
    public var enabled: Bool
    public var licenseHash: String
    public var licenseSealed: String
    public var limits: AccountLimits
    public var usage: AccountUsage
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(tenantId: Int64, suid: String, usrc: String, enabled: Bool, licenseHash: String, licenseSealed: String,
                limits: AccountLimits, usage: AccountUsage, createdAt: Int64, updatedAt: Int64) {
        self.tenantId = tenantId
        self.suid = suid
        self.usrc = usrc
        self.enabled = enabled
        self.licenseHash = licenseHash
        self.licenseSealed = licenseSealed
        self.limits = limits
        self.usage = usage
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A license-key account with its key opened, for the super-admin API and the account itself.
public struct TieredAccount: Hashable, Sendable {
    public var record: TieredAccountRecord
    public var licenseKey: String
    public init(record: TieredAccountRecord, licenseKey: String) {
        self.record = record
        self.licenseKey = licenseKey
    }
}

/// What the super-admin sends to create an account.
public struct NewTieredAccount: Sendable {
    public var suid: String
    public var usrc: String?
    /// The license key to use; `nil` generates one.
    public var licenseKey: String?
    public var limits: AccountLimits
    /// Key of an existing dealer or platform node to place the account under; `nil` is the platform.
    public var parentKey: String?

    public init(suid: String, usrc: String?, licenseKey: String?, limits: AccountLimits, parentKey: String?) {
        self.suid = suid
        self.usrc = usrc
        self.licenseKey = licenseKey
        self.limits = limits
        self.parentKey = parentKey
    }
}
