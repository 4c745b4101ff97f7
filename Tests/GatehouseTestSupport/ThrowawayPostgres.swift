import Foundation

/// A PostgreSQL server of a test's own, in a temporary directory on a free loopback port,
/// that the test may stop and start again (the shared server of `GATEHOUSE_TEST_DATABASE_URL`
/// must never be restarted). Uses Debian's `postgresql` binaries (initdb, pg_ctl) as
/// `scripts/postgres-env.sh` does; as root they run as the `postgres` system user.
public final class ThrowawayPostgres: @unchecked Sendable {
    /// The directory holding `initdb` and `pg_ctl`, or nil when PostgreSQL is not installed.
    public static let binDirectory: String? = {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { Int($0) }.sorted()
        for version in versions.reversed() where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/pg_ctl") {
            return "\(root)/\(version)/bin"
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(directory)/pg_ctl") && FileManager.default.isExecutableFile(atPath: "\(directory)/initdb") {
            return String(directory)
        }
        return nil
    }()

    /// Why tests that need a PostgreSQL of their own are skipped, shown by the test runner.
    public static let skipReason =
        "SKIPPED: PostgreSQL's server binaries (initdb, pg_ctl) are not installed, so the PostgreSQL restart tests did not run (apt-get install postgresql; .ci/run installs it)"

    public let directory: String
    public let port: Int
    let bin: String
    /// `postgres://postgres@127.0.0.1:<port>/gatehouse_test`.
    public var url: String { "postgres://postgres@127.0.0.1:\(port)/gatehouse_test" }

    /// Creates a cluster, starts it and creates the database `gatehouse_test`.
    public init() async throws {
        guard let bin = Self.binDirectory else { throw ThrowawayPostgresError(message: Self.skipReason) }
        self.bin = bin
        port = LiveServer.freePort()
        directory = try TestDatabases.temporaryDirectory()
        if getuid() == 0 { _ = chown(directory, Self.postgresUser.uid, Self.postgresUser.gid) }
        try await run("initdb", ["-D", directory + "/data", "-A", "trust", "-U", "postgres", "--no-sync"])
        try await start()
        try await run("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "gatehouse_test"])
    }

    /// The running server (`postgres` in the foreground, a child of this process: a server
    /// daemonized by `pg_ctl start` would inherit the descriptor Foundation watches to learn
    /// that a child exited, and `pg_ctl` would never be seen to finish).
    private var server: Process?

    /// Starts the server on its port and waits until it accepts connections.
    public func start() async throws {
        let postgres = [bin + "/postgres", "-D", directory + "/data", "-c", "listen_addresses=127.0.0.1", "-p", String(port), "-k", directory,
                        "-c", "max_connections=200", "-c", "fsync=off"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: getuid() == 0 ? "/usr/sbin/runuser" : postgres[0])
        process.arguments = getuid() == 0 ? ["-u", "postgres", "--"] + postgres : Array(postgres.dropFirst())
        let logPath = directory + "/server.log"
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        _ = try log.seekToEnd()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()
        server = process
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? await run("pg_isready", ["-h", "127.0.0.1", "-p", String(port), "-t", "1"])) == nil {
            guard process.isRunning, ContinuousClock.now < deadline else { throw ThrowawayPostgresError(message: "PostgreSQL did not start:\n\(self.log)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Stops the server: `immediate` kills it as a crash would (recovery runs at the next start),
    /// `fast` disconnects every client and shuts down cleanly.
    public func stop(mode: String = "immediate") async throws {
        try await run("pg_ctl", ["-D", directory + "/data", "-m", mode, "-w", "-t", "30", "stop"])
        let deadline = ContinuousClock.now + .seconds(10)
        while server?.isRunning == true, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        server = nil
    }

    /// Stops the server (if it runs) and removes its directory.
    public func destroy() async {
        if server?.isRunning == true { try? await stop() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The server's log, for failure messages.
    public var log: String { (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "" }

    /// Runs one of PostgreSQL's tools (as `postgres` when root) and waits for it. Its output goes
    /// to a file, not a pipe: the server `pg_ctl start` leaves running would hold a pipe open.
    @discardableResult
    func run(_ tool: String, _ arguments: [String]) async throws -> String {
        let command = [bin + "/" + tool] + arguments
        let output = directory + "/\(tool).out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        if getuid() == 0 { _ = chown(output, Self.postgresUser.uid, Self.postgresUser.gid) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: getuid() == 0 ? "/usr/sbin/runuser" : command[0])
        process.arguments = getuid() == 0 ? ["-u", "postgres", "--"] + command : Array(command.dropFirst())
        process.standardInput = FileHandle.nullDevice
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        process.standardError = handle
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { process.terminationHandler = nil; continuation.resume(throwing: error) }
        }
        try? handle.close()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw ThrowawayPostgresError(message: "\(tool) failed (\(status)): \(text)\n\(log)") }
        return text
    }

    /// The `postgres` system user's ids (root runs the server as it).
    static let postgresUser: (uid: uid_t, gid: gid_t) = {
        guard let entry = getpwnam("postgres") else { return (0, 0) }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }()
}

/// A throwaway PostgreSQL that could not be made, started or stopped.
public struct ThrowawayPostgresError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
