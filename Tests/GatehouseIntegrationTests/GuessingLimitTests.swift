import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// Guessing the short secrets — activation tokens, registration codes, passwords — from many
/// connections at once and from several source addresses (127.0.0.x), spread over two nodes
/// of one PostgreSQL and over the one node of an embedded SQLite file: the limits hold for the
/// whole installation, not per node. The limits are the built-in defaults, the ones the
/// guessing report in SECURITY.md is computed from.
@Suite("Guessing short secrets: limits hold across nodes", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)))
struct GuessingLimitTests {
    static let activation = AgentActivation.GuessLimits()
    static let onboarding = OnboardingSettings()
    static let throttle = SignInThrottle()

    /// One POST on a new connection from `source`; answers the HTTP status (0 when the connection failed).
    static func post(port: Int, from source: String, path: String, headers: [String: String], body: String) async -> Int {
        do {
            let connection = try RawHTTPConnection(port: port, from: source)
            var request = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n"
            for (name, value) in headers { request += "\(name): \(value)\r\n" }
            try await connection.send(request + "\r\n" + body)
            let answer = RawHTTPAnswer(try await connection.read(atMost: 1 << 16, timeout: 30))
            return answer.flatMap { Int($0.statusLine.split(separator: " ").dropFirst().first ?? "") } ?? 0
        } catch {
            return 0
        }
    }

    /// Runs `count` requests `width` at a time; answers their statuses in order.
    static func burst(_ count: Int, width: Int = 24, _ make: @escaping @Sendable (Int) async -> Int) async -> [Int] {
        await withTaskGroup(of: (Int, Int).self) { group in
            var statuses = [Int](repeating: -1, count: count)
            var next = 0
            while next < min(width, count) { let index = next; group.addTask { (index, await make(index)) }; next += 1 }
            while let (index, status) = await group.next() {
                statuses[index] = status
                if next < count { let index = next; group.addTask { (index, await make(index)) }; next += 1 }
            }
            return statuses
        }
    }

    static func randomToken() -> String { Secrets.randomString(length: OperatorSettings.default.tokenLength, alphabet: Array(OperatorSettings.default.tokenAlphabet)) }

    /// The sign-in failures the database counted for `key` (each one a password that was checked).
    static func signInFailures(_ configuration: DatabaseConfiguration, key: String) async throws -> Int {
        try await withDatabase(configuration, logger: TestDatabases.logger) { database in
            try await database.withConnection { db in
                try await db.raw("SELECT failures FROM auth_throttle WHERE key = \(bind: key)").first()?.decode(column: "failures", as: Int.self) ?? 0
            }
        }
    }

    /// The guessing scenario against `nodes` (all on one database, `configuration`).
    static func guessEverything(_ nodes: [LiveServer], adminToken: String, configuration: DatabaseConfiguration) async throws {
        let ports = nodes.map(\.port)
        @Sendable func port(_ index: Int) -> Int { ports[index % ports.count] }
        let admin = nodes[0]

        // --- Activation tokens: a live token, guessed around.
        let vsaas = VSaaSLiveClient(port: admin.port)
        let setup = try await vsaas.operatorSetup(adminToken: adminToken, email: "guess-op@example.com")
        let issued = try await vsaas.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: ["x-vsaas-session: \(setup.session)", "Content-Type: application/json"],
                                          body: #"{"title":"real","organization_id":"\#(setup.organization)","preset_id":"\#(setup.preset)"}"#)
        let realToken = try #require(issued.json["token"] as? String, "\(issued.text)")
        let form = ["Content-Type": "application/x-www-form-urlencoded"]
        @Sendable func redeem(_ token: String, from source: String, node: Int, serial: String) async -> Int {
            await post(port: port(node), from: source, path: "/vsaas/api/v2/agents/activate", headers: form,
                       body: "operatorid=\(setup.operatorId)&sign=\(token)&serial=\(serial)")
        }
        // One address, three times its limit at once over every node: at most the limit is checked.
        let oneAddress = await burst(3 * Int(activation.perAddress)) { index in await redeem(randomToken(), from: "127.0.0.2", node: index, serial: "G-\(index)") }
        let addressChecked = oneAddress.filter { $0 == 401 }.count
        #expect(oneAddress.allSatisfy { [401, 429].contains($0) }, "\(oneAddress)")
        #expect(addressChecked >= 1 && addressChecked <= Int(activation.perAddress),
                "activation tokens: \(addressChecked) guesses from one address were checked; the limit is \(activation.perAddress) for all nodes together")
        #expect(await redeem(realToken, from: "127.0.0.2", node: 1, serial: "REAL") == 429, "the address is held back, even with the right token")
        // Many addresses, each under its own limit, against one operator: at most the operator's limit is checked in all.
        let perAddress = Int(activation.perAddress) - 3
        let addresses = Int(activation.perOperator) / perAddress + 4
        let spread = await burst(addresses * perAddress) { index in
            await redeem(randomToken(), from: "127.0.1.\(index / perAddress + 1)", node: index, serial: "S-\(index)")
        }
        let operatorChecked = addressChecked + spread.filter { $0 == 401 }.count
        #expect(spread.allSatisfy { [401, 429].contains($0) }, "\(Set(spread))")
        #expect(operatorChecked <= Int(activation.perOperator),
                "activation tokens: \(operatorChecked) guesses at one operator were checked; the limit is \(activation.perOperator) for all nodes together")
        #expect(await redeem(realToken, from: "127.0.2.1", node: 0, serial: "REAL") == 429, "the operator is held back, from a fresh address too")

        // --- Registration codes: signed verify calls with wrong codes from one address.
        let developer = try #require(try await admin.request("POST", "/v1/tenants", token: adminToken, json: #"{"kind":"distributor","parent_id":1,"name":"Guess dev"}"#).json["id"] as? Int)
        let application = try await admin.request("POST", "/v1/tenants/\(developer)/applications", token: adminToken, json: #"{"name":"Guess app","generate_key_pair":true}"#)
        let applicationId = try #require(application.json["application_id"] as? String, "\(application.text)")
        let key = try RSAPrivateKey(pem: try #require(application.json["private_key"] as? String))
        let version = try await admin.request("POST", "/v1/applications/\(applicationId)/versions", token: adminToken, json: #"{"name":"1.0","status":"certified"}"#)
        let versionId = try #require(version.json["certification_version_id"] as? String)
        let account = try #require(try await admin.request("POST", "/v1/tenants", token: adminToken, json: #"{"kind":"account","parent_id":1,"name":"Guess farm"}"#).json["id"] as? Int)
        let realCode = try #require(try await admin.request("POST", "/v1/tenants/\(account)/registration-codes", token: adminToken).json["code"] as? String)
        #expect(realCode.count == 2 * Onboarding.registrationCodeBytes, "the report's code space is the codes' real length")
        @Sendable func verify(_ code: String, from source: String, node: Int, id: String) async -> Int {
            let body = #"{"id":"\#(id)","applicationId":"\#(applicationId)","certificationVersionId":"\#(versionId)","gatewayId":"3","certificateType":"PEM","UTCTimestamp":"\#(OnboardingMQTTTests.timestamp())","timeZone":"+01:00"}"#
            guard let signature = try? RequestSignature.sign(body: Array(body.utf8), privateKey: key) else { return -2 }
            return await post(port: port(node), from: source, path: "/api/v1.0/registration/onboard/verify", headers: [
                "Authorization": "Bearer \(code)", "Content-Type": "application/json", "X-Agrirouter-ApplicationId": applicationId,
                "X-Agrirouter-Signature": signature], body: body)
        }
        let codes = await burst(3 * Int(onboarding.guessesPerAddress)) { index in
            await verify(Secrets.hex(Secrets.randomBytes(Onboarding.registrationCodeBytes)), from: "127.0.0.3", node: index, id: "urn:guess:\(index)")
        }
        let codesChecked = codes.filter { $0 == 401 }.count
        #expect(codes.allSatisfy { [401, 429].contains($0) }, "\(codes)")
        #expect(codesChecked >= 1 && codesChecked <= Int(onboarding.guessesPerAddress),
                "registration codes: \(codesChecked) guesses from one address were checked; the limit is \(onboarding.guessesPerAddress) for all nodes together")
        // Attempts in flight at once are charged before they are checked, so a few may have been
        // held back without being checked: the address is held only once the limit was checked.
        let heldCode = await verify(realCode, from: "127.0.0.3", node: 1, id: "urn:guess:real")
        #expect(heldCode == (codesChecked == Int(onboarding.guessesPerAddress) ? 429 : 200), "the address is held back, even with the right code: \(heldCode)")
        #expect(await verify(realCode, from: "127.0.0.4", node: 0, id: "urn:guess:real-2") == 200, "another address is not")

        // --- Passwords: one user name from several addresses, then many user names from one address.
        let operatorEmail = "guess-op@example.com"
        @Sendable func session(_ email: String, _ password: String, from source: String, node: Int) async -> Int {
            await post(port: port(node), from: source, path: "/v1/sessions", headers: ["Content-Type": "application/json"],
                       body: #"{"email":"\#(email)","password":"\#(password)"}"#)
        }
        let userGuesses = 6 * throttle.perUsername
        let wrongPasswords = await burst(userGuesses) { index in
            await session(operatorEmail, "wrong guess \(index)", from: "127.0.3.\(index % 6 + 1)", node: index)
        }
        #expect(wrongPasswords.allSatisfy { $0 == 401 }, "\(wrongPasswords)")
        let userChecked = try await signInFailures(configuration, key: "user:" + operatorEmail)
        #expect(userChecked >= 1 && userChecked <= throttle.perUsername,
                "passwords: \(userChecked) guesses at one user name were checked; the limit is \(throttle.perUsername) for all nodes together")
        let lockedUser = await session(operatorEmail, "operator password", from: "127.0.3.9", node: 1)
        #expect(lockedUser == (userChecked == throttle.perUsername ? 401 : 201), "the user name is locked, even for the right password: \(lockedUser)")

        let names = await burst(2 * throttle.perAddress) { index in
            await session("nobody-\(index)@example.com", "wrong guess", from: "127.0.0.5", node: index)
        }
        #expect(names.allSatisfy { $0 == 401 }, "\(Set(names))")
        let addressFailures = try await signInFailures(configuration, key: "addr:127.0.0.5")
        #expect(addressFailures >= 1 && addressFailures <= throttle.perAddress,
                "passwords: \(addressFailures) guesses from one address were checked; the limit is \(throttle.perAddress) for all nodes together")
        _ = try await admin.request("POST", "/v1/users", token: adminToken,
                                    json: #"{"tenant_id":\#(account),"email":"farmer@example.com","name":"F","password":"farmer password"}"#)
        let lockedAddress = await session("farmer@example.com", "farmer password", from: "127.0.0.5", node: 0)
        #expect(lockedAddress == (addressFailures == throttle.perAddress ? 401 : 201), "the address is locked: \(lockedAddress)")
        #expect(await session("farmer@example.com", "farmer password", from: "127.0.0.6", node: 1) == 201, "another address is not")
    }

    /// The report of the attacker's best chance per day is computed from the built-in defaults,
    /// written to `.build/test-artifacts/guessing-report.md`, and is what SECURITY.md shows
    /// between its `guessing-report` markers.
    @Test func theGuessingReportIsTheOneSecurityMDShows() throws {
        let report = GuessingReport().markdown
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let artifacts = root + "/.build/test-artifacts"
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        try report.write(toFile: artifacts + "/guessing-report.md", atomically: true, encoding: .utf8)
        let security = try String(contentsOfFile: root + "/SECURITY.md", encoding: .utf8)
        let begin = "<!-- guessing-report:begin (generated from the defaults; GuessingLimitTests checks it) -->\n", end = "<!-- guessing-report:end -->"
        let section = try #require(security.range(of: begin).flatMap { start in
            security.range(of: end, range: start.upperBound..<security.endIndex).map { String(security[start.upperBound..<$0.lowerBound]) }
        }, "SECURITY.md has no guessing-report section")
        #expect(section == report, "SECURITY.md's guessing report is not the one the defaults give; put \(artifacts)/guessing-report.md between its markers")
        // The figures the report rests on are the ones the server uses.
        #expect(report.contains("| activation token | \(OperatorSettings.default.tokenAlphabet.count)^\(OperatorSettings.default.tokenLength) "))
        #expect(report.contains("| registration code | 16^\(2 * Onboarding.registrationCodeBytes) "))
    }

    @Test(.enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
    func limitsHoldAcrossTwoNodesOnPostgreSQL() async throws {
        let base = try PostgresURL(try #require(TestDatabases.postgresURL))
        let database = "gh_guess_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try await withDatabase(.postgres(base, schema: nil), logger: TestDatabases.logger) { admin in
            try await admin.withConnection { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(database))").run() }
        }
        let url = "postgres://\(base.username)\(base.password.map { ":\($0)" } ?? "")@\(base.host):\(base.port)/\(database)"
        let keyFile = try TestDatabases.temporaryDirectory() + "/master.key"
        try (SecretVault.generateKeyData().base64EncodedString() + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        var nodes: [LiveServer] = []
        for _ in 0..<2 {
            let directory = try TestDatabases.temporaryDirectory()
            let started = try await LiveServer.startHealthy { port, _ in
                try LiveServer(arguments: ["--port", String(port), "--database-url", url, "--data-dir", directory, "--admin-tls-port", "0", "--master-key-file", keyFile],
                               environment: ["GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: directory)
            }
            #expect(started.healthy, "\(started.server.stderr)")
            nodes.append(started.server)
        }
        let token = try #require(nodes.compactMap(\.adminToken).first)
        try await Self.guessEverything(nodes, adminToken: token, configuration: .postgres(try PostgresURL(url), schema: nil))
        for node in nodes { _ = try await node.stop(signal: SIGKILL) }
        try await withDatabase(.postgres(base, schema: nil), logger: TestDatabases.logger) { admin in
            try await admin.withConnection { db in try await db.raw("DROP DATABASE \(unsafeRaw: String(database)) WITH (FORCE)").run() }
        }
    }

    @Test func limitsHoldOnTheEmbeddedSQLite() async throws {
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let started = try await LiveServer.startHealthy { port, _ in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"],
                           environment: ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"], port: port, dataDirectory: data)
        }
        #expect(started.healthy, "\(started.server.stderr)")
        defer { Task { _ = try? await started.server.stop(signal: SIGKILL) } }
        try await Self.guessEverything([started.server], adminToken: try #require(started.server.adminToken),
                                       configuration: .sqlite(path: data + "/gatehouse.sqlite"))
    }
}
