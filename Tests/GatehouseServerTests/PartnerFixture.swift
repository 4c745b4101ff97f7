import Foundation
import GatehouseCore
import HTTPTypes
import Testing

/// The dealer world of seed 001, made through /v1: a distributor with two resellers and their
/// accounts, a foreign distributor, dealer admins, end users, API clients and a camera.
struct PartnerFixture {
    let client: TestApp.Client
    var ids: [String: Int64] = [:]
    static let secret = "qwertyuiopasdfghjklzxcvbnm12345"
    static let password = "correct horse"

    static func make(_ client: TestApp.Client) async throws -> PartnerFixture {
        var fixture = PartnerFixture(client: client)
        let d = try await client.createTenant(kind: "distributor", parent: 1, name: "Dist")
        let r = try await client.createTenant(kind: "reseller", parent: d, name: "Res")
        let r2 = try await client.createTenant(kind: "reseller", parent: d, name: "Res2")
        let a = try await client.createTenant(kind: "account", parent: r, name: "Acct")
        let b = try await client.createTenant(kind: "account", parent: r2, name: "Acct B")
        let x = try await client.createTenant(kind: "distributor", parent: 1, name: "Foreign")
        let xr = try await client.createTenant(kind: "reseller", parent: x, name: "Foreign Res")
        let xa = try await client.createTenant(kind: "account", parent: xr, name: "Foreign Acct")
        for node in [d, r, x, xr] {
            let on = try await client.admin(.put, "/v1/tenants/\(node)/features/generate_access_token", json: #"{"enabled":true}"#)
            #expect(on.status == .ok)
        }
        fixture.ids = ["d": d, "r": r, "r2": r2, "a": a, "b": b, "x": x, "xr": xr, "xa": xa]
        fixture.ids["dealerR"] = try await client.createUser(tenant: r, email: "dealer@res.example", permissions: ["generate_access_token"])
        fixture.ids["dealerD"] = try await client.createUser(tenant: d, email: "dealer@dist.example", permissions: ["generate_access_token"])
        fixture.ids["noPerm"] = try await client.createUser(tenant: r, email: "noperm@res.example")
        fixture.ids["xdealer"] = try await client.createUser(tenant: xr, email: "dealer@foreign.example", permissions: ["generate_access_token"])
        fixture.ids["end"] = try await client.createUser(tenant: a, email: "end@user.example")
        fixture.ids["end2"] = try await client.createUser(tenant: b, email: "end2@user.example")
        fixture.ids["outsider"] = try await client.createUser(tenant: xa, email: "outsider@user.example")
        for (name, tenant, scopes, provisioning) in [("partner", r, #"["read","write"]"#, true), ("plain", r, #"["read","write"]"#, false),
                                                     ("readonly", r, #"["read"]"#, true), ("dpartner", d, #"["read","write"]"#, true),
                                                     ("xpartner", xr, #"["read","write"]"#, true)] {
            let created = try await client.admin(.post, "/v1/clients", json: #"{"tenant_id":\#(tenant),"client_id":"\#(name)","name":"\#(name)","scopes":\#(scopes)}"#)
            #expect(created.status == .created)
            fixture.ids[name + "Client"] = created.id
            if provisioning {
                #expect(try await client.admin(.patch, "/v1/clients/\(created.id ?? 0)", json: #"{"provisioning":true}"#).status == .ok)
            }
            fixture.secrets[name] = created.json["client_secret"] as? String
        }
        let camera = try await client.admin(.post, "/v1/devices", json: #"{"tenant_id":\#(a),"kind":"camera","name":"Front door","serial":"CAM-1"}"#)
        #expect(camera.status == .created)
        fixture.ids["camera"] = camera.id
        return fixture
    }

    var secrets: [String: String] = [:]

    func id(_ name: String) -> Int64 { ids[name] ?? -1 }

    func basic(_ clientName: String, secret: String? = nil) -> String {
        "Basic " + Data("\(clientName):\(secret ?? secrets[clientName] ?? "")".utf8).base64EncodedString()
    }

    /// POST /oauth/token with query parameters and HTTP Basic, as in the seed.
    func token(_ query: String, client clientName: String = "partner", authorization: String? = nil) async throws -> TestApp.Client.Answer {
        var headers: HTTPFields = [.accept: "application/json"]
        headers[.authorization] = authorization ?? basic(clientName)
        return try await client.raw(.post, "/oauth/token?" + query, headers: headers)
    }

    /// A password grant for `email`; returns (access, refresh).
    func login(_ email: String, client clientName: String = "partner", scope: String = "write") async throws -> (String, String) {
        let answer = try await token("grant_type=password&scope=\(scope)&username=\(email)&password=correct%20horse", client: clientName)
        #expect(answer.status == .ok, "\(answer.text)")
        return (answer.json["access_token"] as? String ?? "", answer.json["refresh_token"] as? String ?? "")
    }

    func get(_ path: String, _ token: String) async throws -> TestApp.Client.Answer {
        try await client.raw(.get, path, headers: [.authorization: "Bearer \(token)"])
    }

    func post(_ path: String, _ token: String) async throws -> TestApp.Client.Answer {
        try await client.raw(.post, path, headers: [.authorization: "Bearer \(token)"])
    }
}
