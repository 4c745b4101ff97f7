import Foundation

/// Why an image could not be uploaded.
public struct ImageUploadFailure: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// Uploads an image (its bytes and `Content-Type`) and answers the server's image id.
public typealias ImageUpload = @Sendable (_ image: Data, _ contentType: String) async -> Result<Int64, ImageUploadFailure>

/// `--snapshot-command CMD`: the `snapshot` command runs `/bin/sh -c CMD`, whose standard
/// output is the image (JPEG or PNG, recognised by its first bytes); the image is uploaded and
/// the command answered `{"image_id": <id>}`. Other commands go to `next`.
public struct SnapshotCommandHandler: CommandHandler {
    public let snapshotCommand: String
    public let next: any CommandHandler
    public let upload: ImageUpload

    public init(snapshotCommand: String, next: any CommandHandler, upload: @escaping ImageUpload) {
        self.snapshotCommand = snapshotCommand
        self.next = next
        self.upload = upload
    }

    public func handle(_ command: ChannelCommand, timeout: Duration) async -> CommandOutcome {
        guard command.name == "snapshot" else { return await next.handle(command, timeout: timeout) }
        let outcome = await ScriptRunner.run(snapshotCommand, input: command.json + Data("\n".utf8),
                                             environment: ["GATEHOUSE_COMMAND_NAME": command.name, "GATEHOUSE_COMMAND_ID": command.id], timeout: timeout)
        guard outcome.status == 0 else { return .failed(outcome.errorText) }
        guard let contentType = Self.contentType(of: outcome.stdout) else {
            return .failed("the snapshot command's output is not a JPEG or PNG image (\(outcome.stdout.count) bytes)")
        }
        switch await upload(outcome.stdout, contentType) {
        case let .success(id): return .ok(Data(ChannelFrame.encode(["image_id": id]).utf8))
        case let .failure(failure): return .failed("snapshot taken but not uploaded: \(failure.message)")
        }
    }

    /// `image/jpeg` or `image/png` by the magic bytes; nil for anything else.
    public static func contentType(of image: Data) -> String? {
        if image.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if image.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        return nil
    }
}

