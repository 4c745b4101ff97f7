import Foundation

/// Field rules of the agent-activation surface.
enum ActivationValidation {
    static func text(_ value: String, field: String, max: Int) throws(GatehouseError) -> String {
        guard value.utf8.count <= max, !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" }) else {
            throw .invalid(field, "\(field) must be at most \(max) bytes without control characters")
        }
        return value
    }

    static func limit(_ value: Int64?, field: String) throws(GatehouseError) -> Int64? {
        guard let value else { return nil }
        guard value >= 0, value <= 1_000_000_000 else { throw .invalid(field, "\(field) must be between 0 and 1000000000") }
        return value
    }

    static func settingsMap(_ map: [String: String]) throws(GatehouseError) -> [String: String] {
        guard map.count <= 100 else { throw .invalid("settings", "at most 100 settings") }
        for (key, value) in map {
            guard !key.isEmpty, key.utf8.count <= 64 else { throw .invalid("settings", "setting names must be 1 to 64 bytes") }
            _ = try text(value, field: "settings.\(key)", max: 1024)
        }
        return map
    }

    /// Token format: 4–32 characters from an alphabet of 2–64 distinct printable ASCII
    /// characters without ':' (it separates operator id and token in QR codes), at least
    /// 32 bits of entropy; validity 0 (none) to one year; watcher URL http(s).
    static func settings(_ settings: OperatorSettings) throws(GatehouseError) -> OperatorSettings {
        let alphabet = Array(settings.tokenAlphabet.unicodeScalars)
        guard (2...64).contains(alphabet.count), Set(alphabet).count == alphabet.count,
              alphabet.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 && $0 != ":" && $0 != "/" }) else {
            throw .invalid("token_alphabet", "token_alphabet must be 2 to 64 distinct printable ASCII characters, without ':' or '/'")
        }
        guard (4...32).contains(settings.tokenLength) else { throw .invalid("token_length", "token_length must be between 4 and 32") }
        let bits = Double(settings.tokenLength) * log2(Double(alphabet.count))
        guard bits >= 32 else { throw .invalid("token_length", "tokens need at least 32 bits of entropy; use a longer token or a larger alphabet") }
        guard (0...31_536_000).contains(settings.tokenValidity) else { throw .invalid("token_validity", "token_validity must be 0 (no expiry) to 31536000 seconds") }
        if let url = settings.watcherURL {
            guard url.utf8.count <= 2048, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw .invalid("watcher_url", "watcher_url must be an http or https URL")
            }
        }
        return settings
    }

    /// What an agent reports about itself.
    static func agentField(_ value: String?, field: String, required: Bool = false) throws(GatehouseError) -> String? {
        guard let value, !value.isEmpty else {
            if required { throw .invalid(field, "\(field) is required") }
            return nil
        }
        guard value.utf8.count <= 128, value.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 32 && $0.value < 127 }) else {
            throw .invalid(field, "\(field) must be at most 128 printable ASCII characters")
        }
        return value
    }
}
