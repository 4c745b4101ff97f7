import GatehouseCore
import Hummingbird

/// The fields of a submitted console form (`application/x-www-form-urlencoded`, at most
/// 64 KiB), and the errors to show next to them when the form is rejected.
struct ConsoleForm: Sendable {
    /// The largest form body the console reads.
    static let maxBytes = 64 * 1024

    private(set) var values: [String: String]

    init(values: [String: String] = [:]) { self.values = values }

    /// A field's value (the last one when sent twice), or "" when absent.
    subscript(_ name: String) -> String { values[name] ?? "" }

    /// A field's value trimmed of surrounding white space.
    func trimmed(_ name: String) -> String { self[name].trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Reads the form body of `request`.
    static func read(_ request: Request) async throws -> ConsoleForm {
        var values: [String: String] = [:]
        if let text = try await FormParameters.body(request, limit: maxBytes) {
            for (key, value) in try FormParameters.parse(text) { values[key] = value }
        }
        return ConsoleForm(values: values)
    }
}

/// Errors of a rejected form by field name (the form's own field names), for the template:
/// `{{#errors.title}}…{{/errors.title}}`. `general` holds what belongs to no one field.
struct ConsoleFieldErrors: Sendable {
    private(set) var byField: [String: String] = [:]

    /// Records `error` against the form field its core field maps to in `fields` (core field
    /// name → form field name); a field the form does not show goes to `fallback`, so no
    /// error is ever lost.
    mutating func add(_ error: GatehouseError, fields: [String: String] = [:], fallback: String = "general") {
        let field = error.field.flatMap { fields[$0] } ?? fallback
        if byField[field] == nil { byField[field] = Self.sentence(error.message) }
    }

    mutating func add(_ message: String, field: String) {
        if byField[field] == nil { byField[field] = message }
    }

    var isEmpty: Bool { byField.isEmpty }

    /// The dictionary templates read (`errors.<field>`).
    var values: [String: String] { byField }

    /// A core message as a sentence: capitalised, with a full stop.
    static func sentence(_ message: String) -> String {
        guard let first = message.first else { return message }
        let text = first.uppercased() + message.dropFirst()
        return text.hasSuffix(".") ? text : text + "."
    }
}
