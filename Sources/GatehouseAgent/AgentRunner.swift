import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore

/// How `gatehouse agent` is set up.
public struct AgentConfiguration: Sendable {
    /// The camera's serial number (1–128 printable ASCII characters).
    public var serial: String
    /// The operator id built into the agent, if any.
    public var operatorId: Int64?
    /// The activation server's URL, e.g. `http://127.0.0.1:8080`.
    public var serverURL: String
    /// Where the agent keeps its lock file and its state file.
    public var stateDirectory: String
    /// The local API's address and port (5680, as the seed says).
    public var host = "127.0.0.1"
    public var port = 5680
    /// A QR payload read at start (the text, not the file name).
    public var qrPayload: QRPayload?
    /// The retry waits while the server is away.
    public var backoff = Backoff()
    /// How often the agent checks in with the server (60 s).
    public var heartbeatInterval: Duration = .seconds(60)
    /// The version the agent reports.
    public var version = AgentRunner.version
    /// Serial mode (seed 003): activate by `/provision/activate` as this vendor and model and
    /// install content, instead of serving the local API. Nil: the seed 000 agent.
    public var provisioning: ProvisioningConfiguration?
    /// The channel (docs/device-channel.md): handlers and reconnection waits.
    public var channel = ChannelOptions()

    public init(serial: String, operatorId: Int64? = nil, serverURL: String, stateDirectory: String) {
        self.serial = serial
        self.operatorId = operatorId
        self.serverURL = serverURL
        self.stateDirectory = stateDirectory
    }
}

/// Runs one device agent: locks the state directory, loads the state, serves the local API
/// and activates in the background until SIGTERM or SIGINT.
public enum AgentRunner {
    /// The version this build of the agent reports.
    public static let version = "gatehouse-agent-0.1.0"

    /// Runs the agent until it is told to stop. Throws ``StateDirectoryLockError`` when
    /// another agent holds the state directory, ``AgentFileError`` when the state directory
    /// cannot be used, before anything is served.
    public static func run(_ configuration: AgentConfiguration, logger: Logger) async throws {
        if let provisioning = configuration.provisioning { return try await SerialAgentRunner.run(configuration, provisioning, logger: logger) }
        try DurableFile.makeDirectory(configuration.stateDirectory)
        let lock = try StateDirectoryLock.acquire(directory: configuration.stateDirectory)
        let stateFile = AgentStateFile(directory: configuration.stateDirectory)
        let loaded = try stateFile.load()
        if !loaded.removedTemporaries.isEmpty {
            logger.warning("removed temporary state files an interrupted write left", metadata: ["files": "\(loaded.removedTemporaries.joined(separator: ","))"])
        }
        if let aside = loaded.movedAside {
            logger.error("the state file could not be read; moved it aside and starting without credentials", metadata: ["moved_to": "\(aside)"])
        }
        var http = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(3), read: .seconds(15)))
        http.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        let agent = DeviceAgent(serial: configuration.serial, version: configuration.version, builtInOperatorId: configuration.operatorId,
                                stateFile: stateFile, state: loaded.state,
                                transport: ActivationClient(http: client, serverURL: configuration.serverURL),
                                backoff: configuration.backoff, logger: logger, heartbeatInterval: configuration.heartbeatInterval)
        let status = await agent.status
        logger.info("agent starting", metadata: [
            "serial": "\(configuration.serial)", "version": "\(configuration.version)", "state_dir": "\(configuration.stateDirectory)",
            "status": "\(status.rawValue)", "server": "\(configuration.serverURL)"])
        let channel = try configuration.channel.enabled ? startChannel(configuration, agent: agent, http: client, logger: logger) : nil
        do {
            try await agent.start(qr: configuration.qrPayload)
            await agent.startHeartbeat()
            let app = Application(
                router: AgentLocalAPI.router(agent),
                configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "gatehouse-agent"),
                onServerRunning: { channel in
                    logger.notice("agent listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "-")"])
                },
                logger: logger)
            try await app.runService()
        } catch {
            channel?.cancel()
            await agent.stop()
            try? await client.shutdown()
            withExtendedLifetime(lock) {}
            throw error
        }
        channel?.cancel()
        await agent.stop()
        try? await client.shutdown()
        logger.info("agent stopped")
        withExtendedLifetime(lock) {}
    }

    /// Starts the agent's channel: it opens once the agent holds credentials; when the server
    /// refuses them (4401) the agent checks in, which wipes them and activates again when the
    /// agent was deactivated.
    static func startChannel(_ configuration: AgentConfiguration, agent: DeviceAgent, http: HTTPClient, logger: Logger) throws(AgentFileError) -> Task<Void, Never> {
        var options = DeviceChannelConfiguration(serverURL: configuration.serverURL, version: configuration.version)
        options.backoff = configuration.channel.backoff
        options.pingInterval = configuration.channel.pingInterval
        let applied = try AppliedSettingsStore(directory: configuration.stateDirectory)
        let credentials: @Sendable () async -> ChannelCredential? = { await agent.channelCredential }
        let channel = DeviceChannel(configuration: options, credentials: credentials, onRefused: { _, _ in await agent.stillAccepted() },
                                    settings: configuration.channel.settingsHandler,
                                    commands: configuration.channel.commandHandler(upload: ChannelOptions.upload(http: http, serverURL: configuration.serverURL,
                                                                                                                  credentials: credentials)),
                                    applied: applied, logger: logger)
        return Task { await channel.run() }
    }
}
