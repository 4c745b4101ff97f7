import Foundation
import GatehouseCore
import GatehouseServer
import HTTPTypes
import Testing

@Suite("Operations routes and bootstrap")
struct OperationsTests {
    @Test func healthReadyMetricsAndDocument() async throws {
        try await TestApp().run { client in
            let health = try await client.send(.get, "/healthz", token: nil)
            #expect(health.status == .ok)
            #expect(health.json["status"] as? String == "ok")
            #expect(health.headers[HTTPField.Name("X-Request-Id")!]?.isEmpty == false)

            let ready = try await client.send(.get, "/readyz", token: nil)
            #expect(ready.status == .ok)
            #expect(ready.json["database"] as? String == "sqlite")

            _ = try await client.admin(.get, "/v1/tenants")
            let metrics = try await client.send(.get, "/metrics", token: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(metrics.text.contains("http_server_request_duration_bucket{http_route=\"/v1/tenants\""))
            #expect(metrics.text.contains("gatehouse_db_leases_total{engine=\"sqlite\"}"))
            #expect(!metrics.text.contains("hb.requests"))  // names are Prometheus-safe

            let document = try await client.send(.get, "/openapi.yaml", token: nil)
            #expect(document.status == .ok)
            #expect(document.text.hasPrefix("openapi: 3.1.0"))
        }
    }

    @Test func bootstrapWritesCredentialsOnceWithTightPermissions() async throws {
        let app = try TestApp()
        let firstToken = try await app.run { (client: TestApp.Client) async throws -> String in
            #expect(try await client.admin(.get, "/v1/me").json["kind"] as? String == "platform_admin")
            return client.adminToken
        }
        let directory = app.configuration.dataDirectory
        let expected: [(String, Int)] = [("ca.pem", 0o644), ("ca-key.pem", 0o600), ("superadmin-cert.pem", 0o644),
                                         ("superadmin-key.pem", 0o600), ("admin-token", 0o600)]
        for (name, mode) in expected {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == mode, "\(name)")
        }
        let directoryMode = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? NSNumber
        #expect(directoryMode?.intValue == 0o700 || directoryMode?.intValue == 0o755)
        let caText = try String(contentsOfFile: "\(directory)/ca.pem", encoding: .utf8)
        #expect(caText.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(firstToken.hasPrefix("gha_") && firstToken.count > 40)

        // A second start on the same data directory keeps the same credentials.
        let secondToken = try await app.run { (client: TestApp.Client) async throws -> String in
            #expect(try await client.admin(.get, "/v1/me").status == .ok)
            return client.adminToken
        }
        #expect(secondToken == firstToken)
        #expect(try String(contentsOfFile: "\(directory)/ca.pem", encoding: .utf8) == caText)
    }
}
