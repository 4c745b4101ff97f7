import Foundation
@testable import GatehouseAgent
import Synchronization
import Testing

/// The settings and command handlers users script (`--settings-command`, `--settings-file`,
/// `--command-handler`, `--snapshot-command`), run for real with /bin/sh.
@Suite("The agent's channel handlers")
struct ChannelHandlerTests {
    static let document = Data(#"{"system":{"name":"Gate","time_zone":"Europe/Berlin"}}"#.utf8)

    static func object(_ data: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    @Test func aSettingsFileIsReplacedAtomicallyOwnerOnlyAndReportedAsApplied() async throws {
        let directory = try temporaryDirectory()
        let handler = FileSettingsHandler(path: directory + "/camera.json")
        #expect(await handler.apply(version: 1, desired: Self.document) == .applied(reported: Self.document))
        let written = try #require(Self.object(try Data(contentsOf: URL(fileURLWithPath: directory + "/camera.json"))))
        #expect((written["system"] as? [String: Any])?["name"] as? String == "Gate")
        #expect(try mode(directory + "/camera.json") == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["camera.json"])
        // A file that cannot be written is an error, not a claim that it was applied.
        let missing = FileSettingsHandler(path: directory + "/no/such/dir/camera.json")
        guard case let .failed(error, reported) = await missing.apply(version: 2, desired: Self.document) else {
            Issue.record("a write into a missing directory was reported as applied")
            return
        }
        #expect(error.contains("no/such/dir") && reported == nil, "\(error)")
    }

    @Test func aSettingsScriptGetsTheDocumentAndVersionAndItsOutcomeIsTaken() async throws {
        let directory = try temporaryDirectory()
        let seen = directory + "/seen"
        let echo = ScriptSettingsHandler(command: #"cat > "\#(seen)"; echo "$GATEHOUSE_SETTINGS_VERSION" >> "\#(seen)""#)
        #expect(await echo.apply(version: 12, desired: Self.document) == .applied(reported: Self.document))
        let input = try String(contentsOfFile: seen, encoding: .utf8)
        #expect(input.hasPrefix(String(decoding: Self.document, as: UTF8.self)) && input.hasSuffix("\n12\n"), "\(input)")

        let running = ScriptSettingsHandler(command: #"cat >/dev/null; echo '{"system":{"name":"Gate (clamped)"}}'"#)
        guard case let .applied(reported) = await running.apply(version: 1, desired: Self.document) else { Issue.record("not applied"); return }
        #expect((Self.object(reported)?["system"] as? [String: Any])?["name"] as? String == "Gate (clamped)")

        let refusing = ScriptSettingsHandler(command: "echo 'time zone unknown' >&2; exit 2")
        #expect(await refusing.apply(version: 1, desired: Self.document) == .failed(error: "time zone unknown", reported: nil))
        let silent = ScriptSettingsHandler(command: "exit 5")
        #expect(await silent.apply(version: 1, desired: Self.document) == .failed(error: "the handler exited with status 5", reported: nil))
        let garbage = ScriptSettingsHandler(command: "echo applied")
        guard case let .failed(error, _) = await garbage.apply(version: 1, desired: Self.document) else { Issue.record("non-JSON output taken"); return }
        #expect(error.contains("not a JSON object"))
        let slow = ScriptSettingsHandler(command: "sleep 30", timeout: .milliseconds(300))
        let started = ContinuousClock.now
        #expect(await slow.apply(version: 1, desired: Self.document) == .failed(error: "the handler did not finish in time", reported: nil))
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func snapshotsAreUploadedAndAnsweredWithTheImageId() async throws {
        let uploads = Mutex<[(Int, String)]>([])
        let upload: ImageUpload = { image, contentType in
            uploads.withLock { $0.append((image.count, contentType)) }
            return .success(77)
        }
        let png = #"printf '\211PNG\r\n\032\n'; head -c 100 /dev/zero"#
        let handler = SnapshotCommandHandler(snapshotCommand: png, next: NoCommandHandler(), upload: upload)
        let expires = Int64(Date().timeIntervalSince1970) + 30
        let snapshot = ChannelCommand(id: "s1", name: "snapshot", params: Data("{}".utf8), expiresAt: expires)
        guard case let .ok(result) = await handler.handle(snapshot, timeout: .seconds(10)) else { Issue.record("snapshot failed"); return }
        #expect((Self.object(result)?["image_id"] as? NSNumber)?.intValue == 77)
        #expect(uploads.withLock { $0.map(\.0) } == [108] && uploads.withLock { $0.map(\.1) } == ["image/png"])

        let notAnImage = SnapshotCommandHandler(snapshotCommand: "echo hello", next: NoCommandHandler(), upload: upload)
        guard case let .failed(message) = await notAnImage.handle(snapshot, timeout: .seconds(10)) else { Issue.record("text taken as an image"); return }
        #expect(message.contains("not a JPEG or PNG"))
        let failedUpload = SnapshotCommandHandler(snapshotCommand: #"printf '\377\330\377\340'"#, next: NoCommandHandler(),
                                                  upload: { _, _ in .failure(ImageUploadFailure("the server answered 507: storage full")) })
        #expect(await failedUpload.handle(snapshot, timeout: .seconds(10)) == .failed("snapshot taken but not uploaded: the server answered 507: storage full"))
        // Other commands go to the next handler.
        let reboot = ChannelCommand(id: "r1", name: "reboot", params: Data("{}".utf8), expiresAt: expires)
        guard case let .failed(text) = await handler.handle(reboot, timeout: .seconds(10)) else { Issue.record("reboot answered"); return }
        #expect(text.contains("no handler for reboot"))
    }

    @Test func framesAreReadAndWrittenAsTheContractSays() throws {
        #expect(ChannelFrame.parse(#"{"type":"welcome","device_id":42,"node":"n-1","ping_interval":20}"#) == .welcome(deviceId: 42, node: "n-1", pingInterval: 20))
        guard case let .settings(version, desired) = ChannelFrame.parse(#"{"type":"settings","version":7,"desired":{"audio":{"enabled":true}}}"#) else {
            Issue.record("settings not parsed")
            return
        }
        #expect(version == 7 && ((Self.object(desired)?["audio"] as? [String: Any])?["enabled"] as? Bool) == true)
        guard case let .command(command) = ChannelFrame.parse(#"{"type":"command","id":"x","name":"ptz.move","params":{"pan":0.5},"expires_at":1795000000}"#) else {
            Issue.record("command not parsed")
            return
        }
        #expect(command.id == "x" && command.name == "ptz.move" && command.expiresAt == 1_795_000_000)
        #expect(ChannelFrame.parse("not json") == .unknown("not a JSON object with a type"))
        #expect(ChannelFrame.parse(#"{"type":"settings","version":"7"}"#) == .unknown("a settings frame without a version and a desired object"))
        #expect(ChannelFrame.parse(#"{"type":"surprise"}"#) == .unknown("unknown frame type surprise"))

        let reported = try #require(Self.object(Data(ChannelFrame.reported(version: 3, reported: Self.document, error: nil).utf8)))
        #expect(reported["type"] as? String == "reported" && (reported["version"] as? NSNumber)?.intValue == 3 && reported["error"] is NSNull)
        let failed = try #require(Self.object(Data(ChannelFrame.result(id: "c", outcome: .failed("preset 9 is not set")).utf8)))
        #expect(failed["status"] as? String == "error" && failed["error"] as? String == "preset 9 is not set" && failed["result"] is NSNull)
    }
}
