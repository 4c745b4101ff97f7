import Foundation
import GatehouseCore
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A real mosquitto broker started by a test, on a free loopback port, with the TLS listener of
/// ``BrokerFiles/mosquittoListener(port:bindAddress:directory:certificateFile:keyFile:)``.
///
/// Use: `let broker = try Mosquitto(authority: ca)`, write ``BrokerFiles`` into
/// ``brokerDirectory``, `try await broker.start()`, talk to it with ``publish(as:clientId:topic:message:qos:version:)``
/// and ``subscribe(as:clientId:topics:count:seconds:version:)``, and always `await broker.stop()`.
///
/// mosquitto 2.0.11 (Debian 12) re-reads its configuration, the ACL, its certificate and the
/// revocation list on SIGHUP (``reload()``): the new list replaces the old one for every new
/// connection (tried both ways: a list naming a certificate more refuses it, one naming it no
/// more admits it again). Connections already open stay open.
public final class Mosquitto: @unchecked Sendable {
    /// MQTT protocol versions of the command-line clients (`-V`).
    public enum ProtocolVersion: String, Sendable {
        case v5 = "mqttv5"
        case v311 = "mqttv311"
    }

    /// A client certificate and its key, written as files the command-line clients read.
    public struct Identity: Sendable {
        public let name: String
        public let certificatePath: String
        public let keyPath: String

        /// An identity from a certificate and an unencrypted key already on disk (PEM).
        public init(name: String, certificatePath: String, keyPath: String) {
            self.name = name
            self.certificatePath = certificatePath
            self.keyPath = keyPath
        }
    }

    /// The temporary directory holding everything (removed by ``stop()``).
    public let directory: String
    /// Where the test writes ``BrokerFiles`` before ``start()`` (CA file, CRL, ACL).
    public let brokerDirectory: String
    public let configurationPath: String
    /// mosquitto's standard output and error.
    public let logPath: String
    /// The authority's certificate, the clients' `--cafile`.
    public var caFilePath: String { brokerDirectory + "/" + BrokerFiles.caFileName }
    /// The TCP port on 127.0.0.1 (chosen by ``start()``, kept by ``restart()``).
    public var port: Int { state.withLockedValue { $0.port } }
    /// The running broker's process id (nil before ``start()`` and after ``stop()``).
    public var processIdentifier: Int32? { state.withLockedValue { $0.process?.pid } }

    private let executable: String
    private let serverCertificatePath: String
    private let serverKeyPath: String
    private let probe: Identity
    private let state = NIOLockedValueBox(State())

    private struct State {
        var port = 0
        var process: SpawnedProcess?
        var subscriptions: [Subscription] = []
    }

    /// The mosquitto executable: on PATH, else in /usr/sbin or /usr/local/sbin (where Debian
    /// puts it, often outside a user's PATH).
    public static func executable() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        for directory in candidates where FileManager.default.isExecutableFile(atPath: directory + "/mosquitto") {
            return directory + "/mosquitto"
        }
        throw GatehouseError(.unavailable, """
            mosquitto is not installed: these tests need a real MQTT broker and its clients \
            (apt-get install -y mosquitto mosquitto-clients; .ci/run installs them)
            """)
    }

    /// Prepares a broker for `authority`: a temporary directory, a server certificate for
    /// 127.0.0.1 and localhost issued by `authority`, and a probe client identity it uses to
    /// see that the broker accepts TLS connections. Throws a clear error when mosquitto or
    /// mosquitto_pub / mosquitto_sub are missing.
    public init(authority: CertificateAuthority) throws {
        executable = try Self.executable()
        for client in ["mosquitto_pub", "mosquitto_sub"] {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
            guard path.split(separator: ":").contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/\(client)") }) else {
                throw GatehouseError(.unavailable, "\(client) is not on PATH: apt-get install -y mosquitto-clients (.ci/run installs it)")
            }
        }
        directory = try TestDatabases.temporaryDirectory()
        brokerDirectory = directory + "/broker"
        configurationPath = directory + "/mosquitto.conf"
        logPath = directory + "/mosquitto.log"
        serverCertificatePath = directory + "/server-cert.pem"
        serverKeyPath = directory + "/server-key.pem"
        try FileManager.default.createDirectory(atPath: directory + "/identities", withIntermediateDirectories: true)
        let server = try authority.issue(commonName: "localhost", organizationalUnit: "mqtt-broker",
                                         usage: .server(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"]), days: 1)
        try Self.writeFile(server.certificatePEM, to: serverCertificatePath, mode: 0o644)
        try Self.writeFile(server.privateKeyPEM, to: serverKeyPath, mode: 0o600)
        probe = try Self.writeIdentity(authority.issue(commonName: "mosquitto-probe", usage: .client, days: 1), name: "probe", in: directory)
    }

    deinit {
        state.withLockedValue { $0.process }?.signal(SIGKILL)
    }

    /// Starts mosquitto on a free loopback port and waits until it accepts TLS connections;
    /// retries on a new port when another process took the chosen one first. The broker files
    /// must be in ``brokerDirectory``.
    public func start(timeout: Duration = .seconds(20)) async throws {
        for name in [BrokerFiles.caFileName, BrokerFiles.revocationListFileName, BrokerFiles.aclFileName] {
            guard FileManager.default.fileExists(atPath: brokerDirectory + "/" + name) else {
                throw GatehouseError(.invalidRequest, "write the broker files into \(brokerDirectory) before starting mosquitto (\(name) is missing)")
            }
        }
        var attempt = 0
        while true {
            attempt += 1
            if try await launch(port: LiveServer.freePort(), timeout: timeout) { return }
            guard log.contains("Address already in use"), attempt < 5 else {
                throw GatehouseError(.unavailable, "mosquitto did not start:\n\(log)")
            }
        }
    }

    /// Sends SIGHUP: mosquitto re-reads its configuration, the ACL, its certificate and the
    /// revocation list. Returns once the reload is done (logged, and a new TLS connection accepted).
    public func reload(timeout: Duration = .seconds(20)) async throws {
        guard let process = state.withLockedValue({ $0.process }), process.isRunning else {
            throw GatehouseError(.unavailable, "mosquitto is not running:\n\(log)")
        }
        let marker = "Reloading config."
        let before = log.components(separatedBy: marker).count
        process.signal(SIGHUP)
        let deadline = ContinuousClock.now + timeout
        while log.components(separatedBy: marker).count == before {
            guard ContinuousClock.now < deadline, process.isRunning else { throw GatehouseError(.unavailable, "mosquitto did not reload:\n\(log)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        // mosquitto reloads on its one thread before it accepts the next connection.
        guard try await waitUntilAccepting(process: process, deadline: deadline) else {
            throw GatehouseError(.unavailable, "mosquitto does not accept connections after reloading:\n\(log)")
        }
    }

    /// Kills mosquitto and starts it again on the same port with the files as they are now.
    public func restart(timeout: Duration = .seconds(20)) async throws {
        await kill9()
        let port = self.port
        var attempt = 0
        while true {
            attempt += 1
            if try await launch(port: port, timeout: timeout) { return }
            guard log.contains("Address already in use"), attempt < 20 else {
                throw GatehouseError(.unavailable, "mosquitto did not restart on port \(port):\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Kills mosquitto and any subscriber still running with SIGKILL (nothing a child inherited
    /// can delay that) and removes the temporary directory.
    public func stop() async {
        let subscriptions = state.withLockedValue { state in
            defer { state.subscriptions = [] }
            return state.subscriptions
        }
        for subscription in subscriptions { await subscription.cancel() }
        await kill9()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// What mosquitto logged so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Writes `issued` (certificate and key) as files named after `name` for the command-line clients.
    public func identity(_ issued: CertificateAuthority.Issued, name: String) throws -> Identity {
        try Self.writeIdentity(issued, name: name, in: directory)
    }

    /// Publishes `message` to `topic` as `identity` with mosquitto_pub (killed after 10 s), on a
    /// thread of its own. Exit status 0 means the client connected; mosquitto accepts a publish
    /// the ACL denies without error for MQTT 3.1.1, and answers "Not authorized" for MQTT 5
    /// (mosquitto_pub prints a warning and still exits 0).
    public func publish(as identity: Identity, clientId: String, topic: String, message: String, qos: Int = 1,
                        version: ProtocolVersion = .v5) async throws -> (status: Int32, output: String) {
        try await LiveServer.shellAsync("timeout", ["-s", "KILL", "10", "mosquitto_pub"] + connection(identity, clientId: clientId, version: version)
            + ["-t", topic, "-m", message, "-q", String(qos)])
    }

    /// Whether `identity` gets through the TLS handshake and CONNECT (an empty QoS 0 publish to a
    /// topic nobody reads).
    public func connects(as identity: Identity, clientId: String, version: ProtocolVersion = .v5) async throws -> (connected: Bool, output: String) {
        let answer = try await publish(as: identity, clientId: clientId, topic: "probe/\(clientId)", message: "", qos: 0, version: version)
        return (answer.status == 0, answer.output)
    }

    /// Starts mosquitto_sub as `identity` on `topics` in the background; it exits after `count`
    /// messages or `seconds` after connecting (and is killed 5 s later in any case). Returns once
    /// the broker acknowledged the subscription.
    public func subscribe(as identity: Identity, clientId: String, topics: [String], count: Int = 1, seconds: Int = 10,
                          version: ProtocolVersion = .v5) async throws -> Subscription {
        let output = directory + "/sub-\(UUID().uuidString).out"
        guard FileManager.default.createFile(atPath: output, contents: nil) else { throw GatehouseError(.internal, "cannot create \(output)") }
        // stdbuf: line-buffered output, so the SUBACK shows in the file at once.
        let process = try SpawnedProcess(
            ["timeout", "-s", "KILL", String(seconds + 5), "stdbuf", "-oL", "mosquitto_sub"]
                + connection(identity, clientId: clientId, version: version)
                + topics.flatMap { ["-t", $0] } + ["-q", "1", "-C", String(count), "-W", String(seconds), "-d", "-F", "\(Subscription.marker) %t %p"],
            output: output)
        let subscription = Subscription(process: process, outputPath: output)
        state.withLockedValue { $0.subscriptions.append(subscription) }
        try await subscription.waitUntilSubscribed(timeout: .seconds(seconds))
        return subscription
    }

    /// A mosquitto_sub running in the background; its output goes to a file (no pipe that could
    /// outlive it).
    public final class Subscription: @unchecked Sendable {
        static let marker = "MESSAGE"
        let process: SpawnedProcess
        public let outputPath: String

        init(process: SpawnedProcess, outputPath: String) {
            self.process = process
            self.outputPath = outputPath
        }

        /// Everything mosquitto_sub printed so far (debug lines and messages).
        public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

        func waitUntilSubscribed(timeout: Duration) async throws {
            let deadline = ContinuousClock.now + timeout
            while !output.contains("received SUBACK") {
                guard process.isRunning, ContinuousClock.now < deadline else {
                    await cancel()
                    throw GatehouseError(.unavailable, "mosquitto_sub did not subscribe:\n\(output)")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }

        /// Waits until mosquitto_sub exits (its message count reached or its time up) and returns
        /// the messages it received, as (topic, payload), in order.
        public func messages() async throws -> [(topic: String, payload: String)] {
            while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
            return output.split(separator: "\n", omittingEmptySubsequences: true).compactMap { line in
                guard line.hasPrefix(Self.marker + " ") else { return nil }
                let rest = line.dropFirst(Self.marker.count + 1)
                guard let space = rest.firstIndex(of: " ") else { return (String(rest), "") }
                return (String(rest[..<space]), String(rest[rest.index(after: space)...]))
            }
        }

        /// Kills mosquitto_sub and the `timeout` around it (its process group), if still running.
        public func cancel() async {
            process.signalGroup(SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
    }

    // MARK: - Internals

    private func connection(_ identity: Identity, clientId: String, version: ProtocolVersion) -> [String] {
        ["-h", "127.0.0.1", "-p", String(port), "--cafile", caFilePath, "--cert", identity.certificatePath, "--key", identity.keyPath,
         "-i", clientId, "-V", version.rawValue]
    }

    /// Writes the configuration for `port`, starts mosquitto and waits until it accepts TLS
    /// connections; `false` when it exited (the log says why).
    private func launch(port: Int, timeout: Duration) async throws -> Bool {
        var configuration = """
            # Test broker: foreground, no persistence, log to standard error.
            persistence false
            log_dest stderr
            log_type error
            log_type warning
            log_type notice
            log_type information
            connection_messages true

            """
        if geteuid() == 0 { configuration += "user root\n" }  // as root, mosquitto would switch to user `mosquitto`
        configuration += try BrokerFiles.mosquittoListener(port: port, directory: brokerDirectory, certificateFile: serverCertificatePath,
                                                           keyFile: serverKeyPath)
        try Self.writeFile(configuration, to: configurationPath, mode: 0o644)

        guard FileManager.default.createFile(atPath: logPath, contents: nil) else { throw GatehouseError(.internal, "cannot create \(logPath)") }
        let process = try SpawnedProcess([executable, "-c", configurationPath], output: logPath)
        Self.register(process.pid)
        state.withLockedValue {
            $0.port = port
            $0.process = process
        }
        if try await waitUntilAccepting(process: process, deadline: ContinuousClock.now + timeout) { return true }
        await kill9()
        return false
    }

    /// Waits until the probe identity gets through TLS and CONNECT; `false` if mosquitto exits
    /// or the deadline passes.
    private func waitUntilAccepting(process: SpawnedProcess, deadline: ContinuousClock.Instant) async throws -> Bool {
        while ContinuousClock.now < deadline {
            guard process.isRunning else { return false }
            if Self.acceptsTCP(port: port), try await connects(as: probe, clientId: "probe-\(UUID().uuidString.prefix(8))").connected {
                return true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    private func kill9() async {
        guard let process = state.withLockedValue({ $0.process }) else { return }
        process.signal(SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        Self.unregister(process.pid)
        state.withLockedValue { $0.process = nil }
    }

    private static func acceptsTCP(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private static func writeIdentity(_ issued: CertificateAuthority.Issued, name: String, in directory: String) throws -> Identity {
        let base = directory + "/identities/" + name
        let identity = Identity(name: name, certificatePath: base + "-cert.pem", keyPath: base + "-key.pem")
        try writeFile(issued.certificatePEM, to: identity.certificatePath, mode: 0o644)
        try writeFile(issued.privateKeyPEM, to: identity.keyPath, mode: 0o600)
        return identity
    }

    private static func writeFile(_ contents: String, to path: String, mode: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: mode]) else {
            throw GatehouseError(.internal, "cannot write \(path)")
        }
    }

    // Brokers still running when the test process exits (a test that failed before `stop()`)
    // are killed then.
    private static let running = NIOLockedValueBox<Set<pid_t>>([])
    private static let exitHook: Void = {
        atexit {
            Mosquitto.running.withLockedValue { pids in
                for pid in pids { kill(pid, SIGKILL) }
            }
        }
    }()

    private static func register(_ pid: pid_t) {
        _ = exitHook
        running.withLockedValue { _ = $0.insert(pid) }
    }

    private static func unregister(_ pid: pid_t) {
        running.withLockedValue { _ = $0.remove(pid) }
    }
}

/// A child process started with posix_spawn in a process group of its own, with no blocked
/// signals and the default action for the usual ones. Foundation's `Process` passes on the
/// spawning thread's signal mask, and Swift concurrency's threads block SIGHUP, SIGALRM and
/// others: a mosquitto started that way never sees the SIGHUP that should make it reload.
/// Standard input is /dev/null; standard output and error are appended to `output` (no pipe).
final class SpawnedProcess: @unchecked Sendable {
    let pid: pid_t
    private let exited = NIOLockedValueBox(false)

    /// Starts `arguments[0]` (looked up on PATH unless it holds a `/`).
    init(_ arguments: [String], output: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM, SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard result == 0 else { throw GatehouseError(.internal, "cannot start \(arguments[0]): error \(result)") }
        self.pid = pid
    }

    deinit {
        if isRunning { signalGroup(SIGKILL) }
        _ = isRunning  // reap
    }

    /// Whether the child still runs; reaps it once it has exited.
    var isRunning: Bool {
        exited.withLockedValue { exited in
            if exited { return false }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) { exited = true }
            return !exited
        }
    }

    /// Sends `signal` to the child, if it still runs.
    func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Sends `signal` to the child's process group (the child and what it started), if it still runs.
    func signalGroup(_ signal: Int32) {
        if isRunning {
            kill(-pid, signal)
            kill(pid, signal)
        }
    }
}
