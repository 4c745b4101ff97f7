/// The bulk part of an import file (`gatehouse import`): device rows, one JSON object a line,
/// after the document's own line. See docs/import-format.md, "Device rows".
public struct BulkRow: Decodable, Sendable {
    /// What a row stands for.
    public enum Kind: String, Decodable, Sendable {
        /// A camera of the device registry: a device, its agent and its camera entry.
        case camera
        /// A serial number of a vendor's model (`/provision`), in state `added`.
        case serial
    }

    public var type: Kind
    // Cameras.
    public var `operator`: String?
    public var organization: String?
    public var name: String?
    public var title: String?
    public var serial: String?
    public var agentKey: String?
    public var agentKeyHash: String?
    public var version: String?
    public var mac: String?
    // Serials.
    public var vendor: String?
    public var model: String?
    public var sn: String?
    public var extra: String?

    enum CodingKeys: String, CodingKey {
        case type, `operator`, organization, name, title, serial, version, mac, vendor, model, sn, extra
        case agentKey = "agent_key", agentKeyHash = "agent_key_hash"
    }
}

/// A camera row checked and resolved against the store, ready to be written.
public struct BulkCamera: Sendable, Equatable {
    /// The line of the import file (1-based), named by errors.
    public var line: Int
    public var operatorId: Int64
    public var organizationId: Int64
    /// The camera's name, unique within its operator: the row's natural key.
    public var name: String
    /// The device's name.
    public var title: String
    /// The agent's serial.
    public var serial: String
    public var version: String?
    public var mac: String?
    /// SHA-256 (hex) of the agent's key; nil keeps a stored camera's key, and gives a new one
    /// an unguessable key nobody holds (its agent activates again to get one).
    public var keyHash: String?

    public init(line: Int, operatorId: Int64, organizationId: Int64, name: String, title: String, serial: String, version: String?, mac: String?,
                keyHash: String?) {
        self.line = line
        self.operatorId = operatorId
        self.organizationId = organizationId
        self.name = name
        self.title = title
        self.serial = serial
        self.version = version
        self.mac = mac
        self.keyHash = keyHash
    }
}

/// A serial row checked and resolved against the store, ready to be written.
public struct BulkSerial: Sendable, Equatable {
    /// The line of the import file (1-based), named by errors.
    public var line: Int
    public var modelId: Int64
    public var sn: String
    public var extra: String

    public init(line: Int, modelId: Int64, sn: String, extra: String) {
        self.line = line
        self.modelId = modelId
        self.sn = sn
        self.extra = extra
    }
}

/// Writes batches of device rows inside the one transaction of a bulk import. A row whose
/// natural key is stored already is compared and updated where it differs (``TreeImporter/Report``
/// counts each row once); a key written earlier in the same import is refused (`conflict`,
/// naming the line).
public protocol BulkDeviceWriter: Sendable {
    /// Creates, updates or leaves each camera (key: operator and camera name).
    func cameras(_ rows: [BulkCamera]) async throws -> TreeImporter.Report
    /// Creates, updates or leaves each serial (key: model and serial number).
    func serials(_ rows: [BulkSerial]) async throws -> TreeImporter.Report
    /// One audit entry (actor `import`) for what a bulk import changed.
    func audit(action: String, detail: String) async throws
}

/// A store that takes device rows in bulk: large multi-row batches inside one transaction,
/// so a failing row leaves nothing of the bulk part written.
public protocol BulkDeviceStore: Sendable {
    /// The model `modelName` of the vendor named `vendorName`, if both exist.
    func provisionModel(vendorName: String, modelName: String) async throws -> ProvisionModel?
    /// Runs `body` in one write transaction with a writer of device rows stamped `at`:
    /// committed if it returns, rolled back if it throws.
    func withBulkDeviceWriter<T: Sendable>(at: Int64, _ body: @Sendable (any BulkDeviceWriter) async throws -> T) async throws -> T
}
