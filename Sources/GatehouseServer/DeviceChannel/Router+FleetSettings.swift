import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// `PATCH /v1/tenants/{id}/device-settings`: one settings change for a fleet. The body's
    /// `patch` (a JSON merge patch, RFC 7396) is merged into the desired document of every
    /// device under the tenant (only `device_ids`, when given), all or nothing, and pushed at
    /// once to the devices online on any node (the others get it when they connect).
    func addFleetSettingsRoutes(to router: Router<GatehouseRequestContext>) {
        let hub = deviceHub
        router.patch("/v1/tenants/:id/device-settings") { request, context in
            let caller = try await caller(request)
            try caller.require(.manageTenants)
            let tenant = try await management.tenant(caller, id: try context.id())
            let body = try await rawBody(request, limit: 1024 * 1024)
            if let unknown = body.keys.sorted().first(where: { $0 != "patch" && $0 != "device_ids" }) { throw GatehouseError.invalid(unknown, "unknown field") }
            guard let patch = body["patch"] as? [String: Any] else {
                throw GatehouseError.invalid("patch", "patch is required: a JSON merge patch of the desired settings (sections of fields; null removes)")
            }
            var deviceIds: [Int64]?
            if let value = body["device_ids"], !(value is NSNull) {
                guard let list = value as? [Any], list.count <= 10_000 else {
                    throw GatehouseError.invalid("device_ids", "device_ids must be an array of at most 10000 device ids")
                }
                deviceIds = try list.map { item in
                    guard let id = DeviceChannelHub.integer(item), id > 0 else { throw GatehouseError.invalid("device_ids", "device_ids must hold positive integer ids") }
                    return id
                }
            }
            let result = try await hub.channel.setDesired(fleetUnder: tenant, deviceIds: deviceIds, patch: patch, actor: caller.auditName)
            await hub.publishSettings(deviceIds: result.changed.map(\.deviceId))
            var text = "{\"matched\":\(result.matched),\"changed\":\(result.changed.count),\"items\":["
            for (index, change) in result.changed.enumerated() {
                if index > 0 { text += "," }
                text += "{\"device_id\":\(change.deviceId),\"desired_version\":\(change.desiredVersion)}"
            }
            text += "]}"
            return Self.rawJSON(text)
        }
    }
}
