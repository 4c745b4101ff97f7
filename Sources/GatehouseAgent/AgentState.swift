import Foundation

/// What the agent got from the activation server. Kept in the state file (0600); the key
/// and token are never logged.
public struct AgentCredentials: Codable, Sendable, Equatable {
    public var agentId: Int64
    public var agentKey: String
    public var watcherURL: String
    /// The server's status at activation: `active` (a camera was made) or `unassigned`
    /// (activated by operator id alone, waiting for the operator).
    public var serverStatus: String
    public var cameraName: String?
    /// The operator and token these credentials were obtained with (token nil: by operator id alone).
    public var operatorId: Int64
    public var token: String?
    /// Unix time of the activation.
    public var activatedAt: Int64

    public init(agentId: Int64, agentKey: String, watcherURL: String, serverStatus: String, cameraName: String?,
                operatorId: Int64, token: String?, activatedAt: Int64) {
        self.agentId = agentId
        self.agentKey = agentKey
        self.watcherURL = watcherURL
        self.serverStatus = serverStatus
        self.cameraName = cameraName
        self.operatorId = operatorId
        self.token = token
        self.activatedAt = activatedAt
    }

    enum CodingKeys: String, CodingKey {
        case agentId = "agent_id", agentKey = "agent_key", watcherURL = "watcher_url", serverStatus = "server_status"
        case cameraName = "camera_name", operatorId = "operator_id", token, activatedAt = "activated_at"
    }
}

/// An activation the agent was asked for and has not finished: kept in the state file
/// before the server is called, so that an agent restarted mid-activation carries on
/// with the same operator id and token (the server answers a repeat by the same serial
/// with the same agent and camera).
public struct PendingActivation: Codable, Sendable, Equatable {
    public var operatorId: Int64
    /// nil: activation by operator id alone.
    public var token: String?
    /// The subscriber's e-mail the app sent (`abonentid`), if any.
    public var abonentId: String?

    public init(operatorId: Int64, token: String?, abonentId: String? = nil) {
        self.operatorId = operatorId
        self.token = token
        self.abonentId = abonentId
    }

    enum CodingKeys: String, CodingKey {
        case operatorId = "operator_id", token, abonentId = "abonent_id"
    }
}

/// Everything the agent keeps across restarts.
public struct AgentState: Codable, Sendable, Equatable {
    public var credentials: AgentCredentials?
    public var pending: PendingActivation?

    public init(credentials: AgentCredentials? = nil, pending: PendingActivation? = nil) {
        self.credentials = credentials
        self.pending = pending
    }
}

/// The agent's state file, `state.json` in the state directory, read and replaced through
/// ``DurableFile``.
public struct AgentStateFile: Sendable {
    /// The state file's name in the state directory.
    public static let fileName = "state.json"
    public let file: DurableFile

    public init(directory: String) {
        file = DurableFile(directory: directory, name: Self.fileName)
    }

    /// What happened when the state was loaded, for the log.
    public struct Loaded: Sendable {
        public var state: AgentState
        /// Torn temporary files that were deleted.
        public var removedTemporaries: [String]
        /// Where an unreadable state file was moved, if it was.
        public var movedAside: String?
    }

    /// Deletes torn temporary files, then reads the state (empty when there is none). A state
    /// file that does not parse (not something this agent wrote: replacements are atomic) is
    /// moved aside rather than deleted, and the agent starts without credentials.
    public func load() throws(AgentFileError) -> Loaded {
        let removed = file.removeTemporaries()
        guard let data = try file.read() else { return Loaded(state: AgentState(), removedTemporaries: removed) }
        if let state = try? JSONDecoder().decode(AgentState.self, from: data) {
            return Loaded(state: state, removedTemporaries: removed)
        }
        return Loaded(state: AgentState(), removedTemporaries: removed, movedAside: try file.moveAside())
    }

    /// Replaces the state durably.
    public func save(_ state: AgentState) throws(AgentFileError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(state) } catch { throw AgentFileError(operation: "encode the state for", path: file.path, errno: EINVAL) }
        try file.write(data + Data("\n".utf8))
    }
}
