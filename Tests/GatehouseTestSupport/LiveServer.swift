import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `gatehouse` process started by a test, and a small HTTP client for it.
public final class LiveServer: @unchecked Sendable {
    public let process: Process
    public let port: Int
    public let dataDirectory: String
    public let stdoutPath: String
    public let stderrPath: String

    /// The `gatehouse` executable built beside the test bundle.
    public static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("gatehouse")
    }

    /// A free TCP port on 127.0.0.1.
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `shell` on a thread of its own, so that a test making many calls never holds one of the
    /// few threads Swift concurrency runs every task on (the servers in-process tests talk to
    /// need them too).
    public static func shellAsync(_ command: String, _ arguments: [String], input: String? = nil) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try shell(command, arguments, input: input) })
            }
        }
    }

    /// Runs a tool from PATH (curl, openssl, …) with standard input `input`; answers its exit status and combined output.
    public static func shell(_ command: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs `gatehouse` with `arguments` and `environment` added to this process's; waits for the exit.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }

    /// Starts `gatehouse serve` with `arguments` and `environment`; `port` is where it should answer.
    public init(arguments: [String], environment: [String: String], port: Int, dataDirectory: String) throws {
        self.port = port
        self.dataDirectory = dataDirectory
        let logs = try TestDatabases.temporaryDirectory()
        stdoutPath = logs + "/stdout"
        stderrPath = logs + "/stderr"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Process()
        process.executableURL = Self.executable
        // The REST gateway's default port (8443) would be shared by every test's server.
        process.arguments = ["serve"] + arguments + (arguments.contains("--rest-gateway-port") ? [] : ["--rest-gateway-port", "0"])
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    /// Starts a server on fresh free ports (`make` gets the main and the admin port) and waits
    /// until it is healthy. Free ports are picked before the server binds them, so another test
    /// starting at the same moment can take one first; a start that lost that race is retried.
    public static func startHealthy(_ make: (_ port: Int, _ adminPort: Int) throws -> LiveServer) async throws -> (server: LiveServer, healthy: Bool, adminPort: Int) {
        var attempts = 0
        while true {
            attempts += 1
            let adminPort = freePort()
            let server = try make(freePort(), adminPort)
            let healthy = try await server.waitUntilHealthy()
            let lostRace = server.stderr.lowercased().contains("address already in use")
            if (healthy && !lostRace) || !lostRace || attempts >= 5 { return (server, healthy, adminPort) }
            _ = try await server.stop()
        }
    }

    /// Waits until /healthz answers 200 (or the timeout passes).
    public func waitUntilHealthy(timeout: Duration = .seconds(30)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !process.isRunning { return false }
            if let answer = try? await request("GET", "/healthz"), answer.status == 200 { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Sends SIGTERM (or `signal`) and waits for the exit; returns the exit status, or nil on timeout.
    /// Stops the server with `signal` and answers its exit status (nil: still running after
    /// `timeout`, then killed). A graceful stop on a loaded two-core machine can take a while,
    /// hence 30 s. Anything but 0 after SIGTERM prints the server's last log lines, so that a
    /// failing check says why.
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(30)) async throws -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, signal)
        let started = ContinuousClock.now
        let deadline = started + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let status: Int32? = process.isRunning ? nil : process.terminationStatus
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        if signal == SIGTERM, status != 0 {
            print("LiveServer.stop: exit status \(status.map(String.init) ?? "none (still running after \(timeout), killed)") after \(ContinuousClock.now - started); "
                  + "last log lines:\n\(stderr.suffix(3000))")
        }
        return status
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// The admin token this node wrote at bootstrap, if it made it.
    public var adminToken: String? {
        (try? String(contentsOfFile: dataDirectory + "/admin-token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public struct Answer: Sendable {
        public let status: Int
        public let body: Data
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One HTTP request to this server.
    public func request(_ method: String, _ path: String, token: String? = nil, json: String? = nil) async throws -> Answer {
        try await Self.request(port: port, method, path, token: token, json: json)
    }

    /// A POST with an `application/x-www-form-urlencoded` body.
    public func form(_ path: String, _ body: String) async throws -> Answer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        request.timeoutInterval = 10
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// One HTTP request to 127.0.0.1:`port`.
    public static func request(port: Int, _ method: String, _ path: String, token: String? = nil, json: String? = nil) async throws -> Answer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 10
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }
}
