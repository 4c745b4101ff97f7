/// A device of an account: a camera, a serially provisioned device or an onboarded endpoint.
/// The registry every surface writes to; surfaces add their own details beside it.
public struct Device: Codable, Hashable, Sendable {
    public var id: Int64
    public var tenantId: Int64
    /// `camera`, `serial` or `endpoint`.
    public var kind: String
    public var name: String
    public var serial: String?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: Int64, tenantId: Int64, kind: String, name: String, serial: String?, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.tenantId = tenantId
        self.kind = kind
        self.name = name
        self.serial = serial
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The device kinds Gatehouse knows.
    public static let kinds: Set<String> = ["camera", "serial", "endpoint"]
}
