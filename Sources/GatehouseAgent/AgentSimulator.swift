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
    /// Whether each agent keeps a device channel open (settings echoed as applied, commands answered).
    public var channel = true
    /// The channels' reconnection waits.
    public var channelBackoff = Backoff(baseMilliseconds: 1000, capMilliseconds: 60_000)
    /// How often each channel pings the server.
    public var pingInterval: Duration = .seconds(60)
    /// Where the channels' counts go (nil: a fresh one, read into the summary).
    public var statistics: ChannelStatistics?

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
    /// Channels open at the end, the most open at once, and connections made in all.
    public var connected = 0
    public var peakConnected = 0
    public var connections = 0
    /// `reported` frames sent (of which applied), and command results sent.
    public var settingsReported = 0
    public var settingsApplied = 0
    public var commandsAnswered = 0

    enum CodingKeys: String, CodingKey {
        case activated, failed, reactivated, deactivations, activations, refusals, count, connected, connections
        case peakConnected = "peak_connected", settingsReported = "settings_reported", settingsApplied = "settings_applied"
        case commandsAnswered = "commands_answered"
    }

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

        // One socket per channel (and a few for activation); one lock for all the state directories.
        raiseOpenFileLimit(to: configuration.count + 1024, logger: logger)
        // One lock on the root keeps a second simulator off these state directories (a lock
        // per agent directory would cost a descriptor per device).
        let lock = try StateDirectoryLock.acquire(directory: root)
        let statistics = configuration.statistics ?? ChannelStatistics()
        var agents: [DeviceAgent] = []
        var channels: [Task<Void, Never>] = []
        defer { for channel in channels { channel.cancel() } }
        do {
            for index in 0..<configuration.count {
                let directory = root + "/agent-\(index)"
                try DurableFile.makeDirectory(directory)
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
                if configuration.channel {
                    channels.append(startChannel(agent, index: index, configuration, statistics: statistics, logger: logger))
                }
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
            withExtendedLifetime(lock) {}
            throw error
        }
        var summary = SimulationSummary()
        let counts = statistics.snapshot
        summary.connected = counts.connected
        summary.peakConnected = counts.peakConnected
        summary.connections = counts.connections
        summary.settingsReported = counts.settingsReported
        summary.settingsApplied = counts.settingsApplied
        summary.commandsAnswered = counts.commandsAnswered
        for channel in channels { channel.cancel() }
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
        withExtendedLifetime(lock) {}
        return summary
    }

    /// Agent `index`'s channel: settings echoed as applied (kept in memory), commands answered,
    /// all on the one shared event loop group.
    static func startChannel(_ agent: DeviceAgent, index: Int, _ configuration: SimulationConfiguration, statistics: ChannelStatistics,
                             logger: Logger) -> Task<Void, Never> {
        var options = DeviceChannelConfiguration(serverURL: configuration.serverURL, version: AgentRunner.version)
        options.backoff = configuration.channelBackoff
        options.pingInterval = configuration.pingInterval
        var channelLogger = logger
        channelLogger[metadataKey: "agent"] = "\(index)"
        // Memory only: cannot fail.
        let applied = try! AppliedSettingsStore(directory: nil)
        let channel = DeviceChannel(configuration: options, credentials: { await agent.channelCredential },
                                    onRefused: { _, _ in await agent.stillAccepted() }, settings: EchoSettingsHandler(), commands: EchoCommandHandler(),
                                    applied: applied, observer: statistics, logger: channelLogger)
        return Task { await channel.run() }
    }

    /// Raises the soft limit of open files to `wanted` (each channel is a socket): up to the
    /// hard limit, or past it when the process may.
    static func raiseOpenFileLimit(to wanted: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
        var raised = limit
        raised.rlim_cur = rlim_t(wanted)
        raised.rlim_max = max(limit.rlim_max, rlim_t(wanted))
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return }
        raised = limit
        raised.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
        if limit.rlim_max < rlim_t(wanted) {
            logger.warning("the open-file limit is below what the simulated agents need", metadata: ["limit": "\(limit.rlim_max)", "wanted": "\(wanted)"])
        }
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
