import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// How the agent runs in serial mode (seed 003): which vendor and model it activates as, how
/// often it polls the content list, and what it runs with a finished firmware file.
public struct ProvisioningConfiguration: Sendable {
    /// The vendor and model the serial was registered under.
    public var vendor: String
    public var model: String
    /// Run by `/bin/sh -c '<command> "$1"'` with the finished file's path as `$1`; nil: download only.
    public var firmwareCommand: String?
    /// The wait between two reads of the content list.
    public var pollInterval: Duration = .seconds(300)
    /// Only content ids that start with this are downloaded (empty: all).
    public var contentPrefix = ""

    public init(vendor: String, model: String, firmwareCommand: String? = nil) {
        self.vendor = vendor
        self.model = model
        self.firmwareCommand = firmwareCommand
    }
}

/// What serial mode keeps in `provision.json` (0600, replaced atomically): the CIK (never
/// logged) and the content it installed, so that a restarted agent neither activates nor
/// downloads again.
public struct SerialState: Codable, Sendable, Equatable {
    public var cik: String?
    public var installed: [String: InstalledContent]

    public init(cik: String? = nil, installed: [String: InstalledContent] = [:]) {
        self.cik = cik
        self.installed = installed
    }
}

/// One content item the agent handed to the firmware command, which exited 0.
public struct InstalledContent: Codable, Sendable, Equatable {
    public var size: Int64
    public var updated: Int64
    public var sha256: String
    public var installedAt: Int64
}

/// Serial mode of the device agent: activates by `/provision/activate`, stores the CIK, polls
/// the content list, downloads new content with Range resume into `<state dir>/firmware/`,
/// and hands each finished file to the firmware command. Retries with ``Backoff`` while the
/// server is away; a CIK the server refuses (403: re-enabled or disabled) is dropped and the
/// agent activates again.
public actor SerialAgent {
    public static let stateFileName = "provision.json"
    let serial: String
    let configuration: ProvisioningConfiguration
    let client: ProvisionClient
    let downloader: FirmwareDownloader
    let file: DurableFile
    let firmwareDirectory: String
    let backoff: Backoff
    let logger: Logger
    /// The state as last stored.
    public private(set) var state: SerialState

    /// A serial agent keeping its state in `stateDirectory` (which it does not lock: the caller does).
    public init(serial: String, configuration: ProvisioningConfiguration, http: HTTPClient, serverURL: String, stateDirectory: String,
                backoff: Backoff, logger: Logger) throws(AgentFileError) {
        self.serial = serial
        self.configuration = configuration
        client = ProvisionClient(http: http, serverURL: serverURL, vendor: configuration.vendor, model: configuration.model)
        downloader = FirmwareDownloader(http: http)
        file = DurableFile(directory: stateDirectory, name: Self.stateFileName)
        firmwareDirectory = stateDirectory + "/firmware"
        self.backoff = backoff
        self.logger = logger
        try DurableFile.makeDirectory(firmwareDirectory)
        file.removeTemporaries()
        if let data = try file.read() {
            if let loaded = try? JSONDecoder().decode(SerialState.self, from: data) {
                state = loaded
            } else {
                let aside = try file.moveAside()
                logger.error("the provisioning state could not be read; moved it aside", metadata: ["moved_to": "\(aside)"])
                state = SerialState()
            }
        } else {
            state = SerialState()
        }
    }

    func save(_ next: SerialState) throws(AgentFileError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(next) else { throw AgentFileError(operation: "encode", path: file.path, errno: EINVAL) }
        try file.write(data + Data("\n".utf8))
        state = next
    }

    /// Runs until cancelled: activate, then poll and install, forever.
    public func run() async {
        var failures = 0
        while !Task.isCancelled {
            let ok = await round()
            if Task.isCancelled { return }
            let wait: Duration
            if ok {
                failures = 0
                wait = configuration.pollInterval
            } else {
                wait = backoff.delay(attempt: failures)
                failures += 1
            }
            do { try await Task.sleep(for: wait) } catch { return }
        }
    }

    /// One round: activation if needed, the content list, and each new item. False when
    /// something failed and the round should be repeated after a backoff wait.
    func round() async -> Bool {
        let metadata: Logger.Metadata = ["serial": "\(serial)", "vendor": "\(configuration.vendor)", "model": "\(configuration.model)"]
        guard let cik = await cik(metadata) else { return false }
        let ids: [String]
        switch await client.contentList(cik: cik) {
        case let .ok(list): ids = list
        case let .refused(status):
            logger.warning("the server refused the CIK; activating again", metadata: metadata.merging(["http_status": "\(status)"]) { $1 })
            var next = state
            next.cik = nil
            do { try save(next) } catch { logger.error("could not clear the CIK", metadata: ["error": "\(error)"]) }
            return false
        case let .unavailable(reason):
            if Task.isCancelled { return false }
            logger.warning("content list unavailable; retrying", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
            return false
        }
        for id in ids.sorted() where id.hasPrefix(configuration.contentPrefix) {
            if Task.isCancelled { return true }
            guard await install(id, cik: cik, metadata: metadata.merging(["content_id": "\(id)"]) { $1 }) else { return false }
        }
        return true
    }

    /// The stored CIK, or a new one from `/provision/activate` (stored before it is used).
    func cik(_ metadata: Logger.Metadata) async -> String? {
        if let cik = state.cik { return cik }
        switch await client.activate(serial: serial) {
        case let .ok(cik):
            var next = state
            next.cik = cik
            do {
                try save(next)
            } catch {
                logger.error("activated but could not store the CIK", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                return nil
            }
            logger.notice("activated", metadata: metadata)
            return cik
        case let .refused(status):
            let reason = status == 404 ? "unknown serial" : status == 409 ? "not enabled, window expired or already activated" : "refused"
            logger.error("activation refused; retrying", metadata: metadata.merging(["http_status": "\(status)", "reason": "\(reason)"]) { $1 })
            return nil
        case let .unavailable(reason):
            if Task.isCancelled { return nil }
            logger.warning("activation server unavailable; retrying", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
            return nil
        }
    }

    /// Downloads and installs `id` unless it is installed already; false on a failure worth a retry.
    func install(_ id: String, cik: String, metadata: Logger.Metadata) async -> Bool {
        let info: ContentInfo
        switch await client.info(cik: cik, id: id) {
        case let .ok(value): info = value
        case let .refused(status):
            logger.warning("content info refused; skipping", metadata: metadata.merging(["http_status": "\(status)"]) { $1 })
            return status != 403
        case let .unavailable(reason):
            if Task.isCancelled { return false }
            logger.warning("content info unavailable", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
            return false
        }
        if let done = state.installed[id], done.size == info.size, done.updated == info.updated { return true }
        let name = Self.fileName(id)
        let partial = firmwareDirectory + "/" + name + ".part"
        let finished = firmwareDirectory + "/" + name
        logger.info("downloading content", metadata: metadata.merging(["size": "\(info.size)", "resume_from": "\(FirmwareDownloader.fileSize(partial) ?? 0)"]) { $1 })
        switch await downloader.download(url: client.downloadURL(id: id), cik: cik, partial: partial, expectedSize: info.size) {
        case let .complete(_, size, sha256):
            guard rename(partial, finished) == 0 else {
                logger.error("cannot move the finished download", metadata: metadata.merging(["errno": "\(errno)"]) { $1 })
                return false
            }
            unlink(partial + ".etag")
            try? DurableFile.syncDirectory(firmwareDirectory)
            logger.notice("content downloaded", metadata: metadata.merging(["size": "\(size)", "sha256": "\(sha256)", "path": "\(finished)"]) { $1 })
            let status = await runCommand(finished, id: id, metadata: metadata)
            guard status == 0 else { return true }
            var next = state
            next.installed[id] = InstalledContent(size: size, updated: info.updated, sha256: sha256, installedAt: Int64(Date().timeIntervalSince1970))
            do { try save(next) } catch {
                logger.error("could not record the installed content", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                return false
            }
            return true
        case let .refused(status):
            logger.warning("download refused", metadata: metadata.merging(["http_status": "\(status)"]) { $1 })
            return status != 403
        case let .interrupted(reason):
            logger.warning("download interrupted; will resume", metadata: metadata.merging(["reason": "\(reason)", "have": "\(FirmwareDownloader.fileSize(partial) ?? 0)"]) { $1 })
            return false
        case let .corrupt(reason):
            logger.error("downloaded file rejected; starting over", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
            return false
        }
    }

    /// Runs the firmware command with the file's path; answers its exit status (0 with no command).
    func runCommand(_ path: String, id: String, metadata: Logger.Metadata) async -> Int32 {
        guard let command = configuration.firmwareCommand else { return 0 }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command + " \"$1\"", "gatehouse-firmware", path]
        var environment = ProcessInfo.processInfo.environment
        environment["GATEHOUSE_CONTENT_ID"] = id
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = await withCheckedContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(returning: 127)
            }
        }
        if status == 0 {
            logger.notice("firmware command succeeded", metadata: metadata.merging(["exit_status": "0", "path": "\(path)"]) { $1 })
        } else {
            logger.error("firmware command failed; will fetch and run it again at the next poll", metadata: metadata.merging(["exit_status": "\(status)", "path": "\(path)"]) { $1 })
        }
        return status
    }

    /// A file name for a content id: letters, digits, `-`, `_` and `.` kept, the rest `%XX`; prefixed so it never is `.` or `..`.
    static func fileName(_ id: String) -> String {
        var name = "content-"
        for byte in id.utf8 {
            if (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == 45 || byte == 95 || byte == 46 {
                name.append(Character(Unicode.Scalar(byte)))
            } else {
                name += String(format: "%%%02X", byte)
            }
        }
        return name
    }
}

/// Serial mode as a service: runs ``SerialAgent`` until SIGTERM or SIGINT.
public enum SerialAgentRunner {
    /// Locks the state directory and runs the serial agent until it is told to stop.
    public static func run(_ configuration: AgentConfiguration, _ provisioning: ProvisioningConfiguration, logger: Logger) async throws {
        try DurableFile.makeDirectory(configuration.stateDirectory)
        let lock = try StateDirectoryLock.acquire(directory: configuration.stateDirectory)
        var http = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(3), read: .seconds(15)))
        http.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        do {
            let agent = try SerialAgent(serial: configuration.serial, configuration: provisioning, http: client, serverURL: configuration.serverURL,
                                        stateDirectory: configuration.stateDirectory, backoff: configuration.backoff, logger: logger)
            let activated = await agent.state.cik != nil
            logger.info("agent starting in serial mode", metadata: [
                "serial": "\(configuration.serial)", "vendor": "\(provisioning.vendor)", "model": "\(provisioning.model)",
                "state_dir": "\(configuration.stateDirectory)", "server": "\(configuration.serverURL)",
                "has_cik": "\(activated)", "poll_interval": "\(provisioning.pollInterval)"])
            let channel = try configuration.channel.enabled ? startChannel(configuration, agent: agent, http: client, logger: logger) : nil
            defer { channel?.cancel() }
            let group = ServiceGroup(configuration: .init(services: [.init(service: SerialAgentService(agent: agent))],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        } catch {
            try? await client.shutdown()
            withExtendedLifetime(lock) {}
            throw error
        }
        try? await client.shutdown()
        logger.info("agent stopped")
        withExtendedLifetime(lock) {}
    }
}

extension SerialAgentRunner {
    /// Starts the channel of a serially provisioned device: it opens with the CIK once the
    /// device holds one (a CIK the server stops taking is dropped by the content poll, which
    /// activates again; the channel then opens with the new one).
    static func startChannel(_ configuration: AgentConfiguration, agent: SerialAgent, http: HTTPClient, logger: Logger) throws(AgentFileError) -> Task<Void, Never> {
        var options = DeviceChannelConfiguration(serverURL: configuration.serverURL, version: configuration.version)
        options.backoff = configuration.channel.backoff
        options.pingInterval = configuration.channel.pingInterval
        let applied = try AppliedSettingsStore(directory: configuration.stateDirectory)
        let credentials: @Sendable () async -> ChannelCredential? = { await agent.state.cik.map { .cik($0) } }
        let channel = DeviceChannel(configuration: options, credentials: credentials, settings: configuration.channel.settingsHandler,
                                    commands: configuration.channel.commandHandler(upload: ChannelOptions.upload(http: http, serverURL: configuration.serverURL,
                                                                                                                  credentials: credentials)),
                                    applied: applied, logger: logger)
        return Task { await channel.run() }
    }
}

struct SerialAgentService: Service {
    let agent: SerialAgent
    func run() async throws {
        await cancelWhenGracefulShutdown { await agent.run() }
    }
}
