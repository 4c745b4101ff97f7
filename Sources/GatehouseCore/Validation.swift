import Foundation

/// Field rules shared by every surface and the import file.
public enum Validation {
    /// A display name: 1–200 characters after trimming, no control characters.
    public static func name(_ value: String, field: String = "name") throws(GatehouseError) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .invalid(field, "\(field) must not be empty") }
        guard trimmed.count <= 200 else { throw .invalid(field, "\(field) must be at most 200 characters") }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(field, "\(field) must not contain control characters")
        }
        return trimmed
    }

    /// A node key: 1–63 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
    public static func key(_ value: String, field: String = "key") throws(GatehouseError) -> String {
        let bytes = Array(value.utf8)
        let allowed: (UInt8) -> Bool = { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 95 || $0 == 45 }
        guard (1...63).contains(bytes.count), bytes.allSatisfy(allowed), bytes[0] != 46, bytes[0] != 95, bytes[0] != 45 else {
            throw .invalid(field, "\(field) must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
        }
        return value
    }

    /// An e-mail address, lower-cased: one `@`, non-empty local part and domain, at most 254 bytes.
    public static func email(_ value: String, field: String = "email") throws(GatehouseError) -> String {
        let lowered = value.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = lowered.split(separator: "@", omittingEmptySubsequences: false)
        guard lowered.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
              !lowered.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
        else { throw .invalid(field, "\(field) must be an e-mail address") }
        return lowered
    }

    /// A password: 8–1024 characters.
    public static func password(_ value: String, field: String = "password") throws(GatehouseError) -> String {
        guard value.count >= 8 else { throw .invalid(field, "\(field) must be at least 8 characters") }
        guard value.utf8.count <= 1024 else { throw .invalid(field, "\(field) must be at most 1024 bytes") }
        return value
    }

    /// A client id: 3–64 characters of `A-Z a-z 0-9 . _ -` (never a colon: it travels in HTTP Basic).
    public static func clientId(_ value: String, field: String = "client_id") throws(GatehouseError) -> String {
        let bytes = Array(value.utf8)
        let allowed: (UInt8) -> Bool = {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 95 || $0 == 45
        }
        guard (3...64).contains(bytes.count), bytes.allSatisfy(allowed) else {
            throw .invalid(field, "\(field) must be 3-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
        }
        return value
    }

    /// Scopes: a non-empty set of known scopes, sorted and without duplicates.
    public static func scopes(_ values: [Scope], field: String = "scopes") throws(GatehouseError) -> [Scope] {
        guard !values.isEmpty else { throw .invalid(field, "\(field) must name at least one scope") }
        return Array(Set(values)).sorted()
    }
}
