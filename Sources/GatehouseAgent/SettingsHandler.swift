import Foundation

/// What applying a desired settings document came to.
public enum SettingsOutcome: Sendable, Equatable {
    /// Applied; `reported` is the document now running (a JSON object).
    case applied(reported: Data)
    /// Not applied: `error` says why; `reported` is what runs now if the handler said so (nil:
    /// what was reported last).
    case failed(error: String, reported: Data?)
}

/// Applies desired settings on the device. Users script it with ``ScriptSettingsHandler`` or
/// ``FileSettingsHandler``; `gatehouse agent simulate` uses ``EchoSettingsHandler``.
public protocol SettingsHandler: Sendable {
    /// Applies `desired` (a JSON object) of `version`; never throws.
    func apply(version: Int64, desired: Data) async -> SettingsOutcome
}

/// `--settings-command CMD`: runs `/bin/sh -c CMD` with the desired document on standard input
/// and its version in `GATEHOUSE_SETTINGS_VERSION`. Exit 0 means applied: standard output, if
/// not empty, is the JSON object now running (empty: the desired document). Any other exit (or
/// a run past ``timeout``) is a failure reported with standard error's text.
public struct ScriptSettingsHandler: SettingsHandler {
    public let command: String
    public let timeout: Duration

    public init(command: String, timeout: Duration = .seconds(60)) {
        self.command = command
        self.timeout = timeout
    }

    public func apply(version: Int64, desired: Data) async -> SettingsOutcome {
        let outcome = await ScriptRunner.run(command, input: desired + Data("\n".utf8), environment: ["GATEHOUSE_SETTINGS_VERSION": String(version)], timeout: timeout)
        guard outcome.status == 0 else { return .failed(error: outcome.errorText, reported: nil) }
        let text = String(decoding: outcome.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return .applied(reported: desired) }
        guard let object = ChannelFrame.object(Data(text.utf8)) as? [String: Any],
              let reported = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return .failed(error: "the settings command exited 0 but its output is not a JSON object", reported: nil)
        }
        return .applied(reported: reported)
    }
}

/// `--settings-file PATH`: writes the desired document to `PATH` (atomically and durably, with
/// ``DurableFile``, mode 0600) and reports it as applied; for software that reads its
/// settings from a file.
public struct FileSettingsHandler: SettingsHandler {
    public let file: DurableFile

    public init(path: String) {
        let url = URL(fileURLWithPath: path)
        file = DurableFile(directory: url.deletingLastPathComponent().path, name: url.lastPathComponent)
    }

    public func apply(version: Int64, desired: Data) async -> SettingsOutcome {
        let pretty = ChannelFrame.object(desired).flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys, .prettyPrinted]) } ?? desired
        do {
            try file.write(pretty + Data("\n".utf8))
        } catch {
            return .failed(error: error.description, reported: nil)
        }
        return .applied(reported: desired)
    }
}

/// Applies every document as it is (for `gatehouse agent simulate`).
public struct EchoSettingsHandler: SettingsHandler {
    public init() {}
    public func apply(version: Int64, desired: Data) async -> SettingsOutcome { .applied(reported: desired) }
}

/// An agent started without a settings handler: every change is answered with an error.
public struct NoSettingsHandler: SettingsHandler {
    public init() {}
    public func apply(version: Int64, desired: Data) async -> SettingsOutcome {
        .failed(error: "this agent has no settings handler (start it with --settings-command or --settings-file)", reported: nil)
    }
}
