import NIOCore

/// What serial provisioning (seed 003) needs from storage. Every mutation runs in one
/// transaction with its audit entry; serial changes also write the serial's log.
public protocol ProvisioningStore: Sendable {
    // MARK: Vendors and tokens
    /// Makes a node a vendor; `conflict` when it already is one or the name is taken.
    func createVendor(tenantId: Int64, name: String, at: Int64, audit: AuditIntent) async throws -> Vendor
    func vendor(tenantId: Int64) async throws -> Vendor?
    func createVendorToken(vendorId: Int64, name: String, tokenHash: String, at: Int64, audit: AuditIntent) async throws -> VendorToken
    func vendorTokens(vendorId: Int64) async throws -> [VendorToken]
    /// Revokes a token at once; `not_found` when it is not the vendor's or already revoked.
    func revokeVendorToken(id: Int64, vendorId: Int64, at: Int64, audit: AuditIntent) async throws
    /// The vendor behind a live token, with its node.
    func vendor(tokenHash: String) async throws -> (vendor: Vendor, node: Tenant)?

    // MARK: Models
    /// `conflict` when the vendor already has a model of this name.
    func createModel(vendorId: Int64, name: String, window: Int64, at: Int64, audit: AuditIntent) async throws -> ProvisionModel
    func models(vendorId: Int64) async throws -> [ProvisionModel]
    func model(vendorId: Int64, name: String) async throws -> ProvisionModel?
    func updateModel(id: Int64, window: Int64, at: Int64, audit: AuditIntent) async throws
    /// Deletes a model with its serials (and their devices), content and groups.
    func deleteModel(id: Int64, at: Int64, audit: AuditIntent) async throws

    // MARK: Serial numbers
    /// Adds serials all or none: `conflict` naming the first serial already present.
    func addSerials(modelId: Int64, _ serials: [(sn: String, extra: String)], at: Int64, audit: AuditIntent) async throws
    /// Adds serials read batch by batch (a CSV body), all or none in one transaction, each batch
    /// one multi-row insert: `conflict` naming a serial already present or named twice.
    /// `audit` makes the entry from the number of serials.
    func addSerials(modelId: Int64, batches: any SerialBatches, at: Int64, audit: @Sendable (Int) -> AuditIntent) async throws
    /// Removes serials (and their devices); unknown ones are ignored. Returns how many went.
    @discardableResult
    func removeSerials(modelId: Int64, sns: [String], at: Int64, audit: AuditIntent) async throws -> Int
    /// Serials in sn order.
    func serials(modelId: Int64, offset: Int, limit: Int) async throws -> [SerialRecord]
    func serial(modelId: Int64, sn: String) async throws -> SerialRecord?
    /// Enables a serial: opens the window until `windowEndsAt` and drops any CIK. With an
    /// `owner`, binds it to that account (a device there stands for it); without, re-enables
    /// for the owner it has (`conflict` when it has none).
    func enableSerial(modelId: Int64, sn: String, owner: Tenant?, deviceName: String, windowEndsAt: Int64, at: Int64, audit: AuditIntent) async throws
        -> SerialRecord
    /// Disables a serial: its CIK stops working and it may not activate until re-enabled.
    func disableSerial(modelId: Int64, sn: String, at: Int64, audit: AuditIntent) async throws
    /// The serial's log, oldest first.
    func serialLog(serialId: Int64, offset: Int, limit: Int) async throws -> [SerialLogEntry]
    /// The serials an account holds, with vendor and model names.
    func heldSerials(ownerId: Int64) async throws -> [HeldSerial]
    /// A serial by its vendor, model and sn, with its model.
    func serial(vendorName: String, modelName: String, sn: String) async throws -> (serial: SerialRecord, model: ProvisionModel)?

    // MARK: Devices
    /// Activates a serial exactly once per enablement, storing the CIK's hash; the attempt
    /// (refused ones too) goes into the serial's log with `connection`.
    func activateSerial(vendorName: String, modelName: String, sn: String, cikHash: String, at: Int64, connection: String) async throws
        -> SerialActivation
    /// The activated device holding a CIK.
    func provisionedDevice(cikHash: String) async throws -> ProvisionedDevice?
    /// A device's visible content ids together with the device (one look-up); nil for an unknown CIK.
    func deviceContentList(cikHash: String, at: Int64) async throws -> (device: ProvisionedDevice, contents: [String])?

    // MARK: Content
    /// `conflict` when the model already has content of this name.
    func createContent(modelId: Int64, name: String, meta: String, isProtected: Bool, at: Int64, audit: AuditIntent) async throws -> ContentItem
    func contents(modelId: Int64) async throws -> [ContentItem]
    func content(modelId: Int64, name: String) async throws -> ContentItem?
    /// The content ids a serial may see (unprotected, or sharing a live group with it).
    func visibleContents(modelId: Int64, sn: String, at: Int64) async throws -> [String]
    /// Whether a serial may see one content entry.
    func contentVisible(modelId: Int64, contentName: String, sn: String, at: Int64) async throws -> ContentItem?
    func deleteContent(modelId: Int64, name: String, at: Int64, audit: AuditIntent) async throws

    // MARK: Blobs
    /// A new, unfinished blob for content; its chunks follow.
    func beginBlob(contentId: Int64, chunkSize: Int, at: Int64) async throws -> Int64
    func appendBlobChunk(blobId: Int64, seq: Int64, data: ByteBuffer) async throws
    /// Makes a finished blob the content's current one (the previous blob goes).
    func finishBlob(contentId: Int64, blobId: Int64, contentType: String, size: Int64, sha256: String, at: Int64, audit: AuditIntent) async throws
    /// Drops an unfinished blob (an upload that failed or was too large).
    func discardBlob(blobId: Int64) async throws
    /// One chunk of a blob.
    func blobChunk(blobId: Int64, seq: Int64) async throws -> ByteBuffer?
    /// The chunk size of a blob.
    func blobChunkSize(blobId: Int64) async throws -> Int?

    // MARK: Groups
    func createGroup(modelId: Int64, name: String, meta: String, at: Int64, audit: AuditIntent) async throws -> ContentGroup
    func groups(modelId: Int64, offset: Int, limit: Int) async throws -> [ContentGroup]
    func group(modelId: Int64, name: String) async throws -> ContentGroup?
    func deleteGroup(modelId: Int64, name: String, at: Int64, audit: AuditIntent) async throws
    /// Adds members or updates them (same type and id).
    func putGroupMembers(groupId: Int64, _ members: [GroupMember], at: Int64, audit: AuditIntent) async throws
    func removeGroupMembers(groupId: Int64, _ members: [(type: String, memberId: String)], at: Int64, audit: AuditIntent) async throws
    func groupMembers(groupId: Int64, type: String?, memberId: String?, offset: Int, limit: Int) async throws -> [GroupMember]
    /// The groups of a model a member belongs to, by name.
    func memberGroups(modelId: Int64, type: String, memberId: String, offset: Int, limit: Int) async throws -> [String]
}
