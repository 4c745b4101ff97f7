import AsyncHTTPClient
import NIOCore
import Foundation
import GatehouseCore

/// How `gatehouse agent` handles its channel: the user's settings and command handlers and
/// the reconnection waits.
public struct ChannelOptions: Sendable {
    /// Whether the agent opens the channel at all.
    public var enabled = true
    /// `--settings-command`: see ``ScriptSettingsHandler``.
    public var settingsCommand: String?
    /// `--settings-file`: see ``FileSettingsHandler``.
    public var settingsFile: String?
    /// `--command-handler`: see ``ScriptCommandHandler``.
    public var commandHandler: String?
    /// `--snapshot-command`: see ``SnapshotCommandHandler``.
    public var snapshotCommand: String?
    /// The waits between connection attempts (1 s doubling to 60 s).
    public var backoff = Backoff(baseMilliseconds: 1000, capMilliseconds: 60_000)
    /// How often the agent pings the server.
    public var pingInterval: Duration = .seconds(30)

    public init() {}

    /// The settings handler these options name (a command wins over a file; neither: every
    /// change is answered with an error).
    public var settingsHandler: any SettingsHandler {
        if let settingsCommand { return ScriptSettingsHandler(command: settingsCommand) }
        if let settingsFile { return FileSettingsHandler(path: settingsFile) }
        return NoSettingsHandler()
    }

    /// The command handler these options name; `snapshot` goes to the snapshot command, whose
    /// image is handed to `upload`.
    public func commandHandler(upload: @escaping ImageUpload) -> any CommandHandler {
        let handler: any CommandHandler = commandHandler.map { ScriptCommandHandler(command: $0) } ?? NoCommandHandler()
        guard let snapshotCommand else { return handler }
        return SnapshotCommandHandler(snapshotCommand: snapshotCommand, next: handler, upload: upload)
    }

    /// The upload of snapshot images (through ``MediaUploader``) for a device whose credential `credentials` answers.
    public static func upload(http: HTTPClient, serverURL: String, credentials: @escaping @Sendable () async -> ChannelCredential?) -> ImageUpload {
        return { image, contentType in
            guard let credential = await credentials() else { return .failure(ImageUploadFailure("the device holds no credential")) }
            let uploader = MediaUploader(http: http, serverURL: serverURL, credential: credential)
            do {
                let stored = try await uploader.upload(.image, bytes: ByteBuffer(bytes: image), contentType: contentType, time: Int64(Date().timeIntervalSince1970))
                return .success(stored.id)
            } catch let error as GatehouseError {
                return .failure(ImageUploadFailure("\(error.code): \(error.message)"))
            } catch {
                return .failure(ImageUploadFailure("\(error)"))
            }
        }
    }
}
