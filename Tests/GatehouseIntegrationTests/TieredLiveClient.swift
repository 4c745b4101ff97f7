import Foundation
import GatehouseTestSupport
import Testing

/// A live `gatehouse serve` with its admin listener, driven with curl as a back end, a front
/// end or a super-admin's scripts would drive it.
final class TieredLiveClient: @unchecked Sendable {
    enum Listener { case main, admin }

    struct Answer {
        let status: Int
        let text: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
        var objects: [[String: Any]] { json["objects"] as? [[String: Any]] ?? [] }
        var id: Int64? { (json["id"] as? NSNumber)?.int64Value }
        /// The seed's error shape: `{"status":<the HTTP status>,"errorType":"…","errorDetail":"…"}`.
        var isTieredError: Bool {
            (json["status"] as? NSNumber)?.intValue == status && json["errorType"] is String && json["errorDetail"] is String
        }
    }

    let server: LiveServer
    let port: Int
    let adminPort: Int
    let data: String
    let scratch: String

    init(environment extra: [String: String] = [:]) async throws {
        data = try TestDatabases.temporaryDirectory() + "/data"
        scratch = try TestDatabases.temporaryDirectory()
        let data = self.data
        let started = try await LiveServer.startHealthy { port, adminPort in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", String(adminPort)],
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"].merging(extra) { $1 },
                           port: port, dataDirectory: data)
        }
        (server, port, adminPort) = (started.server, started.server.port, started.adminPort)
        let healthy = started.healthy
        #expect(healthy, "\(server.stderr)")
        for _ in 0..<50 where try await call(.admin, "GET", "/healthz", certificate: superAdmin).status != 200 {
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    var superAdmin: (String, String) { (data + "/superadmin-cert.pem", data + "/superadmin-key.pem") }

    /// A certificate and key of an authority that is not Gatehouse's.
    func foreignCertificate() async throws -> (String, String) {
        let made = try await LiveServer.shellAsync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                                                    "-subj", "/CN=foreign", "-keyout", scratch + "/foreign-key.pem", "-out", scratch + "/foreign-cert.pem"])
        #expect(made.status == 0)
        return (scratch + "/foreign-cert.pem", scratch + "/foreign-key.pem")
    }

    /// One request; `status` 0 means the connection or TLS handshake failed.
    func call(_ listener: Listener, _ method: String, _ path: String, authorization: String? = nil, json: String? = nil,
              certificate: (String, String)? = nil) async throws -> Answer {
        var arguments = ["-s", "--max-time", "10", "-X", method, "-w", "\n%{http_code}"]
        if let authorization { arguments += ["-H", "Authorization: \(authorization)"] }
        if let json { arguments += ["-H", "Content-Type: application/json", "--data-binary", json] }
        switch listener {
        case .main:
            arguments.append("http://127.0.0.1:\(port)\(path)")
        case .admin:
            arguments += ["--cacert", data + "/ca.pem"]
            if let certificate { arguments += ["--cert", certificate.0, "--key", certificate.1] }
            arguments.append("https://127.0.0.1:\(adminPort)\(path)")
        }
        let result = try await LiveServer.shellAsync("curl", arguments)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        let status = result.status == 0 ? Int(lines.last ?? "") ?? 0 : 0
        return Answer(status: status, text: lines.dropLast().joined(separator: "\n"))
    }

    /// Creates an account through the super-admin API; answers its id and license key.
    func createAccount(_ suid: String, limits: String = "{}") async throws -> (id: Int64, key: String) {
        let answer = try await call(.admin, "POST", "/api/v2/admin/users/", json: #"{"suid":"\#(suid)","limits":\#(limits)}"#, certificate: superAdmin)
        #expect(answer.status == 201, "\(answer.text)")
        let key = (answer.json["license_key"] as? [String: Any])?["value"] as? String
        return (try #require(answer.id), try #require(key))
    }

    /// Creates a channel with the license key; answers its id and tokens.
    func createChannel(_ key: String, name: String = "cam") async throws -> (id: Int64, all: String, watch: String) {
        let answer = try await call(.main, "POST", "/api/v3/channels/", authorization: "LKey \(key)", json: #"{"name":"\#(name)"}"#)
        #expect(answer.status == 201, "\(answer.text)")
        let tokens = answer.json["access_tokens"] as? [String: String] ?? [:]
        return (try #require(answer.id), try #require(tokens["all"]), try #require(tokens["watch"]))
    }

    func createGroup(_ key: String, channels: [Int64]) async throws -> (id: Int64, token: String) {
        let answer = try await call(.main, "POST", "/api/v3/channel_groups/", authorization: "LKey \(key)",
                              json: #"{"name":"group","channels":[\#(channels.map(String.init).joined(separator: ","))]}"#)
        #expect(answer.status == 201, "\(answer.text)")
        return (try #require(answer.id), try #require(answer.json["token"] as? String))
    }

    func stop() async throws {
        #expect(try await server.stop() == 0)
    }
}
