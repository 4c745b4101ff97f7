import ArgumentParser
import Foundation
import GatehouseAgent
import GatehouseServer
import Logging

/// `gatehouse agent`: the device agent that runs on the camera (seed 000).
struct Agent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the device agent of a camera: its local activation API, and activation with the server.",
        discussion: """
            The agent serves POST /activate (a form with operatorid, sign and abonentid, \
            Content-Type application/x-www-form-urlencoded, charset UTF-8 if named) and \
            GET /agent-status ({"version","status","serial"}; status wait_activate or activate). \
            Given a token (by /activate or --qr-file), or with --operator-id and no credentials, \
            it activates with the server's POST /vsaas/api/v2/agents/activate, retrying with \
            exponential backoff and full jitter while the server is unreachable or answers 5xx \
            (a 4xx answer, such as an unknown token, is logged and not retried). The waits start \
            at 0.5 s and double up to 30 s; GATEHOUSE_AGENT_RETRY_BASE_MS and \
            GATEHOUSE_AGENT_RETRY_CAP_MS change them.

            With credentials it checks in with POST /vsaas/api/v2/agents/status every \
            --heartbeat-seconds (GATEHOUSE_AGENT_HEARTBEAT_MS overrides it in milliseconds). When \
            the server answers 410 Gone (its camera was deleted, the agent deactivated), the agent \
            wipes its credentials, reports wait_activate and, with --operator-id, activates again \
            by it. An unreachable server or any other answer keeps the credentials.

            The state directory holds agent.lock (an exclusive lock: a second agent on the same \
            directory refuses to start) and state.json (the credentials and any activation under \
            way; mode 0600, replaced atomically and fsynced, so a power cut leaves the old or the \
            new state). An agent restarted with credentials reports activate and does not \
            activate again. Logs are JSON lines on standard error; the agent key and tokens are \
            never logged.

            `gatehouse agent simulate --count N ...` runs N agents in one process (see its --help).
            """)

    @Option(help: "The camera's serial number, sent to the server and shown by /agent-status (1-128 printable ASCII characters).")
    var serial: String

    @Option(name: .customLong("operator-id"), help: "An operator id built into the agent: with no credentials and no token, the agent activates by it alone (and waits unassigned for the operator).")
    var operatorId: Int64?

    @Option(help: "The activation server's URL, e.g. http://127.0.0.1:8080.")
    var server: String

    @Option(name: .customLong("state-dir"), help: "Directory for the agent's lock and state files (created 0700 if missing).")
    var stateDir: String

    @Option(help: "Address the local API listens on.")
    var host = "127.0.0.1"

    @Option(help: "Port the local API listens on.")
    var port = 5680

    @Option(name: .customLong("qr-file"), help: "A QR payload to activate with at start: three lines, Wi-Fi SSID, Wi-Fi password, operator_id:token; '-' reads standard input. Ignored when the agent already activated with that token.")
    var qrFile: String?

    @Option(name: .customLong("heartbeat-seconds"), help: "Seconds between the agent's check-ins with the server.")
    var heartbeatSeconds: Int64 = 60

    @Option(name: .customLong("heartbeat-ms"), help: .hidden)
    var heartbeatMilliseconds: Int64?

    @Option(help: "Serial mode (seed 003): the vendor the serial is registered under; with --model, the agent activates by POST /provision/activate and installs content instead of serving the local API.")
    var vendor: String?

    @Option(help: "Serial mode: the client model the serial is registered under.")
    var model: String?

    @Option(name: .customLong("firmware-command"), help: "Serial mode: run by /bin/sh with each finished download's path as its argument (\"$1\"); its exit status is logged, and content is recorded as installed when it exits 0.")
    var firmwareCommand: String?

    @Option(name: .customLong("poll-seconds"), help: "Serial mode: seconds between reads of the content list.")
    var pollSeconds: Int64 = 300

    @Option(name: .customLong("poll-ms"), help: .hidden)
    var pollMilliseconds: Int64?

    @Option(name: .customLong("content-prefix"), help: "Serial mode: download only content ids that start with this (default: all the device may see).")
    var contentPrefix = ""

    @Option(name: .customLong("retry-base-ms"), help: .hidden)
    var retryBaseMilliseconds: Int64?

    @Option(name: .customLong("retry-cap-ms"), help: .hidden)
    var retryCapMilliseconds: Int64?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard AgentInput.isToken(serial) else { throw ValidationError("--serial must be 1 to 128 printable ASCII characters without spaces") }
        if let operatorId, operatorId <= 0 { throw ValidationError("--operator-id must be a positive integer") }
        guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ValidationError("--server must be an http:// or https:// URL")
        }
        guard !stateDir.isEmpty else { throw ValidationError("--state-dir must not be empty") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard (vendor == nil) == (model == nil) else { throw ValidationError("--vendor and --model go together (serial mode)") }
        for (flag, value) in [("--vendor", vendor), ("--model", model)] {
            if let value, value.isEmpty { throw ValidationError("\(flag) must not be empty") }
        }
        guard (1...604_800).contains(pollSeconds) else { throw ValidationError("--poll-seconds must be from 1 to 604800") }
        if let pollMilliseconds, !(1...3_600_000).contains(pollMilliseconds) { throw ValidationError("--poll-ms must be from 1 to 3600000") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \(logLevel)") }
        guard (1...86_400).contains(heartbeatSeconds) else { throw ValidationError("--heartbeat-seconds must be from 1 to 86400") }
        for (flag, value) in [("--retry-base-ms", retryBaseMilliseconds), ("--retry-cap-ms", retryCapMilliseconds), ("--heartbeat-ms", heartbeatMilliseconds)] {
            if let value, !(1...3_600_000).contains(value) { throw ValidationError("\(flag) must be from 1 to 3600000") }
        }
    }

    func run() async throws {
        var configuration = AgentConfiguration(serial: serial, operatorId: operatorId, serverURL: server, stateDirectory: stateDir)
        configuration.host = host
        configuration.port = port
        let environment = ProcessInfo.processInfo.environment
        let base = retryBaseMilliseconds ?? environment["GATEHOUSE_AGENT_RETRY_BASE_MS"].flatMap { Int64($0) } ?? 500
        let cap = retryCapMilliseconds ?? environment["GATEHOUSE_AGENT_RETRY_CAP_MS"].flatMap { Int64($0) } ?? 30_000
        configuration.backoff = Backoff(baseMilliseconds: base, capMilliseconds: cap)
        let heartbeat = heartbeatMilliseconds ?? environment["GATEHOUSE_AGENT_HEARTBEAT_MS"].flatMap { Int64($0) }.map { max(1, $0) }
        configuration.heartbeatInterval = heartbeat.map { .milliseconds($0) } ?? .seconds(heartbeatSeconds)
        if let vendor, let model {
            var provisioning = ProvisioningConfiguration(vendor: vendor, model: model, firmwareCommand: firmwareCommand)
            provisioning.pollInterval = pollMilliseconds.map { .milliseconds($0) } ?? .seconds(pollSeconds)
            provisioning.contentPrefix = contentPrefix
            configuration.provisioning = provisioning
        }
        if let qrFile {
            let data: Data
            if qrFile == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let read = FileManager.default.contents(atPath: qrFile) else { throw ValidationError("--qr-file: cannot read \(qrFile)") }
                data = read
            }
            do {
                configuration.qrPayload = try QRPayload.parse(String(decoding: data, as: UTF8.self))
            } catch {
                throw ValidationError("--qr-file: \(error.description)")
            }
        }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "gatehouse.agent")
        logger.logLevel = level
        do {
            try await AgentRunner.run(configuration, logger: logger)
        } catch let error as StateDirectoryLockError {
            FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8))
            throw ExitCode(75)
        } catch let error as AgentFileError {
            FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8))
            throw ExitCode(73)
        }
    }
}
