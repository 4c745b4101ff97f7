import Foundation
import GatehouseCore
import Hummingbird
import NIOCore

/// The parameters of a provisioning request: the query string, then the form body, in
/// order and with repeats kept (`sn[]=a&sn[]=b`), as the seed 003 clients send them.
struct ProvisioningForm: Sendable {
    var pairs: [(String, String)]

    /// The last value of `name` (a form field wins over the query).
    subscript(_ name: String) -> String? { pairs.last { $0.0 == name }?.1 }

    /// Every value of `name` and of `name[]`, in order.
    func all(_ name: String) -> [String] {
        let list = name + "[]"
        return pairs.filter { $0.0 == name || $0.0 == list }.map(\.1)
    }

    /// Whether a flag such as `delete=true` is set.
    func flag(_ name: String) -> Bool { self[name]?.lowercased() == "true" }

    /// An optional integer parameter.
    func int64(_ name: String) throws(GatehouseError) -> Int64? {
        guard let text = self[name], !text.isEmpty else { return nil }
        guard let value = Int64(text) else { throw .invalid(name, "\(name) must be an integer") }
        return value
    }

    /// The query string only (for GET and for routes whose body is data).
    static func query(_ request: Request) -> ProvisioningForm {
        ProvisioningForm(pairs: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
    }

    /// The query string and an `application/x-www-form-urlencoded` body of at most `limit` bytes.
    static func read(_ request: Request, limit: Int) async throws -> ProvisioningForm {
        var form = query(request)
        guard let text = try await FormParameters.body(request, limit: limit) else { return form }
        // Firmware may end the body with a stray line break.
        form.pairs += try FormParameters.parse(text.trimmingCharacters(in: .whitespacesAndNewlines))
        return form
    }

    /// The media type of the body, lower-cased, without parameters.
    static func media(_ request: Request) -> String? {
        RequestMediaType.of(request.headers)
    }

    /// A body of at most `limit` bytes, as it came.
    static func body(_ request: Request, limit: Int) async throws -> ByteBuffer {
        var request = request
        return try await request.collectBody(upTo: limit)
    }

    /// The rows of a `text/csv` body of at most `limit` bytes.
    static func csv(_ request: Request, limit: Int) async throws -> [[String]] {
        var request = request
        let body = try await request.collectBody(upTo: limit)
        return try ProvisioningCSV.parse(Array(body.readableBytesView))
    }

    /// `offset` and `limit` of a paged list: the limit is held to 5...1000 (5 when absent), as documented.
    func paging(defaultLimit: Int = 5) throws(GatehouseError) -> (offset: Int, limit: Int) {
        let offset = try int64("offset") ?? 0
        guard offset >= 0, offset <= Int64(Int32.max) else { throw .invalid("offset", "offset must be 0 or more") }
        let limit = try int64("limit") ?? Int64(defaultLimit)
        return (Int(offset), Int(min(max(limit, 5), 1000)))
    }
}
