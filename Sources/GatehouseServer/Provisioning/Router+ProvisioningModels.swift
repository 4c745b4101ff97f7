import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// The vendor's model and serial-number API (PROTOCOLS.md §4), authenticated by
    /// `X-Exosite-Token`. Hummingbird matches a path with or without its trailing slash, so
    /// `/model/<model>` (the model) and `/model/<model>/` (its serials) share one route and
    /// the slash decides.
    func addProvisioningModelRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/provision/manage/model") { request, _ in
            let caller = try await vendorCaller(request)
            // Sharing models between vendors is not offered: no model is shared with anyone.
            if ProvisioningForm.query(request)["show"] == "shared" { return ProvisioningReply.csv([]) }
            return ProvisioningReply.csv(try await provisioning.models(caller).map { [$0.name] })
        }
        router.post("/provision/manage/model") { request, _ in
            let caller = try await vendorCaller(request)
            let form = try await ProvisioningForm.read(request, limit: configuration.maxBodySize)
            guard let name = form["model"] else { throw GatehouseError.invalid("model", "model is required") }
            if form.flag("delete") {
                try await provisioning.deleteModel(caller, name: name)
            } else {
                _ = try await provisioning.createModel(caller, name: name, window: try form.int64("window"))
            }
            return ProvisioningReply.reset
        }

        router.get("/provision/manage/model/:model") { request, context in
            let caller = try await vendorCaller(request)
            let name = try context.parameters.require("model")
            let form = ProvisioningForm.query(request)
            if request.uri.path.hasSuffix("/") {
                let (offset, limit) = try form.paging(defaultLimit: 1000)
                let withStatus = form.flag("status")
                let now = configuration.clock.now()
                return ProvisioningReply.csv(try await provisioning.serials(caller, model: name, offset: offset, limit: limit).map { serial in
                    var row = [serial.sn, serial.deviceId.map(String.init) ?? "", serial.extra]
                    if withStatus { row += [serial.status(at: now).rawValue, serial.ownerKey ?? ""] }
                    return row
                })
            }
            let model = try await provisioning.model(caller, name: name)
            return ProvisioningReply.text("window=\(model.activationWindow)&created=\(model.createdAt)", type: "application/x-www-form-urlencoded; charset=utf-8")
        }
        router.put("/provision/manage/model/:model") { request, context in
            let caller = try await vendorCaller(request)
            let name = try context.parameters.require("model")
            guard !request.uri.path.hasSuffix("/") else { throw GatehouseError(.methodNotAllowed, "PUT is for a model, not its serial numbers") }
            let form = try await ProvisioningForm.read(request, limit: configuration.maxBodySize)
            guard let window = try form.int64("window") else { throw GatehouseError.invalid("window", "window (seconds) is required") }
            try await provisioning.updateModel(caller, name: name, window: window)
            return ProvisioningReply.reset
        }
        router.post("/provision/manage/model/:model") { request, context in
            let caller = try await vendorCaller(request)
            let name = try context.parameters.require("model")
            guard request.uri.path.hasSuffix("/") else { throw GatehouseError(.methodNotAllowed, "POST to /provision/manage/model/ or to the model's serial numbers (a trailing /)") }
            if ProvisioningForm.media(request) == "text/csv" {
                // Read in place and written batch by batch: a million serials are never held as rows.
                try await provisioning.addSerials(caller, model: name, csv: try await ProvisioningForm.body(request, limit: Self.serialCSVLimit))
                return ProvisioningReply.reset
            }
            let form = try await ProvisioningForm.read(request, limit: Self.serialFormLimit)
            let sns = form.all("sn")
            if form.flag("delete") || form.flag("remove") {
                try await provisioning.removeSerials(caller, model: name, sns)
            } else {
                let extra = form["extra"] ?? ""
                try await provisioning.addSerials(caller, model: name, sns.map { (sn: $0, extra: extra) })
            }
            return ProvisioningReply.reset
        }
        router.delete("/provision/manage/model/:model") { request, context in
            let caller = try await vendorCaller(request)
            let name = try context.parameters.require("model")
            if request.uri.path.hasSuffix("/") {
                // A text/csv body of serial numbers to remove, one per line.
                let rows = try await ProvisioningForm.csv(request, limit: Self.serialCSVLimit)
                try await provisioning.removeSerials(caller, model: name, rows.map { $0[0] })
            } else {
                try await provisioning.deleteModel(caller, name: name)
            }
            return ProvisioningReply.reset
        }

        router.get("/provision/manage/model/:model/:sn") { request, context in
            let caller = try await vendorCaller(request)
            let (name, sn) = (try context.parameters.require("model"), try context.parameters.require("sn"))
            let form = ProvisioningForm.query(request)
            switch form["show"] {
            case "log":
                let (offset, limit) = try form.paging(defaultLimit: 1000)
                return ProvisioningReply.csv(try await provisioning.log(caller, model: name, sn: sn, offset: offset, limit: limit).map {
                    [String($0.at), $0.connection, $0.entry]
                })
            case "groups":
                let (offset, limit) = try form.paging()
                _ = try await provisioning.serial(caller, model: name, sn: sn)
                return ProvisioningReply.csv(try await provisioning.memberGroups(caller, model: name, type: "sn", memberId: sn, offset: offset, limit: limit).map { [$0] })
            default:
                let (_, serial) = try await provisioning.serial(caller, model: name, sn: sn)
                let now = configuration.clock.now()
                guard serial.status(at: now) != .unused else { return ProvisioningReply.csv([]) }
                return ProvisioningReply.csv([ProvisioningReply.serialRow(serial, at: now)])
            }
        }
        router.post("/provision/manage/model/:model/:sn") { request, context in
            let caller = try await vendorCaller(request)
            let (name, sn) = (try context.parameters.require("model"), try context.parameters.require("sn"))
            let form = try await ProvisioningForm.read(request, limit: configuration.maxBodySize)
            if form.flag("enable") {
                if let owner = form["owner"], !owner.isEmpty {
                    let serial = try await provisioning.enable(caller, model: name, sn: sn, owner: owner)
                    return ProvisioningReply.text(serial.deviceId.map(String.init) ?? "", type: ProvisioningReply.csvType)
                }
                _ = try await provisioning.enable(caller, model: name, sn: sn, owner: nil)
                return ProvisioningReply.reset
            }
            if form.flag("disable") {
                try await provisioning.disable(caller, model: name, sn: sn)
                return ProvisioningReply.reset
            }
            throw GatehouseError(.invalidRequest, "say enable=true (with owner= the first time) or disable=true")
        }
        router.delete("/provision/manage/model/:model/:sn") { request, context in
            let caller = try await vendorCaller(request)
            let (name, sn) = (try context.parameters.require("model"), try context.parameters.require("sn"))
            _ = try await provisioning.serial(caller, model: name, sn: sn)
            try await provisioning.removeSerials(caller, model: name, [sn])
            return ProvisioningReply.reset
        }
    }

    /// The vendor behind `X-Exosite-Token`, or `unauthenticated`.
    func vendorCaller(_ request: Request) async throws -> VendorCaller {
        guard let token = request.headers[.exositeToken]?.trimmingCharacters(in: .whitespaces), !token.isEmpty else {
            throw GatehouseError(.unauthenticated, "an X-Exosite-Token header with a vendor token is required")
        }
        return try await provisioning.caller(vendorToken: token)
    }

    /// The largest CSV body of serial numbers (1,000,000 serials with short extras fit).
    static let serialCSVLimit = 128 << 20
    /// The largest form body of serial numbers (`sn[]=…` batches).
    static let serialFormLimit = 16 << 20
}
