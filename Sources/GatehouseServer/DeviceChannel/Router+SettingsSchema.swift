import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// A vendor's settings schema for one of its models (`X-Exosite-Token`): the devices of
    /// that model have their desired settings checked against it instead of the built-in one.
    func addSettingsSchemaRoutes(to router: Router<GatehouseRequestContext>) {
        let hub = deviceHub
        router.get("/provision/manage/settings-schema/:model") { request, context in
            let model = try await provisioning.model(try await vendorCaller(request), name: try context.parameters.require("model"))
            guard let schema = try await store.settingsSchema(modelId: model.id) else {
                throw GatehouseError(.notFound, "model \(model.name) has no settings schema; its devices use the built-in one")
            }
            return Self.rawJSON(schema)
        }
        router.put("/provision/manage/settings-schema/:model") { request, context in
            let caller = try await vendorCaller(request)
            let model = try await provisioning.model(caller, name: try context.parameters.require("model"))
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            let schema: SettingsSchema
            do {
                schema = try SettingsSchema.parse(Array(buffer: body))
            } catch let error as GatehouseError {
                // The vendor API answers plain text: the field goes into the message.
                throw GatehouseError(error.code, error.field.map { "\($0): \(error.message)" } ?? error.message, field: error.field)
            }
            let text = V1.schema(schema)
            try await store.setSettingsSchema(modelId: model.id, tenantId: caller.node.id, schema: text, at: hub.clock.now(),
                                              audit: AuditIntent(actor: "vendor:\(caller.vendor.name)", detail: model.name))
            return Self.rawJSON(text)
        }
        router.delete("/provision/manage/settings-schema/:model") { request, context in
            let caller = try await vendorCaller(request)
            let model = try await provisioning.model(caller, name: try context.parameters.require("model"))
            try await store.setSettingsSchema(modelId: model.id, tenantId: caller.node.id, schema: nil, at: hub.clock.now(),
                                              audit: AuditIntent(actor: "vendor:\(caller.vendor.name)", detail: model.name))
            return Response(status: .noContent)
        }
    }
}
