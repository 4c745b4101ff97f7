import Foundation

/// Rules for what an operator may configure as a webhook.
public enum WebhookValidation {
    /// The longest URL accepted.
    public static let maxURLLength = 2048

    /// An absolute `http` or `https` URL with a host, at most 2048 characters, without user
    /// information (a password in it would be stored in clear).
    public static func url(_ value: String, field: String = "url") throws(GatehouseError) -> String {
        guard !value.isEmpty else { throw .invalid(field, "a webhook URL is required") }
        guard value.utf8.count <= maxURLLength else { throw .invalid(field, "a webhook URL has at most \(maxURLLength) characters") }
        guard !value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7f }),
              let components = URLComponents(string: value), let scheme = components.scheme?.lowercased()
        else { throw .invalid(field, "not a valid URL") }
        guard scheme == "http" || scheme == "https" else { throw .invalid(field, "a webhook URL must use http or https") }
        guard let host = components.host, !host.isEmpty else { throw .invalid(field, "a webhook URL must name a host") }
        guard components.user == nil, components.password == nil else {
            throw .invalid(field, "a webhook URL must not carry user information; verify the signature instead")
        }
        return value
    }

    /// A non-empty list of known event names, without repeats, in the order given.
    public static func events(_ names: [String], field: String = "events") throws(GatehouseError) -> [WebhookEvent] {
        guard !names.isEmpty else { throw .invalid(field, "subscribe to at least one event") }
        var events: [WebhookEvent] = []
        for name in names {
            guard let event = WebhookEvent(rawValue: name) else {
                throw .invalid(field, "unknown event \(name); known events: \(WebhookEvent.encode(WebhookEvent.allCases))")
            }
            if !events.contains(event) { events.append(event) }
        }
        return events
    }
}
