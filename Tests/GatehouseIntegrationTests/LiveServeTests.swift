import Foundation
import GatehouseTestSupport
import Testing

/// Tests against the real `gatehouse` executable, as an operator runs it.
@Suite("Live gatehouse serve", .serialized)
struct LiveServeTests {
    @Test func servesOnTheEmbeddedDefaultAndStopsGracefully() async throws {
        let dataDirectory = try TestDatabases.temporaryDirectory() + "/data"
        let environmentPort = LiveServer.freePort()
        let flagPort = LiveServer.freePort()
        // Every flag can come from GATEHOUSE_<FLAG>; a flag on the command line wins.
        let server = try LiveServer(
            arguments: ["--port", String(flagPort), "--admin-tls-port", "0"],
            environment: ["GATEHOUSE_PORT": String(environmentPort), "GATEHOUSE_DATA_DIR": dataDirectory,
                          "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000", "GATEHOUSE_HOST": "127.0.0.1"],
            port: flagPort, dataDirectory: dataDirectory)
        #expect(try await server.waitUntilHealthy(), "server did not come up: \(server.stderr)")
        #expect((try? await LiveServer.request(port: environmentPort, "GET", "/healthz")) == nil)

        #expect(try await server.request("GET", "/readyz").json["database"] as? String == "sqlite")
        #expect(FileManager.default.fileExists(atPath: dataDirectory + "/gatehouse.sqlite"))
        let token = try #require(server.adminToken)
        #expect(server.stdout.contains(dataDirectory + "/admin-token"))  // paths printed once

        // The bootstrap certificate chain is real: openssl verifies the super-admin certificate.
        let verify = try LiveServer.shell("openssl", ["verify", "-CAfile", dataDirectory + "/ca.pem", dataDirectory + "/superadmin-cert.pem"])
        #expect(verify.status == 0, "\(verify.output)")
        let key = try LiveServer.shell("openssl", ["pkey", "-in", dataDirectory + "/superadmin-key.pem", "-noout"])
        #expect(key.status == 0)

        // Make secrets: a client secret and a session.
        let tenant = try await server.request("POST", "/v1/tenants", token: token, json: #"{"kind":"reseller","parent_id":1,"name":"R"}"#)
        let tenantId = try #require((tenant.json["id"] as? NSNumber)?.intValue)
        let client = try await server.request("POST", "/v1/clients", token: token, json: #"{"tenant_id":\#(tenantId),"name":"C","scopes":["read"]}"#)
        let secret = try #require(client.json["client_secret"] as? String)
        let user = try await server.request("POST", "/v1/users", token: token,
                                            json: #"{"tenant_id":\#(tenantId),"email":"a@example.com","name":"A","password":"sekrit-password","permissions":["manage_users"]}"#)
        #expect(user.status == 201)
        let session = try await server.request("POST", "/v1/sessions", json: #"{"email":"a@example.com","password":"sekrit-password"}"#)
        let sessionToken = try #require(session.json["token"] as? String)
        #expect(try await server.request("GET", "/v1/me", token: sessionToken).status == 200)

        // Graceful shutdown on SIGTERM.
        let status = try await server.stop(signal: SIGTERM, timeout: .seconds(30))
        #expect(status == 0, "exit status \(status.map(String.init) ?? "none: still running after 30 s"); \(server.stderr.suffix(1500))")

        // Request logs are structured JSON lines with a request id, and carry no secret.
        let logs = server.stderr + server.stdout
        let lines = server.stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let requests = lines.filter { $0["msg"] as? String == "request" }
        #expect(requests.count >= 6)
        #expect(requests.allSatisfy { ($0["hb.request.id"] as? String)?.isEmpty == false && $0["status"] != nil && $0["duration_us"] != nil })
        for secretText in [token, secret, sessionToken, "sekrit-password"] {
            #expect(!logs.contains(secretText), "a secret appeared in the logs")
        }

        // A restart on the same data directory keeps data and credentials; SIGINT stops it too.
        let again = try LiveServer(arguments: ["--port", String(flagPort), "--data-dir", dataDirectory, "--password-hash-rounds", "1000", "--admin-tls-port", "0"],
                                   environment: [:], port: flagPort, dataDirectory: dataDirectory)
        #expect(try await again.waitUntilHealthy(), "restart failed: \(again.stderr)")
        #expect(try await again.request("GET", "/v1/tenants/\(tenantId)", token: token).status == 200)
        #expect(try await again.request("GET", "/v1/me", token: sessionToken).status == 200)
        #expect(try await again.stop(signal: SIGINT) == 0)
    }

    @Test func badFlagsAreRefusedClearly() throws {
        let badPort = try LiveServer.run(["serve", "--port", "70000"])
        #expect(badPort.status != 0)
        #expect(badPort.error.contains("port"))
        let badURL = try LiveServer.run(["serve", "--database-url", "mysql://x"])
        #expect(badURL.status != 0)
        #expect(badURL.error.contains("database-url"))
    }

    @Test func importAndExportCommands() async throws {
        let dataDirectory = try TestDatabases.temporaryDirectory() + "/data"
        let file = try TestDatabases.temporaryDirectory() + "/tree.json"
        try """
        {"version": 1,
         "tenants": [{"key": "acme", "kind": "distributor", "name": "Acme", "features": {"generate_access_token": true}},
                     {"key": "shop", "kind": "account", "parent": "acme", "name": "Shop"}],
         "users": [{"email": "owner@shop.example", "tenant": "shop", "name": "Owner", "password": "owner password"}],
         "clients": [{"client_id": "acme-backend", "tenant": "acme", "name": "Back end", "scopes": ["read", "write"], "secret": "qwertyuiopasdfghjklzxcvbnm12345"}]}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let environment = ["GATEHOUSE_DATA_DIR": dataDirectory, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"]
        let first = try LiveServer.run(["import", file], environment: environment)
        #expect(first.status == 0, "\(first.error)")
        #expect(first.output.contains("4 created, 0 updated, 0 unchanged"))
        let second = try LiveServer.run(["import", file], environment: environment)
        #expect(second.output.contains("0 created, 0 updated, 4 unchanged"))

        let exported = try LiveServer.run(["export"], environment: environment)
        #expect(exported.status == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(exported.output.utf8)) as? [String: Any])
        #expect((document["tenants"] as? [[String: Any]])?.compactMap { $0["key"] as? String } == ["acme", "shop"])
        #expect(!exported.output.contains("owner password") && !exported.output.contains("qwertyuiop"))

        let broken = try TestDatabases.temporaryDirectory() + "/broken.json"
        try #"{"version": 1, "tenants": [{"key": "x", "kind": "account", "parent": "missing", "name": "X"}]}"#.write(toFile: broken, atomically: true, encoding: .utf8)
        let refused = try LiveServer.run(["import", broken], environment: environment)
        #expect(refused.status != 0)
        #expect(refused.error.contains("missing"))

        // The imported user signs in on a server started on that data directory.
        let port = LiveServer.freePort()
        let server = try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"], environment: environment, port: port, dataDirectory: dataDirectory)
        #expect(try await server.waitUntilHealthy(), "\(server.stderr)")
        let session = try await server.request("POST", "/v1/sessions", json: #"{"email":"owner@shop.example","password":"owner password"}"#)
        #expect(session.status == 201)
        #expect(try await server.stop() == 0)

        // Rotating the admin token ends the old one.
        let oldToken = try #require(server.adminToken)
        let rotated = try LiveServer.run(["admin-token", "--rotate"], environment: environment)
        #expect(rotated.status == 0)
        let newToken = try #require(server.adminToken)
        #expect(newToken != oldToken)
        let restarted = try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", "0"], environment: environment, port: port, dataDirectory: dataDirectory)
        #expect(try await restarted.waitUntilHealthy())
        #expect(try await restarted.request("GET", "/v1/me", token: oldToken).status == 401)
        #expect(try await restarted.request("GET", "/v1/me", token: newToken).status == 200)
        #expect(try await restarted.stop() == 0)
    }
}
