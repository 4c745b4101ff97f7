import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// Import files with device rows (JSON Lines: the document, then cameras and serials), on every engine.
extension ImportContract {
    static let cameraCount = 3000
    static let serialCount = 2000

    /// A vendor `maker-v` with the model `cam` (a serial row names both; the file cannot make them).
    static func makeVendor(_ store: SQLStore) async throws {
        let audit = AuditIntent(actor: "test")
        let maker = try await store.createTenant(NewTenant(kind: .distributor, parentId: 1, name: "Maker"), key: "maker", at: 1, audit: audit)
        _ = try await store.createVendor(tenantId: maker.id, name: "maker-v", at: 1, audit: audit)
        _ = try await store.createModel(vendorId: maker.id, name: "cam", window: 3600, at: 1, audit: audit)
    }

    /// The document line and `cameraCount` cameras and `serialCount` serials, interleaved, with a blank line.
    static func deviceLines(title: (Int) -> String = { "Camera \($0)" }, extra: (Int) -> String = { "batch-\($0 % 7)" }) -> [String] {
        var lines = [#"{"version": 1, "tenants": [{"key": "op", "kind": "distributor", "name": "Operator"}, {"key": "org", "kind": "account", "parent": "op", "name": "Org"}]}"#]
        for index in 0..<max(cameraCount, serialCount) {
            if index < cameraCount {
                lines.append(#"{"type": "camera", "operator": "op", "organization": "org", "name": "cam-\#(index)", "title": "\#(title(index))", "serial": "SN\#(index)", "version": "1.0", "agent_key": "agent-key-\#(index)-0123456789"}"#)
            }
            if index < serialCount {
                lines.append(#"{"type": "serial", "vendor": "maker-v", "model": "cam", "sn": "sn-\#(index)", "extra": "\#(extra(index))"}"#)
            }
            if index == 10 { lines.append("") }
        }
        return lines
    }

    static func write(_ lines: [String]) throws -> String {
        let path = try TestDatabases.temporaryDirectory() + "/devices.jsonl"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func count(_ database: any Database, _ sql: String) async throws -> Int {
        try await database.withConnection { db in try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    static func deviceRowsImportIdempotently(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            try await makeVendor(store)
            let importer = TreeImporter(store: store, hasher: hasher)
            let path = try write(deviceLines())
            let first = try await importer.apply(file: path)
            #expect(first.created == 2 + cameraCount + serialCount && first.updated == 0 && first.unchanged == 0, "\(first)")
            #expect(try await count(database, "cameras") == cameraCount)
            #expect(try await count(database, "agents") == cameraCount)
            #expect(try await count(database, "devices WHERE kind = 'camera'") == cameraCount)
            #expect(try await count(database, "provision_serials WHERE state = 'added'") == serialCount)

            // A camera as the activation API shows it, whose agent signs in with the key of its row.
            let owner = try #require(try await store.tenant(key: "op"))
            let organization = try #require(try await store.tenant(key: "org"))
            let camera = try #require(try await store.camera(operatorId: owner.id, name: "cam-2999"))
            #expect(camera.title == "Camera 2999" && camera.organizationId == organization.id && camera.agentSerial == "SN2999" && camera.agentVersion == "1.0")
            let agentId = try #require(camera.agentId)
            let agent = try #require(try await store.agent(id: agentId))
            #expect(Secrets.matches("agent-key-2999-0123456789", hash: agent.keyHash) && agent.record.status == .active)
            #expect(agent.record.deviceId == camera.deviceId)
            let serial = try #require(try await store.serial(vendorName: "maker-v", modelName: "cam", sn: "sn-1999"))
            #expect(serial.serial.extra == "batch-\(1999 % 7)" && serial.serial.state == "added")
            let audit = try await store.listAudit(under: nil, page: PageRequest(limit: 500)).items
            #expect(Set(audit.filter { $0.actor == "import" }.map(\.action)).isSuperset(of: ["import.cameras", "import.serials"]))

            // The same file again: nothing changes, nothing is written.
            let second = try await importer.apply(file: path)
            #expect(second.created == 0 && second.updated == 0 && second.unchanged == 2 + cameraCount + serialCount, "\(second)")
            #expect(try await store.listAudit(under: nil, page: PageRequest(limit: 500)).items.count == audit.count)
            #expect(try await count(database, "cameras") == cameraCount)
            #expect(try await count(database, "provision_serials") == serialCount)

            // A changed file changes exactly the rows that changed.
            let changed = try write(deviceLines(title: { $0 == 5 ? "Renamed" : "Camera \($0)" }, extra: { $0 == 7 ? "moved" : "batch-\($0 % 7)" }))
            let third = try await importer.apply(file: changed)
            #expect(third.created == 0 && third.updated == 2, "\(third)")
            #expect(try await store.camera(operatorId: owner.id, name: "cam-5")?.title == "Renamed")
            #expect(try await store.serial(vendorName: "maker-v", modelName: "cam", sn: "sn-7")?.serial.extra == "moved")
        }
    }

    static func badDeviceRowsWriteNothing(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            try await makeVendor(store)
            let importer = TreeImporter(store: store, hasher: hasher)
            let good = deviceLines()  // line 1 the document, line 2 camera 0, line 3 serial 0, ...
            func replacing(_ line: Int, with text: String) -> [String] {
                var copy = good
                copy[line - 1] = text
                return copy
            }
            let other = #"{"type": "camera", "operator": "op", "organization": "org", "name": "cam-1", "serial": "X"}"#
            let cases: [(lines: [String], field: String, code: GatehouseError.Code)] = [
                (replacing(5, with: "{\"type\": \"camera\", "), "line 5", .validationFailed),
                (replacing(5, with: #"{"type": "router", "name": "r1"}"#), "line 5", .validationFailed),
                (replacing(3, with: #"{"type": "serial", "vendor": "maker-v", "model": "cam"}"#), "line 3.sn", .validationFailed),
                (replacing(3, with: #"{"type": "serial", "vendor": "maker-v", "model": "cam", "sn": "bad sn"}"#), "line 3.sn", .validationFailed),
                (replacing(3, with: #"{"type": "serial", "vendor": "maker-v", "model": "nope", "sn": "x1"}"#), "line 3.model", .validationFailed),
                (replacing(2, with: #"{"type": "camera", "operator": "op", "organization": "nowhere", "name": "c", "serial": "S"}"#), "line 2.organization",
                 .validationFailed),
                (replacing(2, with: #"{"type": "camera", "operator": "op", "organization": "org", "name": "c", "serial": "S", "agent_key": "short"}"#),
                 "line 2.agent_key", .validationFailed),
                // Camera 1 (line 4) named again on the last line.
                (good + [other], "line \(good.count + 1)", .conflict),
                // Refused in the writing pass, after two batches of rows were written: none stays.
                (good + [#"{"type": "camera", "operator": "op", "organization": "maker", "name": "late", "serial": "S"}"#], "line \(good.count + 1).organization",
                 .validationFailed),
            ]
            for (lines, field, code) in cases {
                let error = await #expect(throws: GatehouseError.self) { _ = try await importer.apply(file: try write(lines)) }
                #expect(error?.field == field && error?.code == code, "\(field): \(String(describing: error))")
                #expect(try await count(database, "cameras") == 0, "\(field)")
                #expect(try await count(database, "agents") == 0, "\(field)")
                #expect(try await count(database, "provision_serials") == 0, "\(field)")
            }
            let duplicate = await #expect(throws: GatehouseError.self) { _ = try await importer.apply(file: try write(good + [other])) }
            #expect(duplicate?.message.contains("line 4") == true, "\(String(describing: duplicate))")

            // A stored camera in another organization is a conflict, found before the batch is written.
            _ = try await importer.apply(file: try write(good))
            var moved = good
            moved[0] = #"{"version": 1, "tenants": [{"key": "org2", "kind": "account", "parent": "op", "name": "Org 2"}]}"#
            moved.append(#"{"type": "camera", "operator": "op", "organization": "org2", "name": "cam-0", "serial": "SN0"}"#)
            moved.removeSubrange(1..<3)
            let error = await #expect(throws: GatehouseError.self) { _ = try await importer.apply(file: try write(moved)) }
            #expect(error?.code == .conflict && error?.field == "line \(moved.count).organization", "\(String(describing: error))")
            let owner = try #require(try await store.tenant(key: "op"))
            let organization = try await store.tenant(key: "org")
            #expect(try await store.camera(operatorId: owner.id, name: "cam-0")?.organizationId == organization?.id)
        }
    }
}
