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

            Once activated (or, in serial mode, holding its CIK) the agent keeps a WebSocket open \
            to the server's /api/v1.0/device/channel (Authorization: Agent <id>:<key>, or \
            X-Exosite-CIK), answers and sends pings, and reconnects with exponential backoff and \
            full jitter (1 s doubling to 60 s; the --retry-* waits when given). Close code 4401 \
            (credential refused) stops it from reconnecting with that credential: the agent \
            checks in, and a deactivated agent activates again as above. Over the channel:

            settings: with --settings-command, the command runs (/bin/sh -c) with the desired \
            document (JSON) on standard input and its version in GATEHOUSE_SETTINGS_VERSION; exit \
            0 means applied, and its standard output, if any, is the JSON object now running \
            (else the desired one); another exit reports an error with standard error's text. \
            With --settings-file, the desired document is written to that file (atomically, \
            fsynced, 0600) and reported as applied. The last version handled is kept in \
            channel.json in the state directory, so a restarted agent reports it again rather \
            than applying it twice. Without either, changes are answered with an error.

            commands (ptz.move, ptz.stop, ptz.preset.goto, ptz.preset.set, reboot, snapshot): \
            --command-handler runs with the command as JSON ({"id","name","params","expires_at"}) \
            on standard input and GATEHOUSE_COMMAND_NAME / GATEHOUSE_COMMAND_ID set; exit 0 \
            answers its standard output (JSON, empty for null) as the result, another exit an \
            error with standard error's text. A handler still running when the command expires \
            is killed (with its process group) and no answer is sent. --snapshot-command takes \
            the snapshot command: its standard output is a JPEG or PNG image, which the agent \
            uploads (POST /api/v1.0/device/media/images) and answers {"image_id": <id>}.

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

    @Option(name: .customLong("settings-command"), help: "Applies desired settings: run by /bin/sh with the document on standard input and GATEHOUSE_SETTINGS_VERSION set; exit 0 = applied (standard output, if any: the JSON now running), else the error is standard error's text.")
    var settingsCommand: String?

    @Option(name: .customLong("settings-file"), help: "Applies desired settings by writing them to this file (atomically, fsynced, 0600) and reporting them as applied.")
    var settingsFile: String?

    @Option(name: .customLong("command-handler"), help: "Carries out commands: run by /bin/sh with the command as JSON on standard input; exit 0 = done (standard output: the JSON result), else failed with standard error's text.")
    var commandHandler: String?

    @Option(name: .customLong("snapshot-command"), help: "Takes a snapshot: run by /bin/sh, its standard output a JPEG or PNG image, which is uploaded and answered with its image id.")
    var snapshotCommand: String?

    @Flag(name: .customLong("no-channel"), help: "Do not open the device channel.")
    var noChannel = false

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
        guard settingsCommand == nil || settingsFile == nil else { throw ValidationError("give --settings-command or --settings-file, not both") }
        for (flag, value) in [("--settings-command", settingsCommand), ("--settings-file", settingsFile), ("--command-handler", commandHandler),
                              ("--snapshot-command", snapshotCommand)] {
            if let value, value.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("\(flag) must not be empty") }
        }
        if let settingsFile, settingsFile.hasSuffix("/") { throw ValidationError("--settings-file must name a file") }
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
        configuration.channel.enabled = !noChannel
        configuration.channel.settingsCommand = settingsCommand
        configuration.channel.settingsFile = settingsFile
        configuration.channel.commandHandler = commandHandler
        configuration.channel.snapshotCommand = snapshotCommand
        // The channel waits 1 s doubling to 60 s unless the retry waits were set.
        if retryBaseMilliseconds != nil || retryCapMilliseconds != nil || environment["GATEHOUSE_AGENT_RETRY_BASE_MS"] != nil
            || environment["GATEHOUSE_AGENT_RETRY_CAP_MS"] != nil {
            configuration.channel.backoff = configuration.backoff
        }
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
