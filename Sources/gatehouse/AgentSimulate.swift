import ArgumentParser
import Foundation
import GatehouseAgent
import GatehouseServer
import Logging

/// `gatehouse agent simulate`: many device agents in one process, for benchmarks and fault tests.
struct AgentSimulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run N device agents in one process against a server (no local API), then print a summary.",
        discussion: """
            Agent i has serial <serial-prefix>-i and its own state directory under --state-dir \
            (a temporary directory, deleted at the end, when not given). Agent i activates with \
            line i of --tokens-file (operator_id:token, or a bare token of --operator-id); the \
            others activate by --operator-id. Each checks in every --heartbeat-seconds, and one \
            deactivated by the server (its camera deleted) wipes its credentials and activates \
            again by --operator-id. After --duration-seconds (or at SIGINT/SIGTERM) it prints one \
            JSON line on standard output: count, activated, failed, reactivated, activations, \
            refusals, deactivations, and the channel's counts: connected (open at the end), \
            peak_connected, connections, settings_reported, settings_applied, commands_answered. \
            Logs are JSON lines on standard error.

            Each activated agent keeps a device channel open (unless --no-channel), all of them on \
            one shared event loop group: settings are echoed back as applied (kept in memory) and \
            commands answered {"command": <name>, "simulated": true}. The process raises its \
            open-file limit to what the channels need. With --progress-ms, a line \
            {"progress":{"t_ms",...,"connected",...,"versions":{"<version>":{"reported","first_ms", \
            "last_ms"}}}} is printed every that many milliseconds: how many devices reported each \
            settings version, and when the first and the last did (unix milliseconds).
            """)

    @Option(help: "How many agents to run (1-100000).")
    var count: Int

    @Option(help: "The activation server's URL, e.g. http://127.0.0.1:8080.")
    var server: String

    @Option(name: .customLong("operator-id"), help: "The operator id the agents activate by (and re-activate by after a deactivation).")
    var operatorId: Int64?

    @Option(name: .customLong("tokens-file"), help: "Activation codes, one a line (operator_id:token, or a bare token with --operator-id), used by the agents in order.")
    var tokensFile: String?

    @Option(name: .customLong("state-dir"), help: "Directory for the agents' state directories (agent-0, agent-1, ...).")
    var stateDir: String?

    @Option(name: .customLong("serial-prefix"), help: "Agent i's serial is <prefix>-i.")
    var serialPrefix = "SIM"

    @Option(name: .customLong("duration-seconds"), help: "How long the agents run; 0: until SIGINT or SIGTERM.")
    var durationSeconds: Int64 = 60

    @Option(name: .customLong("duration-ms"), help: .hidden)
    var durationMilliseconds: Int64?

    @Option(name: .customLong("heartbeat-seconds"), help: "Seconds between each agent's check-ins.")
    var heartbeatSeconds: Int64 = 60

    @Option(name: .customLong("heartbeat-ms"), help: .hidden)
    var heartbeatMilliseconds: Int64?

    @Flag(name: .customLong("no-channel"), help: "Do not open device channels.")
    var noChannel = false

    @Option(name: .customLong("progress-ms"), help: "Print a progress line on standard output every this many milliseconds (0: never).")
    var progressMilliseconds: Int64 = 0

    @Option(name: .customLong("retry-base-ms"), help: .hidden)
    var retryBaseMilliseconds: Int64?

    @Option(name: .customLong("retry-cap-ms"), help: .hidden)
    var retryCapMilliseconds: Int64?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "warning"

    func validate() throws {
        guard (1...100_000).contains(count) else { throw ValidationError("--count must be from 1 to 100000") }
        if let operatorId, operatorId <= 0 { throw ValidationError("--operator-id must be a positive integer") }
        guard operatorId != nil || tokensFile != nil else { throw ValidationError("give --operator-id or --tokens-file") }
        guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ValidationError("--server must be an http:// or https:// URL")
        }
        guard AgentInput.isToken(serialPrefix), serialPrefix.utf8.count <= 100 else { throw ValidationError("--serial-prefix must be 1 to 100 printable ASCII characters without spaces") }
        guard durationSeconds >= 0 else { throw ValidationError("--duration-seconds must not be negative") }
        guard (1...86_400).contains(heartbeatSeconds) else { throw ValidationError("--heartbeat-seconds must be from 1 to 86400") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \(logLevel)") }
        guard (0...3_600_000).contains(progressMilliseconds) else { throw ValidationError("--progress-ms must be from 0 to 3600000") }
        for (flag, value) in [("--retry-base-ms", retryBaseMilliseconds), ("--retry-cap-ms", retryCapMilliseconds), ("--heartbeat-ms", heartbeatMilliseconds),
                              ("--duration-ms", durationMilliseconds)] {
            if let value, !(1...86_400_000).contains(value) { throw ValidationError("\(flag) must be from 1 to 86400000") }
        }
    }

    func run() async throws {
        var configuration = SimulationConfiguration(count: count, serverURL: server, operatorId: operatorId)
        if let tokensFile {
            guard let data = FileManager.default.contents(atPath: tokensFile) else { throw ValidationError("--tokens-file: cannot read \(tokensFile)") }
            do {
                configuration.tokens = try AgentSimulator.parseTokens(String(decoding: data, as: UTF8.self), operatorId: operatorId)
            } catch {
                throw ValidationError("--tokens-file: \(error.description)")
            }
        }
        configuration.stateDirectory = stateDir
        configuration.serialPrefix = serialPrefix
        let environment = ProcessInfo.processInfo.environment
        configuration.backoff = Backoff(baseMilliseconds: retryBaseMilliseconds ?? environment["GATEHOUSE_AGENT_RETRY_BASE_MS"].flatMap { Int64($0) } ?? 500,
                                        capMilliseconds: retryCapMilliseconds ?? environment["GATEHOUSE_AGENT_RETRY_CAP_MS"].flatMap { Int64($0) } ?? 30_000)
        configuration.channel = !noChannel
        if retryBaseMilliseconds != nil || retryCapMilliseconds != nil || environment["GATEHOUSE_AGENT_RETRY_BASE_MS"] != nil
            || environment["GATEHOUSE_AGENT_RETRY_CAP_MS"] != nil {
            configuration.channelBackoff = configuration.backoff
        }
        let statistics = ChannelStatistics()
        configuration.statistics = statistics
        let heartbeat = heartbeatMilliseconds ?? environment["GATEHOUSE_AGENT_HEARTBEAT_MS"].flatMap { Int64($0) }.map { max(1, $0) }
        configuration.heartbeatInterval = heartbeat.map { .milliseconds($0) } ?? .seconds(heartbeatSeconds)
        if let durationMilliseconds {
            configuration.duration = .milliseconds(durationMilliseconds)
        } else if durationSeconds > 0 {
            configuration.duration = .seconds(durationSeconds)
        }
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "gatehouse.agent.simulate")
        logger.logLevel = level

        // SIGINT and SIGTERM end the run early; the summary is printed all the same.
        let run = Task { try await AgentSimulator.run(configuration, logger: logger) }
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { run.cancel() }
            source.resume()
            return source
        }
        let progress = progressMilliseconds > 0 ? Task { [progressMilliseconds] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: .milliseconds(progressMilliseconds)) } catch { return }
                FileHandle.standardOutput.write(Data((statistics.progressLine() + "\n").utf8))
            }
        } : nil
        defer { progress?.cancel() }
        let summary: SimulationSummary
        do {
            summary = try await run.value
        } catch let error as AgentFileError {
            FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8))
            throw ExitCode(73)
        } catch let error as StateDirectoryLockError {
            FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8))
            throw ExitCode(75)
        }
        withExtendedLifetime(sources) {}
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        FileHandle.standardOutput.write(try encoder.encode(summary) + Data("\n".utf8))
    }
}
