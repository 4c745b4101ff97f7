import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// A Gatehouse application on a fresh SQLite data directory, driven through HummingbirdTesting.
struct TestApp {
    let configuration: GatehouseConfiguration

    init(maxBodySize: Int = 1 << 20, clock: TestClock = TestClock(), partnerAuth: PartnerAuthSettings = PartnerAuthSettings(),
         contentMaxBytes: Int64 = 512 << 20, onboarding: OnboardingSettings = OnboardingSettings()) throws {
        var configuration = GatehouseConfiguration(
            port: 0, dataDirectory: try TestDatabases.temporaryDirectory(), maxBodySize: maxBodySize,
            passwordHashRounds: PasswordHasher.minimumRounds, logLevel: .critical, announceBootstrap: false)
        configuration.clock = clock
        configuration.adminTLSPort = nil
        configuration.partnerAuth = partnerAuth
        configuration.contentMaxBytes = contentMaxBytes
        configuration.onboarding = onboarding
        // Readiness is asserted, not its speed: the suite runs hundreds of apps side by side
        // on two cores, where a first SQLite lease can take longer than production's 2 s.
        configuration.readinessTimeout = .seconds(60)
        self.configuration = configuration
    }

    /// Runs `body` against the router with a client, after migrations and bootstrap ran.
    func run<T: Sendable>(_ body: @Sendable (Client) async throws -> T) async throws -> T {
        let app = try buildApplication(configuration)
        return try await app.test(.router) { client in
            try await body(Client(client: client, adminToken: adminToken()))
        }
    }

    func adminToken() throws -> String {
        try String(contentsOfFile: configuration.dataDirectory + "/admin-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A thin JSON client over the test framework's client.
    struct Client: Sendable {
        let client: any TestClientProtocol
        let adminToken: String

        struct Answer: Sendable {
            let status: HTTPResponse.Status
            let headers: HTTPFields
            let body: ByteBuffer
            var text: String { String(buffer: body) }
            var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:] }
            var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
            var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
            var id: Int64? { (json["id"] as? NSNumber)?.int64Value }
            var array: [[String: Any]] { (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [[String: Any]] ?? [] }
        }

        /// Sends a request; `token` nil means no Authorization header, `body` is sent as JSON.
        func send(_ method: HTTPRequest.Method, _ path: String, token: String?, json: String? = nil,
                  contentType: String? = "application/json") async throws -> Answer {
            var headers = HTTPFields()
            if let token { headers[.authorization] = "Bearer \(token)" }
            if json != nil, let contentType { headers[.contentType] = contentType }
            let response = try await client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
            return Answer(status: response.status, headers: response.headers, body: response.body)
        }

        /// Sends a request with explicit headers and a raw body.
        func raw(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: String? = nil) async throws -> Answer {
            let response = try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
            return Answer(status: response.status, headers: response.headers, body: response.body)
        }

        /// Sends as the platform admin.
        func admin(_ method: HTTPRequest.Method, _ path: String, json: String? = nil) async throws -> Answer {
            try await send(method, path, token: adminToken, json: json)
        }

        /// Creates a node as the platform admin; returns its id.
        func createTenant(kind: String, parent: Int64, name: String, key: String? = nil) async throws -> Int64 {
            let keyPart = key.map { ",\"key\":\"\($0)\"" } ?? ""
            let answer = try await admin(.post, "/v1/tenants", json: #"{"kind":"\#(kind)","parent_id":\#(parent),"name":"\#(name)"\#(keyPart)}"#)
            #expect(answer.status == .created, "\(answer.text)")
            return try #require(answer.id)
        }

        /// Creates a user as the platform admin; returns its id.
        func createUser(tenant: Int64, email: String, password: String = "correct horse", permissions: [String] = []) async throws -> Int64 {
            let perms = permissions.map { "\"\($0)\"" }.joined(separator: ",")
            let answer = try await admin(.post, "/v1/users", json: #"{"tenant_id":\#(tenant),"email":"\#(email)","name":"N","password":"\#(password)","permissions":[\#(perms)]}"#)
            #expect(answer.status == .created, "\(answer.text)")
            return try #require(answer.id)
        }

        /// Signs in and returns the session token.
        func signIn(_ email: String, _ password: String = "correct horse") async throws -> String {
            let answer = try await send(.post, "/v1/sessions", token: nil, json: #"{"email":"\#(email)","password":"\#(password)"}"#)
            #expect(answer.status == .created, "\(answer.text)")
            return try #require(answer.json["token"] as? String)
        }
    }
}
