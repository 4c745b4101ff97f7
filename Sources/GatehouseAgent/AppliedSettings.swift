import Foundation

/// The settings the device last applied (or failed to apply), kept in `channel.json` in the
/// state directory (0600, replaced atomically with ``DurableFile``) so that an agent restarted
/// after applying a version reports it again instead of applying it twice.
public struct AppliedSettings: Codable, Sendable, Equatable {
    /// The desired version last handled.
    public var version: Int64
    /// The document running since (JSON object text).
    public var reported: String
    /// Why that version was not applied, if it was not.
    public var error: String?

    public init(version: Int64, reported: String, error: String?) {
        self.version = version
        self.reported = reported
        self.error = error
    }
}

/// Where ``AppliedSettings`` live: a file in the state directory, or memory only (for
/// `gatehouse agent simulate`).
public actor AppliedSettingsStore {
    /// The file's name in the state directory.
    public static let fileName = "channel.json"
    let file: DurableFile?
    /// The settings last stored (nil: none yet).
    public private(set) var current: AppliedSettings?

    /// A store backed by `<directory>/channel.json`, loaded now (an unreadable file is moved
    /// aside). `directory` nil: memory only.
    public init(directory: String?) throws(AgentFileError) {
        guard let directory else {
            file = nil
            return
        }
        let file = DurableFile(directory: directory, name: Self.fileName)
        self.file = file
        file.removeTemporaries()
        if let data = try file.read() {
            if let loaded = try? JSONDecoder().decode(AppliedSettings.self, from: data) {
                current = loaded
            } else {
                _ = try file.moveAside()
            }
        }
    }

    /// Stores `settings` (durably first, when backed by a file).
    public func store(_ settings: AppliedSettings) throws(AgentFileError) {
        if let file {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard let data = try? encoder.encode(settings) else { throw AgentFileError(operation: "encode", path: file.path, errno: EINVAL) }
            try file.write(data + Data("\n".utf8))
        }
        current = settings
    }
}
