import NIOCore

/// Serials handed to the store batch by batch, so a million of them never sit in memory as
/// rows at once (a CSV body is read in place, one batch at a time).
public protocol SerialBatches: Sendable {
    /// Calls `handle` with each batch of checked serials in order; answers how many there were.
    /// Throws on the first bad row (naming it), and when there is no serial at all.
    func forEachBatch(_ handle: ([(sn: String, extra: String)]) async throws -> Void) async throws -> Int
}

/// The serials of a `text/csv` body, `sn[,extra]` a row (further fields ignored), checked as
/// ``Provisioning/addSerials(_:model:_:)`` checks them; bad rows name `sn[index]`.
public struct SerialCSVBatches: SerialBatches {
    public let body: ByteBuffer
    public let batchSize: Int

    public init(_ body: ByteBuffer, batchSize: Int = 1000) {
        self.body = body
        self.batchSize = batchSize
    }

    public func forEachBatch(_ handle: ([(sn: String, extra: String)]) async throws -> Void) async throws -> Int {
        var rows = ProvisioningCSV.Rows(body.readableBytesView)
        var batch: [(sn: String, extra: String)] = []
        batch.reserveCapacity(batchSize)
        var count = 0
        while let row = try rows.next() {
            let sn = try ProvisioningValidation.serial(row.first ?? "", field: "sn[\(count)]")
            batch.append((sn, try ProvisioningValidation.text(row.count > 1 ? row[1] : "", field: "extra")))
            count += 1
            if batch.count >= batchSize {
                try await handle(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        guard count > 0 else { throw GatehouseError.invalid("sn", "name at least one serial number") }
        if !batch.isEmpty { try await handle(batch) }
        return count
    }
}

extension Provisioning {
    /// Adds the serials of a `text/csv` body, all or none, read and written batch by batch in
    /// one transaction (`conflict` when one is present or named twice; a bad row names `sn[index]`).
    public func addSerials(_ caller: VendorCaller, model name: String, csv body: ByteBuffer) async throws {
        let model = try await model(caller, name: name)
        try await store.addSerials(modelId: model.id, batches: SerialCSVBatches(body), at: clock.now()) { caller.audit("\($0) serial numbers") }
    }
}
