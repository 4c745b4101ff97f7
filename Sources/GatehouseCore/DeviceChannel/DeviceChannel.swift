import Foundation

/// The device channel's rules: who may open it, desired settings checked against the device
/// model's schema, commands and their expiry. The server holds the live connections; this
/// type holds what every node decides the same way.
public struct DeviceChannel: Sendable {
    public let store: any DeviceChannelStore
    public let clock: any GatehouseClock
    /// A node whose heartbeat is older than this many seconds no longer counts its devices online.
    public static let nodeStaleAfter: Int64 = 15

    public init(store: any DeviceChannelStore, clock: any GatehouseClock) {
        self.store = store
        self.clock = clock
    }

    private static let refused = GatehouseError(.unauthenticated, "the credential does not open the device channel")

    /// `Authorization: Agent <id>:<key>`: the camera of an active agent.
    public func authenticate(agentHeader value: String) async throws -> ChannelDevice {
        let parts = value.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let id = Int64(parts[0]), id > 0, parts[1].utf8.count <= 256,
              let found = try await store.channelDevice(agentId: id), found.status == "active",
              Secrets.matches(String(parts[1]), hash: found.keyHash)
        else { throw Self.refused }
        return found.device
    }

    /// `X-Exosite-CIK: <cik>`: an activated serial.
    public func authenticate(cik: String) async throws -> ChannelDevice {
        guard Provisioning.isCIK(cik), let device = try await store.channelDevice(cikHash: Secrets.hash(cik)) else { throw Self.refused }
        return device
    }

    /// An endpoint's client certificate (validated at the TLS handshake), by its serial.
    public func authenticate(certificateSerial: String?) async throws -> ChannelDevice {
        guard let serial = certificateSerial?.lowercased(), let device = try await store.channelDevice(certificateSerial: serial) else { throw Self.refused }
        return device
    }

    /// The schema a device's settings are checked against: its model's, else the built-in one.
    public func schema(deviceId: Int64) async throws -> SettingsSchema {
        if let model = try await store.modelId(deviceId: deviceId), let text = try await store.settingsSchema(modelId: model) {
            return try SettingsSchema.parse(Array(text.utf8))
        }
        return .builtIn
    }

    /// Sets the desired document of a device whose current version is `version`.
    public func setDesired(device: Device, version: Int64, desired: [String: Any], actor: String) async throws -> DeviceSettings {
        guard version >= 0 else { throw GatehouseError.invalid("version", "version must be 0 or more") }
        let schema = try await schema(deviceId: device.id)
        try schema.validate(desired)
        let text = JSONText.string(desired)
        guard text.utf8.count <= SettingsSchema.maxDocumentBytes else { throw GatehouseError(.payloadTooLarge, "the settings document is larger than 16 KiB") }
        return try await store.setDesiredSettings(deviceId: device.id, tenantId: device.tenantId, expectedVersion: version, desired: text, at: clock.now(),
                                                  audit: AuditIntent(actor: actor, detail: "settings v\(version + 1)"))
    }

    /// Queues a command for a device.
    public func send(device: Device, name: String, params: [String: Any], timeout: Int64?, actor: String) async throws -> DeviceCommand {
        let clean = try DeviceCommandRules.validate(name: name, params: params)
        let seconds = try DeviceCommandRules.timeout(timeout)
        let now = clock.now()
        let command = DeviceCommand(id: UUID().uuidString.lowercased(), deviceId: device.id, tenantId: device.tenantId, name: name, params: clean, state: .queued,
                                    result: nil, error: nil, createdBy: actor, createdAt: now, expiresAt: now + seconds, sentAt: nil, finishedAt: nil)
        try await store.createCommand(command, audit: AuditIntent(actor: actor, detail: "\(name) \(command.id)"))
        return command
    }
}
