import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

extension GatehouseApp {
    /// The device side of serial provisioning (seed 003, PROTOCOLS.md §4): activation, the
    /// content list and downloads by CIK, and the server's clock. Answers stay short: old
    /// firmware reads about 200 bytes and matches literal status lines.
    func addProvisioningDeviceRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/provision/activate") { request, context in
            let form = try await ProvisioningForm.read(request, limit: 4096)
            guard let vendor = form["vendor"], let model = form["model"], let sn = form["sn"], !vendor.isEmpty, !model.isEmpty, !sn.isEmpty else {
                throw GatehouseError(.invalidRequest, "vendor, model and sn are required")
            }
            let cik = try await provisioning.activate(vendor: vendor, model: model, sn: sn, connection: context.clientAddress)
            return ProvisioningReply.text(cik)
        }
        router.get("/provision/download") { request, _ in try await download(request) }
        router.head("/provision/download") { request, _ in try await download(request) }
        router.get("/timestamp") { _, _ in ProvisioningReply.text(String(configuration.clock.now())) }
    }

    /// `GET|HEAD /provision/download`: the list (no `id`), one blob, or its info (`info=true`).
    private func download(_ request: Request) async throws -> Response {
        let form = ProvisioningForm.query(request)
        let cik = request.headers[.exositeCIK]?.trimmingCharacters(in: .whitespaces) ?? ""
        guard let vendor = form["vendor"], let model = form["model"] else {
            throw GatehouseError(.forbidden, "vendor and model are required")
        }
        guard let id = form["id"] else {
            return ProvisioningReply.csvAlways(try await provisioning.deviceContents(cik: cik, vendor: vendor, model: model).map { [$0] })
        }
        let item = try await provisioning.deviceContent(cik: cik, vendor: vendor, model: model, id: id)
        if form.flag("info") { return ProvisioningReply.text(ProvisioningCSV.render([ProvisioningReply.contentInfo(item, withProtected: false)]), type: ProvisioningReply.csvType) }
        return try contentResponse(request, item)
    }
}

extension HTTPField.Name {
    /// The device's key (CIK) on the provisioning surface.
    static let exositeCIK = HTTPField.Name("X-Exosite-CIK")!
    /// A vendor token on the provisioning management API.
    static let exositeToken = HTTPField.Name("X-Exosite-Token")!
}
