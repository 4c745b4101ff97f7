import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The console in a real browser: a real `gatehouse serve`, and `Tests/Browser/console_flow.py`
/// driving Debian's headless Chromium through Selenium (sign in, add a camera and decode its
/// QR image, activate it, "+ Connection", revoke an endpoint, delete the camera, phone width,
/// sign out). Screenshots are kept under `.build/test-artifacts/console/`.
@Suite("Console in headless Chromium", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)),
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"),
                "SKIPPED: Chromium is not installed; apt-get install chromium chromium-driver python3-selenium (.ci/run does)"))
struct ConsoleBrowserTests {
    /// The package's root directory, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Debian's Python (which has python3-selenium), else the first on PATH.
    static var python: String { FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3" }

    /// One HTTP request with any headers; answers the status and the JSON body.
    static func call(_ port: Int, _ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil) async throws
        -> (status: Int, json: [String: Any], text: String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 10
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body.map { Data($0.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:],
                String(decoding: data, as: UTF8.self))
    }

    @Test func anEndUserManagesItsDevicesInChromium() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver"), "chromedriver is missing: apt-get install chromium-driver")
        let selenium = try await LiveServer.shellAsync(Self.python, ["-c", "import selenium"])
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

        // The account: under a reseller (its operator), with a user and a camera preset.
        let reseller = try await Self.call(port, "POST", "/v1/tenants", headers: admin, body: #"{"kind":"reseller","parent_id":1,"name":"Res"}"#)
        let resellerId = try #require((reseller.json["id"] as? NSNumber)?.int64Value, "\(reseller.text)")
        let account = try await Self.call(port, "POST", "/v1/tenants", headers: admin, body: #"{"kind":"account","parent_id":\#(resellerId),"name":"Home"}"#)
        let accountId = try #require((account.json["id"] as? NSNumber)?.int64Value, "\(account.text)")
        let user = try await Self.call(port, "POST", "/v1/users", headers: admin,
                                       body: #"{"tenant_id":\#(accountId),"email":"owner@home.example","name":"Owner","password":"correct horse","permissions":[]}"#)
        #expect(user.status == 201, "\(user.text)")
        #expect(try await Self.call(port, "POST", "/v1/tenants/\(accountId)/presets", headers: admin, body: #"{"title":"Indoor","settings":{}}"#).status == 201)

        // An endpoint onboarded into the account through the API, for the browser to revoke.
        let developer = try await Self.call(port, "POST", "/v1/tenants", headers: admin, body: #"{"kind":"distributor","parent_id":1,"name":"Dev"}"#)
        let developerId = try #require((developer.json["id"] as? NSNumber)?.int64Value)
        let application = try await Self.call(port, "POST", "/v1/tenants/\(developerId)/applications", headers: admin,
                                              body: #"{"name":"Field app","generate_key_pair":true}"#)
        let applicationId = try #require(application.json["application_id"] as? String, "\(application.text)")
        let key = try RSAPrivateKey(pem: try #require(application.json["private_key"] as? String))
        let version = try await Self.call(port, "POST", "/v1/applications/\(applicationId)/versions", headers: admin,
                                          body: #"{"name":"1.0","status":"certified","cu_onboarding":false}"#)
        let versionId = try #require(version.json["certification_version_id"] as? String, "\(version.text)")
        let code = try #require(try await Self.call(port, "POST", "/v1/tenants/\(accountId)/registration-codes", headers: admin).json["code"] as? String)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamp = formatter.string(from: Date().addingTimeInterval(-5))
        let body = #"{"id":"urn:browser:endpoint-1","applicationId":"\#(applicationId)","certificationVersionId":"\#(versionId)","gatewayId":"3","certificateType":"PEM","UTCTimestamp":"\#(stamp)","timeZone":"+00:00"}"#
        let onboarded = try await Self.call(port, "POST", "/api/v1.0/registration/onboard/request", headers: [
            "Authorization": "Bearer \(code)", "Content-Type": "application/json", "X-Agrirouter-ApplicationId": applicationId,
            "X-Agrirouter-Signature": try RequestSignature.sign(body: Array(body.utf8), privateKey: key)], body: body)
        #expect(onboarded.status == 201, "\(onboarded.text)")

        let artifacts = Self.root + "/.build/test-artifacts/console"
        try? FileManager.default.removeItem(atPath: artifacts)
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        print("console browser test: screenshots in \(artifacts)")
        let script = Self.root + "/Tests/Browser/console_flow.py"
        let environment = [
            "CONSOLE_BASE_URL=http://127.0.0.1:\(port)", "CONSOLE_EMAIL=owner@home.example", "CONSOLE_PASSWORD=correct horse",
            "CONSOLE_ENDPOINT=urn:browser:endpoint-1", "CONSOLE_ARTIFACTS=\(artifacts)",
        ]
        let run = try await LiveServer.shellAsync("env", environment + [Self.python, script])
        let report = run.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(run.status == 0, "console_flow.py failed (screenshots in \(artifacts)):\n\(run.output)\nserver log:\n\(server.stderr.suffix(3000))")
        let json = (try? JSONSerialization.jsonObject(with: Data(report.utf8))) as? [String: Any] ?? [:]
        #expect(json["ok"] as? Bool == true, "\(run.output)")
        // The QR image the browser showed decoded to the seed's three lines.
        let payload = try #require(json["payload"] as? String, "\(run.output)")
        let token = try #require(json["token"] as? String)
        #expect(payload == "Café Net\npw:1;2 \"x\"\n\(resellerId):\(token)")
        #expect((json["screenshots"] as? [String])?.count ?? 0 >= 10)

        // What the browser did is what the server holds: the endpoint revoked, no camera left.
        let endpoints = try await Self.call(port, "GET", "/v1/tenants/\(accountId)/endpoints", headers: admin)
        #expect(((endpoints.json["items"] as? [[String: Any]])?.first?["status"] as? String) == "revoked", "\(endpoints.text)")
        let devices = try await Self.call(port, "GET", "/v1/devices?tenant_id=\(accountId)", headers: admin)
        #expect(!((devices.json["items"] as? [[String: Any]]) ?? []).contains { $0["kind"] as? String == "camera" }, "\(devices.text)")
    }
}
