import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// The role pages of the console in a real browser: a real `gatehouse serve`, and
/// `Tests/Browser/console_operator_flow.py` driving Debian's headless Chromium through Selenium
/// as the platform operator (the tenant tree: a rejected form, create a node, switch a feature,
/// disable the node, phone width; then create an organization and its preset, add a webhook to
/// the new node, revoke a super-admin certificate issued by `gatehouse cert issue-superadmin`). Screenshots go to `.build/test-artifacts/console-operator/`.
@Suite("Console role pages in headless Chromium", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)),
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"),
                "SKIPPED: Chromium is not installed; apt-get install chromium chromium-driver python3-selenium (.ci/run does)"))
struct ConsoleRoleBrowserTests {
    @Test func thePlatformOperatorManagesTheTreeInChromium() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver"), "chromedriver is missing: apt-get install chromium-driver")
        let selenium = try await LiveServer.shellAsync(ConsoleBrowserTests.python, ["-c", "import selenium"])
        try #require(selenium.status == 0, "python3-selenium is missing (apt-get install python3-selenium): \(selenium.output)")

        let data = try TestDatabases.temporaryDirectory() + "/data"
        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"],
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        let server = started.server
        defer { kill(server.process.processIdentifier, SIGKILL) }
        try #require(started.healthy, "\(server.stderr)")
        let port = server.port
        let admin = ["Authorization": "Bearer \(try #require(server.adminToken))", "Content-Type": "application/json"]
        let user = try await ConsoleBrowserTests.call(port, "POST", "/v1/users", headers: admin, body:
            #"{"tenant_id":1,"email":"ops@platform.example","name":"Ops","password":"correct horse","permissions":["manage_tenants"]}"#)
        #expect(user.status == 201, "\(user.text)")

        // A super-admin certificate issued by the real CLI, for the browser to revoke.
        let keys = try TestDatabases.temporaryDirectory()
        let issued = try await LiveServer.shellAsync("env", ["GATEHOUSE_DATA_DIR=\(data)", LiveServer.executable.path, "cert", "issue-superadmin",
                                                             "--name", "browser-admin", "--out", keys])
        try #require(issued.status == 0, "\(issued.output)")
        let line = issued.output.split(separator: "\n").first { $0.hasPrefix("issued super-admin certificate ") }
        let serial = try #require(line?.split(separator: " ").dropFirst(3).first.map(String.init), "\(issued.output)")

        let artifacts = ConsoleBrowserTests.root + "/.build/test-artifacts/console-operator"
        try? FileManager.default.removeItem(atPath: artifacts)
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        print("console operator browser test: screenshots in \(artifacts)")
        let script = ConsoleBrowserTests.root + "/Tests/Browser/console_operator_flow.py"
        let environment = ["CONSOLE_BASE_URL=http://127.0.0.1:\(port)", "CONSOLE_EMAIL=ops@platform.example", "CONSOLE_PASSWORD=correct horse",
                           "CONSOLE_ARTIFACTS=\(artifacts)", "CONSOLE_CERT_SERIAL=\(serial)"]
        let run = try await LiveServer.shellAsync("env", environment + [ConsoleBrowserTests.python, script])
        let report = run.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(run.status == 0, "console_operator_flow.py failed (screenshots in \(artifacts)):\n\(run.output)\nserver log:\n\(server.stderr.suffix(3000))")
        let json = (try? JSONSerialization.jsonObject(with: Data(report.utf8))) as? [String: Any] ?? [:]
        #expect(json["ok"] as? Bool == true, "\(run.output)")
        #expect((json["screenshots"] as? [String])?.count ?? 0 >= 10)

        // What the browser did is what the server holds: the distributor exists, disabled, with its feature on.
        let tenants = try await ConsoleBrowserTests.call(port, "GET", "/v1/tenants?parent_id=1", headers: admin)
        let node = try #require((tenants.json["items"] as? [[String: Any]])?.first { $0["name"] as? String == "Browser Distribution" }, "\(tenants.text)")
        #expect(node["kind"] as? String == "distributor" && node["enabled"] as? Bool == false && node["key"] as? String == "browser-dist")
        let id = try #require((node["id"] as? NSNumber)?.int64Value)
        let features = try await ConsoleBrowserTests.call(port, "GET", "/v1/tenants/\(id)/features", headers: admin)
        #expect(features.text.contains(#""enabled":true"#), "\(features.text)")

        // The organization and its preset, the distributor's webhook, the revoked certificate.
        let organization = try #require((tenants.json["items"] as? [[String: Any]])?.first { $0["name"] as? String == "Browser Organization" }, "\(tenants.text)")
        #expect(organization["kind"] as? String == "account")
        let organizationId = try #require((organization["id"] as? NSNumber)?.int64Value)
        let presets = try await ConsoleBrowserTests.call(port, "GET", "/v1/tenants/\(organizationId)/presets", headers: admin)
        let preset = (presets.json["items"] as? [[String: Any]])?.first
        #expect(preset?["title"] as? String == "Porch" && preset?["settings"] as? [String: String] == ["fps": "15"], "\(presets.text)")
        let webhooks = try await withDatabase(.sqlite(path: data + "/gatehouse.sqlite"), logger: TestDatabases.logger) { database in
            try await SQLStore(database: database).webhooks(operatorId: id)
        }
        #expect(webhooks.map(\.url) == ["https://hooks.example/browser"] && webhooks.first?.events == [.cameraActivated, .cameraDeactivated])
        let listed = try await LiveServer.shellAsync("env", ["GATEHOUSE_DATA_DIR=\(data)", LiveServer.executable.path, "cert", "list"])
        #expect(listed.output.split(separator: "\n").contains { $0.hasPrefix(Substring(serial.lowercased())) && $0.hasSuffix("revoked") }, "\(listed.output)")
        let crl = try await LiveServer.shellAsync("sh", ["-c", "curl -sf http://127.0.0.1:\(port)/pki/crl | openssl crl -inform DER -noout -text"])
        #expect(crl.status == 0 && crl.output.uppercased().contains("SERIAL NUMBER: " + serial.uppercased()), "\(crl.output)")
    }
}
