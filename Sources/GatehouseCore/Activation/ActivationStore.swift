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
    /// `organizationPath` (the organization's path in the tree) goes into the audit entry.
    /// Tokens may be written together with other callers' writes (group commit).
    func insertActivationToken(_ record: ActivationTokenRecord, tokenHash: String, organizationPath: String?, audit: AuditIntent) async throws
        -> ActivationTokenRecord
    func activationToken(operatorId: Int64, tokenHash: String) async throws -> ActivationTokenRecord?
    /// Redeems a token exactly once (see ``Redemption``); `limit_exceeded`, with nothing
    /// written, when the organization already holds its `camera_limit`.
    /// `rate_limited`, with nothing written, when `guessing` is exceeded. Redemptions may be
    /// written together with other callers' (group commit).
    func redeemActivationToken(operatorId: Int64, tokenHash: String, agent: NewAgent, retryWindow: Int64, guessing: GuessingCheck) async throws -> Redemption
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

    /// A session token (or any bearer token) with its user and the user's node.
    func bearer(hash: String) async throws -> BearerContext?
    /// An operator node with its activation settings, for the agent-facing calls.
    func activationOperator(id: Int64) async throws -> (node: Tenant, settings: OperatorSettings)?
    /// What a token is issued for, read at once: the organization node (nil when unknown),
    /// the preset's organization (nil when no such preset) and the operator's settings.
    func issueTarget(operatorId: Int64, organizationId: Int64, presetId: Int64) async throws -> IssueTarget

    // MARK: Guessing
    /// Failed redemptions per scope since `minute` (unix minutes).
    func activationFailures(scopes: [String], sinceMinute minute: Int64) async throws -> [String: Int64]
    func recordActivationFailure(scopes: [String], minute: Int64) async throws
}

/// What a token would be issued for (see ``ActivationStore/issueTarget(operatorId:organizationId:presetId:)``).
public struct IssueTarget: Sendable {
    public var organization: Tenant?
    public var presetOrganizationId: Int64?
    public var settings: OperatorSettings
    public init(organization: Tenant?, presetOrganizationId: Int64?, settings: OperatorSettings) {
        self.organization = organization
        self.presetOrganizationId = presetOrganizationId
        self.settings = settings
    }
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
    /// Redeemed by another agent moments ago (within a few seconds): it lost a race.
    case conflict
    /// Unknown, used by another agent, or expired (the caller cannot tell which).
    case refused
}

/// The guessing limits a redemption is checked against: failed redemptions counted per
/// scope (source address, operator) since a minute, each with its limit.
public struct GuessingCheck: Sendable {
    public var scopes: [String]
    public var limits: [Int64]
    public var sinceMinute: Int64
    public init(scopes: [String], limits: [Int64], sinceMinute: Int64) {
        self.scopes = scopes
        self.limits = limits
        self.sinceMinute = sinceMinute
    }

    /// Whether any scope has reached its limit, given failure counts per scope.
    public func isExceeded(_ failures: [String: Int64]) -> Bool {
        zip(scopes, limits).contains { failures[$0.0, default: 0] >= $0.1 }
    }
}
