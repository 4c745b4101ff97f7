/// A vendor: the provisioning role of a tenant node. Devices name it in `vendor=`.
public struct Vendor: Codable, Hashable, Sendable {
    /// The tenant node that holds the role.
    public var tenantId: Int64
    public var name: String
    public var createdAt: Int64
    public init(tenantId: Int64, name: String, createdAt: Int64) {
        self.tenantId = tenantId
        self.name = name
        self.createdAt = createdAt
    }
}

/// A vendor token (`X-Exosite-Token`); the secret itself is shown once and stored hashed.
public struct VendorToken: Codable, Hashable, Sendable {
    public var id: Int64
    public var vendorId: Int64
    public var name: String
    public var createdAt: Int64
    public init(id: Int64, vendorId: Int64, name: String, createdAt: Int64) {
        self.id = id
        self.vendorId = vendorId
        self.name = name
        self.createdAt = createdAt
    }
}

/// A client model of a vendor: its serial numbers and content live under it.
public struct ProvisionModel: Codable, Hashable, Sendable {
    public var id: Int64
    public var vendorId: Int64
    public var name: String
    /// Seconds an enabled serial may wait for its activation.
    public var activationWindow: Int64
    public var createdAt: Int64
    public init(id: Int64, vendorId: Int64, name: String, activationWindow: Int64, createdAt: Int64) {
        self.id = id
        self.vendorId = vendorId
        self.name = name
        self.activationWindow = activationWindow
        self.createdAt = createdAt
    }

    /// The window a model gets when its vendor names none: 24 hours.
    public static let defaultWindow: Int64 = 86_400
}

/// Where a serial number stands.
public enum SerialStatus: String, Codable, Sendable {
    /// Added by the vendor, never enabled.
    case unused
    /// Enabled with an owner; the activation window is open.
    case enabled
    /// Enabled, but the window closed before the device activated: it must be re-enabled.
    case expired
    /// The device activated and holds a CIK.
    case activated
    /// Disabled by the vendor or the owner; its CIK no longer works.
    case disabled

    /// The status of a stored state (`added`, `enabled`, `activated`, `disabled`) at `now`.
    public init(state: String, windowEndsAt: Int64?, at now: Int64) {
        switch state {
        case "enabled": self = (windowEndsAt ?? 0) > now ? .enabled : .expired
        case "activated": self = .activated
        case "disabled": self = .disabled
        default: self = .unused
        }
    }
}

/// A serial number of a model.
public struct SerialRecord: Codable, Hashable, Sendable {
    public var id: Int64
    public var modelId: Int64
    public var sn: String
    public var extra: String
    /// Stored state: `added`, `enabled`, `activated` or `disabled`.
    public var state: String
    /// The account that enabled (holds) the serial.
    public var ownerId: Int64?
    /// The owner's node key, for vendor listings.
    public var ownerKey: String?
    /// The device in the owner's account that stands for this serial.
    public var deviceId: Int64?
    public var enabledAt: Int64?
    public var windowEndsAt: Int64?
    public var activatedAt: Int64?
    public var createdAt: Int64

    public init(id: Int64, modelId: Int64, sn: String, extra: String, state: String, ownerId: Int64?, ownerKey: String?, deviceId: Int64?,
                enabledAt: Int64?, windowEndsAt: Int64?, activatedAt: Int64?, createdAt: Int64) {
        self.id = id
        self.modelId = modelId
        self.sn = sn
        self.extra = extra
        self.state = state
        self.ownerId = ownerId
        self.ownerKey = ownerKey
        self.deviceId = deviceId
        self.enabledAt = enabledAt
        self.windowEndsAt = windowEndsAt
        self.activatedAt = activatedAt
        self.createdAt = createdAt
    }

    /// The status at `now` (an enabled serial past its window is `expired`).
    public func status(at now: Int64) -> SerialStatus {
        SerialStatus(state: state, windowEndsAt: windowEndsAt, at: now)
    }
}

/// A serial held by an account, with its vendor and model names (the owner's view).
public struct HeldSerial: Codable, Hashable, Sendable {
    public var serial: SerialRecord
    public var vendor: String
    public var model: String
    public init(serial: SerialRecord, vendor: String, model: String) {
        self.serial = serial
        self.vendor = vendor
        self.model = model
    }
}

/// One line of a serial's activation log.
public struct SerialLogEntry: Codable, Hashable, Sendable {
    public var at: Int64
    /// Who or what caused it: the device's address, or the actor of a management call.
    public var connection: String
    public var entry: String
    public init(at: Int64, connection: String, entry: String) {
        self.at = at
        self.connection = connection
        self.entry = entry
    }
}

/// A content entry of a model (firmware, media) and its current blob.
public struct ContentItem: Codable, Hashable, Sendable {
    public var id: Int64
    public var modelId: Int64
    public var name: String
    public var meta: String
    /// Protected content is visible only to serials that share a group with it.
    public var isProtected: Bool
    /// The finished blob; nil until the first upload.
    public var blobId: Int64?
    public var contentType: String?
    public var size: Int64
    /// Lower-case hex SHA-256 of the blob (the ETag).
    public var sha256: String?
    public var updatedAt: Int64

    public init(id: Int64, modelId: Int64, name: String, meta: String, isProtected: Bool, blobId: Int64?, contentType: String?, size: Int64,
                sha256: String?, updatedAt: Int64) {
        self.id = id
        self.modelId = modelId
        self.name = name
        self.meta = meta
        self.isProtected = isProtected
        self.blobId = blobId
        self.contentType = contentType
        self.size = size
        self.sha256 = sha256
        self.updatedAt = updatedAt
    }
}

/// A group of a model: serials and content ids that belong together.
public struct ContentGroup: Codable, Hashable, Sendable {
    public var id: Int64
    public var modelId: Int64
    public var name: String
    public var meta: String
    public var memberCount: Int64
    public init(id: Int64, modelId: Int64, name: String, meta: String, memberCount: Int64) {
        self.id = id
        self.modelId = modelId
        self.name = name
        self.meta = meta
        self.memberCount = memberCount
    }
}

/// A member of a group: a serial number (`sn`) or a content id (`content`).
public struct GroupMember: Codable, Hashable, Sendable {
    public var type: String
    public var memberId: String
    /// Unix time the membership ends; 0 for never.
    public var expire: Int64
    public var meta: String
    public init(type: String, memberId: String, expire: Int64, meta: String) {
        self.type = type
        self.memberId = memberId
        self.expire = expire
        self.meta = meta
    }

    /// The member types groups hold.
    public static let types: Set<String> = ["sn", "content"]
}

/// An activated device, found by its CIK.
public struct ProvisionedDevice: Sendable, Hashable {
    public var serialId: Int64
    public var sn: String
    public var modelId: Int64
    public var modelName: String
    public var vendorName: String
    public init(serialId: Int64, sn: String, modelId: Int64, modelName: String, vendorName: String) {
        self.serialId = serialId
        self.sn = sn
        self.modelId = modelId
        self.modelName = modelName
        self.vendorName = vendorName
    }
}

/// The outcome of `POST /provision/activate`.
public enum SerialActivation: Sendable, Equatable {
    /// The serial activated; the caller holds the new CIK.
    case activated
    /// No such vendor, model or serial.
    case unknown
    /// The serial exists but may not activate: not enabled, window expired, already activated or disabled.
    case refused(SerialStatus)
}
