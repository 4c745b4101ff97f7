import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// Several `gatehouse serve` processes against one PostgreSQL, side by side.
@Suite("Several nodes on one PostgreSQL", .serialized, .enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
struct MultiNodeTests {
    @Test func twoNodesShareEverything() async throws {
        let base = try PostgresURL(try #require(TestDatabases.postgresURL))
        let database = "gh_live_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try await withDatabase(.postgres(base, schema: nil), logger: TestDatabases.logger) { admin in
            try await admin.withConnection { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(database))").run() }
        }
        let url = "postgres://\(base.username)\(base.password.map { ":\($0)" } ?? "")@\(base.host):\(base.port)/\(database)"

        // Both nodes start at the same moment: migrations and bootstrap race and happen once.
        // They share one master key (an operator copies master.key to every node).
        let keyFile = try TestDatabases.temporaryDirectory() + "/master.key"
        let keyData = SecretVault.generateKeyData()
        try (keyData.base64EncodedString() + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        var nodes: [LiveServer] = []
        for _ in 0..<2 {
            let port = LiveServer.freePort()
            let directory = try TestDatabases.temporaryDirectory()
            nodes.append(try LiveServer(arguments: ["--port", String(port), "--database-url", url, "--data-dir", directory, "--admin-tls-port", "0",
                                                    "--master-key-file", keyFile],
                                        environment: ["GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: directory))
        }
        for node in nodes {
            #expect(try await node.waitUntilHealthy(), "\(node.stderr)")
            #expect(try await node.request("GET", "/readyz").json["database"] as? String == "postgres")
            #expect(FileManager.default.fileExists(atPath: node.dataDirectory + "/ca.pem"))
        }
        let tokens = nodes.compactMap(\.adminToken)
        #expect(tokens.count == 1, "exactly one node bootstraps")
        let token = try #require(tokens.first)
        let (a, b) = (nodes[0], nodes[1])

        // What one node writes, the other serves; a session ended on one node is dead on the other.
        let created = try await a.request("POST", "/v1/tenants", token: token, json: #"{"kind":"distributor","parent_id":1,"name":"Shared","key":"shared"}"#)
        let id = try #require((created.json["id"] as? NSNumber)?.intValue)
        #expect(try await b.request("GET", "/v1/tenants/\(id)", token: token).json["key"] as? String == "shared")
        #expect(try await b.request("POST", "/v1/users", token: token,
                                    json: #"{"tenant_id":\#(id),"email":"n@example.com","name":"N","password":"node password","permissions":["manage_users"]}"#).status == 201)
        let session = try await a.request("POST", "/v1/sessions", json: #"{"email":"n@example.com","password":"node password"}"#)
        let sessionToken = try #require(session.json["token"] as? String)
        #expect(try await b.request("GET", "/v1/me", token: sessionToken).status == 200)
        #expect(try await a.request("DELETE", "/v1/sessions/current", token: sessionToken).status == 204)
        #expect(try await b.request("GET", "/v1/me", token: sessionToken).status == 401)

        // Concurrent creates through both nodes: unique keys hold across nodes.
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<20 {
                let node = nodes[index % 2]
                group.addTask {
                    try await node.request("POST", "/v1/tenants", token: token, json: #"{"kind":"account","parent_id":1,"name":"Same","key":"same-key"}"#).status
                }
            }
            var statuses: [Int] = []
            for try await status in group { statuses.append(status) }
            return statuses
        }
        #expect(results.filter { $0 == 201 }.count == 1)
        #expect(results.filter { $0 == 409 }.count == 19)

        // Partner auth across nodes: tokens, revocation and sign-in limits live in the database.
        let reseller = try await a.request("POST", "/v1/tenants", token: token, json: #"{"kind":"reseller","parent_id":\#(id),"name":"R"}"#)
        let resellerId = try #require((reseller.json["id"] as? NSNumber)?.intValue)
        _ = try await a.request("POST", "/v1/users", token: token,
                                json: #"{"tenant_id":\#(resellerId),"email":"dealer@r.example","name":"D","password":"dealer password"}"#)
        let client = try await a.request("POST", "/v1/clients", token: token, json: #"{"tenant_id":\#(resellerId),"client_id":"partner","name":"P","scopes":["read","write"]}"#)
        let secret = try #require(client.json["client_secret"] as? String)
        let credentials = "client_id=partner&client_secret=\(secret)"
        let login = try await a.form("/oauth/token", "grant_type=password&username=dealer@r.example&password=dealer%20password&" + credentials)
        #expect(login.status == 200, "\(login.text)")
        let refresh = try #require(login.json["refresh_token"] as? String)
        let access = try #require(login.json["access_token"] as? String)
        #expect(try await b.form("/oauth/token", "grant_type=refresh_token&refresh_token=\(refresh)&" + credentials).status == 200)
        #expect(try await b.request("GET", "/rest/v2.2/users/self", token: access).status == 200)
        #expect(try await b.request("POST", "/oauth/logout", token: access).status == 204)
        #expect(try await a.request("GET", "/rest/v2.2/users/self", token: access).status == 401)
        #expect(try await a.form("/oauth/token", "grant_type=refresh_token&refresh_token=\(refresh)&" + credentials).status == 400)
        for index in 0..<5 {
            let node = nodes[index % 2]
            #expect(try await node.form("/oauth/token", "grant_type=password&username=dealer@r.example&password=wrong&" + credentials).status == 400)
        }
        let locked = try await a.form("/oauth/token", "grant_type=password&username=dealer@r.example&password=dealer%20password&" + credentials)
        #expect(locked.status == 400, "five failures spread over two nodes lock the user")

        // Tiered access across nodes: a license-key account (made as the super-admin API would).
        let license = try await withDatabase(.postgres(try PostgresURL(url), schema: nil), logger: TestDatabases.logger) { database in
            let tiered = TieredAccess(store: SQLStore(database: database), vault: try SecretVault(keyData: keyData), clock: SystemClock(),
                                      endpoint: TieredEndpoint(host: "127.0.0.1", port: 80, tlsPort: 443))
            return try await tiered.createAccount(NewTieredAccount(suid: "fleet@example.com", usrc: nil, licenseKey: nil,
                                                                   limits: AccountLimits(hostedCameras: 3), parentKey: nil),
                                                  actor: "test", parentId: 1).licenseKey
        }
        @Sendable func tiered(_ node: LiveServer, _ method: String, _ path: String, _ authorization: String, json: String? = nil) async throws -> (status: Int, text: String) {
            var arguments = ["-s", "-X", method, "-w", "\n%{http_code}", "-H", "Authorization: \(authorization)"]
            if let json { arguments += ["-H", "Content-Type: application/json", "--data-binary", json] }
            let output = try await LiveServer.shellAsync("curl", arguments + ["http://127.0.0.1:\(node.port)\(path)"]).output
            let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }
        // hosted_cameras holds for concurrent creations spread over both nodes.
        let creations = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for index in 0..<12 {
                let node = nodes[index % 2]
                group.addTask { try await tiered(node, "POST", "/api/v3/channels/", "LKey \(license)", json: #"{"name":"cam \#(index)"}"#) }
            }
            var answers: [(Int, String)] = []
            for try await answer in group { answers.append(answer) }
            return answers
        }
        #expect(creations.filter { $0.0 == 201 }.count == 3)
        #expect(creations.filter { $0.0 == 403 && $0.1.contains("limit_exceeded") }.count == 9)
        let channel = try #require(creations.first { $0.0 == 201 }.flatMap { try? JSONSerialization.jsonObject(with: Data($0.1.utf8)) as? [String: Any] })
        let channelId = try #require((channel["id"] as? NSNumber)?.int64Value)
        let oldToken = try #require((channel["access_tokens"] as? [String: String])?["all"])
        #expect(try await tiered(b, "GET", "/api/v4/channel/", "Acc \(oldToken)").status == 200)
        // Rotating on one node ends the old token on the other at once.
        #expect(try await tiered(a, "POST", "/api/v3/channels/\(channelId)/access_tokens/", "LKey \(license)").status == 200)
        #expect(try await tiered(b, "GET", "/api/v4/channel/", "Acc \(oldToken)").status == 401)

        // Agent activation across nodes: agents redeeming the same tokens through both nodes at
        // once make each camera exactly once; deleting a camera on one node stops its agent on the other.
        let (va, vb) = (VSaaSLiveClient(port: a.port), VSaaSLiveClient(port: b.port))
        let setup = try await va.operatorSetup(adminToken: token, email: "watcher@example.com")
        var issuedTokens: [String] = []
        for index in 0..<6 {
            let issued = try await vb.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: ["x-vsaas-session: \(setup.session)", "Content-Type: application/json"],
                                           body: #"{"title":"cam \#(index)","organization_id":"\#(setup.organization)","preset_id":"\#(setup.preset)"}"#)
            issuedTokens.append(try #require(issued.json["token"] as? String, "\(issued.text)"))
        }
        let redemptions = try await withThrowingTaskGroup(of: (String, Int, String).self) { group in
            for activationToken in issuedTokens {
                for attempt in 0..<4 {
                    let client = attempt % 2 == 0 ? va : vb
                    group.addTask {
                        let answer = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                                           body: "operatorid=\(setup.operatorId)&sign=\(activationToken)&serial=SN-\(activationToken)-\(attempt)")
                        return (activationToken, answer.status, answer.text)
                    }
                }
            }
            var answers: [(String, Int, String)] = []
            for try await answer in group { answers.append(answer) }
            return answers
        }
        for activationToken in issuedTokens {
            let mine = redemptions.filter { $0.0 == activationToken }
            #expect(mine.filter { $0.1 == 200 }.count == 1, "\(mine)")
            // The others raced (409) or, arriving a second later, met a used token (401).
            #expect(mine.filter { [401, 409].contains($0.1) }.count == 3, "\(mine)")
        }
        let cameras = try await va.call("GET", "/vsaas/api/v2/cameras?limit=100", headers: ["x-vsaas-session: \(setup.session)"]).array
        #expect(cameras.count == issuedTokens.count)
        let winner = try #require(redemptions.first { $0.1 == 200 }.flatMap { try? JSONSerialization.jsonObject(with: Data($0.2.utf8)) as? [String: Any] })
        let (agentId, agentKey) = (try #require(winner["agent_id"] as? NSNumber), try #require(winner["agent_key"] as? String))
        let cameraName = try #require(winner["camera_name"] as? String)
        let checkIn = "agent_id=\(agentId)&agent_key=\(agentKey)"
        #expect(try await vb.call("POST", "/vsaas/api/v2/agents/status", headers: ["Content-Type: application/x-www-form-urlencoded"], body: checkIn).status == 200)
        #expect(try await va.call("DELETE", "/vsaas/api/v2/cameras/\(cameraName)", headers: ["x-vsaas-session: \(setup.session)"]).status == 204)
        #expect(try await vb.call("POST", "/vsaas/api/v2/agents/status", headers: ["Content-Type: application/x-www-form-urlencoded"], body: checkIn).status == 410)

        // A node with another master key refuses to serve this database.
        let strangerKey = try TestDatabases.temporaryDirectory() + "/master.key"
        try (SecretVault.generateKeyData().base64EncodedString() + "\n").write(toFile: strangerKey, atomically: true, encoding: .utf8)
        let strangerPort = LiveServer.freePort()
        let stranger = try LiveServer(arguments: ["--port", String(strangerPort), "--database-url", url, "--data-dir", try TestDatabases.temporaryDirectory(),
                                                  "--admin-tls-port", "0", "--master-key-file", strangerKey],
                                      environment: [:], port: strangerPort, dataDirectory: "")
        #expect(try await !stranger.waitUntilHealthy(timeout: .seconds(20)))
        #expect(try await stranger.stop() != 0)
        #expect(stranger.stderr.contains("master key") || stranger.stdout.contains("master key"), "\(stranger.stderr)")

        for node in nodes { #expect(try await node.stop() == 0) }
        try await withDatabase(.postgres(base, schema: nil), logger: TestDatabases.logger) { admin in
            try await admin.withConnection { db in try await db.raw("DROP DATABASE \(unsafeRaw: String(database)) WITH (FORCE)").run() }
        }
    }
}
