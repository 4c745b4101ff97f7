import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// Malformed wire input to every surface of a live `gatehouse serve`, sent byte for byte over
/// a raw socket: truncated and invalid JSON, bad base64 tokens, huge headers and bodies, wrong
/// content types, invalid UTF-8, injection attempts in ids and search parameters, bad PEM and
/// signatures of the wrong length. Each gets a clear 4xx in that surface's own error format —
/// never a 5xx, a hang or a crash — and nothing is written. (The /v1 routes one by one are in
/// `BadInputTests`; this suite covers the other surfaces and the HTTP layer under all of them.)
@Suite("Hostile input on every surface", .serialized)
struct HostileInputTests {
    /// The error format of a surface (PROTOCOLS.md, and the OpenAPI document's error section).
    enum Format: String, Sendable {
        /// `{"error":{"code":"…","message":"…","request_id":"…"}}` (/v1, /vsaas, /pki, the device channel, the HTTP layer).
        case gatehouse
        /// RFC 6749: `{"error":"…","error_description":"…"}` (/oauth).
        case oauth
        /// `{"code":<status>,"title":"…","detail":"…"}` (/rest).
        case rest
        /// `{"status":<status>,"errorType":"…","errorDetail":"…"}` (/api/v2–v5, device media uploads).
        case tiered
        /// `text/plain` (serial provisioning).
        case provision
        /// `{"error":{"code":"0100","message":"…","target":"","details":[]}}` (signed onboarding).
        case onboarding
        /// An HTML page (the console, the authorization page).
        case html
    }

    struct Row: Sendable, CustomStringConvertible {
        let name: String
        let request: [UInt8]
        let status: Int
        let format: Format
        var description: String { name }
    }

    /// Credentials and objects the rows refer to.
    struct Fixture: Sendable {
        let admin: String
        let licenseKey: String
        let applicationId: String
        let registrationCode: String
        let session: String
    }

    /// A request: `method path`, header lines, and a body with its Content-Length.
    static func request(_ method: String, _ path: String, _ headers: [String] = [], body: [UInt8] = []) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: gatehouse.test\r\nConnection: close\r\n"
        for header in headers { head += header + "\r\n" }
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) { head += "Content-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + body
    }

    static func request(_ method: String, _ path: String, _ headers: [String] = [], _ body: String) -> [UInt8] {
        request(method, path, headers, body: Array(body.utf8))
    }

    static let json = "Content-Type: application/json"
    static let form = "Content-Type: application/x-www-form-urlencoded"
    /// 0xFF 0xFE: never valid UTF-8.
    static let invalidUTF8: [UInt8] = [0xFF, 0xFE]
    static let injection = "1%27%20OR%20%271%27%3D%271"

    static func rows(_ f: Fixture) -> [Row] {
        let admin = "Authorization: Bearer \(f.admin)"
        let lkey = "Authorization: LKey \(f.licenseKey)"
        let onboard = ["Authorization: Bearer \(f.registrationCode)", json, "X-Agrirouter-ApplicationId: \(f.applicationId)"]
        let stamp = ISO8601DateFormatter().string(from: Date())
        let onboardBody = #"{"id":"urn:hostile:1","applicationId":"\#(f.applicationId)","certificationVersionId":"x","gatewayId":"3","certificateType":"PEM","UTCTimestamp":"\#(stamp)","timeZone":"+00:00"}"#
        // Past every body limit: the configured 4096 bytes, and the fixed 16 KiB of sign-in and
        // 64 KiB of signed onboarding.
        let bigBody = String(repeating: "a", count: 70_000)
        let session = "x-vsaas-session: \(f.session)"
        return [
            // The HTTP layer, before any surface sees the request.
            Row(name: "huge header", request: request("GET", "/healthz", ["X-Filler: " + String(repeating: "a", count: 100_000)]), status: 431, format: .gatehouse),
            Row(name: "many headers", request: request("GET", "/healthz", (0..<1200).map { "X-H\($0): v" }), status: 431, format: .gatehouse),
            Row(name: "invalid UTF-8 in the path", request: Array("GET /v1/tenants/".utf8) + invalidUTF8 + Array(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), status: 400, format: .gatehouse),
            Row(name: "NUL in the request line", request: Array("GET /v1/tenants/1\u{0} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), status: 400, format: .gatehouse),
            Row(name: "not HTTP at all", request: Array("\u{16}\u{3}\u{1}\u{0}\u{0}garbage\r\n\r\n".utf8), status: 400, format: .gatehouse),

            // Agent activation (/vsaas).
            Row(name: "vsaas login: truncated JSON", request: request("POST", "/vsaas/api/v2/auth/login", [json], #"{"login":"#), status: 400, format: .gatehouse),
            Row(name: "vsaas login: invalid UTF-8", request: request("POST", "/vsaas/api/v2/auth/login", [json], body: Array(#"{"login":""#.utf8) + invalidUTF8 + Array(#"","password":"x"}"#.utf8)), status: 400, format: .gatehouse),
            Row(name: "vsaas login: wrong content type", request: request("POST", "/vsaas/api/v2/auth/login", ["Content-Type: text/plain"], #"{"login":"a","password":"b"}"#), status: 415, format: .gatehouse),
            Row(name: "vsaas login: huge body", request: request("POST", "/vsaas/api/v2/auth/login", [json], #"{"login":""# + bigBody + #""}"#), status: 413, format: .gatehouse),
            Row(name: "vsaas organization: injection in the id", request: request("GET", "/vsaas/api/v2/organizations/\(injection)", [session]), status: 400, format: .gatehouse),
            Row(name: "vsaas organization: path traversal", request: request("GET", "/vsaas/api/v2/organizations/..%2F..%2Fetc%2Fpasswd", [session]), status: 400, format: .gatehouse),
            Row(name: "vsaas activation token: very long id", request: request("GET", "/vsaas/api/v2/agent-activation-tokens/" + String(repeating: "A", count: 4000), [session]), status: 404, format: .gatehouse),
            Row(name: "vsaas session: bad token", request: request("GET", "/vsaas/api/v2/organizations", ["x-vsaas-session: %%%not-a-session"]), status: 401, format: .gatehouse),
            Row(name: "agent activate: percent-encoded invalid UTF-8", request: request("POST", "/vsaas/api/v2/agents/activate", [form], "operatorid=1&sign=%FF%FE&serial=x"), status: 400, format: .gatehouse),
            Row(name: "agent activate: injection in the operator id", request: request("POST", "/vsaas/api/v2/agents/activate", [form], "operatorid=\(injection)&sign=AAAA&serial=x"), status: 422, format: .gatehouse),
            Row(name: "agent activate: XML", request: request("POST", "/vsaas/api/v2/agents/activate", ["Content-Type: application/xml"], "<a/>"), status: 415, format: .gatehouse),
            Row(name: "agent status: truncated JSON", request: request("POST", "/vsaas/api/v2/agents/status", [json], #"{"agent_id":1,"#), status: 400, format: .gatehouse),

            // Partner auth: the OAuth token endpoint and /rest.
            Row(name: "oauth: Basic that is not base64", request: request("POST", "/oauth/token?grant_type=password&username=a&password=b", ["Authorization: Basic !!!notbase64"]), status: 401, format: .oauth),
            Row(name: "oauth: Basic of invalid UTF-8", request: request("POST", "/oauth/token?grant_type=password&username=a&password=b", ["Authorization: Basic //79"]), status: 401, format: .oauth),
            Row(name: "oauth: percent-encoded invalid UTF-8", request: request("POST", "/oauth/token", [form], "grant_type=password&username=%FF&password=b&client_id=x&client_secret=y"), status: 400, format: .oauth),
            Row(name: "oauth: JSON body", request: request("POST", "/oauth/token", [json], #"{"grant_type":"password"}"#), status: 415, format: .oauth),
            Row(name: "oauth: huge body", request: request("POST", "/oauth/token", [form], "grant_type=password&username=" + bigBody), status: 413, format: .oauth),
            Row(name: "rest: injection in the e-mail search", request: request("GET", "/rest/v2.2/resellers/self/accounts/all/users?email=%27%20OR%201%3D1--", ["Authorization: Bearer 00000000-0000-4000-8000-000000000000:1"]), status: 401, format: .rest),
            Row(name: "rest: bearer of garbage", request: request("GET", "/rest/v2.2/users/self", ["Authorization: Bearer %%%"]), status: 401, format: .rest),

            // Tiered access (/api/v3–v5).
            Row(name: "tiered: LKey of garbage", request: request("GET", "/api/v3/channels/", ["Authorization: LKey %%%"]), status: 401, format: .tiered),
            Row(name: "tiered: Acc that is not base64", request: request("GET", "/api/v4/channel/", ["Authorization: Acc !!!!"]), status: 401, format: .tiered),
            Row(name: "tiered: Acc of base64 non-JSON", request: request("GET", "/api/v4/channel/", ["Authorization: Acc aGVsbG8="]), status: 401, format: .tiered),
            Row(name: "tiered: Acc of base64 invalid UTF-8", request: request("GET", "/api/v4/channel/", ["Authorization: Acc //79"]), status: 401, format: .tiered),
            Row(name: "tiered: Acc of 8000 characters", request: request("GET", "/api/v4/channel/", ["Authorization: Acc " + String(repeating: "A", count: 8000)]), status: 401, format: .tiered),
            Row(name: "tiered: injection in a channel id", request: request("GET", "/api/v3/channels/\(injection)/", [lkey]), status: 400, format: .tiered),
            Row(name: "tiered: path traversal in a channel id", request: request("GET", "/api/v3/channels/..%2F..%2Fetc/", [lkey]), status: 400, format: .tiered),
            Row(name: "tiered: very long channel id", request: request("GET", "/api/v3/channels/" + String(repeating: "9", count: 400) + "/", [lkey]), status: 400, format: .tiered),
            Row(name: "tiered: truncated JSON", request: request("POST", "/api/v3/channels/", [lkey, json], #"{"name":"#), status: 400, format: .tiered),
            Row(name: "tiered: invalid UTF-8", request: request("POST", "/api/v3/channels/", [lkey, json], body: Array(#"{"name":""#.utf8) + invalidUTF8 + Array(#""}"#.utf8)), status: 400, format: .tiered),
            Row(name: "tiered: wrong content type", request: request("POST", "/api/v3/channels/", [lkey, "Content-Type: text/plain"], #"{"name":"x"}"#), status: 415, format: .tiered),
            Row(name: "tiered: huge body", request: request("POST", "/api/v3/channels/", [lkey, json], #"{"name":""# + bigBody + #""}"#), status: 413, format: .tiered),
            Row(name: "device media: agent id that is not a number", request: request("POST", "/api/v1.0/device/media/images?time=1", ["Authorization: Agent notanumber:xyz", "Content-Type: image/jpeg"], "abc"), status: 401, format: .tiered),

            // Serial provisioning.
            Row(name: "provision activate: invalid UTF-8", request: request("POST", "/provision/activate", [form], body: Array("vendor=".utf8) + invalidUTF8 + Array("&model=m&sn=s".utf8)), status: 404, format: .provision),
            Row(name: "provision activate: NUL in the serial", request: request("POST", "/provision/activate", [form], "vendor=a&model=m&sn=s%00t"), status: 404, format: .provision),
            Row(name: "provision activate: JSON", request: request("POST", "/provision/activate", [json], #"{"vendor":"a"}"#), status: 415, format: .provision),
            Row(name: "provision activate: huge body", request: request("POST", "/provision/activate", [form], "vendor=a&model=m&sn=" + bigBody), status: 413, format: .provision),
            Row(name: "provision download: path traversal", request: request("GET", "/provision/download?vendor=..%2F..&model=..&id=..%2Fetc%2Fpasswd", ["X-Exosite-CIK: " + String(repeating: "0", count: 40)]), status: 403, format: .provision),
            Row(name: "provision manage: injection in the model", request: request("GET", "/provision/manage/model/\(injection)", ["X-Exosite-Token: x"]), status: 401, format: .provision),

            // Signed onboarding.
            Row(name: "onboard: truncated JSON", request: request("POST", "/api/v1.0/registration/onboard/verify", onboard + ["X-Agrirouter-Signature: 00"], #"{"id":"#), status: 400, format: .onboarding),
            Row(name: "onboard: signature of the wrong length", request: request("POST", "/api/v1.0/registration/onboard/request", onboard + ["X-Agrirouter-Signature: abcd"], onboardBody), status: 401, format: .onboarding),
            Row(name: "onboard: signature that is not hex", request: request("POST", "/api/v1.0/registration/onboard/request", onboard + ["X-Agrirouter-Signature: " + String(repeating: "zz", count: 256)], onboardBody), status: 401, format: .onboarding),
            Row(name: "onboard: signature of 4096 bytes", request: request("POST", "/api/v1.0/registration/onboard/verify", onboard + ["X-Agrirouter-Signature: " + String(repeating: "ab", count: 4096)], onboardBody), status: 401, format: .onboarding),
            Row(name: "onboard: wrong content type", request: request("POST", "/api/v1.0/registration/onboard", ["Authorization: Bearer \(f.registrationCode)", "Content-Type: text/plain"], onboardBody), status: 415, format: .onboarding),
            Row(name: "onboard: invalid UTF-8", request: request("POST", "/api/v1.0/registration/onboard", ["Authorization: Bearer \(f.registrationCode)", json], body: Array(#"{"id":""#.utf8) + invalidUTF8 + Array(#""}"#.utf8)), status: 400, format: .onboarding),
            Row(name: "onboard: huge body", request: request("POST", "/api/v1.0/registration/onboard", ["Authorization: Bearer \(f.registrationCode)", json], #"{"id":""# + bigBody + #""}"#), status: 413, format: .onboarding),
            Row(name: "revoke: truncated JSON", request: request("DELETE", "/api/v1.0/registration/onboard/revoke", [json, "X-Agrirouter-ApplicationId: \(f.applicationId)", "X-Agrirouter-Signature: 00"], body: Array(#"{"accountId":"#.utf8)), status: 400, format: .onboarding),

            // /v1: what BadInputTests does not send.
            Row(name: "v1 application: PEM that is not base64", request: request("POST", "/v1/tenants/1/applications", [admin, json], #"{"name":"X","public_key":"-----BEGIN PUBLIC KEY-----\nnot base64!!\n-----END PUBLIC KEY-----\n"}"#), status: 422, format: .gatehouse),
            Row(name: "v1 application: PEM of an EC key", request: request("POST", "/v1/tenants/1/applications", [admin, json], #"{"name":"X","public_key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"}"#), status: 422, format: .gatehouse),
            Row(name: "v1 tenant: invalid UTF-8", request: request("POST", "/v1/tenants", [admin, json], body: Array(#"{"kind":"account","parent_id":1,"name":""#.utf8) + invalidUTF8 + Array(#""}"#.utf8)), status: 400, format: .gatehouse),
            Row(name: "v1 tenant: NUL in the name", request: request("POST", "/v1/tenants", [admin, json], #"{"kind":"account","parent_id":1,"name":"a\u0000b"}"#), status: 422, format: .gatehouse),
            Row(name: "v1 users: injection in the e-mail search", request: request("GET", "/v1/users?email=%27%20OR%201%3D1--", [admin]), status: 422, format: .gatehouse),
            Row(name: "v1 tenants: cursor of invalid UTF-8", request: request("GET", "/v1/tenants?cursor=%FF%FE", [admin]), status: 400, format: .gatehouse),
            Row(name: "pki: path traversal", request: request("GET", "/pki/..%2F..%2Fetc%2Fpasswd"), status: 404, format: .gatehouse),

            // The device channel upgrade.
            Row(name: "device channel: bad WebSocket key", request: request("GET", "/api/v1.0/device/channel", ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: bad", "Sec-WebSocket-Version: 13", "Authorization: Agent x"]), status: 401, format: .gatehouse),
            Row(name: "device channel: injection in the agent id", request: request("GET", "/api/v1.0/device/channel", ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "Authorization: Agent \(injection):x"]), status: 401, format: .gatehouse),
            Row(name: "device channel: CIK of 5000 characters", request: request("GET", "/api/v1.0/device/channel", ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "X-Exosite-CIK: " + String(repeating: "a", count: 5000)]), status: 401, format: .gatehouse),

            // The console's forms and the authorization page.
            Row(name: "console sign-in: JSON", request: request("POST", "/console/sign-in", [json], #"{"email":"a"}"#), status: 415, format: .html),
            Row(name: "console sign-in: huge body", request: request("POST", "/console/sign-in", [form], "email=" + String(repeating: "a", count: 200_000)), status: 413, format: .html),
            Row(name: "authorization page: injection in the application id", request: request("GET", "/application/\(injection)/authorize?response_type=onboard&state=%FF"), status: 400, format: .html),
        ]
    }

    /// Whether `answer` is an error in `format` with its status.
    static func formatProblem(_ answer: RawHTTPAnswer, _ format: Format, status: Int) -> String? {
        let contentType = answer.header("Content-Type") ?? ""
        let object = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any] ?? [:]
        let nested = object["error"] as? [String: Any] ?? [:]
        switch format {
        case .gatehouse:
            return contentType.hasPrefix("application/json") && nested["code"] is String && nested["message"] is String ? nil : "not a Gatehouse JSON error"
        case .oauth:
            return contentType.hasPrefix("application/json") && object["error"] is String && object["error_description"] is String ? nil : "not an RFC 6749 error"
        case .rest:
            return (object["code"] as? NSNumber)?.intValue == status && object["title"] is String && object["detail"] is String ? nil : "not a /rest error"
        case .tiered:
            return (object["status"] as? NSNumber)?.intValue == status && object["errorType"] is String && object["errorDetail"] is String ? nil : "not a tiered error"
        case .provision:
            return contentType.hasPrefix("text/plain") && !answer.body.isEmpty ? nil : "not a provisioning text answer"
        case .onboarding:
            let code = nested["code"] as? String ?? ""
            return code.count == 4 && code.allSatisfy(\.isNumber) && nested["details"] is [Any] && nested["target"] is String ? nil : "not an onboarding error"
        case .html:
            return contentType.hasPrefix("text/html") ? nil : "not an HTML page"
        }
    }

    /// Counts of what a request could write: tenants, users, clients, devices, the audit log,
    /// and the license-key account's channels.
    static func counts(_ tiered: TieredLiveClient, _ fixture: Fixture) async throws -> [Int] {
        var counts: [Int] = []
        for path in ["/v1/tenants", "/v1/users", "/v1/clients", "/v1/devices", "/v1/audit"] {
            let page = try await tiered.server.request("GET", path + "?limit=500", token: fixture.admin)
            counts.append((page.json["items"] as? [Any])?.count ?? -1)
        }
        counts.append(try await tiered.call(.main, "GET", "/api/v3/channels/?limit=500", authorization: "LKey \(fixture.licenseKey)").objects.count)
        return counts
    }

    @Test func everySurfaceRefusesHostileInputClearly() async throws {
        let tiered = try await TieredLiveClient(environment: ["GATEHOUSE_MAX_BODY_SIZE": "4096"])
        defer { kill(tiered.server.process.processIdentifier, SIGKILL) }
        let client = VSaaSLiveClient(port: tiered.port)
        let adminToken = try #require(tiered.server.adminToken)
        let admin = ["Authorization: Bearer \(adminToken)", "Content-Type: application/json"]

        // An operator with a session, a license-key account, an application of RSA signed onboarding and a registration code.
        let setup = try await client.operatorSetup(adminToken: adminToken, email: "op@hostile.example")
        let (_, licenseKey) = try await tiered.createAccount("hostile@example.com")
        let application = try await client.call("POST", "/v1/tenants/\(setup.operatorId)/applications", headers: admin, body: #"{"name":"App","generate_key_pair":true}"#)
        let applicationId = try #require(application.json["application_id"] as? String, "\(application.text)")
        let account = try await client.call("POST", "/v1/tenants", headers: admin, body: #"{"kind":"account","parent_id":\#(setup.operatorId),"name":"Farm"}"#)
        let accountId = try #require((account.json["id"] as? NSNumber)?.int64Value, "\(account.text)")
        let code = try await client.call("POST", "/v1/tenants/\(accountId)/registration-codes", headers: admin, body: #"{"application_id":"\#(applicationId)"}"#)
        let fixture = Fixture(admin: adminToken, licenseKey: licenseKey, applicationId: applicationId,
                              registrationCode: try #require(code.json["code"] as? String, "\(code.text)"), session: setup.session)

        let before = try await Self.counts(tiered, fixture)
        for row in Self.rows(fixture) {
            let connection = try RawHTTPConnection(port: tiered.port)
            // A server that answers before it read a huge request may close early: the answer counts.
            try? await connection.send(bytes: row.request)
            let bytes: [UInt8]
            do {
                bytes = try await connection.read(atMost: 1 << 20, timeout: 10)
            } catch RawHTTPError.timeout(let partial) {
                Issue.record("\(row): no answer within 10 s (\(partial.count) bytes)")
                continue
            }
            guard let answer = RawHTTPAnswer(bytes) else {
                Issue.record("\(row): no HTTP answer: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
                continue
            }
            #expect(answer.statusLine.hasPrefix("HTTP/1.1 \(row.status) "), "\(row): \(answer.statusLine) \(answer.text.prefix(300))")
            if let problem = Self.formatProblem(answer, row.format, status: row.status) {
                Issue.record("\(row): \(problem): \(answer.header("Content-Type") ?? "no Content-Type") \(answer.text.prefix(300))")
            }
        }
        // The mutual-TLS admin listener: huge headers get the same 431.
        let huge = try await tiered.call(.admin, "GET", "/api/v2/admin/users/", authorization: String(repeating: "a", count: 100_000), certificate: tiered.superAdmin)
        #expect(huge.status == 431 && (huge.json["error"] as? [String: Any])?["code"] as? String == "headers_too_large", "\(huge.status) \(huge.text.prefix(300))")

        #expect(try await Self.counts(tiered, fixture) == before, "a refused request wrote something")
        #expect(tiered.server.process.isRunning, "\(tiered.server.stderr.suffix(3000))")
        let health = try await tiered.server.request("GET", "/healthz")
        #expect(health.status == 200)
    }
}
