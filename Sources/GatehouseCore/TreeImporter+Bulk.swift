import Foundation

/// Import files with device rows (JSON Lines): the document on the first line, then one camera
/// or serial a line, read through a fixed buffer twice and never held whole.
///
/// Pass 1 checks every row (fields, that the nodes and models it names exist in the file or
/// the store, no key named twice) before anything is written; then the document is applied;
/// then pass 2 writes the rows in multi-row batches inside one transaction, so a row refused
/// there (a node of the wrong kind, a conflict) leaves no row written.
extension TreeImporter {
    /// Rows per multi-row batch of pass 2.
    static let bulkBatchSize = 1000

    /// Applies the import file at `path`: a JSON document (``apply(_:)``), or JSON Lines
    /// whose first line is the document and whose other lines are device rows.
    public func apply(file path: String) async throws -> Report {
        var lines = try ImportFileLines(path: path)
        let first = try lines.next()
        lines.close()
        if let first, let document = try? JSONDecoder().decode(TreeDocument.self, from: Data(first)) {
            return try await applyBulk(document, path: path)
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw GatehouseError.invalid("file", "cannot read \(path)") }
        let document: TreeDocument
        do {
            document = try JSONDecoder().decode(TreeDocument.self, from: data)
        } catch {
            throw GatehouseError.invalid("file", "\(path) is not a valid import file: \(Self.describe(error))")
        }
        return try await apply(document)
    }

    func applyBulk(_ document: TreeDocument, path: String) async throws -> Report {
        guard let bulk = store as? any BulkDeviceStore else { throw GatehouseError.invalid("file", "this store does not take device rows") }
        _ = try await plan(document)
        _ = try await planApplications(document)
        let rows = try await checkRows(path: path, document: document, store: bulk)
        var report = try await apply(document)
        guard rows > 0 else { return report }
        let written = try await bulk.withBulkDeviceWriter(at: clock.now()) { writer in
            try await self.writeRows(path: path, writer: writer, store: bulk)
        }
        report.created += written.created
        report.updated += written.updated
        report.unchanged += written.unchanged
        return report
    }

    /// Pass 1: every row well-formed, naming nodes and models that exist (in the file or the
    /// store), no key twice. Answers the number of rows.
    func checkRows(path: String, document: TreeDocument, store bulk: any BulkDeviceStore) async throws -> Int {
        var lines = try ImportFileLines(path: path)
        defer { lines.close() }
        _ = try lines.next()
        let listed = Set(document.tenants.map(\.key))
        var knownTenants: Set<String> = [], knownModels: Set<String> = []
        var seen = Set<UInt64>()
        var rows = 0
        let decoder = JSONDecoder()
        while let text = try lines.next() {
            let line = lines.lineNumber
            guard let row = try Self.decodeRow(text, line: line, decoder: decoder) else { continue }
            rows += 1
            let checked = try Self.check(row, line: line)
            for key in checked.tenants where !knownTenants.contains(key) {
                let exists = try await listed.contains(key) ? true : store.tenant(key: key) != nil
                guard exists else {
                    throw GatehouseError.invalid("line \(line).\(checked.tenants.first == key ? "operator" : "organization")",
                                                 "line \(line): unknown node \(key)")
                }
                knownTenants.insert(key)
            }
            if let (vendor, model) = checked.model, !knownModels.contains(vendor + "\u{0}" + model) {
                guard try await bulk.provisionModel(vendorName: vendor, modelName: model) != nil else {
                    throw GatehouseError.invalid("line \(line).model", "line \(line): vendor \(vendor) has no model \(model)")
                }
                knownModels.insert(vendor + "\u{0}" + model)
            }
            if !seen.insert(Self.fingerprint(checked.key)).inserted, let earlier = try Self.earlierLine(path: path, key: checked.key, before: line) {
                throw GatehouseError(.conflict, "line \(line): \(checked.what) is named on line \(earlier) too", field: "line \(line)")
            }
        }
        return rows
    }

    /// Pass 2 (inside the writer's transaction): resolves and writes the rows in batches.
    func writeRows(path: String, writer: any BulkDeviceWriter, store bulk: any BulkDeviceStore) async throws -> Report {
        var lines = try ImportFileLines(path: path)
        defer { lines.close() }
        _ = try lines.next()
        var tenants: [String: Tenant] = [:], models: [String: Int64] = [:]
        var cameras: [BulkCamera] = [], serials: [BulkSerial] = []
        var cameraReport = Report(), serialReport = Report()
        let decoder = JSONDecoder()
        func tenant(_ key: String, line: Int, field: String) async throws -> Tenant {
            if let found = tenants[key] { return found }
            guard let found = try await store.tenant(key: key) else { throw GatehouseError.invalid("line \(line).\(field)", "line \(line): unknown node \(key)") }
            tenants[key] = found
            return found
        }
        while let text = try lines.next() {
            let line = lines.lineNumber
            guard let row = try Self.decodeRow(text, line: line, decoder: decoder) else { continue }
            _ = try Self.check(row, line: line)
            switch row.type {
            case .camera:
                let owner = try await tenant(row.operator ?? "", line: line, field: "operator")
                guard owner.kind.isDealer, owner.kind != .platform else {
                    throw GatehouseError.invalid("line \(line).operator", "line \(line): operator \(owner.key) is a \(owner.kind.rawValue), not a dealer node")
                }
                let organization = try await tenant(row.organization ?? "", line: line, field: "organization")
                guard organization.kind == .account, organization.path.hasPrefix(owner.path) else {
                    throw GatehouseError.invalid("line \(line).organization", "line \(line): organization \(organization.key) is not an account under \(owner.key)")
                }
                cameras.append(BulkCamera(line: line, operatorId: owner.id, organizationId: organization.id, name: row.name ?? "",
                                          title: row.title ?? row.name ?? "", serial: row.serial ?? "", version: row.version, mac: row.mac,
                                          keyHash: row.agentKeyHash ?? row.agentKey.map { Secrets.hash($0) }))
                if cameras.count >= Self.bulkBatchSize {
                    cameraReport.add(try await writer.cameras(cameras))
                    cameras.removeAll(keepingCapacity: true)
                }
            case .serial:
                let (vendor, model) = (row.vendor ?? "", row.model ?? "")
                let modelKey = vendor + "\u{0}" + model
                if models[modelKey] == nil {
                    guard let found = try await bulk.provisionModel(vendorName: vendor, modelName: model) else {
                        throw GatehouseError.invalid("line \(line).model", "line \(line): vendor \(vendor) has no model \(model)")
                    }
                    models[modelKey] = found.id
                }
                serials.append(BulkSerial(line: line, modelId: models[modelKey]!, sn: row.sn ?? "", extra: row.extra ?? ""))
                if serials.count >= Self.bulkBatchSize {
                    serialReport.add(try await writer.serials(serials))
                    serials.removeAll(keepingCapacity: true)
                }
            }
        }
        if !cameras.isEmpty { cameraReport.add(try await writer.cameras(cameras)) }
        if !serials.isEmpty { serialReport.add(try await writer.serials(serials)) }
        for (action, counts) in [("import.cameras", cameraReport), ("import.serials", serialReport)] where counts.created + counts.updated > 0 {
            try await writer.audit(action: action, detail: "\(counts.created) created, \(counts.updated) updated, \(counts.unchanged) unchanged")
        }
        var report = cameraReport
        report.add(serialReport)
        return report
    }

    /// A row's checked fields: its natural key, the nodes it names (operator first) and its model.
    struct CheckedRow {
        var key: String
        var what: String
        var tenants: [String]
        var model: (vendor: String, model: String)?
    }

    /// The row of a line, nil for a blank line; `validation_failed` naming the line otherwise.
    static func decodeRow(_ text: ArraySlice<UInt8>, line: Int, decoder: JSONDecoder) throws -> BulkRow? {
        guard text.contains(where: { $0 != 32 && $0 != 9 }) else { return nil }
        do {
            return try decoder.decode(BulkRow.self, from: Data(text))
        } catch {
            throw GatehouseError.invalid("line \(line)", "line \(line) is not a device row: \(describe(error))")
        }
    }

    /// Checks a row's fields on their own (the same rules as the API that makes such objects).
    static func check(_ row: BulkRow, line: Int) throws -> CheckedRow {
        func required(_ value: String?, _ field: String) throws -> String {
            guard let value, !value.isEmpty else { throw GatehouseError.invalid("line \(line).\(field)", "line \(line): \(field) is required") }
            return value
        }
        func named<T>(_ field: String, _ check: () throws(GatehouseError) -> T) throws -> T {
            do {
                return try check()
            } catch {
                throw GatehouseError(error.code, "line \(line): \(error.message)", field: "line \(line).\(field)")
            }
        }
        switch row.type {
        case .camera:
            let owner = try required(row.operator, "operator"), organization = try required(row.organization, "organization")
            let name = try required(row.name, "name")
            _ = try named("name") { () throws(GatehouseError) in try ProvisioningValidation.contentName(name, field: "name") }
            if let title = row.title { _ = try named("title") { () throws(GatehouseError) in try Validation.name(title, field: "title") } }
            _ = try named("serial") { () throws(GatehouseError) in try ActivationValidation.agentField(row.serial, field: "serial", required: true) }
            _ = try named("version") { () throws(GatehouseError) in try ActivationValidation.agentField(row.version, field: "version") }
            _ = try named("mac") { () throws(GatehouseError) in try ActivationValidation.agentField(row.mac, field: "mac") }
            if row.agentKey != nil, row.agentKeyHash != nil {
                throw GatehouseError.invalid("line \(line)", "line \(line): give agent_key or agent_key_hash, not both")
            }
            if let key = row.agentKey, !(16...256).contains(key.utf8.count) || !key.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 }) {
                throw GatehouseError.invalid("line \(line).agent_key", "line \(line): agent_key must be 16-256 printable ASCII characters without spaces")
            }
            if let hash = row.agentKeyHash, hash.utf8.count != 64 || !hash.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) {
                throw GatehouseError.invalid("line \(line).agent_key_hash", "line \(line): agent_key_hash is not a lower-case hex SHA-256")
            }
            return CheckedRow(key: "c\u{0}\(owner)\u{0}\(name)", what: "camera \(name) of \(owner)", tenants: [owner, organization], model: nil)
        case .serial:
            let vendor = try required(row.vendor, "vendor"), model = try required(row.model, "model"), sn = try required(row.sn, "sn")
            _ = try named("model") { () throws(GatehouseError) in try ProvisioningValidation.modelName(model) }
            _ = try named("sn") { () throws(GatehouseError) in try ProvisioningValidation.serial(sn) }
            if let extra = row.extra { _ = try named("extra") { () throws(GatehouseError) in try ProvisioningValidation.text(extra, field: "extra") } }
            return CheckedRow(key: "s\u{0}\(vendor)\u{0}\(model)\u{0}\(sn)", what: "serial \(sn) of \(vendor)/\(model)", tenants: [], model: (vendor, model))
        }
    }

    /// A 64-bit FNV-1a hash of a row key: pass 1 keeps these, not the keys (a repeat is
    /// confirmed by reading the file again, so a collision never refuses a good file).
    static func fingerprint(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// The first line before `before` whose row has `key`, if any.
    static func earlierLine(path: String, key: String, before: Int) throws -> Int? {
        var lines = try ImportFileLines(path: path)
        defer { lines.close() }
        _ = try lines.next()
        let decoder = JSONDecoder()
        while let text = try lines.next(), lines.lineNumber < before {
            if let row = try decodeRow(text, line: lines.lineNumber, decoder: decoder), try check(row, line: lines.lineNumber).key == key {
                return lines.lineNumber
            }
        }
        return nil
    }

    /// A short description of a decoding error.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "\(key.stringValue) is required"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}

extension TreeImporter.Report {
    /// Adds another report's counts.
    mutating func add(_ other: TreeImporter.Report) {
        created += other.created
        updated += other.updated
        unchanged += other.unchanged
    }
}
