/// How a device authenticated its channel: which credential, and what must still hold for the
/// connection to stay open (the key, CIK or certificate it presented).
public struct ChannelCredentialCheck: Sendable, Hashable {
    /// `agent` (agent id and key), `serial` (CIK) or `endpoint` (client certificate).
    public var kind: String
    /// The agent id, the serial's row id or the endpoint's row id.
    public var reference: Int64
    /// The key hash, CIK hash or certificate serial that must stay current.
    public var check: String
    public init(kind: String, reference: Int64, check: String) {
        self.kind = kind
        self.reference = reference
        self.check = check
    }
}

/// A device that may open the channel, as found by its credential.
public struct ChannelDevice: Sendable, Hashable {
    public var deviceId: Int64
    public var tenantId: Int64
    public var credential: ChannelCredentialCheck
    public init(deviceId: Int64, tenantId: Int64, credential: ChannelCredentialCheck) {
        self.deviceId = deviceId
        self.tenantId = tenantId
        self.credential = credential
    }
}

/// One open channel, as recorded for every node to see.
public struct ChannelConnection: Sendable, Hashable {
    public var device: ChannelDevice
    public var connectionId: String
    public var nodeId: String
    public var agentVersion: String?
    public var connectedAt: Int64
    public init(device: ChannelDevice, connectionId: String, nodeId: String, agentVersion: String?, connectedAt: Int64) {
        self.device = device
        self.connectionId = connectionId
        self.nodeId = nodeId
        self.agentVersion = agentVersion
        self.connectedAt = connectedAt
    }
}

/// Whether a device is connected now, and where.
public struct DevicePresence: Sendable, Hashable, Codable {
    public var deviceId: Int64
    public var online: Bool
    public var node: String?
    public var connectedAt: Int64?
    public var lastSeen: Int64?
    public var agentVersion: String?
    public init(deviceId: Int64, online: Bool, node: String?, connectedAt: Int64?, lastSeen: Int64?, agentVersion: String?) {
        self.deviceId = deviceId
        self.online = online
        self.node = node
        self.connectedAt = connectedAt
        self.lastSeen = lastSeen
        self.agentVersion = agentVersion
    }
}

/// A device's desired and reported settings documents (JSON text).
public struct DeviceSettings: Sendable, Hashable {
    public var deviceId: Int64
    /// The desired document; `{}` until one is set.
    public var desired: String
    /// Starts at 0 and grows by one with each change.
    public var desiredVersion: Int64
    public var desiredAt: Int64?
    public var reported: String?
    /// The desired version the device last applied (or failed to apply).
    public var reportedVersion: Int64?
    public var reportedError: String?
    public var reportedAt: Int64?
    public init(deviceId: Int64, desired: String, desiredVersion: Int64, desiredAt: Int64?, reported: String?, reportedVersion: Int64?,
                reportedError: String?, reportedAt: Int64?) {
        self.deviceId = deviceId
        self.desired = desired
        self.desiredVersion = desiredVersion
        self.desiredAt = desiredAt
        self.reported = reported
        self.reportedVersion = reportedVersion
        self.reportedError = reportedError
        self.reportedAt = reportedAt
    }

    /// Nothing set yet.
    public static func empty(deviceId: Int64) -> DeviceSettings {
        DeviceSettings(deviceId: deviceId, desired: "{}", desiredVersion: 0, desiredAt: nil, reported: nil, reportedVersion: nil, reportedError: nil, reportedAt: nil)
    }

    /// The device applied the current desired version without an error.
    public var inSync: Bool { reportedVersion == desiredVersion && reportedError == nil }
}

/// The states of a command.
public enum CommandState: String, Sendable, Hashable, Codable {
    case queued, sent, succeeded, failed
    case timedOut = "timed_out"

    /// Still waiting for its device.
    public var isOpen: Bool { self == .queued || self == .sent }
}

/// A command sent to a device, and what became of it.
public struct DeviceCommand: Sendable, Hashable {
    /// The row number (the command log's paging cursor); 0 before it is stored.
    public var sequence: Int64
    public var id: String
    public var deviceId: Int64
    public var tenantId: Int64
    public var name: String
    /// The params as a JSON object text.
    public var params: String
    public var state: CommandState
    /// The result as JSON text, when the device answered `ok`.
    public var result: String?
    public var error: String?
    public var createdBy: String
    public var createdAt: Int64
    public var expiresAt: Int64
    public var sentAt: Int64?
    public var finishedAt: Int64?
    public init(sequence: Int64 = 0, id: String, deviceId: Int64, tenantId: Int64, name: String, params: String, state: CommandState, result: String?, error: String?,
                createdBy: String, createdAt: Int64, expiresAt: Int64, sentAt: Int64?, finishedAt: Int64?) {
        self.sequence = sequence
        self.id = id
        self.deviceId = deviceId
        self.tenantId = tenantId
        self.name = name
        self.params = params
        self.state = state
        self.result = result
        self.error = error
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.sentAt = sentAt
        self.finishedAt = finishedAt
    }
}

/// What a connection found when the node checked its connections.
public enum ConnectionCheck: Sendable, Hashable {
    /// Still recorded for this node with a credential that holds.
    case valid
    /// The credential no longer opens the channel, or the device is gone (close 4401).
    case revoked
    /// A newer connection of the device replaced it (close 4409).
    case replaced
}
