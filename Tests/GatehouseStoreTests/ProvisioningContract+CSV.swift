import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import NIOCore
import Testing

/// A `text/csv` body of serials, read in place and written batch by batch in one transaction:
/// all or none across batches, on both engines.
extension ProvisioningContract {
    static func csvSerialsAreAddedAllOrNoneAcrossBatches(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await fixture(database)
            func body(_ lines: [String]) -> ByteBuffer { ByteBuffer(string: lines.joined(separator: "\r\n") + "\n") }
            let good = (0..<2500).map { "CSV-\($0),\"lot, \($0 % 3)\"" }
            func stored() async throws -> Int { try await f.store.serials(modelId: f.model.id, offset: 0, limit: 5000).count }

            // Refused after two batches were written: a bad row (named by its index), a serial named twice.
            let bad = await #expect(throws: GatehouseError.self) { try await f.provisioning.addSerials(f.caller, model: "sensor", csv: body(good + ["not a serial!"])) }
            #expect(bad?.field == "sn[2500]", "\(String(describing: bad))")
            let twice = await #expect(throws: GatehouseError.self) { try await f.provisioning.addSerials(f.caller, model: "sensor", csv: body(good + ["CSV-7"])) }
            #expect(twice?.code == .conflict && twice?.message.contains("CSV-7 is named twice") == true, "\(String(describing: twice))")
            let empty = await #expect(throws: GatehouseError.self) { try await f.provisioning.addSerials(f.caller, model: "sensor", csv: body(["", ""])) }
            #expect(empty?.field == "sn", "\(String(describing: empty))")
            #expect(try await stored() == 0)

            try await f.provisioning.addSerials(f.caller, model: "sensor", csv: body(good))
            #expect(try await stored() == 2500)
            #expect(try await f.store.serial(modelId: f.model.id, sn: "CSV-2499")?.extra == "lot, \(2499 % 3)")
            let present = await #expect(throws: GatehouseError.self) {
                try await f.provisioning.addSerials(f.caller, model: "sensor", csv: body((3000..<4500).map { "CSV-\($0)" } + ["CSV-2000"]))
            }
            #expect(present?.code == .conflict && present?.message.contains("CSV-2000 already exists") == true, "\(String(describing: present))")
            #expect(try await stored() == 2500)
        }
    }
}
