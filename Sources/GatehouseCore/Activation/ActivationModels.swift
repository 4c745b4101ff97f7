/// How an operator's activation tokens look and live (seed 000: 8 upper-case letters, no expiry).
public struct OperatorSettings: Sendable, Hashable {
    public var tokenAlphabet: String
    public var tokenLength: Int
    /// Seconds a new token stays valid; 0 = no expiry (`valid_till` 0).
    public var tokenValidity: Int64
    /// Where activated agents connect (`watcher_url`); nil = the server's public URL.
    public var watcherURL: String?

    public static let `default` = OperatorSettings(tokenAlphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", tokenLength: 8, tokenValidity: 0, watcherURL: nil)

    public init(tokenAlphabet: String, tokenLength: Int, tokenValidity: Int64, watcherURL: String?) {
        self.tokenAlphabet = tokenAlphabet
        self.tokenLength = tokenLength
        self.tokenValidity = tokenValidity
        self.watcherURL = watcherURL
    }
}

/// Who calls the operator API: a signed-in operator user (`x-vsaas-session`) or the
/// operator's API key (`x-vsaas-api-key`).
public struct OperatorCaller: Sendable {
    public enum Credential: Sendable, Hashable {
        case session(userId: Int64)
        case apiKey(keyId: Int64)
        /// A caller of the /v1 management API, scoped to one organization.
        case management
    }
    /// The operator: a dealer node of the tree; its id is the agents' `operatorid`.
    public let operatorTenant: Tenant
    public let credential: Credential
    /// The core caller used for tree operations (the user, or Gatehouse acting for the key).
    public let caller: Caller

    public init(operatorTenant: Tenant, credential: Credential, caller: Caller) {
        self.operatorTenant = operatorTenant
        self.credential = credential
        self.caller = caller
    }

    public var operatorId: Int64 { operatorTenant.id }

    /// How the caller appears in the audit log.
    public var auditName: String {
        switch credential {
        case .session(let userId): "user:\(userId)"
        case .apiKey(let keyId): "operator-api-key:\(keyId)"
        case .management: caller.auditName
        }
    }
}

/// An operator API key as listed (the key itself is shown once, at creation).
public struct OperatorAPIKey: Sendable, Hashable {
    public var id: Int64
    public var operatorId: Int64
    public var name: String
    public var createdAt: Int64
    public init(id: Int64, operatorId: Int64, name: String, createdAt: Int64) {
        self.id = id
        self.operatorId = operatorId
        self.name = name
        self.createdAt = createdAt
    }
}

/// An organization: an account node under an operator, with its activation profile.
public struct Organization: Sendable, Hashable {
    public var tenant: Tenant
    public var note: String
    public var ownerId: Int64?
    public var cameraLimit: Int64?
    public var userLimit: Int64?
    public init(tenant: Tenant, note: String, ownerId: Int64?, cameraLimit: Int64?, userLimit: Int64?) {
        self.tenant = tenant
        self.note = note
        self.ownerId = ownerId
        self.cameraLimit = cameraLimit
        self.userLimit = userLimit
    }
}

/// The editable fields of an organization (nil = unchanged; on create nil = default).
public struct OrganizationInput: Sendable {
    public var title: String?
    public var note: String?
    public var ownerId: Int64??
    public var cameraLimit: Int64??
    public var userLimit: Int64??
    public init(title: String? = nil, note: String? = nil, ownerId: Int64?? = nil, cameraLimit: Int64?? = nil, userLimit: Int64?? = nil) {
        self.title = title
        self.note = note
        self.ownerId = ownerId
        self.cameraLimit = cameraLimit
        self.userLimit = userLimit
    }
}

/// A camera preset of an organization (the settings a new camera gets).
public struct Preset: Sendable, Hashable {
    public var id: Int64
    public var organizationId: Int64
    public var title: String
    public var settings: [String: String]
    public var createdAt: Int64
    public var updatedAt: Int64
    public init(id: Int64, organizationId: Int64, title: String, settings: [String: String], createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.organizationId = organizationId
        self.title = title
        self.settings = settings
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// An activation token as stored (looked up by the SHA-256 of `operator id:token`).
public struct ActivationTokenRecord: Sendable, Hashable {
    public var id: Int64
    public var operatorId: Int64
    public var organizationId: Int64
    public var presetId: Int64
    public var title: String
    /// Unix seconds; 0 = no expiry.
    public var validTill: Int64
    public var createdAt: Int64
    public var usedAt: Int64?
    public var agentId: Int64?
    public var cameraName: String?
    public init(id: Int64, operatorId: Int64, organizationId: Int64, presetId: Int64, title: String, validTill: Int64, createdAt: Int64,
                usedAt: Int64?, agentId: Int64?, cameraName: String?) {
        self.id = id
        self.operatorId = operatorId
        self.organizationId = organizationId
        self.presetId = presetId
        self.title = title
        self.validTill = validTill
        self.createdAt = createdAt
        self.usedAt = usedAt
        self.agentId = agentId
        self.cameraName = cameraName
    }

    /// Whether the token can still be redeemed at `now`.
    public func isRedeemable(at now: Int64) -> Bool { usedAt == nil && (validTill == 0 || now < validTill) }
}

/// The state of an agent.
public enum AgentStatus: String, Sendable, Hashable, Codable {
    /// Activated by operator id alone; waits for the operator to assign it.
    case unassigned
    /// Bound to a camera.
    case active
    /// Its camera was deleted: its key no longer works; it activates again by itself.
    case deactivated
}

/// An agent (the software on a camera) as stored; its key is kept as a hash only.
public struct AgentRecord: Sendable, Hashable {
    public var id: Int64
    public var operatorId: Int64
    public var serial: String
    public var version: String?
    public var mac: String?
    public var status: AgentStatus
    public var tokenId: Int64?
    public var deviceId: Int64?
    public var createdAt: Int64
    public var lastSeenAt: Int64?
    public init(id: Int64, operatorId: Int64, serial: String, version: String?, mac: String?, status: AgentStatus, tokenId: Int64?, deviceId: Int64?,
                createdAt: Int64, lastSeenAt: Int64?) {
        self.id = id
        self.operatorId = operatorId
        self.serial = serial
        self.version = version
        self.mac = mac
        self.status = status
        self.tokenId = tokenId
        self.deviceId = deviceId
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }
}

/// A camera: a device of an organization, bound to an agent.
public struct Camera: Sendable, Hashable {
    public var deviceId: Int64
    public var operatorId: Int64
    /// The camera's unique name within the operator (the token's `camera_name`).
    public var name: String
    public var title: String
    public var organizationId: Int64
    public var presetId: Int64?
    public var agentId: Int64?
    public var agentSerial: String?
    public var agentVersion: String?
    public var lastSeenAt: Int64?
    public var createdAt: Int64
    public init(deviceId: Int64, operatorId: Int64, name: String, title: String, organizationId: Int64, presetId: Int64?, agentId: Int64?,
                agentSerial: String?, agentVersion: String?, lastSeenAt: Int64?, createdAt: Int64) {
        self.deviceId = deviceId
        self.operatorId = operatorId
        self.name = name
        self.title = title
        self.organizationId = organizationId
        self.presetId = presetId
        self.agentId = agentId
        self.agentSerial = agentSerial
        self.agentVersion = agentVersion
        self.lastSeenAt = lastSeenAt
        self.createdAt = createdAt
    }
}

/// What an agent reports when it activates.
public struct AgentActivationRequest: Sendable {
    public var operatorId: Int64
    /// The activation token; nil = activation by operator id alone (lands unassigned).
    public var token: String?
    public var serial: String
    public var version: String?
    public var mac: String?
    /// The caller's address (failed redemptions are limited per address).
    public var sourceAddress: String
    public init(operatorId: Int64, token: String?, serial: String, version: String?, mac: String?, sourceAddress: String) {
        self.operatorId = operatorId
        self.token = token
        self.serial = serial
        self.version = version
        self.mac = mac
        self.sourceAddress = sourceAddress
    }
}

/// The answer to an activation: the agent's credentials, shown to the agent only.
public struct AgentGrant: Sendable, Hashable {
    public var agentId: Int64
    public var agentKey: String
    public var watcherURL: String
    public var status: AgentStatus
    public var cameraName: String?
    public init(agentId: Int64, agentKey: String, watcherURL: String, status: AgentStatus, cameraName: String?) {
        self.agentId = agentId
        self.agentKey = agentKey
        self.watcherURL = watcherURL
        self.status = status
        self.cameraName = cameraName
    }
}
