import Foundation
import GatehouseTestSupport
import Testing

/// Seed 003 against a real `gatehouse serve`: the vendor's management calls with curl, the
/// device's calls on a raw TCP socket written and read byte by byte, as firmware does.
@Suite("Serial provisioning, live")
struct ProvisioningSeedTests {
    static let vendor = "acme"
    static let form = "Content-Type: application/x-www-form-urlencoded; charset=utf-8"

    static func start() async throws -> (LiveServer, VSaaSLiveClient) {
        let data = try TestDatabases.temporaryDirectory()
        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"],
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        #expect(started.healthy, "\(started.server.stderr)")
        return (started.server, VSaaSLiveClient(port: started.server.port))
    }

    /// A vendor node with a token, and an account under it (key `home-1`) as the owner.
    static func vendorSetup(_ client: VSaaSLiveClient, adminToken: String) async throws -> (token: String, accountId: Int64) {
        let admin = ["Authorization: Bearer \(adminToken)", "Content-Type: application/json"]
        let node = try await client.call("POST", "/v1/tenants", headers: admin, body: #"{"kind":"distributor","parent_id":1,"name":"Acme"}"#)
        let nodeId = try #require((node.json["id"] as? NSNumber)?.int64Value, "\(node.text)")
        let account = try await client.call("POST", "/v1/tenants", headers: admin, body: #"{"kind":"account","parent_id":\#(nodeId),"name":"Home","key":"home-1"}"#)
        let accountId = try #require((account.json["id"] as? NSNumber)?.int64Value, "\(account.text)")
        let vendor = try await client.call("POST", "/v1/tenants/\(nodeId)/vendor", headers: admin, body: #"{"name":"\#(vendor)"}"#)
        #expect(vendor.status == 201, "\(vendor.text)")
        let token = try await client.call("POST", "/v1/tenants/\(nodeId)/vendor-tokens", headers: admin, body: #"{"name":"factory"}"#)
        #expect(token.status == 201, "\(token.text)")
        return (try #require(token.json["token"] as? String), accountId)
    }

    /// What firmware sends to activate: a form body, nothing more.
    static func activateRequest(_ sn: String, model: String = "cam1", extraHeaders: String = "", trailer: String = "") -> String {
        let body = "vendor=\(vendor)&model=\(model)&sn=\(sn)"
        return "POST /provision/activate HTTP/1.1\r\nHost: m2.exosite.com\r\n\(extraHeaders)Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)\(trailer)"
    }

    /// One activation on a fresh socket, reading at most 200 bytes.
    static func activate(_ port: Int, _ sn: String, model: String = "cam1") async throws -> RawHTTPAnswer {
        let connection = try RawHTTPConnection(port: port)
        try await connection.send(activateRequest(sn, model: model))
        return try #require(RawHTTPAnswer(try await connection.read(atMost: 200)))
    }

    /// A device's GET with its CIK on a fresh socket.
    static func deviceGet(_ port: Int, _ target: String, cik: String, extra: String = "", atMost: Int = 65_536) async throws -> RawHTTPAnswer {
        let connection = try RawHTTPConnection(port: port)
        try await connection.send("GET \(target) HTTP/1.1\r\nHost: m2.exosite.com\r\nX-Exosite-CIK: \(cik)\r\n\(extra)\r\n")
        return try #require(RawHTTPAnswer(try await connection.read(atMost: atMost)))
    }

    static func isCIK(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// The seed's flow end to end: model, serials, enable with an owner, activation, content
    /// upload, the device's list, download (whole and by range), re-enable, disable, remove.
    @Test func theSeedFlow() async throws {
        let (server, client) = try await Self.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGTERM) : 0 }
        let (token, accountId) = try await Self.vendorSetup(client, adminToken: try #require(server.adminToken))
        let vendorHeaders = ["X-Exosite-Token: \(token)", Self.form]
        let port = server.port

        #expect(try await client.call("POST", "/provision/manage/model/", headers: vendorHeaders, body: "model=cam1").status == 205)
        #expect(try await client.call("POST", "/provision/manage/model/", headers: vendorHeaders, body: "model=cam1").status == 409)
        #expect(try await client.call("GET", "/provision/manage/model/", headers: vendorHeaders).text == "cam1")
        #expect(try await client.call("POST", "/provision/manage/model/cam1/", headers: vendorHeaders, body: "sn=SN-1&extra=first").status == 205)
        #expect(try await client.call("POST", "/provision/manage/model/cam1/", headers: vendorHeaders, body: "add=true&sn[]=SN-2&sn[]=SN-3").status == 205)
        let csv = try await client.call("POST", "/provision/manage/model/cam1/", headers: ["X-Exosite-Token: \(token)", "Content-Type: text/csv; charset=utf-8"],
                                        body: "SN-4,\"lot 7, line 2\"\r\nSN-5,\r\n")
        #expect(csv.status == 205, "\(csv.text)")
        // A batch naming one serial already present adds none of it.
        #expect(try await client.call("POST", "/provision/manage/model/cam1/", headers: vendorHeaders, body: "sn[]=SN-6&sn[]=SN-1").status == 409)
        #expect(try await client.call("GET", "/provision/manage/model/cam1/SN-6", headers: vendorHeaders).status == 404)
        let list = try await client.call("GET", "/provision/manage/model/cam1/?limit=10", headers: vendorHeaders)
        #expect(list.text == "SN-1,,first\nSN-2,,\nSN-3,,\nSN-4,,\"lot 7, line 2\"\nSN-5,,", "\(list.text)")
        // An unused serial answers 204.
        #expect(try await client.call("GET", "/provision/manage/model/cam1/SN-1", headers: vendorHeaders).status == 204)

        // Not enabled yet: 409; unknown: 404 — literal status lines.
        #expect(try await Self.activate(port, "SN-1").statusLine == "HTTP/1.1 409 Conflict")
        #expect(try await Self.activate(port, "NOPE").statusLine == "HTTP/1.1 404 Not Found")
        #expect(try await Self.activate(port, "SN-1", model: "other").statusLine == "HTTP/1.1 404 Not Found")

        let enabled = try await client.call("POST", "/provision/manage/model/cam1/SN-1", headers: vendorHeaders, body: "enable=true&owner=home-1")
        #expect(enabled.status == 200, "\(enabled.text)")
        let rid = enabled.text
        #expect(Int64(rid) != nil, "the client rid: \(rid)")
        let status = try await client.call("GET", "/provision/manage/model/cam1/?status=true", headers: vendorHeaders)
        #expect(status.text.split(separator: "\n").first == "SN-1,\(rid),first,enabled,home-1", "\(status.text)")

        let first = try await Self.activate(port, "SN-1")
        #expect(first.statusLine == "HTTP/1.1 200 OK")
        #expect(first.header("Content-Type") == "text/plain; charset=utf-8")
        let cik = first.text
        #expect(Self.isCIK(cik), "\(cik)")
        #expect(try await Self.activate(port, "SN-1").statusLine == "HTTP/1.1 409 Conflict")
        #expect(try await client.call("GET", "/provision/manage/model/cam1/SN-1", headers: vendorHeaders).text == "activated,\(rid),first")

        // The owner sees the serial in its portal.
        let held = try await client.call("GET", "/v1/tenants/\(accountId)/serials", headers: ["Authorization: Bearer \(try #require(server.adminToken))"])
        #expect(held.text.contains(#""sn":"SN-1""#) && held.text.contains(#""status":"activated""#), "\(held.text)")

        // Content: a 3 MB firmware image (crosses the store's 1 MiB chunks) and a protected one.
        #expect(try await client.call("POST", "/provision/manage/content/cam1/", headers: vendorHeaders, body: "id=fw-1.2&meta=1.2.0").status == 205)
        #expect(try await client.call("POST", "/provision/manage/content/cam1/", headers: vendorHeaders, body: "id=beta&meta=b&protected=true").status == 205)
        let image = (0..<3_000_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        let file = try TestDatabases.temporaryDirectory() + "/fw.bin"
        try Data(image).write(to: URL(fileURLWithPath: file))
        let upload = try await LiveServer.shellAsync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "X-Exosite-Token: \(token)",
                                                              "-H", "Content-Type: application/x-firmware", "--data-binary", "@\(file)",
                                                              "http://127.0.0.1:\(port)/provision/manage/content/cam1/fw-1.2"])
        #expect(upload.output == "205")
        _ = try await client.call("POST", "/provision/manage/content/cam1/beta", headers: ["X-Exosite-Token: \(token)", "Content-Type: text/plain"], body: "beta")

        let listing = try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1", cik: cik)
        #expect(listing.statusLine == "HTTP/1.1 200 OK")
        #expect(listing.header("Content-Type") == "text/csv; charset=utf-8")
        #expect(listing.text == "fw-1.2", "protected content stays hidden: \(listing.text)")
        let info = try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1&id=fw-1.2&info=true", cik: cik)
        let fields = info.text.split(separator: ",").map(String.init)
        #expect(fields.count == 4 && fields[0] == "application/x-firmware" && fields[1] == "3000000" && fields[3] == "1.2.0", "\(info.text)")

        let whole = try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1&id=fw-1.2", cik: cik, atMost: 3_100_000)
        #expect(whole.statusLine == "HTTP/1.1 200 OK")
        #expect(whole.header("Content-Type") == "application/x-firmware")
        #expect(whole.header("Accept-Ranges") == "bytes")
        #expect(whole.body == image)
        let etag = try #require(whole.header("ETag"))

        // Ranges of each form, across a chunk boundary.
        let middle = try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1&id=fw-1.2", cik: cik, extra: "Range: bytes=1048570-1048600\r\n")
        #expect(middle.statusLine == "HTTP/1.1 206 Partial Content")
        #expect(middle.header("Content-Range") == "bytes 1048570-1048600/3000000")
        #expect(middle.body == Array(image[1_048_570...1_048_600]))
        let tail = try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1&id=fw-1.2", cik: cik, extra: "Range: bytes=-10\r\n")
        #expect(tail.header("Content-Range") == "bytes 2999990-2999999/3000000" && tail.body == Array(image[2_999_990...]))
        let from = try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1&id=fw-1.2", cik: cik, extra: "Range: bytes=2999000-\r\n")
        #expect(from.statusLine == "HTTP/1.1 206 Partial Content" && from.body == Array(image[2_999_000...]))
        let beyond = try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1&id=fw-1.2", cik: cik, extra: "Range: bytes=3000000-\r\n")
        #expect(beyond.statusLine == "HTTP/1.1 416 Range Not Satisfiable")
        #expect(beyond.header("Content-Range") == "bytes */3000000")
        let notModified = try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1&id=fw-1.2", cik: cik, extra: "If-None-Match: \(etag)\r\n")
        #expect(notModified.statusLine == "HTTP/1.1 304 Not Modified" && notModified.body.isEmpty)
        let connection = try RawHTTPConnection(port: port)
        try await connection.send("HEAD /provision/download?vendor=acme&model=cam1&id=fw-1.2 HTTP/1.1\r\nHost: x\r\nX-Exosite-CIK: \(cik)\r\n\r\n")
        let headAnswer = try #require(RawHTTPAnswer(try await connection.read(atMost: 4096, timeout: 3) { RawHTTPAnswer($0) != nil }))
        #expect(headAnswer.statusLine == "HTTP/1.1 200 OK" && headAnswer.header("Content-Length") == "3000000" && headAnswer.body.isEmpty)

        // A device sees protected content once it shares a group with it.
        #expect(try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1&id=beta", cik: cik).statusLine == "HTTP/1.1 404 Not Found")
        #expect(try await client.call("POST", "/provision/manage/group/cam1/", headers: vendorHeaders, body: "id=testers&meta=early").status == 205)
        #expect(try await client.call("POST", "/provision/manage/group/cam1/testers/", headers: vendorHeaders, body: "type=sn&id=SN-1").status == 205)
        #expect(try await client.call("POST", "/provision/manage/group/cam1/testers/", headers: vendorHeaders, body: "type=content&id=beta").status == 205)
        #expect(try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1", cik: cik).text == "beta\nfw-1.2")
        #expect(try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1&id=beta", cik: cik).text == "beta")
        #expect(try await client.call("GET", "/provision/manage/content/cam1/?sn=SN-2", headers: vendorHeaders).text == "fw-1.2")

        // A CIK of another vendor or model, or none, is refused.
        #expect(try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam2", cik: cik).statusLine == "HTTP/1.1 403 Forbidden")
        #expect(try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1", cik: String(repeating: "0", count: 40)).statusLine == "HTTP/1.1 403 Forbidden")

        // Re-enable: the next activation issues a new CIK and the old one stops working.
        #expect(try await client.call("POST", "/provision/manage/model/cam1/SN-1", headers: vendorHeaders, body: "enable=true").status == 205)
        #expect(try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1", cik: cik).statusLine == "HTTP/1.1 403 Forbidden")
        let again = try await Self.activate(port, "SN-1")
        #expect(again.statusLine == "HTTP/1.1 200 OK" && Self.isCIK(again.text) && again.text != cik)
        #expect(try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1", cik: again.text).statusLine == "HTTP/1.1 200 OK")

        // Disable: the CIK stops working and the serial may not activate until enabled again.
        #expect(try await client.call("POST", "/provision/manage/model/cam1/SN-1", headers: vendorHeaders, body: "disable=true").status == 205)
        #expect(try await Self.deviceGet(port, "/provision/download?vendor=acme&model=cam1", cik: again.text).statusLine == "HTTP/1.1 403 Forbidden")
        #expect(try await Self.activate(port, "SN-1").statusLine == "HTTP/1.1 409 Conflict")
        #expect(try await client.call("GET", "/provision/manage/model/cam1/SN-1", headers: vendorHeaders).text == "disabled,\(rid),first")

        // The log tells the story, oldest first.
        let log = try await client.call("GET", "/provision/manage/model/cam1/SN-1?show=log", headers: vendorHeaders)
        let entries = log.text.split(separator: "\n").map { $0.split(separator: ",", maxSplits: 2).last.map(String.init) ?? "" }
        #expect(entries.first?.hasPrefix("activation refused") == true, "\(log.text)")
        #expect(entries.contains { $0.hasPrefix("enabled for owner home-1") } && entries.contains { $0.hasPrefix("re-enabled for owner home-1") }, "\(log.text)")
        #expect(entries.filter { $0 == "activated" }.count == 2 && entries.contains("disabled"), "\(log.text)")

        // Remove: the serial and its device go; activation answers 404.
        #expect(try await client.call("DELETE", "/provision/manage/model/cam1/SN-1", headers: vendorHeaders).status == 205)
        #expect(try await Self.activate(port, "SN-1").statusLine == "HTTP/1.1 404 Not Found")
        let devices = try await client.call("GET", "/v1/devices?tenant_id=\(accountId)", headers: ["Authorization: Bearer \(try #require(server.adminToken))"])
        #expect(!devices.text.contains("cam1 SN-1"), "\(devices.text)")
    }

    /// Old firmware: it reads at most 200 bytes, matches the status line literally and takes
    /// what follows the blank line as the CIK; it may send an empty `X-Exosite-CIK:` header
    /// and an extra CRLF after the body, and keeps the connection for its next request.
    @Test func oldFirmwareQuirks() async throws {
        let (server, client) = try await Self.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGTERM) : 0 }
        let (token, _) = try await Self.vendorSetup(client, adminToken: try #require(server.adminToken))
        let vendorHeaders = ["X-Exosite-Token: \(token)", Self.form]
        _ = try await client.call("POST", "/provision/manage/model/", headers: vendorHeaders, body: "model=cam1")
        _ = try await client.call("POST", "/provision/manage/model/cam1/", headers: vendorHeaders, body: "sn[]=OLD-1&sn[]=OLD-2")
        for sn in ["OLD-1", "OLD-2"] {
            #expect(try await client.call("POST", "/provision/manage/model/cam1/\(sn)", headers: vendorHeaders, body: "enable=true&owner=home-1").status == 200)
        }

        let connection = try RawHTTPConnection(port: server.port)
        try await connection.send(Self.activateRequest("OLD-1", extraHeaders: "X-Exosite-CIK:\r\n", trailer: "\r\n"))
        // At most 200 bytes are read, as the firmware does; the whole answer must be among them
        // (a read that has not seen the whole answer by its 200th byte fails here).
        let bytes = try await connection.read(atMost: 200, timeout: 5)
        #expect(bytes.count <= 200)
        let answer = try #require(RawHTTPAnswer(bytes), "no whole head in \(bytes.count) bytes")
        #expect(answer.statusLine == "HTTP/1.1 200 OK")
        #expect(answer.contentLength == 40 && answer.body.count == 40, "the answer is \(answer.headSize + answer.body.count) bytes")
        #expect(Self.isCIK(answer.text), "after the blank line: \(answer.text)")
        #expect(answer.header("X-Request-Id") == nil)

        // The stray CRLF did not break the connection: the next request on it is answered.
        try await connection.send(Self.activateRequest("OLD-2", extraHeaders: "X-Exosite-CIK: \r\n", trailer: "\r\n"))
        let second = try #require(RawHTTPAnswer(try await connection.read(atMost: 200)))
        #expect(second.statusLine == "HTTP/1.1 200 OK" && Self.isCIK(second.text) && second.text != answer.text)
        try await connection.send("GET /timestamp HTTP/1.1\r\nHost: m2.exosite.com\r\n\r\n")
        let time = try #require(RawHTTPAnswer(try await connection.read(atMost: 200)))
        #expect(time.statusLine == "HTTP/1.1 200 OK")
        let now = Int64(Date().timeIntervalSince1970)
        #expect(Int64(time.text).map { abs($0 - now) < 60 } == true, "\(time.text)")

        // Refusals are as short and as literal.
        let refused = try await Self.activate(server.port, "OLD-1")
        #expect(refused.statusLine == "HTTP/1.1 409 Conflict" && refused.headSize + refused.body.count <= 200)
        #expect(refused.header("Content-Type") == "text/plain; charset=utf-8")
    }
}
