import Foundation
import GatehouseTestSupport
import Testing

/// Where schemathesis comes from, and whether it can be had.
enum SchemathesisEnvironment {
    /// The package's root directory, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let script = root + "/Tests/Fuzz/fuzz-openapi.sh"
    static let venv = ProcessInfo.processInfo.environment["GATEHOUSE_FUZZ_VENV"] ?? root + "/.build/fuzz-venv"

    /// A cached virtualenv, or PyPI answering: the fuzz test can run.
    static let available: Bool = {
        if FileManager.default.isExecutableFile(atPath: venv + "/bin/schemathesis") { return true }
        let probe = try? LiveServer.shell("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "https://pypi.org/simple/schemathesis/"])
        return probe?.output == "200"
    }()

    static let skipReason =
        "SKIPPED: PyPI (https://pypi.org) is unreachable and no schemathesis virtualenv is cached in .build/fuzz-venv, so the OpenAPI fuzz test did not run (Tests/Fuzz/fuzz-openapi.sh install)"
}

/// Every operation of the OpenAPI document fuzzed with schemathesis against a live
/// `gatehouse serve` on SQLite: no 5xx, and status codes, content types, headers and bodies
/// as the document says. Each operation gets the credential its `security` names, made here
/// on the server (Tests/Fuzz/hooks.py hands them out). The super-admin operations run against
/// the mutual-TLS admin listener with the bootstrap super-admin certificate.
///
/// Not fuzzed: the REST gateway's operations (`/api/v1.0/gateway/rest/…`), which live on a
/// listener of their own whose credential is an onboarded endpoint's client certificate.
@Suite("OpenAPI document fuzzed with schemathesis", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)),
       .enabled(if: SchemathesisEnvironment.available, Comment(rawValue: SchemathesisEnvironment.skipReason)))
struct OpenAPIFuzzTests {
    /// Examples per operation and phase: enough to reach every status code the fixtures allow,
    /// few enough that the run stays around a minute on two cores.
    static let examples = "4"

    /// Credentials of every kind the document names, made on `tiered`'s server.
    static func credentials(_ tiered: TieredLiveClient) async throws -> [String: String] {
        let client = VSaaSLiveClient(port: tiered.port)
        let adminToken = try #require(tiered.server.adminToken)
        let admin = ["Authorization: Bearer \(adminToken)", "Content-Type: application/json"]
        func id(_ answer: VSaaSLiveClient.Answer) throws -> Int64 { try #require((answer.json["id"] as? NSNumber)?.int64Value, "\(answer.text)") }

        // A dealer (operator, vendor, partner) with an admin user, and an account under it with an owner.
        let dealer = try id(try await client.call("POST", "/v1/tenants", headers: admin, body: #"{"kind":"distributor","parent_id":1,"name":"Fuzz dealer"}"#))
        #expect(try await client.call("PUT", "/v1/tenants/\(dealer)/features/generate_access_token", headers: admin, body: #"{"enabled":true}"#).status == 200)
        let account = try id(try await client.call("POST", "/v1/tenants", headers: admin, body: #"{"kind":"account","parent_id":\#(dealer),"name":"Fuzz home","key":"fuzz-home"}"#))
        let user = try await client.call("POST", "/v1/users", headers: admin, body: #"""
            {"tenant_id":\#(dealer),"email":"dealer@fuzz.example","name":"Dealer","password":"fuzz password","permissions":["manage_tenants","manage_users","manage_clients","read_audit","generate_access_token"]}
            """#)
        #expect(user.status == 201, "\(user.text)")
        #expect(try await client.call("POST", "/v1/users", headers: admin,
                                      body: #"{"tenant_id":\#(account),"email":"owner@fuzz.example","name":"Owner","password":"fuzz password"}"#).status == 201)
        let session = try await client.call("POST", "/v1/sessions", headers: ["Content-Type: application/json"], body: #"{"email":"dealer@fuzz.example","password":"fuzz password"}"#)

        // Agent activation: two operator sessions, an API key, an organization, a preset and an activated agent.
        func vsaasLogin() async throws -> String {
            let login = try await client.call("POST", "/vsaas/api/v2/auth/login", headers: ["Content-Type: application/json"],
                                              body: #"{"login":"dealer@fuzz.example","password":"fuzz password"}"#)
            return try #require(login.json["session"] as? String, "\(login.text)")
        }
        let vsaasSession = try await vsaasLogin()
        let apiKey = try await client.call("POST", "/v1/tenants/\(dealer)/vsaas-api-keys", headers: admin, body: #"{"name":"fuzz"}"#)
        let operatorHeaders = ["x-vsaas-session: \(vsaasSession)", "Content-Type: application/json"]
        let organization = try id(try await client.call("POST", "/vsaas/api/v2/organizations", headers: operatorHeaders, body: #"{"title":"Org"}"#))
        let preset = try id(try await client.call("POST", "/vsaas/api/v2/presets", headers: operatorHeaders, body: #"{"organization_id":\#(organization),"title":"default"}"#))
        let activationToken = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: operatorHeaders,
                                                    body: #"{"title":"Cam","organization_id":\#(organization),"preset_id":\#(preset)}"#)
        let activated = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                              body: "operatorid=\(dealer)&sign=\(try #require(activationToken.json["token"] as? String, "\(activationToken.text)"))&serial=FUZZ-1")
        let agentId = try #require((activated.json["agent_id"] as? NSNumber)?.int64Value, "\(activated.text)")
        let agent = "\(agentId):\(try #require(activated.json["agent_key"] as? String, "\(activated.text)"))"

        // Partner auth: an API client of the dealer and two access tokens of its admin user.
        let created = try await client.call("POST", "/v1/clients", headers: admin, body: #"{"tenant_id":\#(dealer),"client_id":"fuzz-backend","name":"Fuzz","scopes":["read","write"]}"#)
        let secret = try #require(created.json["client_secret"] as? String, "\(created.text)")
        #expect(try await client.call("PATCH", "/v1/clients/\(try id(created))", headers: admin, body: #"{"provisioning":true}"#).status == 200)
        func oauthToken() async throws -> String {
            let basic = "Authorization: Basic " + Data("fuzz-backend:\(secret)".utf8).base64EncodedString()
            let answer = try await client.call("POST", "/oauth/token?grant_type=password&scope=write&username=dealer%40fuzz.example&password=fuzz%20password", headers: [basic])
            return try #require(answer.json["access_token"] as? String, "\(answer.text)")
        }

        // Tiered access: an account with a license key, a channel (its `all` token) and a group.
        let (_, licenseKey) = try await tiered.createAccount("fuzz@example.com", limits: #"{"hosted_cameras":100}"#)
        let channel = try await tiered.createChannel(licenseKey)
        let group = try await tiered.createGroup(licenseKey, channels: [channel.id])

        // Serial provisioning: a vendor token, and the CIK of an activated serial.
        #expect(try await client.call("POST", "/v1/tenants/\(dealer)/vendor", headers: admin, body: #"{"name":"fuzzvendor"}"#).status == 201)
        let vendorToken = try #require(try await client.call("POST", "/v1/tenants/\(dealer)/vendor-tokens", headers: admin, body: #"{"name":"factory"}"#).json["token"] as? String)
        let vendor = ["X-Exosite-Token: \(vendorToken)", "Content-Type: application/x-www-form-urlencoded"]
        #expect(try await client.call("POST", "/provision/manage/model/", headers: vendor, body: "model=cam1").status == 205)
        #expect(try await client.call("POST", "/provision/manage/model/cam1/", headers: vendor, body: "sn=SN-1").status == 205)
        #expect(try await client.call("POST", "/provision/manage/model/cam1/SN-1", headers: vendor, body: "enable=true&owner=fuzz-home").status == 200)
        let cik = try await client.call("POST", "/provision/activate", headers: ["Content-Type: application/x-www-form-urlencoded; charset=utf-8"], body: "vendor=fuzzvendor&model=cam1&sn=SN-1")
        #expect(cik.status == 200 && cik.text.count == 40, "\(cik.text)")

        // Signed onboarding: a registration code of the account.
        let code = try await client.call("POST", "/v1/tenants/\(account)/registration-codes", headers: admin, body: "{}")

        return [
            "ADMIN_TOKEN": adminToken,
            "SPARE_SESSION": try #require(session.json["token"] as? String, "\(session.text)"),
            "VSAAS_SESSION": vsaasSession,
            "SPARE_VSAAS_SESSION": try await vsaasLogin(),
            "VSAAS_API_KEY": try #require(apiKey.json["key"] as? String, "\(apiKey.text)"),
            "AGENT": agent,
            "CLIENT_ID": "fuzz-backend",
            "CLIENT_SECRET": secret,
            "OAUTH_TOKEN": try await oauthToken(),
            "SPARE_OAUTH_TOKEN": try await oauthToken(),
            "LICENSE_KEY": licenseKey,
            "CHANNEL_TOKEN": channel.all,
            "GROUP_TOKEN": group.token,
            "VENDOR_TOKEN": vendorToken,
            "CIK": cik.text,
            "REGISTRATION_CODE": try #require(code.json["code"] as? String, "\(code.text)"),
        ].reduce(into: [:]) { $0["GH_FUZZ_" + $1.key] = $1.value }
    }

    /// Runs Tests/Fuzz/fuzz-openapi.sh; answers its exit status and report (also kept under
    /// `.build/test-artifacts/fuzz/`).
    static func fuzz(_ name: String, _ url: String, _ options: [String], environment: [String: String]) async throws -> (status: Int32, report: String) {
        let arguments = ["run", url, "-n", examples, "-w", "1", "--phases", "examples,coverage,fuzzing", "--request-timeout", "10",
                         "--no-shrink", "--seed", "1"] + options
        let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(status: Int32, output: String), any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/bin/bash")
                    process.arguments = [SchemathesisEnvironment.script] + arguments
                    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
                    let out = Pipe()
                    process.standardOutput = out
                    process.standardError = out
                    try process.run()
                    let output = out.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
                })
            }
        }
        let artifacts = SchemathesisEnvironment.root + "/.build/test-artifacts/fuzz"
        try? FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        try? result.output.write(toFile: "\(artifacts)/\(name).txt", atomically: true, encoding: .utf8)
        return (result.status, result.output)
    }

    /// The failures and errors of a report (at most 40,000 characters of them); the whole
    /// report is in `.build/test-artifacts/fuzz/`.
    static func failures(_ report: String) -> String {
        let start = report.range(of: "==== ERRORS ====")?.lowerBound ?? report.range(of: "==== FAILURES ====")?.lowerBound ?? report.startIndex
        let text = report[start...]
        return text.count > 40_000 ? text.prefix(40_000) + "\n… (the rest is in .build/test-artifacts/fuzz/)" : String(text)
    }

    @Test func everyOperationHoldsUnderSchemathesis() async throws {
        let install = try await LiveServer.shellAsync("/bin/bash", [SchemathesisEnvironment.script, "install"])
        try #require(install.status == 0, "installing schemathesis failed: \(install.output)")

        let tiered = try await TieredLiveClient()
        defer { kill(tiered.server.process.processIdentifier, SIGKILL) }
        var environment = try await Self.credentials(tiered)
        environment["GATEHOUSE_FUZZ_VENV"] = SchemathesisEnvironment.venv

        // First everything that neither deletes, changes nor rotates a credential, with every
        // fixture alive; then the deletions and changes, then the rotations. The later passes may
        // end the fixtures' credentials: the 401 that follows is documented.
        let gateway = "^/api/v1\\.0/gateway/rest/"
        let rotations = "/access_tokens$|^/v1/clients/\\{id\\}/secret$"
        let main = try await Self.fuzz("main", "http://127.0.0.1:\(tiered.port)",
                                       ["--exclude-tag", "Super-admin", "--exclude-path-regex", "\(gateway)|\(rotations)",
                                        "--exclude-method", "DELETE", "--exclude-method", "PATCH"], environment: environment)
        #expect(main.status == 0, "schemathesis found failures on the main listener:\n\(Self.failures(main.report))")
        // Deletions and changes on the surfaces first, then on /v1 (where deleting or disabling
        // the fixtures' nodes and users ends the surfaces' credentials).
        let changes = try await Self.fuzz("changes", "http://127.0.0.1:\(tiered.port)",
                                          ["--exclude-tag", "Super-admin", "--exclude-path-regex", "\(gateway)|^/v1/",
                                           "--include-method", "DELETE", "--include-method", "PATCH"], environment: environment)
        #expect(changes.status == 0, "schemathesis found failures in deletions and changes:\n\(Self.failures(changes.report))")
        let v1Changes = try await Self.fuzz("v1-changes", "http://127.0.0.1:\(tiered.port)",
                                            ["--include-path-regex", "^/v1/", "--exclude-method", "GET", "--exclude-method", "POST", "--exclude-method", "PUT"], environment: environment)
        #expect(v1Changes.status == 0, "schemathesis found failures in /v1 deletions and changes:\n\(Self.failures(v1Changes.report))")
        let rotated = try await Self.fuzz("rotations", "http://127.0.0.1:\(tiered.port)", ["--include-path-regex", rotations], environment: environment)
        #expect(rotated.status == 0, "schemathesis found failures in credential rotations:\n\(Self.failures(rotated.report))")
        let superAdmin = try await Self.fuzz("admin", "https://127.0.0.1:\(tiered.adminPort)",
                                             ["--include-tag", "Super-admin", "--tls-verify", tiered.data + "/ca.pem",
                                              "--request-cert", tiered.superAdmin.0, "--request-cert-key", tiered.superAdmin.1], environment: environment)
        #expect(superAdmin.status == 0, "schemathesis found failures on the admin listener:\n\(Self.failures(superAdmin.report))")

        // The server survived it all.
        #expect(tiered.server.process.isRunning, "\(tiered.server.stderr.suffix(4000))")
        #expect(try await tiered.server.request("GET", "/healthz").status == 200)
    }
}
