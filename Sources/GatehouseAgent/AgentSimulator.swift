import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// How `gatehouse agent simulate` is set up.
public struct SimulationConfiguration: Sendable {
    /// How many agents run.
    public var count: Int
    /// The activation server's URL.
    public var serverURL: String
    /// The operator id the agents activate by (and the default operator of tokens given without one).
    public var operatorId: Int64?
    /// Activation codes, one per agent in order (`operator_id:token` or a bare token); agents
    /// beyond the list activate by ``operatorId``.
    public var tokens: [PendingActivation] = []
    /// The directory holding one state directory per agent (`agent-<i>`); nil: a temporary
    /// directory deleted at the end.
    public var stateDirectory: String?
    /// Agent `i` has serial `<serialPrefix>-<i>`.
    public var serialPrefix = "SIM"
    /// How often each agent checks in.
    public var heartbeatInterval: Duration = .seconds(60)
    /// The retry waits while the server is away.
    public var backoff = Backoff()
    /// How long the agents run; nil: until the task is cancelled.
    public var duration: Duration?

    public init(count: Int, serverURL: String, operatorId: Int64?) {
        self.count = count
        self.serverURL = serverURL
        self.operatorId = operatorId
    }
}

/// What the simulated agents did.
public struct SimulationSummary: Sendable, Equatable, Codable {
    /// Agents that hold credentials at the end.
    public var activated = 0
    /// Agents without credentials at the end (refused, or never answered).
    public var failed = 0
    /// Agents deactivated by the server (camera deleted) that hold new credentials at the end.
    public var reactivated = 0
    /// Deactivations seen in all.
    public var deactivations = 0
    /// Activations granted in all.
    public var activations = 0
    /// Activations refused in all.
    public var refusals = 0
    /// Agents run.
    public var count = 0

    public init() {}
}

/// Runs many ``DeviceAgent``s in one process against one server (no local API), each with
/// its own state directory under one directory, sharing one HTTP client.
public enum AgentSimulator {
    /// Runs the agents for ``SimulationConfiguration/duration`` (or until cancelled) and
    /// answers what they did. Throws ``AgentFileError`` when a state directory cannot be used.
    public static func run(_ configuration: SimulationConfiguration, logger: Logger) async throws -> SimulationSummary {
        let root: String
        let temporary = configuration.stateDirectory == nil
        if let directory = configuration.stateDirectory {
            root = directory
        } else {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-simulate-\(UUID().uuidString)").path
        }
        try DurableFile.makeDirectory(root)
        defer { if temporary { try? FileManager.default.removeItem(atPath: root) } }

        var http = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(3), read: .seconds(15)))
        http.httpVersion = .http1Only
        http.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: min(64, max(8, configuration.count)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        let transport = ActivationClient(http: client, serverURL: configuration.serverURL)

        var agents: [DeviceAgent] = []
        var locks: [StateDirectoryLock] = []
        do {
            for index in 0..<configuration.count {
                let directory = root + "/agent-\(index)"
                try DurableFile.makeDirectory(directory)
                locks.append(try StateDirectoryLock.acquire(directory: directory))
                let stateFile = AgentStateFile(directory: directory)
                var agentLogger = logger
                agentLogger[metadataKey: "agent"] = "\(index)"
                let agent = DeviceAgent(serial: "\(configuration.serialPrefix)-\(index)", version: AgentRunner.version,
                                        builtInOperatorId: configuration.operatorId, stateFile: stateFile, state: try stateFile.load().state,
                                        transport: transport, backoff: configuration.backoff, logger: agentLogger,
                                        heartbeatInterval: configuration.heartbeatInterval)
                agents.append(agent)
            }
            for (index, agent) in agents.enumerated() {
                if index < configuration.tokens.count, await agent.credentials == nil, !(await agent.isActivating) {
                    try await agent.submit(configuration.tokens[index])
                } else {
                    try await agent.start()
                }
                await agent.startHeartbeat()
            }
            logger.notice("simulated agents started", metadata: ["count": "\(agents.count)", "server": "\(configuration.serverURL)"])
            if let duration = configuration.duration {
                try? await Task.sleep(for: duration)
            } else {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            }
        } catch {
            for agent in agents { await agent.stop() }
            try? await client.shutdown()
            withExtendedLifetime(locks) {}
            throw error
        }
        var summary = SimulationSummary()
        summary.count = agents.count
        for agent in agents {
            await agent.stop()
            let held = await agent.credentials != nil
            let deactivations = await agent.deactivations
            if held { summary.activated += 1 } else { summary.failed += 1 }
            if held, deactivations > 0 { summary.reactivated += 1 }
            summary.deactivations += deactivations
            summary.activations += await agent.activations
            summary.refusals += await agent.refusals
        }
        try? await client.shutdown()
        withExtendedLifetime(locks) {}
        return summary
    }

    /// Parses a tokens file: one activation code a line, `operator_id:token` or a bare token
    /// (then of `operatorId`); blank lines and lines starting with `#` are skipped.
    public static func parseTokens(_ text: String, operatorId: Int64?) throws(QRPayloadError) -> [PendingActivation] {
        var tokens: [PendingActivation] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let colon = line.firstIndex(of: ":") {
                guard let id = Int64(line[..<colon]), id > 0, AgentInput.isToken(String(line[line.index(after: colon)...])) else {
                    throw QRPayloadError("tokens file: a line is not operator_id:token")
                }
                tokens.append(PendingActivation(operatorId: id, token: String(line[line.index(after: colon)...])))
            } else {
                guard let operatorId, AgentInput.isToken(line) else { throw QRPayloadError("tokens file: a bare token needs --operator-id") }
                tokens.append(PendingActivation(operatorId: operatorId, token: line))
            }
        }
        return tokens
    }
}
