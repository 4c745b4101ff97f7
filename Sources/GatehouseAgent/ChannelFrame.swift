import Foundation

/// A command the server sent over the channel (`{"type":"command",…}`).
public struct ChannelCommand: Sendable, Equatable {
    public var id: String
    public var name: String
    /// The `params` object as JSON (`{}` when absent).
    public var params: Data
    /// Unix time after which the server no longer takes an answer.
    public var expiresAt: Int64

    public init(id: String, name: String, params: Data, expiresAt: Int64) {
        self.id = id
        self.name = name
        self.params = params
        self.expiresAt = expiresAt
    }

    /// `{"id","name","params","expires_at"}`: what a command handler reads on its standard input.
    public var json: Data {
        let object: [String: Any] = ["id": id, "name": name, "params": ChannelFrame.object(params) ?? [String: Any](), "expires_at": expiresAt]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}

/// One frame of the device channel (docs/device-channel.md), as the agent reads it.
public enum ChannelFrame: Sendable, Equatable {
    case welcome(deviceId: Int64?, node: String?, pingInterval: Int?)
    /// The whole desired settings document (a JSON object) and its version.
    case settings(version: Int64, desired: Data)
    case command(ChannelCommand)
    case error(code: String, message: String)
    /// Not JSON, or a type this agent does not know (logged and ignored).
    case unknown(String)

    /// Parses a text frame; never throws.
    public static func parse(_ text: String) -> ChannelFrame {
        guard let json = object(Data(text.utf8)) as? [String: Any], let type = json["type"] as? String else { return .unknown("not a JSON object with a type") }
        switch type {
        case "welcome":
            return .welcome(deviceId: (json["device_id"] as? NSNumber)?.int64Value, node: json["node"] as? String,
                            pingInterval: (json["ping_interval"] as? NSNumber)?.intValue)
        case "settings":
            guard let version = (json["version"] as? NSNumber)?.int64Value, let desired = json["desired"] as? [String: Any],
                  let data = try? JSONSerialization.data(withJSONObject: desired, options: [.sortedKeys]) else {
                return .unknown("a settings frame without a version and a desired object")
            }
            return .settings(version: version, desired: data)
        case "command":
            guard let id = json["id"] as? String, let name = json["name"] as? String else { return .unknown("a command frame without id and name") }
            let params = (json["params"] as? [String: Any]).flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) } ?? Data("{}".utf8)
            let expiresAt = (json["expires_at"] as? NSNumber)?.int64Value ?? Int64(Date().timeIntervalSince1970) + 30
            return .command(ChannelCommand(id: id, name: name, params: params, expiresAt: expiresAt))
        case "error":
            return .error(code: json["code"] as? String ?? "unknown", message: json["message"] as? String ?? "")
        default:
            return .unknown("unknown frame type \(type)")
        }
    }

    /// `{"type":"reported","version":…,"reported":…,"error":…}`.
    public static func reported(version: Int64, reported: Data, error: String?) -> String {
        encode(["type": "reported", "version": version, "reported": object(reported) ?? [String: Any](), "error": error ?? NSNull()])
    }

    /// `{"type":"result","id":…,"status":"ok"|"error","result":…,"error":…}`.
    public static func result(id: String, outcome: CommandOutcome) -> String {
        switch outcome {
        case let .ok(result):
            return encode(["type": "result", "id": id, "status": "ok", "result": object(result) ?? NSNull(), "error": NSNull()])
        case let .failed(message):
            return encode(["type": "result", "id": id, "status": "error", "result": NSNull(), "error": message])
        }
    }

    static func object(_ data: Data) -> Any? {
        try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }

    static func encode(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
