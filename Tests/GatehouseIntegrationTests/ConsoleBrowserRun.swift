import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// What the console's browser tests share: a real `gatehouse serve` on a fresh data directory
/// (the setup of ``ConsoleRoleBrowserTests``), and running one `Tests/Browser/*.py` flow against it
/// with Debian's Python, Selenium and headless Chromium, its screenshots under
/// `.build/test-artifacts/<name>/`, its last output line read as JSON.
struct ConsoleBrowserRun {
    let server: LiveServer
    var port: Int { server.port }
    /// Headers of a platform-admin API call.
    let admin: [String: String]

    /// Checks the browser tooling and starts a server; the caller kills it (`defer { run.stop() }`).
    static func start() async throws -> ConsoleBrowserRun {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver"), "chromedriver is missing: apt-get install chromium-driver")
        let selenium = try await LiveServer.shellAsync(ConsoleBrowserTests.python, ["-c", "import selenium"])
        try #require(selenium.status == 0, "python3-selenium is missing (apt-get install python3-selenium): \(selenium.output)")
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"],
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        if !started.healthy { kill(started.server.process.processIdentifier, SIGKILL) }
        try #require(started.healthy, "\(started.server.stderr)")
        return ConsoleBrowserRun(server: started.server,
                                 admin: ["Authorization": "Bearer \(try #require(started.server.adminToken))", "Content-Type": "application/json"])
    }

    func stop() { kill(server.process.processIdentifier, SIGKILL) }

    /// An API call as the platform admin.
    func admin(_ method: String, _ path: String, _ body: String? = nil) async throws -> (status: Int, json: [String: Any], text: String) {
        try await ConsoleBrowserTests.call(port, method, path, headers: admin, body: body)
    }

    /// Runs `Tests/Browser/<script>` with `CONSOLE_BASE_URL`, `CONSOLE_ARTIFACTS` and `environment`;
    /// records a failure with its output and the server's log unless it exits 0 reporting `ok`;
    /// answers the JSON it printed last.
    func flow(_ script: String, artifacts name: String, environment: [String: String]) async throws -> [String: Any] {
        let artifacts = ConsoleBrowserTests.root + "/.build/test-artifacts/" + name
        try? FileManager.default.removeItem(atPath: artifacts)
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        print("\(script): screenshots in \(artifacts)")
        let variables = ["CONSOLE_BASE_URL=http://127.0.0.1:\(port)", "CONSOLE_ARTIFACTS=\(artifacts)"]
            + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let run = try await LiveServer.shellAsync("env", variables + [ConsoleBrowserTests.python, ConsoleBrowserTests.root + "/Tests/Browser/" + script])
        let report = run.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(run.status == 0, "\(script) failed (screenshots in \(artifacts)):\n\(run.output)\nserver log:\n\(server.stderr.suffix(3000))")
        let json = (try? JSONSerialization.jsonObject(with: Data(report.utf8))) as? [String: Any] ?? [:]
        #expect(json["ok"] as? Bool == true, "\(run.output)")
        return json
    }
}
