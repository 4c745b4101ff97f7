import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// The device channel's storage rules (issue 9): presence across nodes, settings versions and
/// commands, over the real store on both engines.
enum DeviceChannelContract {
    struct Fixture {
        let store: SQLStore
        let account: Tenant
        let camera: Device
        let other: Device
        let agentId: Int64
        let keyHash: String
    }

    static let audit = AuditIntent(actor: "test")

    static func fixture(_ database: any Database) async throws -> Fixture {
        let store = SQLStore(database: database)
        let distributor = try await store.createTenant(NewTenant(kind: .distributor, parentId: 1, name: "D"), key: "d", at: 10, audit: audit)
        let account = try await store.createTenant(NewTenant(kind: .account, parentId: distributor.id, name: "A"), key: "a", at: 11, audit: audit)
        let camera = try await store.createDevice(tenantId: account.id, kind: "camera", name: "Front door", serial: "CAM-1", at: 12, audit: audit)
        let other = try await store.createDevice(tenantId: account.id, kind: "camera", name: "Back door", serial: "CAM-2", at: 12, audit: audit)
        let keyHash = Secrets.hash("gak_test_key")
        let agentId = try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO agents (operator_id, key_hash, serial, status, device_id, created_at)
                VALUES (\(bind: distributor.id), \(bind: keyHash), 'CAM-1', 'active', \(bind: camera.id), 12) RETURNING id
                """).first()!.decode(column: "id", as: Int64.self)
        }
        return Fixture(store: store, account: account, camera: camera, other: other, agentId: agentId, keyHash: keyHash)
    }

    static func connection(_ device: ChannelDevice, _ id: String, node: String, at: Int64) -> ChannelConnection {
        ChannelConnection(device: device, connectionId: id, nodeId: node, agentVersion: "agent-1", connectedAt: at)
    }

    /// A connection is recorded once per device; a newer one replaces it (and says which it
    /// replaced); presence counts only while the node beats; a revoked credential or a deleted
    /// device is reported by the node's check; a stopped node takes its connections with it.
    static func presenceFollowsConnectionsAndNodes(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let found = try #require(try await f.store.channelDevice(agentId: f.agentId))
            #expect(found.device.deviceId == f.camera.id && found.device.tenantId == f.account.id && found.keyHash == f.keyHash && found.status == "active")
            #expect(try await f.store.channelDevice(agentId: f.agentId + 1000) == nil)
            #expect(try await f.store.channelDevice(cikHash: Secrets.hash("no such cik")) == nil)
            #expect(try await f.store.channelDevice(certificateSerial: "00ff") == nil)

            try await f.store.nodeHeartbeat(nodeId: "n-a", at: 100)
            try await f.store.nodeHeartbeat(nodeId: "n-b", at: 100)
            #expect(try await f.store.presence(deviceId: f.camera.id, freshAfter: 90).online == false)
            #expect(try await f.store.connect(connection(found.device, "c1", node: "n-a", at: 101)) == nil)
            let online = try await f.store.presence(deviceId: f.camera.id, freshAfter: 90)
            #expect(online.online && online.node == "n-a" && online.connectedAt == 101 && online.lastSeen == 101 && online.agentVersion == "agent-1")
            #expect(try await f.store.onlineDevices(under: "/", tenantId: f.account.id, freshAfter: 90, page: PageRequest()).items.map(\.deviceId) == [f.camera.id])
            #expect(try await f.store.onlineDevices(under: "/", tenantId: 1, freshAfter: 90, page: PageRequest()).items.isEmpty)

            try await f.store.touch(deviceIds: [f.camera.id], at: 105)
            #expect(try await f.store.presence(deviceId: f.camera.id, freshAfter: 90).lastSeen == 105)
            // Node A stopped beating: its device no longer counts.
            #expect(try await f.store.presence(deviceId: f.camera.id, freshAfter: 100).online == false)
            #expect(try await f.store.onlineDevices(under: "/", tenantId: nil, freshAfter: 100, page: PageRequest()).items.isEmpty)

            // A second connection on node B replaces the first.
            let replaced = try await f.store.connect(connection(found.device, "c2", node: "n-b", at: 110))
            #expect(replaced?.connectionId == "c1" && replaced?.nodeId == "n-a")
            #expect(try await f.store.checkConnections(nodeId: "n-a", [f.camera.id: "c1"]) == [f.camera.id: .replaced])
            #expect(try await f.store.checkConnections(nodeId: "n-b", [f.camera.id: "c2"]) == [f.camera.id: .valid])
            // The old connection going away does not remove the new one.
            try await f.store.disconnect(deviceId: f.camera.id, connectionId: "c1")
            #expect(try await f.store.presence(deviceId: f.camera.id, freshAfter: 90).node == "n-b")

            // A deactivated agent, or a new key, no longer holds the connection.
            try await database.withConnection { db in try await db.raw("UPDATE agents SET status = 'deactivated' WHERE id = \(bind: f.agentId)").run() }
            #expect(try await f.store.checkConnections(nodeId: "n-b", [f.camera.id: "c2"]) == [f.camera.id: .revoked])
            try await database.withConnection { db in
                try await db.raw("UPDATE agents SET status = 'active', key_hash = \(bind: Secrets.hash("another key")) WHERE id = \(bind: f.agentId)").run()
            }
            #expect(try await f.store.checkConnections(nodeId: "n-b", [f.camera.id: "c2"]) == [f.camera.id: .revoked])

            // A node that stops takes its connections with it.
            let second = ChannelDevice(deviceId: f.other.id, tenantId: f.account.id, credential: ChannelCredentialCheck(kind: "agent", reference: 999, check: "x"))
            #expect(try await f.store.connect(connection(second, "c3", node: "n-a", at: 120)) == nil)
            try await f.store.removeNode(nodeId: "n-a")
            #expect(try await f.store.presence(deviceId: f.other.id, freshAfter: 0).online == false)
            #expect(try await f.store.presence(deviceId: f.camera.id, freshAfter: 0).online)

            // A deleted device's connection is gone too.
            try await f.store.deleteDevice(id: f.camera.id, at: 130, audit: audit)
            #expect(try await f.store.checkConnections(nodeId: "n-b", [f.camera.id: "c2"]) == [f.camera.id: .revoked])
            await #expect(throws: GatehouseError.self) { _ = try await f.store.connect(connection(found.device, "c4", node: "n-b", at: 131)) }
        }
    }

    /// Desired settings move by one version at a time from the version the writer read; a
    /// stale version is a conflict and writes nothing; reports are recorded as they come.
    static func settingsVersionsAndReports(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            let empty = try await f.store.settings(deviceId: f.camera.id)
            #expect(empty.desiredVersion == 0 && empty.desired == "{}" && empty.reported == nil && !empty.inSync)
            let first = try await f.store.setDesiredSettings(deviceId: f.camera.id, tenantId: f.account.id, expectedVersion: 0,
                                                             desired: #"{"video":{"frame_rate":25}}"#, at: 200, audit: audit)
            #expect(first.desiredVersion == 1 && first.desired == #"{"video":{"frame_rate":25}}"#)
            await #expect(throws: GatehouseError(.conflict, "the settings are at version 1, not 0: read them again", field: "version")) {
                _ = try await f.store.setDesiredSettings(deviceId: f.camera.id, tenantId: f.account.id, expectedVersion: 0, desired: "{}", at: 201, audit: audit)
            }
            #expect(try await f.store.settings(deviceId: f.camera.id).desired == #"{"video":{"frame_rate":25}}"#)

            try await f.store.recordReportedSettings(deviceId: f.camera.id, version: 1, reported: #"{"video":{"frame_rate":25}}"#, error: nil, at: 202)
            let synced = try await f.store.settings(deviceId: f.camera.id)
            #expect(synced.inSync && synced.reportedVersion == 1 && synced.reportedAt == 202 && synced.desiredVersion == 1)

            let second = try await f.store.setDesiredSettings(deviceId: f.camera.id, tenantId: f.account.id, expectedVersion: 1, desired: #"{"audio":{"enabled":false}}"#,
                                                              at: 203, audit: audit)
            #expect(second.desiredVersion == 2 && !second.inSync && second.reportedVersion == 1)
            try await f.store.recordReportedSettings(deviceId: f.camera.id, version: 2, reported: #"{"audio":{"enabled":true}}"#, error: "no microphone", at: 204)
            let failed = try await f.store.settings(deviceId: f.camera.id)
            #expect(!failed.inSync && failed.reportedError == "no microphone" && failed.reported == #"{"audio":{"enabled":true}}"#)

            // A device that reports before anything was set.
            try await f.store.recordReportedSettings(deviceId: f.other.id, version: 0, reported: #"{"system":{"name":"x"}}"#, error: nil, at: 205)
            let reportedOnly = try await f.store.settings(deviceId: f.other.id)
            #expect(reportedOnly.desiredVersion == 0 && reportedOnly.reported == #"{"system":{"name":"x"}}"#)
            #expect(try await f.store.setDesiredSettings(deviceId: f.other.id, tenantId: f.account.id, expectedVersion: 0, desired: "{}", at: 206, audit: audit)
                .desiredVersion == 1)

            let audits = try await database.withConnection { db in
                try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'device.settings.set' AND target_id = \(bind: String(f.camera.id))").first()!
                    .decode(column: "n", as: Int64.self)
            }
            #expect(audits == 2)
            await #expect(throws: GatehouseError.self) {
                _ = try await f.store.setDesiredSettings(deviceId: 999_999, tenantId: f.account.id, expectedVersion: 0, desired: "{}", at: 207, audit: audit)
            }

            // Schemas per provisioning model are stored and removed.
            let modelId = try await database.withConnection { db -> Int64 in
                try await db.raw("INSERT INTO vendors (tenant_id, name, created_at) VALUES (\(bind: f.account.id), 'v', 1)").run()
                return try await db.raw("""
                    INSERT INTO provision_models (vendor_id, name, activation_window, created_at) VALUES (\(bind: f.account.id), 'm', 3600, 1) RETURNING id
                    """).first()!.decode(column: "id", as: Int64.self)
            }
            try await f.store.setSettingsSchema(modelId: modelId, tenantId: f.account.id, schema: #"{"video":{"frame_rate":{"type":"integer"}}}"#, at: 1, audit: audit)
            #expect(try await f.store.settingsSchema(modelId: modelId) == #"{"video":{"frame_rate":{"type":"integer"}}}"#)
            try await f.store.setSettingsSchema(modelId: modelId, tenantId: f.account.id, schema: nil, at: 2, audit: audit)
            #expect(try await f.store.settingsSchema(modelId: modelId) == nil)
            #expect(try await f.store.modelId(deviceId: f.camera.id) == nil)
        }
    }

    /// Commands are handed out once (again only to a new connection), answered once and only
    /// before they expire, then time out; the log is newest first.
    static func commandsAreAnsweredOnceOrTimeOut(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            func command(_ id: String, at: Int64, timeout: Int64 = 30) -> DeviceCommand {
                DeviceCommand(id: id, deviceId: f.camera.id, tenantId: f.account.id, name: "reboot", params: "{}", state: .queued, result: nil, error: nil,
                              createdBy: "test", createdAt: at, expiresAt: at + timeout, sentAt: nil, finishedAt: nil)
            }
            try await f.store.createCommand(command("c-1", at: 300), audit: audit)
            try await f.store.createCommand(command("c-2", at: 301, timeout: 5), audit: audit)
            let taken = try await f.store.takeCommands(deviceId: f.camera.id, at: 302, includeSent: false)
            #expect(taken.map(\.id) == ["c-1", "c-2"] && taken.allSatisfy { $0.state == .sent && $0.sentAt == 302 })
            #expect(try await f.store.takeCommands(deviceId: f.camera.id, at: 302, includeSent: false).isEmpty)
            #expect(try await f.store.takeCommands(deviceId: f.camera.id, at: 303, includeSent: true).map(\.id) == ["c-1", "c-2"])
            #expect(try await f.store.takeCommands(deviceId: f.other.id, at: 303, includeSent: true).isEmpty)

            #expect(try await f.store.recordCommandResult(deviceId: f.camera.id, commandId: "c-1", succeeded: true, result: #"{"image_id":12}"#, error: nil, at: 304))
            #expect(try await f.store.recordCommandResult(deviceId: f.camera.id, commandId: "c-1", succeeded: false, result: nil, error: "late", at: 305) == false)
            #expect(try await f.store.recordCommandResult(deviceId: f.other.id, commandId: "c-2", succeeded: true, result: nil, error: nil, at: 304) == false)
            let done = try #require(try await f.store.command(deviceId: f.camera.id, commandId: "c-1"))
            #expect(done.state == .succeeded && done.result == #"{"image_id":12}"# && done.finishedAt == 304)

            // c-2 expired at 306: an answer after that is ignored, and the sweep marks it.
            #expect(try await f.store.recordCommandResult(deviceId: f.camera.id, commandId: "c-2", succeeded: true, result: nil, error: nil, at: 306) == false)
            #expect(try await f.store.expireCommands(at: 306) == 1)
            #expect(try await f.store.expireCommands(at: 306) == 0)
            #expect(try await f.store.command(deviceId: f.camera.id, commandId: "c-2")?.state == .timedOut)
            #expect(try await f.store.takeCommands(deviceId: f.camera.id, at: 307, includeSent: true).isEmpty)

            try await f.store.createCommand(command("c-3", at: 310), audit: audit)
            let first = try await f.store.commands(deviceId: f.camera.id, page: PageRequest(limit: 2))
            #expect(first.items.map(\.id) == ["c-3", "c-2"] && first.nextCursor != nil)
            let rest = try await f.store.commands(deviceId: f.camera.id, page: PageRequest(limit: 2, after: Int64(first.nextCursor!)))
            #expect(rest.items.map(\.id) == ["c-1"] && rest.nextCursor == nil)
            await #expect(throws: GatehouseError.self) { try await f.store.createCommand(command("c-4", at: 311).with(deviceId: 999_999), audit: audit) }
        }
    }
}

extension DeviceCommand {
    func with(deviceId: Int64) -> DeviceCommand {
        var copy = self
        copy.deviceId = deviceId
        return copy
    }
}
