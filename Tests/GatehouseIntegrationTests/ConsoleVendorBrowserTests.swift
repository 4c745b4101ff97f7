import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// The vendor and application developer pages in a real browser: a real `gatehouse serve` and
/// `Tests/Browser/console_vendor_flow.py` driving Debian's headless Chromium as a user of a
/// vendor node with `manage_clients`: create a model, a rejected CSV (its rows listed, the
/// file kept), a CSV of 20,000 serials uploaded with its progress shown, a firmware file, then
/// an application with a generated key pair. Screenshots go to `.build/test-artifacts/console-vendor/`.
@Suite("Console vendor and developer pages in headless Chromium", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)),
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"),
                "SKIPPED: Chromium is not installed; apt-get install chromium chromium-driver python3-selenium (.ci/run does)"))
struct ConsoleVendorBrowserTests {
    @Test func aVendorUploadsSerialsAndADeveloperGetsAKeyPairInChromium() async throws {
        let run = try await ConsoleBrowserRun.start()
        defer { run.stop() }
        let node = try await run.admin("POST", "/v1/tenants", #"{"kind":"distributor","parent_id":1,"name":"Acme Devices"}"#)
        let nodeId = try #require((node.json["id"] as? NSNumber)?.int64Value, "\(node.text)")
        #expect(try await run.admin("POST", "/v1/tenants/\(nodeId)/vendor", #"{"name":"acme"}"#).status == 201)
        let user = try await run.admin("POST", "/v1/users", #"{"tenant_id":\#(nodeId),"email":"vendor@acme.example","name":"Vendor","password":"correct horse","permissions":["manage_clients"]}"#)
        #expect(user.status == 201, "\(user.text)")

        let json = try await run.flow("console_vendor_flow.py", artifacts: "console-vendor", environment: [
            "CONSOLE_EMAIL": "vendor@acme.example", "CONSOLE_PASSWORD": "correct horse", "CONSOLE_SERIALS": "20000",
        ])
        #expect((json["screenshots"] as? [String])?.count ?? 0 >= 8)
        // The page showed the upload going up before the result came.
        let progress = json["progress"] as? [Int] ?? []
        #expect(progress.contains { $0 > 0 && $0 < 100 }, "progress values seen: \(progress)")

        // What the browser did is what the server holds: the serials, the firmware, the application's key.
        let token = try await run.admin("POST", "/v1/tenants/\(nodeId)/vendor-tokens", #"{"name":"check"}"#)
        let vendor = ["X-Exosite-Token": try #require(token.json["token"] as? String)]
        for sn in ["BR-00000", "BR-19999"] {
            #expect(try await ConsoleBrowserTests.call(run.port, "GET", "/provision/manage/model/browser-cam/\(sn)", headers: vendor).status == 204, "\(sn)")
        }
        #expect(try await ConsoleBrowserTests.call(run.port, "GET", "/provision/manage/model/browser-cam/BAD", headers: vendor).status == 404)
        let firmware = try await ConsoleBrowserTests.call(run.port, "GET", "/provision/manage/content/browser-cam/fw-1.0.0", headers: vendor)
        #expect(firmware.text.hasPrefix("application/octet-stream,\(json["firmware_size"] as? Int ?? -1),"), "\(firmware.text)")
        let applications = try await run.admin("GET", "/v1/tenants/\(nodeId)/applications")
        let application = try #require((applications.json["items"] as? [[String: Any]])?.first, "\(applications.text)")
        #expect(application["name"] as? String == "Browser app" && application["redirect_urls"] as? [String] == ["https://app.example/back"])
        let privateKey = try RSAPrivateKey(pem: try #require(json["private_key"] as? String))
        #expect(try RSAPublicKey(pem: try #require(application["public_key"] as? String)).pemRepresentation == privateKey.publicKey.pemRepresentation)
    }
}
