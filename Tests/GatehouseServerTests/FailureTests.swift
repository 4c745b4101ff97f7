import Foundation
import GatehouseCore
@testable import GatehouseServer
import GatehouseStore
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// What callers see when Gatehouse itself or its database fails.
@Suite("Failures")
struct FailureTests {
    struct LeakyError: Error, CustomStringConvertible {
        var description: String { "password=hunter2 at /srv/secret/path" }
    }

    @Test func internalErrorsSayNothingAboutInternals() async throws {
        let router = Router(context: GatehouseRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: ErrorMiddleware(routes: RouteTableBox()))
        router.get("/boom") { _, _ -> Response in throw LeakyError() }
        let app = Application(router: router, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/boom", method: .get)
            #expect(response.status == .internalServerError)
            let body = String(buffer: response.body)
            #expect(body.contains(#""code":"internal_error""#))
            #expect(!body.contains("hunter2") && !body.contains("/srv") && !body.contains("LeakyError"))
            let requestID = try #require(response.headers[HTTPField.Name("X-Request-Id")!])
            #expect(body.contains(requestID))
        }
    }

    @Test func unreachableDatabaseAnswers503() async throws {
        // A PostgreSQL that is not there: readiness and data routes answer 503, never 500 or a hang.
        let port = LiveServer.freePort()
        let configuration = GatehouseConfiguration(database: .postgres(try PostgresURL("postgres://nobody@127.0.0.1:\(port)/none"), schema: nil))
        let database = try DatabaseFactory.open(configuration.resolvedDatabase, operationTimeout: .seconds(1), logger: Logger(label: "test"))
        let gatehouse = GatehouseApp(configuration: configuration, database: database)
        let app = Application(router: gatehouse.makeRouter(), services: [database], logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(String(buffer: ready.body).contains(#""code":"unavailable""#))
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)  // alive, just not ready
            let data = try await client.execute(uri: "/v1/tenants", method: .get, headers: [.authorization: "Bearer gha_x"])
            #expect(data.status == .serviceUnavailable)
        }
    }
}
