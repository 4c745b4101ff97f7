import Foundation
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import Testing

/// The serial-provisioning API (seed 003) through the router, with a clock the tests move:
/// activation windows, the owner side through /v1, and bad input in the surface's own format.
@Suite("Serial provisioning API")
struct ProvisioningAPITests {
    struct Vendor {
        let client: TestApp.Client
        let token: String
        let nodeId: Int64
        let accountId: Int64

        func call(_ method: HTTPRequest.Method, _ path: String, form: String? = nil, csv: String? = nil, type: String? = nil) async throws -> TestApp.Client.Answer {
            var headers: HTTPFields = [.exositeToken: token]
            if form != nil { headers[.contentType] = "application/x-www-form-urlencoded; charset=utf-8" }
            if csv != nil { headers[.contentType] = "text/csv; charset=utf-8" }
            if let type { headers[.contentType] = type }
            return try await client.raw(method, path, headers: headers, body: form ?? csv)
        }

        func activate(_ sn: String, model: String = "cam1") async throws -> TestApp.Client.Answer {
            try await client.raw(.post, "/provision/activate", headers: [.contentType: "application/x-www-form-urlencoded; charset=utf-8"],
                                 body: "vendor=acme&model=\(model)&sn=\(sn)")
        }
    }

    static func vendor(_ client: TestApp.Client) async throws -> Vendor {
        let node = try await client.createTenant(kind: "distributor", parent: 1, name: "Acme")
        let account = try await client.createTenant(kind: "account", parent: node, name: "Home", key: "home-1")
        #expect(try await client.admin(.post, "/v1/tenants/\(node)/vendor", json: #"{"name":"acme"}"#).status == .created)
        let token = try await client.admin(.post, "/v1/tenants/\(node)/vendor-tokens", json: #"{"name":"factory"}"#)
        #expect(token.status == .created)
        let vendor = Vendor(client: client, token: try #require(token.json["token"] as? String), nodeId: node, accountId: account)
        #expect(try await vendor.call(.post, "/provision/manage/model/", form: "model=cam1").status == .resetContent)
        #expect(try await vendor.call(.post, "/provision/manage/model/cam1/", form: "sn[]=A&sn[]=B&sn[]=C").status == .resetContent)
        return vendor
    }

    /// The window opens at enable and closes after the model's window (24 h by default); an
    /// expired serial must be enabled again, and then activates.
    @Test func activationWindowExpires() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock).run { client in
            let vendor = try await Self.vendor(client)
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/A", form: "enable=true&owner=home-1").status == .ok)
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/B", form: "enable=true&owner=\(vendor.accountId)").status == .ok)
            clock.advance(86_399)
            #expect(try await vendor.activate("A").status == .ok)
            clock.advance(2)
            let late = try await vendor.activate("B")
            #expect(late.status == .conflict && late.headers[.contentType] == "text/plain; charset=utf-8")
            #expect(late.text.contains("expired"), "\(late.text)")
            #expect(try await vendor.call(.get, "/provision/manage/model/cam1/B").text.hasPrefix("expired,"))
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/B", form: "enable=true").status == .resetContent)
            #expect(try await vendor.activate("B").status == .ok)

            // A model's own window: 10 minutes.
            #expect(try await vendor.call(.put, "/provision/manage/model/cam1", form: "window=600").status == .resetContent)
            #expect(try await vendor.call(.get, "/provision/manage/model/cam1").text.hasPrefix("window=600"))
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/C", form: "enable=true&owner=home-1").status == .ok)
            clock.advance(601)
            #expect(try await vendor.activate("C").status == .conflict)
            #expect(try await vendor.call(.put, "/provision/manage/model/cam1", form: "window=5").status == .badRequest)
        }
    }

    /// An account's user adds a serial it holds to its portal through /v1; the vendor sees the
    /// owner; another account cannot take it.
    @Test func ownerEnablesThroughV1() async throws {
        try await TestApp().run { client in
            let vendor = try await Self.vendor(client)
            _ = try await client.createUser(tenant: vendor.accountId, email: "owner@example.com")
            let session = try await client.signIn("owner@example.com")
            let enabled = try await client.send(.post, "/v1/tenants/\(vendor.accountId)/serials", token: session, json: #"{"vendor":"acme","model":"cam1","sn":"A"}"#)
            #expect(enabled.status == .ok, "\(enabled.text)")
            #expect(enabled.json["status"] as? String == "enabled" && enabled.json["device_id"] != nil)
            let listed = try await vendor.call(.get, "/provision/manage/model/cam1/?status=true")
            #expect(listed.text.split(separator: "\n").first?.hasSuffix(",enabled,home-1") == true, "\(listed.text)")
            let cik = try await vendor.activate("A")
            #expect(cik.status == .ok && cik.text.count == 40)
            let held = try await client.send(.get, "/v1/tenants/\(vendor.accountId)/serials", token: session)
            #expect(held.items.map { $0["sn"] as? String } == ["A"] && held.items.first?["status"] as? String == "activated")

            let other = try await client.createTenant(kind: "account", parent: vendor.nodeId, name: "Other")
            _ = try await client.createUser(tenant: other, email: "other@example.com")
            let otherSession = try await client.signIn("other@example.com")
            let taken = try await client.send(.post, "/v1/tenants/\(other)/serials", token: otherSession, json: #"{"vendor":"acme","model":"cam1","sn":"A"}"#)
            #expect(taken.status == .conflict && taken.errorCode == "conflict")
            let foreign = try await client.send(.post, "/v1/tenants/\(vendor.accountId)/serials", token: otherSession, json: #"{"vendor":"acme","model":"cam1","sn":"B"}"#)
            #expect(foreign.status == .notFound || foreign.status == .forbidden, "\(foreign.status)")
            let unknown = try await client.send(.post, "/v1/tenants/\(other)/serials", token: otherSession, json: #"{"vendor":"acme","model":"cam1","sn":"ZZ"}"#)
            #expect(unknown.status == .notFound)
            #expect(try await vendor.call(.get, "/provision/manage/model/cam1/B").status == .noContent, "B stays unused")
        }
    }

    /// Vendor tokens: shown once, listed without the secret, revoked at once.
    @Test func vendorTokensRevoke() async throws {
        try await TestApp().run { client in
            let vendor = try await Self.vendor(client)
            let tokens = try await client.admin(.get, "/v1/tenants/\(vendor.nodeId)/vendor-tokens")
            #expect(tokens.items.count == 1 && tokens.items[0]["token"] == nil && !tokens.text.contains(vendor.token))
            let id = try #require((tokens.items[0]["id"] as? NSNumber)?.int64Value)
            #expect(try await client.admin(.delete, "/v1/tenants/\(vendor.nodeId)/vendor-tokens/\(id)").status == .noContent)
            let refused = try await vendor.call(.get, "/provision/manage/model/")
            #expect(refused.status == .unauthorized && refused.headers[.contentType] == "text/plain; charset=utf-8")
            #expect(try await client.admin(.post, "/v1/tenants/\(vendor.nodeId)/vendor", json: #"{"name":"acme2"}"#).status == .conflict)
            #expect(try await client.admin(.get, "/v1/tenants/\(vendor.accountId)/vendor").status == .notFound)
        }
    }

    /// Bad input gets a clear 4xx as short text, and a failed write leaves nothing.
    @Test func badInputInTheSurfaceFormat() async throws {
        try await TestApp(contentMaxBytes: 4096).run { client in
            let vendor = try await Self.vendor(client)
            let noToken = try await client.raw(.get, "/provision/manage/model/")
            #expect(noToken.status == .unauthorized && noToken.headers[.wwwAuthenticate] != nil)
            #expect(try await vendor.call(.get, "/provision/manage/model/nope/").status == .notFound)
            #expect(try await vendor.call(.get, "/provision/manage/model/cam1/ZZ?show=groups").status == .notFound)
            #expect(try await vendor.call(.get, "/provision/manage/content/cam1/nope?show=groups").status == .notFound)
            #expect(try await vendor.call(.post, "/provision/manage/model/", form: "model=").status == .badRequest)
            #expect(try await vendor.call(.post, "/provision/manage/model/", form: "model=a%2Fb").status == .badRequest)
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/", form: "sn=\(String(repeating: "x", count: 300))").status == .badRequest)
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/", csv: "D,\"unterminated\n").status == .badRequest)
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/", form: "sn[]=D&sn[]=D").status == .conflict)
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/", form: "{\"sn\":1}", type: "application/json").status == .unsupportedMediaType)
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/A", form: "enable=true&owner=nobody").status == .notFound)
            #expect(try await vendor.call(.post, "/provision/manage/model/cam1/A", form: "frobnicate=true").status == .badRequest)
            #expect(try await vendor.call(.get, "/provision/manage/model/cam1/?limit=10").text == "A,,\nB,,\nC,,", "nothing of the refused batches was written")

            #expect(try await vendor.call(.post, "/provision/manage/content/cam1/", form: "id=fw").status == .resetContent)
            let small = String(repeating: "a", count: 4000)
            #expect(try await client.raw(.post, "/provision/manage/content/cam1/fw", headers: [.exositeToken: vendor.token, .contentType: "text/plain"], body: small).status == .resetContent)
            let big = try await client.raw(.post, "/provision/manage/content/cam1/fw", headers: [.exositeToken: vendor.token, .contentType: "text/plain"],
                                           body: String(repeating: "b", count: 5000))
            #expect(big.status == .contentTooLarge, "\(big.status)")
            let info = try await vendor.call(.get, "/provision/manage/content/cam1/fw")
            #expect(info.text.hasPrefix("text/plain,4000,"), "the earlier blob stays: \(info.text)")
            #expect(try await vendor.call(.post, "/provision/manage/content/cam1/fw", form: nil, type: "bad type").status == .badRequest)

            let activate = try await client.raw(.post, "/provision/activate", headers: [.contentType: "application/x-www-form-urlencoded"], body: "vendor=acme")
            #expect(activate.status == .badRequest && activate.headers[.contentType] == "text/plain; charset=utf-8")
            #expect(activate.headers[HTTPField.Name("X-Request-Id")!] == nil)
            let noCIK = try await client.raw(.get, "/provision/download?vendor=acme&model=cam1")
            #expect(noCIK.status == .forbidden)
            #expect(try await client.raw(.get, "/provision/download").status == .forbidden)
        }
    }
}

extension HTTPField.Name {
    static let exositeToken = HTTPField.Name("X-Exosite-Token")!
}
