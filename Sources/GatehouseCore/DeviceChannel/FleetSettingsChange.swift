import Foundation

/// One device's row of a fleet settings change, as the store reads it inside the change's transaction.
public struct FleetSettingsRow: Sendable {
    public var deviceId: Int64
    /// The provisioning model of a serially provisioned device (its schema applies), else nil.
    public var modelId: Int64?
    /// The current desired document (`{}` when none was set) and its version.
    public var desired: String
    public var desiredVersion: Int64

    public init(deviceId: Int64, modelId: Int64?, desired: String, desiredVersion: Int64) {
        self.deviceId = deviceId
        self.modelId = modelId
        self.desired = desired
        self.desiredVersion = desiredVersion
    }
}

/// What a fleet settings change did: each changed device with its new desired version.
public struct FleetSettingsResult: Sendable, Hashable {
    public struct Change: Sendable, Hashable {
        public var deviceId: Int64
        public var desiredVersion: Int64
        public init(deviceId: Int64, desiredVersion: Int64) {
            self.deviceId = deviceId
            self.desiredVersion = desiredVersion
        }
    }
    /// Devices whose desired document changed (a device the patch leaves as it was keeps its version).
    public var changed: [Change]
    /// Devices the change matched.
    public var matched: Int

    public init(changed: [Change], matched: Int) {
        self.changed = changed
        self.matched = matched
    }
}

extension DeviceChannel {
    /// At most this many devices take part in one fleet settings change (narrow it with a tenant or device ids).
    public static let maxFleetDevices = 100_000

    /// Merges `patch` (``SettingsPatch``) into the desired document of every device of the
    /// tenants under `tenant` (only `deviceIds` of them, when given), all or nothing: the
    /// result is checked against each device's schema (its model's, else the built-in one),
    /// and one device that refuses it leaves every device as it was (422 naming the device
    /// and the field). Each device whose document changes gets the next version.
    public func setDesired(fleetUnder tenant: Tenant, deviceIds: [Int64]?, patch: [String: Any], actor: String) async throws -> FleetSettingsResult {
        guard !patch.isEmpty else { throw GatehouseError.invalid("patch", "patch must name at least one section") }
        if let deviceIds, deviceIds.isEmpty { throw GatehouseError.invalid("device_ids", "device_ids must name at least one device, or be left out") }
        // The patch's sections and fields must exist in the built-in schema or some model's: checked per device below.
        var schemas: [Int64: SettingsSchema] = [:]
        let texts = try await store.settingsSchemas()
        for (model, text) in texts { schemas[model] = try SettingsSchema.parse(Array(text.utf8)) }
        let resolved = schemas
        // Sendable text into the store's transaction; parsed again for each device (small).
        let patchText = JSONText.string(patch)
        let audit = AuditIntent(actor: actor, detail: "fleet settings: \(JSONText.string(patch))")
        let result = try await store.updateDesiredSettings(under: tenant.path, tenantId: tenant.id, deviceIds: deviceIds, limit: Self.maxFleetDevices,
                                                           at: clock.now(), audit: audit) { row in
            let current = (try? JSONSerialization.jsonObject(with: Data(row.desired.utf8))) as? [String: Any] ?? [:]
            let parsedPatch = (try? JSONSerialization.jsonObject(with: Data(patchText.utf8))) as? [String: Any] ?? [:]
            let next = SettingsPatch.apply(parsedPatch, to: current)
            let schema = row.modelId.flatMap { resolved[$0] } ?? .builtIn
            do {
                try schema.validate(next)
            } catch var error as GatehouseError {
                error.message = "device \(row.deviceId): \(error.message)"
                throw error
            }
            let text = JSONText.string(next)
            guard text.utf8.count <= SettingsSchema.maxDocumentBytes else {
                throw GatehouseError(.payloadTooLarge, "device \(row.deviceId): the settings document would be larger than 16 KiB")
            }
            return text == JSONText.string(current) ? nil : text
        }
        return result
    }
}
