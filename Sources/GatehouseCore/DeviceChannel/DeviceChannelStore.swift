/// Persistence of the device channel: who may connect, who is connected on which node,
/// settings documents and commands. Every node shares it; ``DeviceChannel`` holds the rules.
public protocol DeviceChannelStore: Sendable {
    /// The device an agent id belongs to (bound to a camera), with the agent's key hash and status.
    func channelDevice(agentId: Int64) async throws -> (device: ChannelDevice, keyHash: String, status: String)?
    /// The device of an activated serial with this CIK hash.
    func channelDevice(cikHash: String) async throws -> ChannelDevice?
    /// The device of the active endpoint whose current certificate has this serial (lower-case hex).
    func channelDevice(certificateSerial: String) async throws -> ChannelDevice?

    /// Records (or refreshes) a node's heartbeat.
    func nodeHeartbeat(nodeId: String, at: Int64) async throws
    /// Removes a node and every connection it held (a graceful stop).
    func removeNode(nodeId: String) async throws
    /// Records `connection` as the device's one connection; answers the one it replaced, if any.
    func connect(_ connection: ChannelConnection) async throws -> (connectionId: String, nodeId: String)?
    /// Removes the connection if it is still the device's current one.
    func disconnect(deviceId: Int64, connectionId: String) async throws
    /// Marks the devices as seen at `at`.
    func touch(deviceIds: [Int64], at: Int64) async throws
    /// For each of a node's open connections (device id → connection id), whether it may stay.
    func checkConnections(nodeId: String, _ connections: [Int64: String]) async throws -> [Int64: ConnectionCheck]
    /// A device's presence; online only while its node's heartbeat is newer than `freshAfter`.
    func presence(deviceId: Int64, freshAfter: Int64) async throws -> DevicePresence
    /// The online devices of the tenants under `path` (optionally one tenant), by device id.
    func onlineDevices(under path: String, tenantId: Int64?, freshAfter: Int64, page: PageRequest) async throws -> Page<DevicePresence>

    /// A device's settings (``DeviceSettings/empty(deviceId:)`` when none were set).
    func settings(deviceId: Int64) async throws -> DeviceSettings
    /// Several devices' settings at once (devices without any are left out).
    func settings(deviceIds: [Int64]) async throws -> [Int64: DeviceSettings]
    /// Replaces the desired document when the current version is `expectedVersion` (else `conflict`).
    func setDesiredSettings(deviceId: Int64, tenantId: Int64, expectedVersion: Int64, desired: String, at: Int64, audit: AuditIntent) async throws -> DeviceSettings
    /// In one transaction: reads every device of the tenants under `path` (only `deviceIds`
    /// of them, when given) with its desired document, asks `change` for each new document
    /// (nil: unchanged), and writes the changed ones with the next version and one audit entry
    /// on `tenantId`. A thrown error, more than `limit` devices (413), or an id of `deviceIds`
    /// outside the subtree (404) writes nothing.
    func updateDesiredSettings(under path: String, tenantId: Int64, deviceIds: [Int64]?, limit: Int, at: Int64, audit: AuditIntent,
                               _ change: @escaping @Sendable (FleetSettingsRow) throws -> String?) async throws -> FleetSettingsResult
    /// Every model's settings schema (model id → JSON text).
    func settingsSchemas() async throws -> [Int64: String]
    /// Records what the device reports it applied.
    func recordReportedSettings(deviceId: Int64, version: Int64, reported: String, error: String?, at: Int64) async throws
    /// The settings schema a vendor set for a provisioning model, as JSON text.
    func settingsSchema(modelId: Int64) async throws -> String?
    /// Sets (or with `nil` removes) a model's settings schema.
    func setSettingsSchema(modelId: Int64, tenantId: Int64, schema: String?, at: Int64, audit: AuditIntent) async throws
    /// The provisioning model of a serially provisioned device.
    func modelId(deviceId: Int64) async throws -> Int64?

    /// Queues a command (written with its audit entry).
    func createCommand(_ command: DeviceCommand, audit: AuditIntent) async throws
    /// The device's queued commands that have not expired (with `includeSent`, also those sent
    /// but unanswered, for a new connection), oldest first, marked `sent`.
    func takeCommands(deviceId: Int64, at: Int64, includeSent: Bool) async throws -> [DeviceCommand]
    /// Records a device's answer; false when the command is unknown, answered or expired.
    func recordCommandResult(deviceId: Int64, commandId: String, succeeded: Bool, result: String?, error: String?, at: Int64) async throws -> Bool
    /// One command of a device.
    func command(deviceId: Int64, commandId: String) async throws -> DeviceCommand?
    /// A device's commands, newest first.
    func commands(deviceId: Int64, page: PageRequest) async throws -> Page<DeviceCommand>
    /// Marks open commands past their expiry `timed_out`; answers how many.
    func expireCommands(at: Int64) async throws -> Int
}
