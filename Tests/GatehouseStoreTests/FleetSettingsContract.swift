import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// Fleet settings changes (issue 9): one merge patch for every device of a subtree, all or
/// nothing, over the real store on both engines.
extension DeviceChannelContract {
    /// A document as the API parses it.
    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    static func desired(_ store: SQLStore, _ id: Int64) async throws -> (document: [String: Any], version: Int64) {
        let settings = try await store.settings(deviceId: id)
        let document = try JSONSerialization.jsonObject(with: Data(settings.desired.utf8)) as? [String: Any] ?? [:]
        return (document, settings.desiredVersion)
    }

    /// The patch merges into each device's own document (fields it does not name stay), each
    /// changed device's version goes up by one, a device it leaves as it was keeps its
    /// version; a value one device's schema refuses, too many devices, or an id outside the
    /// subtree change nothing; other subtrees are untouched.
    static func fleetSettingsAreAllOrNothing(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let channel = DeviceChannel(store: f.store, clock: TestClock(1_000))
            let elsewhere = try await f.store.createTenant(NewTenant(kind: .account, parentId: 1, name: "Elsewhere"), key: "elsewhere", at: 13, audit: audit)
            let outside = try await f.store.createDevice(tenantId: elsewhere.id, kind: "camera", name: "Outside", serial: "CAM-9", at: 13, audit: audit)
            var many: [Device] = []
            for index in 0..<40 {
                many.append(try await f.store.createDevice(tenantId: f.account.id, kind: "camera", name: "Cam \(index)", serial: "FLEET-\(index)", at: 14, audit: audit))
            }
            // The camera already has a document of its own.
            _ = try await channel.setDesired(device: f.camera, version: 0, desired: json(#"{"video":{"frame_rate":25},"system":{"name":"Front"}}"#), actor: "test")

            let result = try await channel.setDesired(fleetUnder: f.account, deviceIds: nil, patch: ["video": ["bitrate_kbps": 2048]], actor: "ops")
            #expect(result.matched == 42 && result.changed.count == 42)
            let camera = try await desired(f.store, f.camera.id)
            #expect(camera.version == 2)
            #expect(JSONText.string(camera.document) == #"{"system":{"name":"Front"},"video":{"bitrate_kbps":2048,"frame_rate":25}}"#)
            for device in many + [f.other] {
                let settings = try await desired(f.store, device.id)
                #expect(settings.version == 1 && JSONText.string(settings.document) == #"{"video":{"bitrate_kbps":2048}}"#)
            }
            #expect(try await desired(f.store, outside.id).version == 0)
            // Read back in one go (what a node does for its devices after a fleet change); no row, no entry.
            let read = try await f.store.settings(deviceIds: [f.camera.id, f.other.id, outside.id] + many.map(\.id))
            #expect(read.count == 42 && read[outside.id] == nil && read[f.camera.id]?.desiredVersion == 2)

            // The same patch again changes nothing; null removes.
            let again = try await channel.setDesired(fleetUnder: f.account, deviceIds: nil, patch: ["video": ["bitrate_kbps": 2048]], actor: "ops")
            #expect(again.matched == 42 && again.changed.isEmpty)
            let removed = try await channel.setDesired(fleetUnder: f.account, deviceIds: [f.camera.id], patch: ["system": NSNull()], actor: "ops")
            #expect(removed.changed == [.init(deviceId: f.camera.id, desiredVersion: 3)])
            #expect(JSONText.string(try await desired(f.store, f.camera.id).document) == #"{"video":{"bitrate_kbps":2048,"frame_rate":25}}"#)

            // A value the schema refuses: 422 naming the device and the field; nothing written.
            let refused = await #expect(throws: GatehouseError.self) {
                _ = try await channel.setDesired(fleetUnder: f.account, deviceIds: nil, patch: ["video": ["frame_rate": 500]], actor: "ops")
            }
            #expect(refused?.code == .validationFailed && refused?.field == "desired.video.frame_rate" && refused?.message.hasPrefix("device ") == true)
            // An id outside the subtree: 404, nothing written.
            let foreign = await #expect(throws: GatehouseError.self) {
                _ = try await channel.setDesired(fleetUnder: f.account, deviceIds: [f.other.id, outside.id], patch: ["audio": ["enabled": true]], actor: "ops")
            }
            #expect(foreign?.code == .notFound)
            #expect(try await desired(f.store, f.other.id).version == 1)
            // More devices than the limit: 413, nothing written.
            let tooMany = await #expect(throws: GatehouseError.self) {
                _ = try await f.store.updateDesiredSettings(under: f.account.path, tenantId: f.account.id, deviceIds: nil, limit: 10, at: 2_000, audit: audit) { _ in "{}" }
            }
            #expect(tooMany?.code == .payloadTooLarge)
            for device in many { #expect(try await desired(f.store, device.id).version == 1) }
            // An empty patch, or an empty id list, is refused.
            await #expect(throws: GatehouseError.self) { _ = try await channel.setDesired(fleetUnder: f.account, deviceIds: nil, patch: [:], actor: "ops") }
            await #expect(throws: GatehouseError.self) { _ = try await channel.setDesired(fleetUnder: f.account, deviceIds: [], patch: ["audio": ["enabled": true]], actor: "ops") }
            // The change is in the audit log once, on the tenant.
            let entries = try await database.withConnection { db in
                try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'device.settings.fleet_set' AND target_id = \(bind: String(f.account.id))").first()!
                    .decode(column: "n", as: Int64.self)
            }
            #expect(entries == 3)
        }
    }

    /// Concurrent fleet changes and single changes of the same devices lose nothing: every
    /// change lands with its own version.
    static func fleetSettingsRaceSingleChanges(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let channel = DeviceChannel(store: f.store, clock: TestClock(1_000))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for rate in [5, 10, 15, 20, 25] {
                    group.addTask { _ = try await channel.setDesired(fleetUnder: f.account, deviceIds: nil, patch: ["video": ["frame_rate": rate]], actor: "ops") }
                }
                group.addTask {
                    var version: Int64 = 0
                    for name in ["a", "b", "c"] {
                        while true {
                            do {
                                _ = try await channel.setDesired(device: f.other, version: version, desired: ["system": ["name": name]], actor: "ops")
                                version += 1
                                break
                            } catch let error as GatehouseError where error.code == .conflict {
                                version = try await f.store.settings(deviceId: f.other.id).desiredVersion
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let camera = try await desired(f.store, f.camera.id)
            #expect(camera.version == 5, "\(camera)")
            // 5 fleet changes + 3 single changes; the single ones replace the document.
            let other = try await desired(f.store, f.other.id)
            #expect(other.version == 8, "\(other)")
        }
    }
}
