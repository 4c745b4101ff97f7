import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// Secrets at rest: a live server makes one of every secret it hands out; then every file of
/// its data directory (the SQLite database, its WAL, everything else) is read as bytes — and
/// on PostgreSQL a pg_dump of the database — and none of those secrets is found, neither as
/// it was shown nor in base64 or hex; nor is the certificate authority's private key (kept
/// sealed; its own file `ca-key.pem` is a key file, like `master.key`). The ones the design
/// shows again (license keys, channel and group tokens) are still shown again after a
/// restart: kept sealed, not plain.
@Suite("Secrets at rest", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)))
struct SecretsAtRestTests {
    /// The forms a secret could be stored in: as shown, base64 (standard and URL-safe, at each
    /// alignment inside a longer text), hex of its bytes, and for hex secrets the bytes they spell.
    static func forms(_ secret: String) -> [[UInt8]] {
        let bytes = Array(secret.utf8)
        var forms: [[UInt8]] = [bytes, Array(Secrets.hex(bytes).utf8), Array(Secrets.hex(bytes).uppercased().utf8)]
        for offset in 0..<3 {
            let encoded = Data([UInt8](repeating: 0, count: offset) + bytes).base64EncodedString()
            // Drop the characters that depend on what comes before and after.
            let start = (offset * 4 + 2) / 3, inner = Array(encoded.utf8).dropFirst(start).dropLast(4)
            guard inner.count >= 8 else { continue }
            forms.append(Array(inner))
            forms.append(inner.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: "-") : $0 == UInt8(ascii: "/") ? UInt8(ascii: "_") : $0 })
        }
        if secret.count % 2 == 0, secret.allSatisfy(\.isHexDigit), let raw = hexBytes(secret) { forms.append(raw) }
        return forms
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = [], chars = Array(text.utf8)
        while chars.count >= 2 {
            guard let byte = UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
            chars.removeFirst(2)
        }
        return bytes
    }

    /// Whether `needle` occurs in `haystack` (Foundation's search, built optimized: files are megabytes, secrets many).
    static func contains(_ haystack: Data, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return haystack.range(of: Data(needle)) != nil
    }

    /// The secrets (by name) found in `bytes`.
    static func found(_ secrets: [String: String], in bytes: [UInt8]) -> [String] {
        let data = Data(bytes)
        return secrets.filter { forms($0.value).contains { contains(data, $0) } }.map(\.key).sorted()
    }

    /// Every regular file under `directory`, with its bytes.
    static func files(_ directory: String) -> [(String, [UInt8])] {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var files: [(String, [UInt8])] = []
        while let name = enumerator?.nextObject() as? String {
            let path = directory + "/" + name
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
               let data = FileManager.default.contents(atPath: path) {
                files.append((name, Array(data)))
            }
        }
        return files
    }

    /// A server with its admin listener, on SQLite in `data` or on the PostgreSQL `url`.
    static func start(data: String, url: String?) async throws -> (server: LiveServer, adminPort: Int) {
        let started = try await LiveServer.startHealthy { port, adminPort in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", String(adminPort)] + (url.map { ["--database-url", $0] } ?? []),
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        #expect(started.healthy, "\(started.server.stderr)")
        return (started.server, started.adminPort)
    }

    /// One super-admin call over mutual TLS.
    static func superAdmin(_ data: String, _ adminPort: Int, _ method: String, _ path: String, json: String? = nil) async throws -> VSaaSLiveClient.Answer {
        var arguments = ["-s", "--max-time", "10", "-X", method, "-w", "\n%{http_code}", "--cacert", data + "/ca.pem",
                         "--cert", data + "/superadmin-cert.pem", "--key", data + "/superadmin-key.pem"]
        if let json { arguments += ["-H", "Content-Type: application/json", "--data-binary", json] }
        var result = (status: Int32(-1), output: "")
        for _ in 0..<50 {  // the listener starts right after bootstrap
            result = try await LiveServer.shellAsync("curl", arguments + ["https://127.0.0.1:\(adminPort)\(path)"])
            if result.status == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return VSaaSLiveClient.Answer(status: result.status == 0 ? Int(lines.last ?? "") ?? 0 : 0, text: lines.dropLast().joined(separator: "\n"))
    }

    /// Makes one of every secret through the server's own APIs; answers them by name, and the
    /// ids needed to ask for the shown-again ones later.
    static func makeEverySecret(_ server: LiveServer, adminPort: Int) async throws -> (secrets: [String: String], account: Int64, channel: Int64, licenseKey: String) {
        let data = server.dataDirectory
        let admin = try #require(server.adminToken)
        let client = VSaaSLiveClient(port: server.port)
        let bearer = "Authorization: Bearer \(admin)", json = "Content-Type: application/json"
        var secrets: [String: String] = [:]
        func id(_ answer: VSaaSLiveClient.Answer) throws -> Int64 { try #require((answer.json["id"] as? NSNumber)?.int64Value, "\(answer.text)") }

        // Partner auth: a dealer with the on-behalf feature, its client, users, tokens.
        let dealer = try id(try await client.call("POST", "/v1/tenants", headers: [bearer, json], body: #"{"kind":"distributor","parent_id":1,"name":"Dealer"}"#))
        #expect(try await client.call("PUT", "/v1/tenants/\(dealer)/features/generate_access_token", headers: [bearer, json], body: #"{"enabled":true}"#).status == 200)
        let account = try id(try await client.call("POST", "/v1/tenants", headers: [bearer, json], body: #"{"kind":"account","parent_id":\#(dealer),"name":"Shop"}"#))
        secrets["dealer password"] = "Dealer-Pa55word-at-rest"
        secrets["end user password"] = "EndUser-Pa55word-at-rest"
        _ = try id(try await client.call("POST", "/v1/users", headers: [bearer, json], body: #"{"tenant_id":\#(dealer),"email":"dealer@rest.example","name":"D","password":"\#(secrets["dealer password"]!)","permissions":["generate_access_token","manage_tenants"]}"#))
        let endUser = try id(try await client.call("POST", "/v1/users", headers: [bearer, json], body: #"{"tenant_id":\#(account),"email":"end@rest.example","name":"E","password":"\#(secrets["end user password"]!)"}"#))
        let apiClient = try await client.call("POST", "/v1/clients", headers: [bearer, json], body: #"{"tenant_id":\#(dealer),"client_id":"backend","name":"B","scopes":["read","write"]}"#)
        secrets["client secret"] = try #require(apiClient.json["client_secret"] as? String, "\(apiClient.text)")
        #expect(try await client.call("PATCH", "/v1/clients/\(try id(apiClient))", headers: [bearer, json], body: #"{"provisioning":true}"#).status == 200)
        let grant = try await client.call("POST", "/oauth/token", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                          body: "grant_type=password&username=dealer@rest.example&password=\(secrets["dealer password"]!)&client_id=backend&client_secret=\(secrets["client secret"]!)")
        secrets["access token"] = try #require(grant.json["access_token"] as? String, "\(grant.text)")
        secrets["refresh token"] = try #require(grant.json["refresh_token"] as? String)
        let onBehalf = try await client.call("POST", "/rest/v2.2/resellers/self/accounts/\(account)/users/\(endUser)/token",
                                             headers: ["Authorization: Bearer \(secrets["access token"]!)"])
        secrets["on-behalf token"] = try #require(onBehalf.json["access_token"] as? String, "\(onBehalf.text)")
        let session = try await client.call("POST", "/v1/sessions", headers: [json], body: #"{"email":"end@rest.example","password":"\#(secrets["end user password"]!)"}"#)
        secrets["/v1 session token"] = try #require(session.json["token"] as? String, "\(session.text)")

        // Agent activation: operator session and API key, activation tokens, an agent key, a webhook secret.
        let setup = try await client.operatorSetup(adminToken: admin, email: "op@rest.example")
        secrets["operator session"] = setup.session
        secrets["operator password"] = "operator password"
        let apiKey = try await client.call("POST", "/v1/tenants/\(setup.operatorId)/vsaas-api-keys", headers: [bearer, json], body: #"{"name":"K"}"#)
        secrets["operator API key"] = try #require(apiKey.json["key"] as? String, "\(apiKey.text)")
        for name in ["activation token (redeemed)", "activation token (live)"] {
            let issued = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: ["x-vsaas-session: \(setup.session)", json],
                                               body: #"{"title":"cam","organization_id":"\#(setup.organization)","preset_id":"\#(setup.preset)"}"#)
            secrets[name] = try #require(issued.json["token"] as? String, "\(issued.text)")
        }
        let activated = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                              body: "operatorid=\(setup.operatorId)&sign=\(secrets["activation token (redeemed)"]!)&serial=CAM-REST")
        secrets["agent key"] = try #require(activated.json["agent_key"] as? String, "\(activated.text)")
        let hook = try await client.call("POST", "/vsaas/api/v2/webhooks", headers: ["x-vsaas-session: \(setup.session)", json],
                                         body: #"{"url":"http://127.0.0.1:9/hook","events":["camera.activated"]}"#)
        secrets["webhook secret"] = try #require(hook.json["secret"] as? String, "\(hook.text)")

        // Serial provisioning: a vendor token and a CIK.
        #expect(try await client.call("POST", "/v1/tenants/\(dealer)/vendor", headers: [bearer, json], body: #"{"name":"restvendor"}"#).status == 201)
        let vendorToken = try await client.call("POST", "/v1/tenants/\(dealer)/vendor-tokens", headers: [bearer, json], body: #"{"name":"factory"}"#)
        secrets["vendor token"] = try #require(vendorToken.json["token"] as? String, "\(vendorToken.text)")
        let vendor = "X-Exosite-Token: \(secrets["vendor token"]!)"
        #expect(try await client.call("POST", "/provision/manage/model/", headers: [vendor], body: "model=cam1").status == 205)
        #expect(try await client.call("POST", "/provision/manage/model/cam1/", headers: [vendor, "Content-Type: text/csv"], body: "SN-REST-1\n").status == 205)
        #expect(try await client.call("POST", "/provision/manage/model/cam1/SN-REST-1", headers: [vendor], body: "enable=true&owner=\(account)").status == 200)
        let cik = try await client.call("POST", "/provision/activate", body: "vendor=restvendor&model=cam1&sn=SN-REST-1")
        #expect(cik.status == 200, "\(cik.text)")
        secrets["CIK"] = cik.text.trimmingCharacters(in: .whitespacesAndNewlines)

        // Tiered access: a generated license key, a channel with a camera password, its tokens, a group token.
        let created = try await superAdmin(data, adminPort, "POST", "/api/v2/admin/users/", json: #"{"suid":"rest@example.com","limits":{"hosted_cameras":5}}"#)
        #expect(created.status == 201, "\(created.text)")
        let tieredAccount = try id(created)
        let licenseKey = try #require((created.json["license_key"] as? [String: Any])?["value"] as? String)
        secrets["license key"] = licenseKey
        secrets["camera source password"] = "Camera-s3cret-at-rest"
        let channel = try await client.call("POST", "/api/v3/channels/", headers: ["Authorization: LKey \(licenseKey)", json],
                                            body: #"{"name":"door","source":{"url":"rtsp://10.0.0.5/1","login":"admin","password":"\#(secrets["camera source password"]!)"}}"#)
        #expect(channel.status == 201, "\(channel.text)")
        let channelId = try id(channel)
        for access in ["all", "watch"] {
            let token = try #require((channel.json["access_tokens"] as? [String: String])?[access], "\(channel.text)")
            secrets["channel token (\(access))"] = token
            let inner = (try? JSONSerialization.jsonObject(with: Data(base64Encoded: token) ?? Data())) as? [String: Any]
            secrets["channel token secret (\(access))"] = try #require(inner?["token"] as? String, "the Acc token carries its secret")
        }
        let group = try await client.call("POST", "/api/v3/channel_groups/", headers: ["Authorization: LKey \(licenseKey)", json],
                                          body: #"{"name":"group","channels":[\#(channelId)]}"#)
        secrets["group token"] = try #require(group.json["token"] as? String, "\(group.text)")

        // Signed onboarding: the application's private key (answered once), registration codes, an endpoint's key passphrase.
        let developer = try id(try await client.call("POST", "/v1/tenants", headers: [bearer, json], body: #"{"kind":"distributor","parent_id":1,"name":"Dev"}"#))
        let application = try await client.call("POST", "/v1/tenants/\(developer)/applications", headers: [bearer, json], body: #"{"name":"App","generate_key_pair":true}"#)
        let applicationId = try #require(application.json["application_id"] as? String, "\(application.text)")
        let privateKey = try #require(application.json["private_key"] as? String)
        // A line of the key's base64 body stands for the whole key.
        let keyLine: String = try #require(privateKey.split(separator: "\n").dropFirst(3).first.map(String.init))
        secrets["application private key"] = keyLine
        let key = try RSAPrivateKey(pem: privateKey)
        let version = try await client.call("POST", "/v1/applications/\(applicationId)/versions", headers: [bearer, json], body: #"{"name":"1.0","status":"certified"}"#)
        let versionId = try #require(version.json["certification_version_id"] as? String)
        for name in ["registration code (used)", "registration code (live)"] {
            let code = try await client.call("POST", "/v1/tenants/\(account)/registration-codes", headers: [bearer])
            secrets[name] = try #require(code.json["code"] as? String, "\(code.text)")
        }
        let body = #"{"id":"urn:rest:1","applicationId":"\#(applicationId)","certificationVersionId":"\#(versionId)","gatewayId":"3","certificateType":"PEM","UTCTimestamp":"\#(OnboardingMQTTTests.timestamp())","timeZone":"+01:00"}"#
        let onboarded = try await OnboardingMQTTTests.call(server.port, "POST", "/api/v1.0/registration/onboard/request", headers: [
            "Authorization": "Bearer \(secrets["registration code (used)"]!)", "Content-Type": "application/json", "X-Agrirouter-ApplicationId": applicationId,
            "X-Agrirouter-Signature": try RequestSignature.sign(body: Array(body.utf8), privateKey: key)], body: body)
        #expect(onboarded.status == 201, "\(onboarded.text)")
        secrets["endpoint key passphrase"] = try #require((onboarded.json["authentication"] as? [String: Any])?["secret"] as? String)

        #expect(secrets.count >= 25)
        return (secrets, tieredAccount, channelId, licenseKey)
    }

    /// The authority's private key (bootstrap writes it to `ca-key.pem`, by design a key file
    /// like `master.key`) in the forms a database could hold it: a line of its PEM, the whole
    /// base64 body, its DER in hex (and so raw), and its private scalar in hex (and so raw).
    static func authorityKeySecrets(_ data: String) throws -> [String: String] {
        let pem = try String(contentsOfFile: data + "/ca-key.pem", encoding: .utf8)
        let lines = pem.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("-----") }
        let der = try #require(Data(base64Encoded: lines.joined()).map { [UInt8]($0) })
        // PKCS#8 of an EC key: ... 02 01 01 04 20 <32-byte scalar> ...
        let marker: [UInt8] = [0x02, 0x01, 0x01, 0x04, 0x20]
        let at = try #require((0...(der.count - marker.count - 32)).first { Array(der[$0..<$0 + marker.count]) == marker })
        return ["CA private key (PEM line)": try #require(lines.first), "CA private key (PEM body)": lines.joined(),
                "CA private key (DER)": Secrets.hex(der), "CA private key (scalar)": Secrets.hex(der[(at + marker.count)..<(at + marker.count + 32)])]
    }

    /// License keys and channel tokens are shown again after a restart (so they are kept, and kept sealed).
    static func shownAgain(_ server: LiveServer, adminPort: Int, made: (secrets: [String: String], account: Int64, channel: Int64, licenseKey: String)) async throws {
        let account = try await superAdmin(server.dataDirectory, adminPort, "GET", "/api/v2/admin/users/\(made.account)/")
        #expect(((account.json["license_key"] as? [String: Any])?["value"] as? String) == made.licenseKey, "\(account.text)")
        let channel = try await VSaaSLiveClient(port: server.port).call("GET", "/api/v3/channels/\(made.channel)/", headers: ["Authorization: LKey \(made.licenseKey)"])
        // The token names the listener's address (a new port after a restart); its secret is the same.
        let token = (channel.json["access_tokens"] as? [String: String])?["all"] ?? ""
        let inner = (try? JSONSerialization.jsonObject(with: Data(base64Encoded: token) ?? Data())) as? [String: Any]
        #expect(inner?["token"] as? String == made.secrets["channel token secret (all)"], "\(channel.text)")
    }

    @Test func noSecretIsInTheSQLiteDataDirectory() async throws {
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let (server, adminPort) = try await Self.start(data: data, url: nil)
        let made = try await Self.makeEverySecret(server, adminPort: adminPort)
        var secrets = made.secrets
        let adminToken: String = try #require(server.adminToken)
        secrets["platform admin token"] = adminToken
        let authorityKey = try Self.authorityKeySecrets(data)
        secrets.merge(authorityKey) { $1 }
        // While it runs (the WAL holds the latest writes), then after a clean stop (checkpointed).
        for moment in ["running", "stopped"] {
            if moment == "stopped" { #expect(try await server.stop() == 0) }
            let files = Self.files(data)
            #expect(files.contains { $0.0 == "gatehouse.sqlite" }, "\(files.map(\.0))")
            // The search finds what is there: the admin token in its own file.
            let tokenFile = try #require(files.first { $0.0 == "admin-token" })
            #expect(Self.found(secrets, in: tokenFile.1) == ["platform admin token"])
            let keyFile = try #require(files.first { $0.0 == "ca-key.pem" })
            #expect(Self.found(secrets, in: keyFile.1).contains("CA private key (PEM line)"))
            for (name, bytes) in files {
                // The admin token's and the authority key's own files are where the operator reads them (0600).
                let own: Set<String> = name == "admin-token" ? ["platform admin token"] : name == "ca-key.pem" ? Set(authorityKey.keys) : []
                let found = Self.found(secrets.filter { !own.contains($0.key) }, in: bytes)
                #expect(found.isEmpty, "\(moment): \(name) holds \(found)")
            }
            let logs = Array((server.stdout + server.stderr).utf8)
            #expect(Self.found(secrets, in: logs).isEmpty, "the logs hold \(Self.found(secrets, in: logs))")
        }
        let (restarted, restartedAdminPort) = try await Self.start(data: data, url: nil)
        try await Self.shownAgain(restarted, adminPort: restartedAdminPort, made: made)
        #expect(try await restarted.stop() == 0)
    }

    @Test(.enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
    func noSecretIsInAPostgreSQLDump() async throws {
        let base = try PostgresURL(try #require(TestDatabases.postgresURL))
        let database = "gh_rest_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try await withDatabase(.postgres(base, schema: nil), logger: TestDatabases.logger) { admin in
            try await admin.withConnection { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(database))").run() }
        }
        let url = "postgres://\(base.username)\(base.password.map { ":\($0)" } ?? "")@\(base.host):\(base.port)/\(database)"
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let (server, adminPort) = try await Self.start(data: data, url: url)
        let made = try await Self.makeEverySecret(server, adminPort: adminPort)
        var secrets = made.secrets
        let adminToken: String = try #require(server.adminToken)
        secrets["platform admin token"] = adminToken
        let authorityKey = try Self.authorityKeySecrets(data)
        secrets.merge(authorityKey) { $1 }
        let dump = try await LiveServer.shellAsync("pg_dump", ["--no-owner", url])
        #expect(dump.status == 0 && dump.output.contains("activation_tokens"), "\(dump.output.prefix(500))")
        let found = Self.found(secrets, in: Array(dump.output.utf8))
        #expect(found.isEmpty, "the PostgreSQL dump holds \(found)")
        for (name, bytes) in Self.files(data) where name != "admin-token" {
            let others = name == "ca-key.pem" ? secrets.filter { authorityKey[$0.key] == nil } : secrets
            #expect(Self.found(others, in: bytes).isEmpty, "\(name) holds \(Self.found(others, in: bytes))")
        }
        try await Self.shownAgain(server, adminPort: adminPort, made: made)
        #expect(try await server.stop() == 0)
        try await withDatabase(.postgres(base, schema: nil), logger: TestDatabases.logger) { admin in
            try await admin.withConnection { db in try await db.raw("DROP DATABASE \(unsafeRaw: String(database)) WITH (FORCE)").run() }
        }
    }
}
