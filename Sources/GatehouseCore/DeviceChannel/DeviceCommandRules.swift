import Foundation

/// The commands a device understands and the params each takes (see `docs/device-channel.md`).
public enum DeviceCommandRules {
    /// The default time a command waits for its device, in seconds.
    public static let defaultTimeout: Int64 = 30
    /// The longest a command may wait.
    public static let maxTimeout: Int64 = 300

    /// The command names, sorted.
    public static let names = ["ptz.move", "ptz.preset.goto", "ptz.preset.set", "ptz.stop", "reboot", "snapshot"]

    /// Checks `params` for command `name`; answers them as canonical JSON text.
    public static func validate(name: String, params: [String: Any]) throws -> String {
        func number(_ key: String, _ range: ClosedRange<Double>) throws -> Double {
            guard let value = params[key], type(of: value) is NSNumber.Type, let number = value as? NSNumber, !JSONText.isBool(number) else {
                throw GatehouseError.invalid("params.\(key)", "\(key) is required and must be a number")
            }
            guard range.contains(number.doubleValue) else {
                throw GatehouseError.invalid("params.\(key)", "\(key) must be from \(range.lowerBound) to \(range.upperBound)")
            }
            return number.doubleValue
        }
        func preset() throws -> Int {
            let value = try number("preset", 1...255)
            guard value == value.rounded() else { throw GatehouseError.invalid("params.preset", "preset must be an integer from 1 to 255") }
            return Int(value)
        }
        func only(_ keys: Set<String>) throws {
            if let unknown = params.keys.sorted().first(where: { !keys.contains($0) }) {
                throw GatehouseError.invalid("params.\(unknown)", keys.isEmpty ? "\(name) takes no params" : "unknown param \(unknown) of \(name)")
            }
        }
        var clean: [String: Any] = [:]
        switch name {
        case "ptz.move":
            try only(["pan", "tilt", "zoom"])
            for key in ["pan", "tilt", "zoom"] { clean[key] = try number(key, -1...1) }
        case "ptz.stop", "reboot", "snapshot":
            try only([])
        case "ptz.preset.goto":
            try only(["preset"])
            clean["preset"] = try preset()
        case "ptz.preset.set":
            try only(["preset", "name"])
            clean["preset"] = try preset()
            guard let text = params["name"] as? String, !text.isEmpty, text.count <= 64 else {
                throw GatehouseError.invalid("params.name", "name is required: 1 to 64 characters")
            }
            clean["name"] = text
        default:
            throw GatehouseError.invalid("name", "unknown command (known: \(names.joined(separator: ", ")))")
        }
        return JSONText.string(clean)
    }

    /// The timeout in seconds: the default when `nil`, else 1…``maxTimeout``.
    public static func timeout(_ value: Int64?) throws -> Int64 {
        guard let value else { return defaultTimeout }
        guard (1...maxTimeout).contains(value) else { throw GatehouseError.invalid("timeout", "timeout must be from 1 to \(maxTimeout) seconds") }
        return value
    }
}
