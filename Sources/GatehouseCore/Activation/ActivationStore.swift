/// What the agent-activation surface (seed 000) needs from storage. Every mutation runs in
/// one transaction with its audit entry (and its webhook deliveries).
public protocol ActivationStore: Sendable {
    // MARK: Operators
    func operatorSettings(operatorId: Int64) async throws -> OperatorSettings
    func setOperatorSettings(operatorId: Int64, _ settings: OperatorSettings, at: Int64, audit: AuditIntent) async throws
    func createOperatorAPIKey(operatorId: Int64, name: String, keyHash: String, at: Int64, audit: AuditIntent) async throws -> OperatorAPIKey
    func operatorAPIKeys(operatorId: Int64) async throws -> [OperatorAPIKey]
    /// Revokes a key at once; `not_found` when it is not the operator's.
    func revokeOperatorAPIKey(id: Int64, operatorId: Int64, at: Int64, audit: AuditIntent) async throws
    /// A live (not revoked) key and its operator node.
    func operatorAPIKey(hash: String) async throws -> (key: OperatorAPIKey, operator: Tenant)?

    // MARK: Organizations and presets
    /// The profiles of organizations, by node id (nodes without one are absent).
    func organizationProfiles(ids: [Int64]) async throws -> [Int64: (note: String, ownerId: Int64?, cameraLimit: Int64?, userLimit: Int64?)]
    func saveOrganizationProfile(id: Int64, note: String, ownerId: Int64?, cameraLimit: Int64?, userLimit: Int64?) async throws
    func createPreset(organizationId: Int64, title: String, settings: [String: String], at: Int64, audit: AuditIntent) async throws -> Preset
    func preset(id: Int64) async throws -> Preset?
    /// Presets of the organizations under `path`, in id order.
    func presets(under path: String, organizationId: Int64?, limit: Int, offset: Int) async throws -> OffsetPage<Preset>
    func updatePreset(_ preset: Preset, at: Int64, audit: AuditIntent) async throws -> Preset
    func deletePreset(id: Int64, at: Int64, audit: AuditIntent) async throws

    // MARK: Tokens and agents
    /// Stores a new token; `conflict` when the operator already has one with this hash.
    func insertActivationToken(_ record: ActivationTokenRecord, tokenHash: String, audit: AuditIntent) async throws -> ActivationTokenRecord
    func activationToken(operatorId: Int64, tokenHash: String) async throws -> ActivationTokenRecord?
    /// Redeems a token exactly once (see ``Redemption``); `limit_exceeded`, with nothing
    /// written, when the organization already holds its `camera_limit`.
    func redeemActivationToken(operatorId: Int64, tokenHash: String, agent: NewAgent, retryWindow: Int64) async throws -> Redemption
    /// An agent activating by operator id alone: a new unassigned agent, or the same one again
    /// (with `agent.keyHash` as its new key) while it has not checked in.
    func registerUnassignedAgent(operatorId: Int64, agent: NewAgent) async throws -> AgentRecord
    func agents(operatorId: Int64, status: AgentStatus?, limit: Int, offset: Int) async throws -> OffsetPage<AgentRecord>
    /// An agent and its key hash.
    func agent(id: Int64) async throws -> (record: AgentRecord, keyHash: String)?
    /// Binds an unassigned agent to a new camera; `conflict` when it is not unassigned.
    func assignAgent(id: Int64, operatorId: Int64, organizationId: Int64, presetId: Int64, title: String, at: Int64, audit: AuditIntent) async throws -> Camera
    /// Records an agent's check-in.
    func agentSeen(id: Int64, version: String?, at: Int64) async throws

    // MARK: Cameras
    func cameras(operatorId: Int64, organizationId: Int64?, limit: Int, offset: Int) async throws -> OffsetPage<Camera>
    func camera(operatorId: Int64, name: String) async throws -> Camera?
    /// Deletes a camera and deactivates its agent (its key stops working at once).
    func deleteCamera(operatorId: Int64, name: String, at: Int64, audit: AuditIntent) async throws

    // MARK: Guessing
    /// Failed redemptions per scope since `minute` (unix minutes).
    func activationFailures(scopes: [String], sinceMinute minute: Int64) async throws -> [String: Int64]
    func recordActivationFailure(scopes: [String], minute: Int64) async throws
}

/// A new agent's reported facts and its key hash.
public struct NewAgent: Sendable {
    public var serial: String
    public var version: String?
    public var mac: String?
    public var keyHash: String
    public var at: Int64
    public init(serial: String, version: String?, mac: String?, keyHash: String, at: Int64) {
        self.serial = serial
        self.version = version
        self.mac = mac
        self.keyHash = keyHash
        self.at = at
    }
}

/// The outcome of redeeming a token.
public enum Redemption: Sendable {
    /// The token was free: a new agent and its camera.
    case activated(AgentRecord, Camera)
    /// The same agent (same serial) asked again before checking in: its key was replaced.
    case repeated(AgentRecord, Camera?)
    /// Unknown, used by another agent, or expired (the caller cannot tell which).
    case refused
}
