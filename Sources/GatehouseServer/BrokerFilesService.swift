import Foundation
import GatehouseCore
import GatehouseStore
import Logging
import ServiceLifecycle

/// Keeps an MQTT broker's files current: the authority's certificate, the revocation list and
/// the topic ACL (``BrokerFiles``), written into `--mqtt-broker-dir` at start, after every
/// revocation on this node (``refresh()``), when a revocation made on another node shows up
/// (checked every `interval`), and well before the list's `nextUpdate`. After each write it
/// runs `--mqtt-reload-command` (for mosquitto: send it SIGHUP), so the broker refuses a
/// revoked endpoint's next connection.
final class BrokerFilesService: Service {
    let store: SQLStore
    let authority: AuthorityLoader
    let configuration: GatehouseConfiguration
    let started: StartupGate
    let directory: String
    let reloadCommand: String?
    let interval: Duration
    let logger: Logger
    private let wake: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation

    init(store: SQLStore, authority: AuthorityLoader, configuration: GatehouseConfiguration, started: StartupGate, directory: String, reloadCommand: String?,
         interval: Duration = .seconds(30), logger: Logger) {
        self.store = store
        self.authority = authority
        self.configuration = configuration
        self.started = started
        self.directory = directory
        self.reloadCommand = reloadCommand
        self.interval = interval
        self.logger = logger
        (wake, waker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Rewrites the files now (call after a revocation).
    func refresh() { waker.yield() }

    func run() async throws {
        let waker = waker, interval = interval
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                let started = started
                group.addTask {
                    // The first write as soon as start-up (migrations, the authority) is done.
                    while !started.isOpen {
                        do { try await Task.sleep(for: .milliseconds(100)) } catch { return }
                    }
                    while !Task.isCancelled {
                        waker.yield()
                        do { try await Task.sleep(for: interval) } catch { return }
                    }
                }
                var written: (serials: Set<String>, at: Int64, number: Int64)?
                for await _ in wake {
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    guard started.isOpen else { continue }
                    do {
                        written = try await write(after: written)
                    } catch {
                        logger.warning("mqtt broker files: could not write them; will retry", metadata: ["directory": "\(directory)", "error": "\(error)"])
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.waker.finish()
        }
    }

    /// Writes the files when the revoked serials changed or the list is half a day old. Each
    /// list's number is above the last one's, even for two lists in one second.
    func write(after previous: (serials: Set<String>, at: Int64, number: Int64)?) async throws -> (serials: Set<String>, at: Int64, number: Int64) {
        let now = configuration.clock.now()
        let revoked = try await store.revokedCertificates(now: now)
        let serials = Set(revoked.map(\.serial))
        if let previous, previous.serials == serials, now - previous.at < 43_200 { return previous }
        let authority = try await authority.authority()
        let settings = configuration.onboarding
        let files = try BrokerFiles(authority: authority, certificates: revoked, crlNumber: max(now, (previous?.number ?? 0) + 1), thisUpdate: Date(timeIntervalSince1970: TimeInterval(now)),
                                    nextUpdate: Date(timeIntervalSince1970: TimeInterval(now + 86_400)),
                                    topics: try BrokerTopics(measuresPrefix: settings.measuresPrefix, commandsPrefix: settings.commandsPrefix))
        try BrokerFilesWriter.write(files, to: directory)
        logger.info("mqtt broker files written", metadata: ["directory": "\(directory)", "revoked": "\(serials.count)"])
        if let reloadCommand { await reload(reloadCommand) }
        return (serials, now, max(now, (previous?.number ?? 0) + 1))
    }

    /// Runs the reload command through `/bin/sh -c`, with no input and output discarded.
    func reload(_ command: String) async {
        let status: Int32 = await Offload.run {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { return -1 }
            process.waitUntilExit()
            return process.terminationStatus
        }
        if status != 0 { logger.warning("mqtt broker reload command failed", metadata: ["status": "\(status)"]) }
    }
}
