/// The rules of serial provisioning (seed 003): vendors and their tokens, models, serial
/// numbers enabled by an owner for a limited activation window, one activation per
/// enablement that hands the device its CIK, and content the activated devices download.
public struct Provisioning: Sendable {
    public let store: any ProvisioningStore
    public let management: Management
    public let clock: any GatehouseClock
    /// The largest content blob an upload may carry, in bytes.
    public let maxContentBytes: Int64

    /// The service over its store and the tree's management rules.
    public init(store: any ProvisioningStore, management: Management, clock: any GatehouseClock, maxContentBytes: Int64 = 512 << 20) {
        self.store = store
        self.management = management
        self.clock = clock
        self.maxContentBytes = maxContentBytes
    }

    // MARK: Vendors (through /v1)

    /// Gives a node the vendor role under `name`.
    public func createVendor(_ caller: Caller, tenantId: Int64, name: String) async throws -> Vendor {
        try caller.require(.manageTenants)
        let node = try await management.tenant(caller, id: tenantId)
        let name = try ProvisioningValidation.vendorName(name, field: "name")
        return try await store.createVendor(tenantId: node.id, name: name, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: name))
    }

    /// The vendor role of a node the caller sees; `not_found` when the node is no vendor.
    public func vendor(_ caller: Caller, tenantId: Int64) async throws -> Vendor {
        let node = try await management.tenant(caller, id: tenantId)
        guard let vendor = try await store.vendor(tenantId: node.id) else { throw GatehouseError(.notFound, "tenant \(tenantId) is not a vendor") }
        return vendor
    }

    /// A new vendor token; the secret is returned once.
    public func createToken(_ caller: Caller, tenantId: Int64, name: String) async throws -> (token: VendorToken, secret: String) {
        try caller.require(.manageClients)
        let vendor = try await vendor(caller, tenantId: tenantId)
        let secret = Secrets.token(prefix: "gxt_", byteCount: 32)
        let token = try await store.createVendorToken(vendorId: vendor.tenantId, name: try Validation.name(name), tokenHash: Secrets.hash(secret),
                                                      at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: name))
        return (token, secret)
    }

    /// A vendor's live tokens (never their secrets).
    public func tokens(_ caller: Caller, tenantId: Int64) async throws -> [VendorToken] {
        try await store.vendorTokens(vendorId: try await vendor(caller, tenantId: tenantId).tenantId)
    }

    /// Revokes a vendor token; it stops working at once.
    public func revokeToken(_ caller: Caller, tenantId: Int64, tokenId: Int64) async throws {
        try caller.require(.manageClients)
        let vendor = try await vendor(caller, tenantId: tenantId)
        try await store.revokeVendorToken(id: tokenId, vendorId: vendor.tenantId, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
    }

    // MARK: The vendor API

    /// The vendor behind `X-Exosite-Token`.
    public func caller(vendorToken: String) async throws -> VendorCaller {
        guard !vendorToken.isEmpty, vendorToken.utf8.count <= 256, let found = try await store.vendor(tokenHash: Secrets.hash(vendorToken)),
              found.node.enabled
        else { throw GatehouseError(.unauthenticated, "the vendor token is not valid") }
        return VendorCaller(vendor: found.vendor, node: found.node)
    }

    /// A model of the calling vendor.
    public func model(_ caller: VendorCaller, name: String) async throws -> ProvisionModel {
        guard let model = try await store.model(vendorId: caller.vendor.tenantId, name: try ProvisioningValidation.modelName(name)) else {
            throw GatehouseError.notFound("model", name)
        }
        return model
    }

    public func models(_ caller: VendorCaller) async throws -> [ProvisionModel] {
        try await store.models(vendorId: caller.vendor.tenantId)
    }

    /// Creates a model; its activation window defaults to 24 hours.
    public func createModel(_ caller: VendorCaller, name: String, window: Int64?) async throws -> ProvisionModel {
        let name = try ProvisioningValidation.modelName(name)
        let window = try window.map { value throws(GatehouseError) in try ProvisioningValidation.window(value) } ?? ProvisionModel.defaultWindow
        return try await store.createModel(vendorId: caller.vendor.tenantId, name: name, window: window, at: clock.now(), audit: caller.audit(name))
    }

    /// Changes a model's activation window (serials already enabled keep theirs).
    public func updateModel(_ caller: VendorCaller, name: String, window: Int64) async throws {
        let model = try await model(caller, name: name)
        try await store.updateModel(id: model.id, window: try ProvisioningValidation.window(window), at: clock.now(), audit: caller.audit("window=\(window)"))
    }

    /// Deletes a model with every serial, device, content entry and group under it.
    public func deleteModel(_ caller: VendorCaller, name: String) async throws {
        let model = try await model(caller, name: name)
        try await store.deleteModel(id: model.id, at: clock.now(), audit: caller.audit(name))
    }

    /// Adds serials, all or none (`conflict` when one is present or named twice).
    public func addSerials(_ caller: VendorCaller, model name: String, _ serials: [(sn: String, extra: String)]) async throws {
        let model = try await model(caller, name: name)
        guard !serials.isEmpty else { throw GatehouseError.invalid("sn", "name at least one serial number") }
        var seen = Set<String>()
        seen.reserveCapacity(serials.count)
        var valid: [(sn: String, extra: String)] = []
        valid.reserveCapacity(serials.count)
        for (index, serial) in serials.enumerated() {
            let field = serials.count == 1 ? "sn" : "sn[\(index)]"
            let sn = try ProvisioningValidation.serial(serial.sn, field: field)
            guard seen.insert(sn).inserted else { throw GatehouseError(.conflict, "serial number \(sn) is named twice", field: field) }
            valid.append((sn, try ProvisioningValidation.text(serial.extra, field: "extra")))
        }
        try await store.addSerials(modelId: model.id, valid, at: clock.now(), audit: caller.audit("\(valid.count) serial numbers"))
    }

    /// Removes serials and the devices that stand for them.
    public func removeSerials(_ caller: VendorCaller, model name: String, _ sns: [String]) async throws {
        let model = try await model(caller, name: name)
        guard !sns.isEmpty else { throw GatehouseError.invalid("sn", "name at least one serial number") }
        let valid = try sns.map { sn throws(GatehouseError) in try ProvisioningValidation.serial(sn) }
        try await store.removeSerials(modelId: model.id, sns: valid, at: clock.now(), audit: caller.audit("\(valid.count) serial numbers"))
    }

    /// A page of a model's serials.
    public func serials(_ caller: VendorCaller, model name: String, offset: Int, limit: Int) async throws -> [SerialRecord] {
        let model = try await model(caller, name: name)
        return try await store.serials(modelId: model.id, offset: offset, limit: limit)
    }

    /// One serial of a model.
    public func serial(_ caller: VendorCaller, model name: String, sn: String) async throws -> (model: ProvisionModel, serial: SerialRecord) {
        let model = try await model(caller, name: name)
        guard let serial = try await store.serial(modelId: model.id, sn: try ProvisioningValidation.serial(sn)) else {
            throw GatehouseError.notFound("serial number", sn)
        }
        return (model, serial)
    }

    /// Enables a serial for `owner` (an account id or key in the vendor's subtree), or re-enables it
    /// for the owner it has: the activation window opens and the next activation issues a new CIK.
    public func enable(_ caller: VendorCaller, model name: String, sn: String, owner: String?) async throws -> SerialRecord {
        let (model, serial) = try await serial(caller, model: name, sn: sn)
        var ownerNode: Tenant?
        if let owner {
            let found: Tenant?
            if let id = Int64(owner) { found = try await management.store.tenant(id: id) } else { found = try await management.store.tenant(key: owner) }
            guard let found, found.kind == .account, caller.node.contains(found) else {
                throw GatehouseError(.notFound, "owner \(owner) is not an account of this vendor", field: "owner")
            }
            ownerNode = found
        }
        let now = clock.now()
        return try await store.enableSerial(modelId: model.id, sn: serial.sn, owner: ownerNode, deviceName: "\(model.name) \(serial.sn)",
                                            windowEndsAt: now + model.activationWindow, at: now, audit: caller.audit(owner.map { "owner=\($0)" } ?? "re-enable"))
    }

    /// Disables a serial: its CIK stops working until it is enabled again.
    public func disable(_ caller: VendorCaller, model name: String, sn: String) async throws {
        let (model, serial) = try await serial(caller, model: name, sn: sn)
        try await store.disableSerial(modelId: model.id, sn: serial.sn, at: clock.now(), audit: caller.audit("disable"))
    }

    /// A serial's activation log.
    public func log(_ caller: VendorCaller, model name: String, sn: String, offset: Int, limit: Int) async throws -> [SerialLogEntry] {
        let (_, serial) = try await serial(caller, model: name, sn: sn)
        return try await store.serialLog(serialId: serial.id, offset: offset, limit: limit)
    }

    // MARK: The owner side (through /v1)

    /// An account enables ("adds to its portal") a serial it holds: the serial becomes the
    /// account's and its activation window opens. A serial another account holds is a `conflict`.
    public func enableHeld(_ caller: Caller, accountId: Int64, vendor: String, model: String, sn: String) async throws -> HeldSerial {
        let account = try await management.tenant(caller, id: accountId)
        guard account.kind == .account else { throw GatehouseError.invalid("tenant_id", "serial numbers are held by accounts") }
        if case .user(_, let home) = caller, home.id != account.id { try caller.require(.manageTenants) }
        let vendor = try ProvisioningValidation.vendorName(vendor), modelName = try ProvisioningValidation.modelName(model)
        let sn = try ProvisioningValidation.serial(sn)
        guard let found = try await store.serial(vendorName: vendor, modelName: modelName, sn: sn) else {
            throw GatehouseError(.notFound, "no serial number \(sn) of model \(modelName) by vendor \(vendor)", field: "sn")
        }
        if let holder = found.serial.ownerId, holder != account.id {
            throw GatehouseError(.conflict, "serial number \(sn) is held by another account", field: "sn")
        }
        let now = clock.now()
        let serial = try await store.enableSerial(modelId: found.model.id, sn: sn, owner: account, deviceName: "\(modelName) \(sn)",
                                                  windowEndsAt: now + found.model.activationWindow, at: now,
                                                  audit: AuditIntent(actor: caller.auditName, detail: "\(vendor)/\(modelName)/\(sn)"))
        return HeldSerial(serial: serial, vendor: vendor, model: modelName)
    }

    /// The serials an account holds.
    public func held(_ caller: Caller, accountId: Int64) async throws -> [HeldSerial] {
        let account = try await management.tenant(caller, id: accountId)
        return try await store.heldSerials(ownerId: account.id)
    }

    // MARK: Devices

    /// `POST /provision/activate`: the CIK (40 lower-case hex characters) of a serial enabled
    /// and inside its window; `not_found` for an unknown serial, `conflict` for one that may not activate.
    public func activate(vendor: String, model: String, sn: String, connection: String) async throws -> String {
        guard (try? ProvisioningValidation.vendorName(vendor)) != nil, (try? ProvisioningValidation.modelName(model)) != nil,
              (try? ProvisioningValidation.serial(sn)) != nil
        else { throw GatehouseError(.notFound, "no such serial number") }
        let cik = Secrets.hex(Secrets.randomBytes(20))
        switch try await store.activateSerial(vendorName: vendor, modelName: model, sn: sn, cikHash: Secrets.hash(cik), at: clock.now(),
                                              connection: String(connection.prefix(128))) {
        case .activated: return cik
        case .unknown: throw GatehouseError(.notFound, "no such serial number")
        case .refused(let status):
            switch status {
            case .activated: throw GatehouseError(.conflict, "the serial number is already activated")
            case .expired: throw GatehouseError(.conflict, "the activation window has expired; the owner must enable it again")
            case .disabled: throw GatehouseError(.conflict, "the serial number is disabled")
            case .unused, .enabled: throw GatehouseError(.conflict, "the serial number is not enabled for activation")
            }
        }
    }

    /// The activated device behind a CIK, which must belong to `vendor` and `model`.
    public func device(cik: String, vendor: String, model: String) async throws -> ProvisionedDevice {
        guard Self.isCIK(cik), let device = try await store.provisionedDevice(cikHash: Secrets.hash(cik)),
              device.vendorName == vendor, device.modelName == model
        else { throw GatehouseError(.forbidden, "the CIK is not valid for this vendor and model") }
        return device
    }

    /// The content ids a device may download.
    public func deviceContents(cik: String, vendor: String, model: String) async throws -> [String] {
        guard Self.isCIK(cik), let found = try await store.deviceContentList(cikHash: Secrets.hash(cik), at: clock.now()),
              found.device.vendorName == vendor, found.device.modelName == model
        else { throw GatehouseError(.forbidden, "the CIK is not valid for this vendor and model") }
        return found.contents
    }

    /// One content entry a device may download (`not_found` when it may not see it or it has no blob yet).
    public func deviceContent(cik: String, vendor: String, model: String, id: String) async throws -> ContentItem {
        let device = try await device(cik: cik, vendor: vendor, model: model)
        guard (try? ProvisioningValidation.contentName(id)) != nil,
              let item = try await store.contentVisible(modelId: device.modelId, contentName: id, sn: device.sn, at: clock.now()), item.blobId != nil
        else { throw GatehouseError.notFound("content", id) }
        return item
    }

    /// A CIK's shape: 40 lower-case hex characters.
    static func isCIK(_ value: String) -> Bool {
        value.utf8.count == 40 && value.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// A vendor calling the management API with its token.
public struct VendorCaller: Sendable {
    public let vendor: Vendor
    public let node: Tenant
    /// Who the audit log names: the vendor for its token, the user for the console (``Provisioning/vendorCaller(_:tenantId:)``).
    public let actor: String?
    public init(vendor: Vendor, node: Tenant, actor: String? = nil) {
        self.vendor = vendor
        self.node = node
        self.actor = actor
    }

    func audit(_ detail: String) -> AuditIntent { AuditIntent(actor: actor ?? "vendor:\(vendor.name)", detail: detail) }
}
