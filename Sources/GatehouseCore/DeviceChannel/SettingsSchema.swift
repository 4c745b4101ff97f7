import Foundation

/// What a settings document may hold: sections of fields, each with a type and its limits.
///
/// As JSON (how a vendor sets one for its model):
/// `{"video": {"frame_rate": {"type": "integer", "min": 1, "max": 60}, "codec": {"type": "string", "enum": ["h264", "h265"]}}}`.
/// Types are `string` (with `max_length`, `enum`), `integer` and `number` (with `min`, `max`,
/// `enum`) and `boolean`. A document may leave out sections and fields; it may not name others.
public struct SettingsSchema: Sendable, Hashable {
    /// One field's rule.
    public struct Field: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable { case string, integer, number, boolean }
        public var kind: Kind
        public var min: Double?
        public var max: Double?
        public var maxLength: Int?
        public var allowed: [String]?
    }

    /// Section name → field name → rule.
    public var sections: [String: [String: Field]]

    /// Settings documents are at most this large.
    public static let maxDocumentBytes = 16 * 1024

    /// The schema of devices whose model has none of its own.
    public static let builtIn: SettingsSchema = {
        func int(_ min: Double, _ max: Double) -> Field { Field(kind: .integer, min: min, max: max) }
        func one(_ values: [String]) -> Field { Field(kind: .string, allowed: values) }
        let boolean = Field(kind: .boolean)
        return SettingsSchema(sections: [
            "video": ["resolution": one(["640x360", "640x480", "1280x720", "1920x1080", "2560x1440", "3840x2160"]),
                      "bitrate_kbps": int(64, 51_200), "frame_rate": int(1, 60), "codec": one(["h264", "h265", "mjpeg"])],
            "audio": ["enabled": boolean, "codec": one(["aac", "g711a", "g711u", "opus"]), "bitrate_kbps": int(8, 320)],
            "motion_detector": ["enabled": boolean, "sensitivity": int(0, 100)],
            "audio_detector": ["enabled": boolean, "threshold_db": int(0, 140)],
            "system": ["time_zone": Field(kind: .string, maxLength: 64), "name": Field(kind: .string, maxLength: 128)],
        ])
    }()

    public init(sections: [String: [String: Field]]) {
        self.sections = sections
    }

    /// Parses a schema document; errors name the part at fault under `field`.
    public static func parse(_ bytes: [UInt8], field: String = "schema") throws -> SettingsSchema {
        guard bytes.count <= 64 * 1024 else { throw GatehouseError(.payloadTooLarge, "the schema is larger than 64 KiB") }
        guard let root = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw GatehouseError.invalid(field, "the schema must be a JSON object of sections")
        }
        guard !root.isEmpty, root.count <= 32 else { throw GatehouseError.invalid(field, "a schema has 1 to 32 sections") }
        var sections: [String: [String: Field]] = [:]
        for (name, value) in root {
            guard Self.isName(name), let fields = value as? [String: Any], !fields.isEmpty, fields.count <= 64 else {
                throw GatehouseError.invalid("\(field).\(name)", "a section is a name (a-z, 0-9, _) with an object of 1 to 64 fields")
            }
            var parsed: [String: Field] = [:]
            for (fieldName, rule) in fields {
                let path = "\(field).\(name).\(fieldName)"
                guard Self.isName(fieldName), let rule = rule as? [String: Any], let typeName = rule["type"] as? String,
                      let kind = Field.Kind(rawValue: typeName) else {
                    throw GatehouseError.invalid(path, "a field is a name with {\"type\": \"string\"|\"integer\"|\"number\"|\"boolean\", …}")
                }
                let known: Set<String> = ["type", "min", "max", "max_length", "enum"]
                if let unknown = rule.keys.first(where: { !known.contains($0) }) {
                    throw GatehouseError.invalid("\(path).\(unknown)", "unknown rule (known: type, min, max, max_length, enum)")
                }
                var field = Field(kind: kind)
                field.min = try Self.number(rule["min"], "\(path).min")
                field.max = try Self.number(rule["max"], "\(path).max")
                if let length = rule["max_length"] {
                    guard let value = length as? Int, value > 0 else { throw GatehouseError.invalid("\(path).max_length", "max_length is a positive integer") }
                    field.maxLength = value
                }
                if let values = rule["enum"] {
                    guard let array = values as? [Any], !array.isEmpty, array.count <= 256 else {
                        throw GatehouseError.invalid("\(path).enum", "enum is a list of 1 to 256 values")
                    }
                    field.allowed = array.map { Self.text($0) }
                }
                parsed[fieldName] = field
            }
            sections[name] = parsed
        }
        return SettingsSchema(sections: sections)
    }

    /// Checks a desired document; answers it as canonical JSON text.
    public func validate(_ bytes: [UInt8], field: String = "desired") throws -> String {
        guard bytes.count <= Self.maxDocumentBytes else { throw GatehouseError(.payloadTooLarge, "the settings document is larger than 16 KiB") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)), let document = object as? [String: Any] else {
            throw GatehouseError.invalid(field, "the settings must be a JSON object of sections")
        }
        try validate(document, field: field)
        return JSONText.string(document)
    }

    /// Checks a parsed desired document.
    public func validate(_ document: [String: Any], field: String = "desired") throws {
        for (name, value) in document {
            guard let rules = sections[name] else {
                throw GatehouseError.invalid("\(field).\(name)", "unknown section \(name) (known: \(sections.keys.sorted().joined(separator: ", ")))")
            }
            guard let values = value as? [String: Any] else { throw GatehouseError.invalid("\(field).\(name)", "a section must be a JSON object") }
            for (key, value) in values {
                let path = "\(field).\(name).\(key)"
                guard let rule = rules[key] else {
                    throw GatehouseError.invalid(path, "unknown field \(key) (known: \(rules.keys.sorted().joined(separator: ", ")))")
                }
                try Self.check(value, rule, path)
            }
        }
    }

    private static func check(_ value: Any, _ rule: Field, _ path: String) throws {
        let isBool = type(of: value) == Bool.self || ((type(of: value) is NSNumber.Type) && JSONText.isBool(value as! NSNumber))
        switch rule.kind {
        case .boolean:
            guard isBool else { throw GatehouseError.invalid(path, "must be true or false") }
        case .string:
            guard let text = value as? String else { throw GatehouseError.invalid(path, "must be a string") }
            if let maxLength = rule.maxLength, text.count > maxLength { throw GatehouseError.invalid(path, "must be at most \(maxLength) characters") }
            if let allowed = rule.allowed, !allowed.contains(text) { throw GatehouseError.invalid(path, "must be one of \(allowed.joined(separator: ", "))") }
        case .integer, .number:
            guard !isBool, type(of: value) is NSNumber.Type, let number = value as? NSNumber else { throw GatehouseError.invalid(path, "must be a number") }
            let double = number.doubleValue
            if rule.kind == .integer, double != double.rounded() || abs(double) > 9e15 { throw GatehouseError.invalid(path, "must be an integer") }
            if let min = rule.min, double < min { throw GatehouseError.invalid(path, "must be at least \(text(min))") }
            if let max = rule.max, double > max { throw GatehouseError.invalid(path, "must be at most \(text(max))") }
            if let allowed = rule.allowed, !allowed.contains(text(double)) { throw GatehouseError.invalid(path, "must be one of \(allowed.joined(separator: ", "))") }
        }
    }

    private static func number(_ value: Any?, _ path: String) throws -> Double? {
        guard let value else { return nil }
        guard type(of: value) is NSNumber.Type, let number = value as? NSNumber, !JSONText.isBool(number) else { throw GatehouseError.invalid(path, "must be a number") }
        return number.doubleValue
    }

    private static func text(_ value: Any) -> String {
        if let string = value as? String { return string }
        if let double = value as? Double, double == double.rounded(), abs(double) < 9e15 { return String(Int64(double)) }
        return JSONText.string(value)
    }

    private static func isName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }
}
