import Foundation

/// Field rules of the tiered-access surface.
enum TieredValidation {
    static func suid(_ value: String) throws(GatehouseError) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...254).contains(trimmed.utf8.count), !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid("suid", "suid must be 1-254 characters without control characters")
        }
        return trimmed
    }

    /// A license key given by the super-admin: 8–128 printable ASCII characters, no spaces.
    static func licenseKey(_ value: String) throws(GatehouseError) -> String {
        guard (8...128).contains(value.utf8.count), value.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw .invalid("license_key.value", "license_key.value must be 8-128 printable ASCII characters without spaces")
        }
        return value
    }

    static func limit(_ value: Int64?, _ field: String) throws(GatehouseError) -> Int64? {
        if let value, value < 0 { throw .invalid(field, "\(field) must not be negative") }
        return value
    }

    static func limits(_ limits: AccountLimits) throws(GatehouseError) -> AccountLimits {
        AccountLimits(
            hostedCameras: try limit(limits.hostedCameras, "limits.hosted_cameras"),
            storageBytes: try limit(limits.storageBytes, "limits.storage_bytes"),
            bandwidthBytes: try limit(limits.bandwidthBytes, "limits.bandwidth_bytes"))
    }

    static func timezone(_ value: String) throws(GatehouseError) -> String {
        guard value.utf8.count <= 64, TimeZone(identifier: value) != nil else {
            throw .invalid("timezone", "timezone must be an IANA time zone such as UTC or Europe/Berlin")
        }
        return value
    }

    /// A camera source URL: `scheme://…`, at most 2048 bytes, no spaces or control characters.
    static func sourceURL(_ value: String) throws(GatehouseError) -> String {
        let bytes = Array(value.utf8)
        guard bytes.count <= 2048, let colon = value.range(of: "://"), !value[..<colon.lowerBound].isEmpty,
              value[..<colon.lowerBound].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }),
              bytes.allSatisfy({ $0 > 0x20 && $0 != 0x7f })
        else { throw .invalid("source.url", "source.url must be a URL such as rtsp://camera.local/stream, without spaces") }
        return value
    }

    static func shortText(_ value: String, _ field: String, max: Int = 256) throws(GatehouseError) -> String {
        guard value.utf8.count <= max, !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(field, "\(field) must be at most \(max) bytes without control characters")
        }
        return value
    }

    /// Metadata: at most 100 keys of 1–64 `A-Z a-z 0-9 _ . -` characters, values at most 2048 bytes.
    static func meta(_ meta: [String: String], field: String = "meta") throws(GatehouseError) -> [String: String] {
        guard meta.count <= 100 else { throw .invalid(field, "\(field) may hold at most 100 keys") }
        for (key, value) in meta {
            guard (1...64).contains(key.utf8.count), key.utf8.allSatisfy({ isWordByte($0) }) else {
                throw .invalid(field, "\(field) keys must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-'")
            }
            guard value.utf8.count <= 2048 else { throw .invalid("\(field).\(key)", "\(field).\(key) must be at most 2048 bytes") }
        }
        return meta
    }

    /// An event type: 1–64 characters of `A-Z a-z 0-9 _ . -`.
    static func eventType(_ value: String) throws(GatehouseError) -> String {
        guard (1...64).contains(value.utf8.count), value.utf8.allSatisfy({ isWordByte($0) }) else {
            throw .invalid("type", "type must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-'")
        }
        return value
    }

    static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte == 0x5f || byte == 0x2e || byte == 0x2d
    }

    /// Limit and offset of a listing: limit 1–1000 (default 20), offset ≥ 0.
    static func paging(limit: Int?, offset: Int?) throws(GatehouseError) -> (limit: Int, offset: Int) {
        let limit = limit ?? 20
        let offset = offset ?? 0
        guard (1...1000).contains(limit) else { throw .invalid("limit", "limit must be between 1 and 1000") }
        guard offset >= 0, offset <= 10_000_000 else { throw .invalid("offset", "offset must be between 0 and 10000000") }
        return (limit, offset)
    }
}

extension Int64 {
    /// `yyyymm` of a unix time (UTC), the period of the bandwidth counter.
    public static func usageMonth(of seconds: Int64) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        return Int64((parts.year ?? 1970) * 100 + (parts.month ?? 1))
    }
}
