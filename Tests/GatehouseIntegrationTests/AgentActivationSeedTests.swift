import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// A live server driven with curl the way seed 000's app, operator scripts and agents drive it.
struct VSaaSLiveClient: Sendable {
    struct Answer {
        let status: Int
        let text: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
        var array: [[String: Any]] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? [] }
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    }

    let port: Int

    /// One request with raw headers and an optional raw body.
    func call(_ method: String, _ path: String, headers: [String] = [], body: String? = nil, port: Int? = nil) async throws -> Answer {
        var arguments = ["-s", "--max-time", "10", "-X", method, "-w", "\n%{http_code}"]
        for header in headers { arguments += ["-H", header] }
        if let body { arguments += ["--data-binary", body] }
        arguments.append("http://127.0.0.1:\(port ?? self.port)\(path)")
        let result = try await LiveServer.shellAsync("curl", arguments)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return Answer(status: result.status == 0 ? Int(lines.last ?? "") ?? 0 : 0, text: lines.dropLast().joined(separator: "\n"))
    }

    /// An operator node with a signed-in user (its session key), an organization and a preset.
    func operatorSetup(adminToken: String, email: String) async throws -> (operatorId: Int64, session: String, organization: Int64, preset: Int64) {
        let admin = "Authorization: Bearer \(adminToken)"
        let node = try await call("POST", "/v1/tenants", headers: [admin, "Content-Type: application/json"],
                                  body: #"{"kind":"distributor","parent_id":1,"name":"Watcher \#(email)"}"#)
        let operatorId = try #require((node.json["id"] as? NSNumber)?.int64Value, "\(node.text)")
        let user = try await call("POST", "/v1/users", headers: [admin, "Content-Type: application/json"],
                                  body: #"{"tenant_id":\#(operatorId),"email":"\#(email)","name":"Op","password":"operator password","permissions":["manage_tenants"]}"#)
        #expect(user.status == 201, "\(user.text)")
        let login = try await call("POST", "/vsaas/api/v2/auth/login", headers: ["Content-Type: application/json"],
                                   body: #"{"login":"\#(email)","password":"operator password"}"#)
        #expect(login.status == 200, "\(login.text)")
        let session = try #require(login.json["session"] as? String)
        #expect((login.json["id"] as? NSNumber) != nil)
        let organization = try await call("POST", "/vsaas/api/v2/organizations", headers: ["x-vsaas-session: \(session)", "Content-Type: application/json"],
                                          body: #"{"title":"Org","note":"first","camera_limit":10}"#)
        #expect(organization.status == 201, "\(organization.text)")
        let organizationId = try #require((organization.json["id"] as? NSNumber)?.int64Value)
        let preset = try await call("POST", "/vsaas/api/v2/presets", headers: ["x-vsaas-session: \(session)", "Content-Type: application/json"],
                                    body: #"{"organization_id":"\#(organizationId)","title":"default","settings":{"dvr":"7d"}}"#)
        #expect(preset.status == 201, "\(preset.text)")
        return (operatorId, session, organizationId, try #require((preset.json["id"] as? NSNumber)?.int64Value))
    }
}

@Suite("Agent activation as seed 000 describes it", .serialized)
struct AgentActivationSeedTests {
    static func start() async throws -> (LiveServer, VSaaSLiveClient) {
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"],
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        #expect(started.healthy, "\(started.server.stderr)")
        return (started.server, VSaaSLiveClient(port: started.server.port))
    }

    @Test func theSeedStepByStep() async throws {
        let (server, client) = try await Self.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGTERM) : 0 }
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "op@example.com")
        let session = "x-vsaas-session: \(setup.session)"

        // Step 1–2: the app asks for a token with the seed's body (ids as strings) and gets `{"token","valid_till"}`.
        let issued = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: [session, "Content-Type: application/json"],
                                           body: #"{"title": "activateCam", "organization_id": "\#(setup.organization)", "preset_id": "\#(setup.preset)"}"#)
        #expect(issued.status == 200, "\(issued.text)")
        let token = try #require(issued.json["token"] as? String)
        #expect(token.count == 8 && token.allSatisfy { $0.isASCII && $0.isUppercase })
        #expect(Set(issued.json.keys) == ["token", "valid_till"] && (issued.json["valid_till"] as? NSNumber)?.intValue == 0)
        // Integers are accepted too.
        #expect(try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: [session, "Content-Type: application/json"],
                                      body: #"{"title":"second","organization_id":\#(setup.organization),"preset_id":\#(setup.preset)}"#).status == 200)

        // Only the session key may ask for tokens: an API key (valid elsewhere) and no key are refused.
        let admin = "Authorization: Bearer \(try #require(server.adminToken))"
        let key = try await client.call("POST", "/v1/tenants/\(setup.operatorId)/vsaas-api-keys", headers: [admin, "Content-Type: application/json"], body: #"{"name":"ops"}"#)
        #expect(key.status == 201, "\(key.text)")
        let apiKey = "x-vsaas-api-key: \(try #require(key.json["key"] as? String))"
        #expect(try await client.call("GET", "/vsaas/api/v2/organizations", headers: [apiKey]).array.count == 1)
        let byKey = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: [apiKey, "Content-Type: application/json"],
                                          body: #"{"title":"x","organization_id":"\#(setup.organization)","preset_id":"\#(setup.preset)"}"#)
        #expect(byKey.status == 403 && byKey.errorCode == "forbidden", "\(byKey.text)")
        #expect(try await client.call("GET", "/vsaas/api/v2/agent-activation-tokens/\(token)", headers: [apiKey]).status == 403)
        #expect(try await client.call("GET", "/vsaas/api/v2/agent-activation-tokens/\(token)").status == 401)

        // The app checks the token: no camera yet.
        let unused = try await client.call("GET", "/vsaas/api/v2/agent-activation-tokens/\(token)", headers: [session, "Content-Type: application/json"])
        #expect(unused.status == 200 && unused.json["token"] as? String == token && unused.json["camera_name"] is NSNull, "\(unused.text)")
        #expect(try await client.call("GET", "/vsaas/api/v2/agent-activation-tokens/NOSUCHTK", headers: [session]).status == 404)

        // Steps 4–5: the agent sends operator id and token (the form its own API speaks) and gets its credentials.
        let activated = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/x-www-form-urlencoded;charset=UTF-8"],
                                              body: "operatorid=\(setup.operatorId)&sign=\(token)&serial=f8f86484c5bf6f327e6de196205e7&version=v19.05-84-gc4b3544bf&mac=00:11:22:33:44:55")
        #expect(activated.status == 200, "\(activated.text)")
        let agentId = try #require((activated.json["agent_id"] as? NSNumber)?.int64Value)
        let agentKey = try #require(activated.json["agent_key"] as? String)
        #expect(agentKey.count >= 40 && (activated.json["watcher_url"] as? String)?.hasPrefix("http") == true)

        // Step 6: the camera is in the organization with the preset and title; the token names it.
        let used = try await client.call("GET", "/vsaas/api/v2/agent-activation-tokens/\(token)", headers: [session])
        let cameraName = try #require(used.json["camera_name"] as? String, "\(used.text)")
        let cameras = try await client.call("GET", "/vsaas/api/v2/cameras", headers: [apiKey]).array
        #expect(cameras.count == 1)
        #expect(cameras.first?["name"] as? String == cameraName && cameras.first?["title"] as? String == "activateCam")
        #expect((cameras.first?["agent_id"] as? NSNumber)?.int64Value == agentId && cameras.first?["agent_serial"] as? String == "f8f86484c5bf6f327e6de196205e7")
        #expect((cameras.first?["organization_id"] as? NSNumber)?.int64Value == setup.organization && (cameras.first?["preset_id"] as? NSNumber)?.int64Value == setup.preset)

        // Re-adding with the same token by another agent is refused; unknown and used tokens
        // look alike (once the second of the redemption is over: within it, a racing agent is
        // told `conflict`).
        try await Task.sleep(for: .milliseconds(1100))
        let again = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/json"],
                                          body: #"{"operator_id":\#(setup.operatorId),"token":"\#(token)","serial":"other"}"#)
        let unknown = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/json"],
                                            body: #"{"operator_id":\#(setup.operatorId),"token":"ZZZZZZZZ","serial":"other"}"#)
        #expect(again.status == 401 && unknown.status == 401 && again.errorCode == unknown.errorCode)
        #expect((again.json["error"] as? [String: Any])?["message"] as? String == (unknown.json["error"] as? [String: Any])?["message"] as? String)

        // The agent checks in with its id and key.
        let status = try await client.call("POST", "/vsaas/api/v2/agents/status", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                           body: "agent_id=\(agentId)&agent_key=\(agentKey)&version=v19.06")
        #expect(status.status == 200 && status.json["status"] as? String == "active", "\(status.text)")
        #expect(try await client.call("POST", "/vsaas/api/v2/agents/status", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                      body: "agent_id=\(agentId)&agent_key=wrong").status == 401)

        // Deleting the camera deactivates the agent: told so at once.
        #expect(try await client.call("DELETE", "/vsaas/api/v2/cameras/\(cameraName)", headers: [session]).status == 204)
        let gone = try await client.call("POST", "/vsaas/api/v2/agents/status", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                         body: "agent_id=\(agentId)&agent_key=\(agentKey)")
        #expect(gone.status == 410 && gone.json["status"] as? String == "deactivated", "\(gone.text)")
        #expect(try await client.call("GET", "/vsaas/api/v2/cameras", headers: [session]).array.isEmpty)

        // An agent with only a built-in operator id waits unassigned; the operator assigns it.
        let lone = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                         body: "operatorid=\(setup.operatorId)&serial=LONE-1")
        #expect(lone.status == 200 && lone.json["status"] as? String == "unassigned", "\(lone.text)")
        let loneId = try #require((lone.json["agent_id"] as? NSNumber)?.int64Value)
        let waiting = try await client.call("GET", "/vsaas/api/v2/agents?status=unassigned", headers: [session]).array
        #expect(waiting.map { ($0["id"] as? NSNumber)?.int64Value } == [loneId])
        let assigned = try await client.call("POST", "/vsaas/api/v2/agents/\(loneId)/assign", headers: [session, "Content-Type: application/json"],
                                             body: #"{"organization_id":"\#(setup.organization)","preset_id":\#(setup.preset),"title":"Yard"}"#)
        #expect(assigned.status == 201 && assigned.json["title"] as? String == "Yard", "\(assigned.text)")

        // Logout ends the session.
        #expect(try await client.call("POST", "/vsaas/api/v2/auth/logout", headers: [session]).status == 204)
        #expect(try await client.call("GET", "/vsaas/api/v2/organizations", headers: [session]).status == 401)
        _ = try await server.stop()
    }

    /// Organizations and presets are one set, managed through the operator API and /v1 alike.
    @Test func organizationsAndPresetsThroughV1() async throws {
        let (server, client) = try await Self.start()
        let adminToken = try #require(server.adminToken)
        let setup = try await client.operatorSetup(adminToken: adminToken, email: "v1presets@example.com")
        let admin = "Authorization: Bearer \(adminToken)", json = "Content-Type: application/json", session = "x-vsaas-session: \(setup.session)"

        // An account made through /v1 under the operator is one of its organizations.
        let made = try await client.call("POST", "/v1/tenants", headers: [admin, json], body: #"{"kind":"account","parent_id":\#(setup.operatorId),"name":"Via v1"}"#)
        let organization = try #require((made.json["id"] as? NSNumber)?.int64Value, "\(made.text)")
        let listed = try await client.call("GET", "/vsaas/api/v2/organizations", headers: [session]).array
        #expect(listed.contains { ($0["id"] as? NSNumber)?.int64Value == organization && $0["title"] as? String == "Via v1" }, "\(listed)")

        // A preset made through /v1 is served by the operator API, and the other way round.
        let preset = try await client.call("POST", "/v1/tenants/\(organization)/presets", headers: [admin, json], body: #"{"title":"HD","settings":{"dvr":"30d"}}"#)
        #expect(preset.status == 201, "\(preset.text)")
        let presetId = try #require((preset.json["id"] as? NSNumber)?.int64Value)
        let seen = try await client.call("GET", "/vsaas/api/v2/presets/\(presetId)", headers: [session])
        #expect(seen.status == 200 && seen.json["title"] as? String == "HD" && (seen.json["settings"] as? [String: String])?["dvr"] == "30d", "\(seen.text)")
        #expect(try await client.call("PUT", "/vsaas/api/v2/presets/\(presetId)", headers: [session, json], body: #"{"title":"Full HD"}"#).status == 200)
        let changed = try await client.call("GET", "/v1/presets/\(presetId)", headers: [admin])
        #expect(changed.json["title"] as? String == "Full HD" && (changed.json["organization_id"] as? NSNumber)?.int64Value == organization)
        let edited = try await client.call("PATCH", "/v1/presets/\(presetId)", headers: [admin, json], body: #"{"settings":{"dvr":"7d"}}"#)
        #expect(edited.status == 200 && (edited.json["settings"] as? [String: String]) == ["dvr": "7d"] && edited.json["title"] as? String == "Full HD")
        let page = try await client.call("GET", "/v1/tenants/\(organization)/presets", headers: [admin])
        #expect((page.json["items"] as? [[String: Any]])?.count == 1 && (page.json["total"] as? NSNumber)?.intValue == 1, "\(page.text)")
        // A token is issued with it, then the preset goes: through /v1, seen at once by the operator API.
        let issued = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: [session, json],
                                           body: #"{"title":"cam","organization_id":\#(organization),"preset_id":\#(presetId)}"#)
        #expect(issued.status == 200, "\(issued.text)")
        #expect(try await client.call("DELETE", "/v1/presets/\(presetId)", headers: [admin]).status == 204)
        #expect(try await client.call("GET", "/vsaas/api/v2/presets/\(presetId)", headers: [session]).status == 404)
        let gone = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: [session, json],
                                         body: #"{"title":"cam","organization_id":\#(organization),"preset_id":\#(presetId)}"#)
        #expect(gone.status == 404 && gone.errorCode == "not_found", "\(gone.text)")
        // Presets belong to accounts: the operator node itself is refused.
        #expect(try await client.call("POST", "/v1/tenants/\(setup.operatorId)/presets", headers: [admin, json], body: #"{"title":"X"}"#).status == 422)
        _ = try await server.stop()
    }

    /// Bad input gets a clear 4xx in Gatehouse's error shape, never a 500.
    @Test func badInputIsRefusedClearly() async throws {
        let (server, client) = try await Self.start()
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "bad@example.com")
        let session = "x-vsaas-session: \(setup.session)"
        let json = "Content-Type: application/json"
        let cases: [(String, String, [String], String?, Int)] = [
            ("POST", "/vsaas/api/v2/agent-activation-tokens", [session, json], #"{"title":"x","organization_id":"one","preset_id":1}"#, 422),
            ("POST", "/vsaas/api/v2/agent-activation-tokens", [session, json], #"{"organization_id":1,"preset_id":1}"#, 422),
            ("POST", "/vsaas/api/v2/agent-activation-tokens", [session, json], #"{"title":"x","organization_id":999999,"preset_id":\#(setup.preset)}"#, 404),
            ("POST", "/vsaas/api/v2/agent-activation-tokens", [session, json], #"{"title":"#, 400),
            ("POST", "/vsaas/api/v2/agent-activation-tokens", [session, "Content-Type: text/plain"], "x", 415),
            ("POST", "/vsaas/api/v2/agent-activation-tokens", ["x-vsaas-session: garbage", json], "{}", 401),
            ("POST", "/vsaas/api/v2/agents/activate", [json], #"{"operator_id":"abc","token":"X","serial":"s"}"#, 422),
            ("POST", "/vsaas/api/v2/agents/activate", [json], #"{"operator_id":\#(setup.operatorId),"token":"X"}"#, 422),
            ("POST", "/vsaas/api/v2/agents/activate", [json], #"{"operator_id":999999,"token":"X","serial":"s"}"#, 401),
            ("POST", "/vsaas/api/v2/agents/activate", ["Content-Type: text/xml"], "<a/>", 415),
            ("POST", "/vsaas/api/v2/agents/status", [json], #"{"agent_id":"x"}"#, 401),
            ("GET", "/vsaas/api/v2/cameras/no-such-camera", [session], nil, 404),
            ("GET", "/vsaas/api/v2/agents?status=sleeping", [session], nil, 422),
            ("POST", "/vsaas/api/v2/organizations", [session, json], #"{"title":"","camera_limit":-1}"#, 422),
            ("PUT", "/vsaas/api/v2/presets/\(setup.preset)", [session, json], #"{"settings":{"a":1}}"#, 422),
            ("POST", "/vsaas/api/v2/auth/login", [json], #"{"login":"bad@example.com","password":"wrong"}"#, 401),
        ]
        for (method, path, headers, body, expected) in cases {
            let answer = try await client.call(method, path, headers: headers, body: body)
            #expect(answer.status == expected, "\(method) \(path) \(body ?? ""): \(answer.status) \(answer.text)")
            #expect(answer.errorCode != nil, "\(method) \(path): \(answer.text)")
        }
        _ = try await server.stop()
    }
}

/// Webhooks end to end: a live server delivers signed events to a receiver on loopback.
@Suite("Agent-activation webhooks", .serialized)
struct AgentActivationWebhookTests {
    /// A receiver (python3's http.server) that answers 500 to its first request, then 200,
    /// and appends every request it got as a JSON line to `log`.
    static func startReceiver(port: Int, log: String) throws -> Process {
        let script = """
            import http.server, json, sys
            seen = [0]
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get('Content-Length', '0'))).decode()
                    seen[0] += 1
                    status = 500 if seen[0] == 1 else 200
                    with open(sys.argv[2], 'a') as f:
                        f.write(json.dumps({'headers': {k.lower(): v for k, v in self.headers.items()}, 'body': body, 'status': status}) + '\\n')
                    self.send_response(status); self.end_headers()
                def log_message(self, *a): pass
            http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, String(port), log]
        // Not the test's own output: a child holding that pipe keeps `swift test` waiting.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test func signedEventsReachTheOperator() async throws {
        let (server, client) = try await AgentActivationSeedTests.start()
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "hooks@example.com")
        let session = "x-vsaas-session: \(setup.session)"
        let receiverPort = LiveServer.freePort()
        let log = try TestDatabases.temporaryDirectory() + "/hooks.jsonl"
        let receiver = try Self.startReceiver(port: receiverPort, log: log)
        // SIGKILL: the test process ignores SIGTERM (service lifecycle), and children inherit that.
        defer { kill(receiver.processIdentifier, SIGKILL); receiver.waitUntilExit() }

        let hook = try await client.call("POST", "/vsaas/api/v2/webhooks", headers: [session, "Content-Type: application/json"],
                                         body: #"{"url":"http://127.0.0.1:\#(receiverPort)/hook","events":["camera.activated","camera.deactivated","token.issued"]}"#)
        #expect(hook.status == 201, "\(hook.text)")
        let secret = try #require(hook.json["secret"] as? String)
        #expect(try await client.call("GET", "/vsaas/api/v2/webhooks", headers: [session]).array.first?["secret"] == nil, "the secret is shown once")
        #expect(try await client.call("POST", "/vsaas/api/v2/webhooks", headers: [session, "Content-Type: application/json"],
                                      body: #"{"url":"ftp://example.com/x"}"#).status == 422)

        let issued = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: [session, "Content-Type: application/json"],
                                           body: #"{"title":"Hooked","organization_id":\#(setup.organization),"preset_id":\#(setup.preset)}"#)
        let token = try #require(issued.json["token"] as? String)
        let activated = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                              body: "operatorid=\(setup.operatorId)&sign=\(token)&serial=HOOK-1")
        let cameraName = try #require(activated.json["camera_name"] as? String, "\(activated.text)")
        #expect(try await client.call("DELETE", "/vsaas/api/v2/cameras/\(cameraName)", headers: [session]).status == 204)

        // Three events, each delivered (the first after a 500 and a retry), each signed with the secret.
        var delivered: [(event: String, body: [String: Any])] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
            var found: [(String, [String: Any])] = []
            for line in lines {
                guard let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], entry["status"] as? Int == 200,
                      let headers = entry["headers"] as? [String: String], let body = entry["body"] as? String else { continue }
                #expect(WebhookSignature.verify(header: headers[WebhookSignature.signatureHeader.lowercased()] ?? "", body: body, secret: secret,
                                                now: Int64(Date().timeIntervalSince1970)))
                found.append((headers[WebhookSignature.eventHeader.lowercased()] ?? "", try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] ?? [:]))
            }
            delivered = found.map { (event: $0.0, body: $0.1) }
            if delivered.count >= 3 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(Set(delivered.map(\.event)) == ["token.issued", "camera.activated", "camera.deactivated"], "\(delivered)")
        let activatedEvent = delivered.first { $0.event == "camera.activated" }?.body["data"] as? [String: Any]
        #expect(activatedEvent?["camera_name"] as? String == cameraName && activatedEvent?["agent_serial"] as? String == "HOOK-1")
        _ = try await server.stop()
    }
}
