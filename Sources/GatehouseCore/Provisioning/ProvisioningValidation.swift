/// Field rules of serial provisioning.
public enum ProvisioningValidation {
    static func word(_ value: String, field: String, max: Int, extra: Set<UInt8> = [], what: String) throws(GatehouseError) -> String {
        let bytes = Array(value.utf8)
        let allowed: (UInt8) -> Bool = {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 95 || $0 == 45 || extra.contains($0)
        }
        guard (1...max).contains(bytes.count), bytes.allSatisfy(allowed) else {
            throw .invalid(field, "\(field) must be 1-\(max) characters of \(what)")
        }
        return value
    }

    /// A vendor name: 1–64 of `A-Z a-z 0-9 . _ -`.
    public static func vendorName(_ value: String, field: String = "vendor") throws(GatehouseError) -> String {
        try word(value, field: field, max: 64, what: "A-Z, a-z, 0-9, '.', '_' or '-'")
    }

    /// A model name: 1–64 of `A-Z a-z 0-9 . _ -`.
    public static func modelName(_ value: String, field: String = "model") throws(GatehouseError) -> String {
        try word(value, field: field, max: 64, what: "A-Z, a-z, 0-9, '.', '_' or '-'")
    }

    /// A serial number (a MAC address fits): 1–128 of `A-Z a-z 0-9 . _ : -`.
    public static func serial(_ value: String, field: String = "sn") throws(GatehouseError) -> String {
        try word(value, field: field, max: 128, extra: [58], what: "A-Z, a-z, 0-9, '.', '_', ':' or '-'")
    }

    /// A content or group id: 1–128 of `A-Z a-z 0-9 . _ -`.
    public static func contentName(_ value: String, field: String = "id") throws(GatehouseError) -> String {
        try word(value, field: field, max: 128, what: "A-Z, a-z, 0-9, '.', '_' or '-'")
    }

    /// Free text kept beside a serial, content or group: at most 1024 bytes, no control characters but tab.
    public static func text(_ value: String, field: String) throws(GatehouseError) -> String {
        guard value.utf8.count <= 1024 else { throw .invalid(field, "\(field) must be at most 1024 bytes") }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\t" }) else {
            throw .invalid(field, "\(field) must not contain control characters")
        }
        return value
    }

    /// An activation window in seconds: one minute to one year.
    public static func window(_ value: Int64, field: String = "window") throws(GatehouseError) -> Int64 {
        guard (60...31_536_000).contains(value) else { throw .invalid(field, "\(field) must be 60-31536000 seconds") }
        return value
    }

    /// A media type `type/subtype` with optional parameters, at most 255 bytes.
    public static func contentType(_ value: String, field: String = "Content-Type") throws(GatehouseError) -> String {
        let trimmed = value.trimmingWhitespace
        let main = trimmed.split(separator: ";", maxSplits: 1).first.map(String.init)?.trimmingWhitespace ?? ""
        let parts = main.split(separator: "/", omittingEmptySubsequences: false)
        guard trimmed.utf8.count <= 255, parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
              !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.value > 126 })
        else { throw .invalid(field, "\(field) must be a media type such as application/octet-stream") }
        return trimmed
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
