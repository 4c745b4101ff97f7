import Foundation
import GatehouseServer
import HTTPTypes
import Testing

/// Every /v1 route against every kind of bad input: each gets its own clear 4xx in the JSON
/// error format, and nothing is written by a failed request.
@Suite("/v1 bad input")
struct BadInputTests {
    /// One row per /v1 route: a valid JSON body where the route takes one, and a body with a
    /// wrong field type. `{id}` is replaced by an existing id (or an unknown/malformed one).
    struct Row: Sendable, CustomStringConvertible {
        let method: HTTPRequest.Method
        let path: String
        let validBody: String?
        let wrongTypeBody: String?
        /// Whether `{}` is missing a required field on this route.
        let requiresFields: Bool
        var description: String { "\(method) \(path)" }
    }

    static let rows: [Row] = [
        Row(method: .post, path: "/v1/sessions", validBody: #"{"email":"a@example.com","password":"long enough"}"#, wrongTypeBody: #"{"email":1,"password":"x"}"#, requiresFields: true),
        Row(method: .delete, path: "/v1/sessions/current", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/me", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/tenants", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/tenants", validBody: #"{"kind":"account","parent_id":1,"name":"N"}"#, wrongTypeBody: #"{"kind":"account","parent_id":"one","name":"N"}"#, requiresFields: true),
        Row(method: .get, path: "/v1/tenants/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .patch, path: "/v1/tenants/{id}", validBody: #"{"name":"N2"}"#, wrongTypeBody: #"{"enabled":"yes"}"#, requiresFields: false),
        Row(method: .delete, path: "/v1/tenants/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/tenants/{id}/features", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .put, path: "/v1/tenants/{id}/features/generate_access_token", validBody: #"{"enabled":true}"#, wrongTypeBody: #"{"enabled":"true"}"#, requiresFields: true),
        Row(method: .get, path: "/v1/users", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/users", validBody: #"{"tenant_id":1,"email":"x@example.com","name":"X","password":"long enough"}"#, wrongTypeBody: #"{"tenant_id":1,"email":"x@example.com","name":["X"]}"#, requiresFields: true),
        Row(method: .get, path: "/v1/users/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .patch, path: "/v1/users/{id}", validBody: #"{"name":"N2"}"#, wrongTypeBody: #"{"permissions":"all"}"#, requiresFields: false),
        Row(method: .delete, path: "/v1/users/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/clients", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/clients", validBody: #"{"tenant_id":1,"name":"C","scopes":["read"]}"#, wrongTypeBody: #"{"tenant_id":1,"name":"C","scopes":["admin"]}"#, requiresFields: true),
        Row(method: .get, path: "/v1/clients/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .patch, path: "/v1/clients/{id}", validBody: #"{"name":"C2"}"#, wrongTypeBody: #"{"provisioning":1}"#, requiresFields: false),
        Row(method: .delete, path: "/v1/clients/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/clients/{id}/secret", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/audit", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/devices", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/devices", validBody: #"{"tenant_id":1,"kind":"camera","name":"N"}"#, wrongTypeBody: #"{"tenant_id":1,"kind":"camera","name":{}}"#, requiresFields: true),
        Row(method: .get, path: "/v1/devices/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .delete, path: "/v1/devices/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/devices/online", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/devices/{id}/presence", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/devices/{id}/settings", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .put, path: "/v1/devices/{id}/settings", validBody: #"{"version":0,"desired":{"system":{"name":"N"}}}"#,
            wrongTypeBody: #"{"version":"zero","desired":{}}"#, requiresFields: true),
        Row(method: .get, path: "/v1/devices/{id}/settings/schema", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/devices/{id}/commands", validBody: #"{"name":"reboot"}"#, wrongTypeBody: #"{"name":1}"#, requiresFields: true),
        Row(method: .get, path: "/v1/devices/{id}/commands", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/devices/{id}/commands/{commandId}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/on-behalf-tokens", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .delete, path: "/v1/on-behalf-tokens/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/tenants/{id}/vsaas-api-keys", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/tenants/{id}/vsaas-api-keys", validBody: #"{"name":"K"}"#, wrongTypeBody: #"{"name":1}"#, requiresFields: false),
        Row(method: .delete, path: "/v1/tenants/{id}/vsaas-api-keys/1", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/tenants/{id}/presets", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/tenants/{id}/presets", validBody: #"{"title":"P"}"#, wrongTypeBody: #"{"title":"P","settings":{"a":1}}"#, requiresFields: true),
        Row(method: .get, path: "/v1/presets/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .patch, path: "/v1/presets/{id}", validBody: #"{"title":"P2"}"#, wrongTypeBody: #"{"title":7}"#, requiresFields: false),
        Row(method: .delete, path: "/v1/presets/{id}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/tenants/{id}/activation-settings", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .patch, path: "/v1/tenants/{id}/device-settings", validBody: #"{"patch":{"system":{"name":"N"}}}"#,
            wrongTypeBody: #"{"patch":{"system":{"name":7}}}"#, requiresFields: true),
        Row(method: .patch, path: "/v1/tenants/{id}/activation-settings", validBody: #"{"token_length":10}"#, wrongTypeBody: #"{"token_length":"ten"}"#, requiresFields: false),
        Row(method: .post, path: "/v1/tenants/{id}/vendor", validBody: #"{"name":"acme"}"#, wrongTypeBody: #"{"name":1}"#, requiresFields: true),
        Row(method: .get, path: "/v1/tenants/{id}/vendor", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/tenants/{id}/vendor-tokens", validBody: #"{"name":"factory"}"#, wrongTypeBody: #"{"name":[]}"#, requiresFields: true),
        Row(method: .get, path: "/v1/tenants/{id}/vendor-tokens", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .delete, path: "/v1/tenants/{id}/vendor-tokens/1", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/tenants/{id}/serials", validBody: #"{"vendor":"acme","model":"cam1","sn":"A"}"#, wrongTypeBody: #"{"vendor":"acme","model":"cam1","sn":1}"#, requiresFields: true),
        Row(method: .get, path: "/v1/tenants/{id}/serials", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/tenants/{id}/applications", validBody: #"{"name":"App"}"#, wrongTypeBody: #"{"name":"App","generate_key_pair":"yes"}"#, requiresFields: true),
        Row(method: .get, path: "/v1/tenants/{id}/applications", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .get, path: "/v1/applications/{applicationId}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .patch, path: "/v1/applications/{applicationId}", validBody: #"{"name":"A2"}"#, wrongTypeBody: #"{"redirect_urls":"https://x.example/"}"#, requiresFields: false),
        Row(method: .delete, path: "/v1/applications/{applicationId}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .post, path: "/v1/applications/{applicationId}/versions", validBody: #"{"name":"1.0"}"#, wrongTypeBody: #"{"name":"1.0","cu_onboarding":"yes"}"#, requiresFields: true),
        Row(method: .get, path: "/v1/applications/{applicationId}/versions", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .patch, path: "/v1/applications/{applicationId}/versions/{versionId}", validBody: #"{"status":"certified"}"#, wrongTypeBody: #"{"status":"gold"}"#, requiresFields: false),
        Row(method: .post, path: "/v1/tenants/{id}/registration-codes", validBody: "{}", wrongTypeBody: #"{"application_id":7}"#, requiresFields: false),
        Row(method: .get, path: "/v1/tenants/{id}/endpoints", validBody: nil, wrongTypeBody: nil, requiresFields: false),
        Row(method: .delete, path: "/v1/tenants/{id}/endpoints/{endpointId}", validBody: nil, wrongTypeBody: nil, requiresFields: false),
    ]

    @Test func everyV1RouteHasARow() throws {
        let served = try gatehouseRoutes(TestApp().configuration).routes
            .filter { $0.path.hasPrefix("/v1/") }
            .map { "\($0.method) \($0.path.replacingOccurrences(of: "{feature}", with: "generate_access_token").replacingOccurrences(of: "{keyId}", with: "1").replacingOccurrences(of: "{tokenId}", with: "1"))" }
        #expect(Set(served) == Set(Self.rows.map(\.description)))
    }

    @Test(arguments: rows)
    func badInputGetsAClear4xxAndWritesNothing(_ row: Row) async throws {
        try await TestApp(maxBodySize: 4096).run { client in
            // Objects for {id}: a node, a user in it, a client in it.
            let tenant = try await client.createTenant(kind: "account", parent: 1, name: "Target")
            let user = try await client.createUser(tenant: tenant, email: "target@example.com")
            let created = try await client.admin(.post, "/v1/clients", json: #"{"tenant_id":\#(tenant),"name":"C","scopes":["read"]}"#)
            let clientId = try #require(created.id)
            let device = try #require(try await client.admin(.post, "/v1/devices", json: #"{"tenant_id":\#(tenant),"kind":"camera","name":"Cam"}"#).id)
            let existing = row.path.contains("/users/") ? user : row.path.contains("/clients/") ? clientId : row.path.contains("/devices/") ? device : tenant
            var path = row.path.replacingOccurrences(of: "{id}", with: String(existing)).replacingOccurrences(of: "{endpointId}", with: "1").replacingOccurrences(of: "{commandId}", with: "0f0e0d0c-0000-4000-8000-000000000000")
            if path.contains("{applicationId}") {  // an application of the node, with a version
                let application = try await client.admin(.post, "/v1/tenants/\(tenant)/applications", json: #"{"name":"App"}"#)
                let applicationId = try #require(application.json["application_id"] as? String)
                let version = try await client.admin(.post, "/v1/applications/\(applicationId)/versions", json: #"{"name":"1.0"}"#)
                path = path.replacingOccurrences(of: "{applicationId}", with: applicationId)
                    .replacingOccurrences(of: "{versionId}", with: try #require(version.json["certification_version_id"] as? String))
            }
            let before = try await snapshot(client)

            func expectError(_ answer: TestApp.Client.Answer, _ status: HTTPResponse.Status, _ code: String, _ what: String) {
                #expect(answer.status == status, "\(row) \(what): \(answer.status) \(answer.text)")
                #expect(answer.errorCode == code, "\(row) \(what): \(answer.text)")
                #expect(answer.headers[.contentType]?.hasPrefix("application/json") == true, "\(row) \(what)")
                #expect(((answer.json["error"] as? [String: Any])?["request_id"] as? String)?.isEmpty == false, "\(row) \(what)")
            }

            // Bad credentials (sign-in takes none; it answers 401 for a wrong password instead).
            if row.path != "/v1/sessions" {
                expectError(try await client.send(row.method, path, token: nil, json: row.validBody), .unauthorized, "unauthenticated", "no credential")
                expectError(try await client.send(row.method, path, token: "gha_garbage", json: row.validBody), .unauthorized, "unauthenticated", "garbage token")
                expectError(try await client.send(row.method, path, token: String(repeating: "x", count: 5000), json: row.validBody), .unauthorized, "unauthenticated", "huge token")
            } else {
                expectError(try await client.send(row.method, path, token: nil, json: row.validBody), .unauthorized, "unauthenticated", "wrong password")
            }
            // Unknown and malformed ids.
            if row.path.contains("{id}") {
                let unknown = row.path.replacingOccurrences(of: "{id}", with: "999999").replacingOccurrences(of: "{endpointId}", with: "1").replacingOccurrences(of: "{commandId}", with: "0f0e0d0c-0000-4000-8000-000000000000")
                expectError(try await client.admin(row.method, unknown, json: row.validBody), .notFound, "not_found", "unknown id")
                let malformed = row.path.replacingOccurrences(of: "{id}", with: "1%27%20OR%201=1").replacingOccurrences(of: "{endpointId}", with: "1").replacingOccurrences(of: "{commandId}", with: "0f0e0d0c-0000-4000-8000-000000000000")
                expectError(try await client.admin(row.method, malformed, json: row.validBody), .badRequest, "invalid_request", "malformed id")
            }
            // Bodies.
            if row.validBody != nil {
                let token: String? = row.path == "/v1/sessions" ? nil : client.adminToken
                expectError(try await client.send(row.method, path, token: token, json: "{\"name\": "), .badRequest, "malformed_body", "truncated JSON")
                expectError(try await client.send(row.method, path, token: token, json: "\u{FF}\u{FE}not json"), .badRequest, "malformed_body", "invalid JSON")
                expectError(try await client.send(row.method, path, token: token, json: "[1,2]"), .unprocessableContent, "validation_failed", "not an object")
                expectError(try await client.send(row.method, path, token: token, json: row.wrongTypeBody), .unprocessableContent, "validation_failed", "wrong type")
                if row.requiresFields {
                    expectError(try await client.send(row.method, path, token: token, json: "{}"), .unprocessableContent, "validation_failed", "missing fields")
                }
                expectError(try await client.send(row.method, path, token: token, json: row.validBody, contentType: "text/plain"), .unsupportedMediaType, "unsupported_media_type", "wrong content type")
                let huge = "{\"name\":\"" + String(repeating: "a", count: 10_000) + "\"}"
                expectError(try await client.send(row.method, path, token: token, json: huge), .contentTooLarge, "payload_too_large", "body over the limit")
            }
            // Wrong method on the route, and a route that does not exist.
            // PUT, or where the route has a PUT too, DELETE (POST for a PUT row).
            let hasPut = Self.rows.contains { $0.path == row.path && $0.method == .put }
            let wrongMethod: HTTPRequest.Method = row.method == .put ? .post : hasPut ? .delete : .put
            let notAllowed = try await client.admin(wrongMethod, path, json: row.validBody)
            expectError(notAllowed, .methodNotAllowed, "method_not_allowed", "wrong method")
            #expect(notAllowed.headers[.allow]?.contains(row.method.rawValue) == true)
            expectError(try await client.admin(row.method, "/v0" + path.dropFirst(3), json: row.validBody), .notFound, "not_found", "unknown route")

            #expect(try await snapshot(client) == before, "\(row): a failed request changed data")
        }
    }

    /// Counts of everything a /v1 call can write, including the audit log.
    func snapshot(_ client: TestApp.Client) async throws -> [Int] {
        var counts: [Int] = []
        for path in ["/v1/tenants", "/v1/users", "/v1/clients", "/v1/audit", "/v1/devices", "/v1/on-behalf-tokens"] {
            counts.append(try await client.admin(.get, path + "?limit=500").items.count)
        }
        return counts
    }
}
