import AsyncHTTPClient
import Foundation
import GatehouseCore
import NIOCore

/// The outcome of one call to the provisioning server (seed 003, PROTOCOLS.md §4).
public enum ProvisionOutcome<Value: Sendable>: Sendable {
    /// The server answered 2xx with `Value`.
    case ok(Value)
    /// The server refused for good (a 4xx other than 408 and 429): 403 a CIK the server no
    /// longer knows, 404 an unknown serial or content, 409 a serial not enabled or already activated.
    case refused(status: Int)
    /// The server could not be reached, or answered 5xx, 408 or 429, or something unreadable: try again later.
    case unavailable(reason: String)
}

/// What `/provision/download?…&id=…&info=true` tells about one content item:
/// `content-type,size,updated-timestamp,meta`.
public struct ContentInfo: Sendable, Equatable {
    public var contentType: String
    public var size: Int64
    public var updated: Int64
    public var meta: String

    public init(contentType: String, size: Int64, updated: Int64, meta: String) {
        self.contentType = contentType
        self.size = size
        self.updated = updated
        self.meta = meta
    }

    /// Parses the info line; nil when it is not four CSV fields with a numeric size and timestamp.
    public static func parse(_ text: String) -> ContentInfo? {
        let fields = ProvisionClient.csvFields(text.trimmingCharacters(in: .newlines))
        guard fields.count >= 3, let size = Int64(fields[1]), size >= 0, let updated = Int64(fields[2]) else { return nil }
        return ContentInfo(contentType: fields[0], size: size, updated: updated, meta: fields.count > 3 ? fields[3] : "")
    }
}

/// The device side of serial provisioning: `POST /provision/activate` (a form of `vendor`,
/// `model` and `sn`, answered by the CIK as plain text) and `GET /provision/download` with the
/// CIK in `X-Exosite-CIK` (the content list, one item's info). The CIK is never logged.
public struct ProvisionClient: Sendable {
    /// The server's URL without a trailing slash.
    public let base: String
    public let vendor: String
    public let model: String
    let http: HTTPClient
    let timeout: TimeAmount

    /// A client for `vendor`/`model` at `serverURL` (`http://host:port`, optionally with a path prefix).
    public init(http: HTTPClient, serverURL: String, vendor: String, model: String, timeout: TimeAmount = .seconds(15)) {
        var base = serverURL
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        self.vendor = vendor
        self.model = model
        self.http = http
        self.timeout = timeout
    }

    /// `POST /provision/activate` with `vendor=&model=&sn=`: the CIK (40 lower-case hex) on 200.
    public func activate(serial: String) async -> ProvisionOutcome<String> {
        var request = HTTPClientRequest(url: base + "/provision/activate")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode([("vendor", vendor), ("model", model), ("sn", serial)])))
        switch await call(request) {
        case let .ok(body):
            let cik = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard Self.isCIK(cik) else { return .unavailable(reason: "the server answered 200 without a CIK") }
            return .ok(cik)
        case let .refused(status): return .refused(status: status)
        case let .unavailable(reason): return .unavailable(reason: reason)
        }
    }

    /// `GET /provision/download?vendor=&model=`: the content ids this device may see.
    public func contentList(cik: String) async -> ProvisionOutcome<[String]> {
        switch await call(Self.get(downloadURL(id: nil), cik: cik)) {
        case let .ok(body):
            let ids = String(decoding: body, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
                .map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return .ok(ids)
        case let .refused(status): return .refused(status: status)
        case let .unavailable(reason): return .unavailable(reason: reason)
        }
    }

    /// `GET /provision/download?vendor=&model=&id=&info=true`.
    public func info(cik: String, id: String) async -> ProvisionOutcome<ContentInfo> {
        switch await call(Self.get(downloadURL(id: id) + "&info=true", cik: cik)) {
        case let .ok(body):
            guard let info = ContentInfo.parse(String(decoding: body, as: UTF8.self)) else {
                return .unavailable(reason: "the content info is not content-type,size,updated-timestamp,meta")
            }
            return .ok(info)
        case let .refused(status): return .refused(status: status)
        case let .unavailable(reason): return .unavailable(reason: reason)
        }
    }

    /// The download URL of the list (`id` nil) or of one content item.
    public func downloadURL(id: String?) -> String {
        var fields = [("vendor", vendor), ("model", model)]
        if let id { fields.append(("id", id)) }
        return base + "/provision/download?" + FormEncoding.encode(fields)
    }

    static func get(_ url: String, cik: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "X-Exosite-CIK", value: cik)
        return request
    }

    func call(_ request: HTTPClientRequest) async -> ProvisionOutcome<[UInt8]> {
        do {
            let response = try await http.execute(request, timeout: timeout)
            let status = Int(response.status.code)
            let body = try await response.body.collect(upTo: 1024 * 1024)
            return Self.classify(status, Array(body.readableBytesView))
        } catch {
            return .unavailable(reason: "\(error)")
        }
    }

    static func classify(_ status: Int, _ body: [UInt8]) -> ProvisionOutcome<[UInt8]> {
        switch status {
        case 200..<300: .ok(body)
        case 408, 429, 500...: .unavailable(reason: "the server answered \(status)")
        default: .refused(status: status)
        }
    }

    /// Exactly 40 lower-case hex digits.
    public static func isCIK(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The fields of one CSV line (double quotes, `""` inside quotes).
    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = [], field = "", quoted = false
        var characters = Array(line)[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" { field.append("\""); characters.removeFirst() } else { quoted = false }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                fields.append(field)
                field = ""
            } else {
                field.append(character)
            }
        }
        fields.append(field)
        return fields
    }
}
