import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

/// The answers of the provisioning surface (seed 003): short `text/plain` and `text/csv`
/// bodies, `205 Reset Content` for writes and `204 No Content` for empty lists.
enum ProvisioningReply {
    static let csvType = "text/csv; charset=utf-8"
    static let textType = "text/plain; charset=utf-8"

    /// A CSV list; `204 No Content` when there are no rows.
    static func csv(_ rows: [[String]]) -> Response {
        guard !rows.isEmpty else { return Response(status: .noContent) }
        return text(ProvisioningCSV.render(rows), type: csvType)
    }

    /// A CSV list that answers `200` with an empty body when there are no rows (the device's list).
    static func csvAlways(_ rows: [[String]]) -> Response {
        text(ProvisioningCSV.render(rows), type: csvType)
    }

    /// A body of `type` with the given status.
    static func text(_ body: String, type: String = textType, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// A write that succeeded: `205 Reset Content` with no body.
    static var reset: Response { Response(status: .resetContent, headers: [.contentLength: "0"]) }

    /// The serial line of the vendor API: `status,rid,extra`.
    static func serialRow(_ serial: SerialRecord, at now: Int64) -> [String] {
        [serial.status(at: now).rawValue, serial.deviceId.map(String.init) ?? "", serial.extra]
    }

    /// Content info: `content-type,size,updated,meta` (and `protected` for the vendor).
    static func contentInfo(_ item: ContentItem, withProtected: Bool) -> [String] {
        var row = [item.contentType ?? "", String(item.size), String(item.updatedAt), item.meta]
        if withProtected { row.append(item.isProtected ? "true" : "false") }
        return row
    }

    /// The HTTP-date of a unix time (for `Last-Modified`).
    static func httpDate(_ unix: Int64) -> String {
        let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"], months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = unix >= 0 ? unix / 86_400 : (unix - 86_399) / 86_400
        let seconds = unix - day * 86_400
        // Civil date from days since the epoch (Howard Hinnant's algorithm).
        let z = day + 719_468, era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097, yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let weekday = days[Int(((day % 7) + 7) % 7)]
        return "\(weekday), \(two(d)) \(months[Int(m - 1)]) \(y) \(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60)) GMT"
    }
}
