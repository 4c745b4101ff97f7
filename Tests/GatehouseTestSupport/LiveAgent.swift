import Foundation

/// A real `gatehouse agent` process started by a test. Stop it with ``kill()`` (SIGKILL: test
/// processes ignore SIGTERM, and their children inherit that).
public final class LiveAgent: @unchecked Sendable {
    public let process: Process
    public let port: Int
    public let stateDirectory: String
    public let logPath: String

    /// Starts `gatehouse agent --serial … --server … --state-dir … --port <port>` plus `arguments`;
    /// `input` is written to its standard input (for `--qr-file -`). Fast retries unless `arguments` set them.
    public init(serial: String, server: String, stateDirectory: String, port: Int, arguments: [String] = [], input: String? = nil) throws {
        self.port = port
        self.stateDirectory = stateDirectory
        logPath = try TestDatabases.temporaryDirectory() + "/agent.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = LiveServer.executable
        let retries = arguments.contains("--retry-base-ms") ? [] : ["--retry-base-ms", "50", "--retry-cap-ms", "400"]
        process.arguments = ["agent", "--serial", serial, "--server", server, "--state-dir", stateDirectory, "--port", String(port)] + retries + arguments
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
    }

    /// Starts an agent on a free port and waits until its local API answers; a start that lost
    /// the race for the port is retried.
    public static func start(serial: String, server: String, stateDirectory: String, arguments: [String] = [], input: String? = nil) async throws -> LiveAgent {
        var attempts = 0
        while true {
            attempts += 1
            let agent = try LiveAgent(serial: serial, server: server, stateDirectory: stateDirectory, port: LiveServer.freePort(), arguments: arguments, input: input)
            if try await agent.waitUntilServing() || attempts >= 5 { return agent }
            agent.kill()
            guard agent.log.lowercased().contains("address already in use") else { return agent }
        }
    }

    /// Waits until `GET /agent-status` answers 200 (false when the process ended or the timeout passed).
    public func waitUntilServing(timeout: Duration = .seconds(20)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !process.isRunning { return false }
            if let answer = try? await LiveServer.request(port: port, "GET", "/agent-status"), answer.status == 200 { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// `GET /agent-status`'s JSON.
    public func status() async throws -> [String: Any] {
        try await LiveServer.request(port: port, "GET", "/agent-status").json
    }

    /// Waits until the agent reports `status` (answers whether it did within `timeout`).
    public func waitForStatus(_ status: String, timeout: Duration = .seconds(30)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let answer = try? await self.status(), answer["status"] as? String == status { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Waits until the log contains `text`.
    public func waitForLog(_ text: String, timeout: Duration = .seconds(20)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log.contains(text) { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// The agent's standard output and error (JSON log lines).
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGKILL, and waits for the exit.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Runs `gatehouse agent` with `arguments` to its exit (killed after `timeout`); answers
    /// its exit status (nil when it had to be killed) and its output.
    public static func runToExit(_ arguments: [String], timeout: Duration = .seconds(20)) async throws -> (status: Int32?, output: String) {
        let path = try TestDatabases.temporaryDirectory() + "/run.log"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let process = Process()
        process.executableURL = LiveServer.executable
        process.arguments = ["agent"] + arguments
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        var status: Int32?
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        } else {
            status = process.terminationStatus
        }
        return (status, (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }
}
