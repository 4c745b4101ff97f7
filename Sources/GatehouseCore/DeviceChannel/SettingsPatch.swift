import Foundation

/// A JSON merge patch (RFC 7396) of a desired settings document: an object merges into the
/// object under the same name, `null` removes the name, any other value replaces it.
///
/// `{"video": {"bitrate_kbps": 2048}, "audio": null}` sets one video field, keeps the
/// document's other video fields, and removes the audio section.
public enum SettingsPatch {
    /// `document` with `patch` merged in.
    public static func apply(_ patch: [String: Any], to document: [String: Any]) -> [String: Any] {
        var result = document
        for (name, value) in patch {
            switch value {
            case is NSNull:
                result[name] = nil
            case let object as [String: Any]:
                result[name] = apply(object, to: result[name] as? [String: Any] ?? [:])
            default:
                result[name] = value
            }
        }
        return result
    }
}
