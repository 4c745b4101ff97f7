import NIOCore

extension Provisioning {
    /// A signed-in user acting as the vendor of node `tenantId` (the console's vendor pages).
    ///
    /// The rule is the one of `POST /v1/tenants/{id}/vendor-tokens`: the user holds
    /// `manage_clients` and sees the vendor's node. Such a user can mint a vendor token and do
    /// everything the vendor API does with it, so acting as the vendor directly gives no more.
    /// The audit log names the user. `forbidden` without the permission or when the vendor's
    /// node is disabled, `not_found` for a node the user cannot see or one that is no vendor.
    public func vendorCaller(_ caller: Caller, tenantId: Int64) async throws -> VendorCaller {
        try caller.require(.manageClients)
        let node = try await management.tenant(caller, id: tenantId)
        guard let vendor = try await store.vendor(tenantId: node.id) else { throw GatehouseError(.notFound, "tenant \(tenantId) is not a vendor") }
        guard node.enabled else { throw GatehouseError(.forbidden, "the vendor's node is disabled") }
        return VendorCaller(vendor: vendor, node: node, actor: caller.auditName)
    }

    /// A row of an import that ``addSerials(_:model:csv:)`` would refuse.
    public struct SerialRowProblem: Sendable, Hashable {
        /// 1-based, counting the rows of the file that are not blank.
        public let row: Int
        public let sn: String
        public let message: String
    }

    /// Checks every row of a `text/csv` body of serials (`sn[,extra]`, read in place with the
    /// parser of ``addSerials(_:model:csv:)``) by the rules that import applies on its own: the
    /// serial's and the extra's shape, a serial named twice. Answers how many rows there are
    /// and the rows at fault, in file order, at most `limit` (empty when every row passes);
    /// serials already stored are found only by the import. Throws what the parser throws for
    /// a body that is not CSV (an unterminated quote, bytes that are not UTF-8).
    public static func serialProblems(csv body: ByteBuffer, field: String = "file", limit: Int = 50) throws(GatehouseError)
        -> (rows: Int, problems: [SerialRowProblem]) {
        var rows = ProvisioningCSV.Rows(body.readableBytesView, field: field)
        var problems: [SerialRowProblem] = []
        var seen: [String: Int] = [:]
        var count = 0
        while let fields = try rows.next() {
            count += 1
            guard problems.count < limit else { continue }
            let raw = fields.first ?? ""
            do throws(GatehouseError) {
                let sn = try ProvisioningValidation.serial(raw, field: "serial number")
                if let first = seen[sn] {
                    problems.append(SerialRowProblem(row: count, sn: raw, message: "serial number \(sn) is named twice (first in row \(first))"))
                    continue
                }
                seen[sn] = count
                _ = try ProvisioningValidation.text(fields.count > 1 ? fields[1] : "", field: "extra")
            } catch {
                problems.append(SerialRowProblem(row: count, sn: raw, message: error.message))
            }
        }
        return (count, problems)
    }
}
