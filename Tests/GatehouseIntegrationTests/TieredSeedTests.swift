import Foundation
import GatehouseTestSupport
import Testing

/// Seed 002 as its clients use it, on a live server: the super-admin's curl call, license keys
/// found and regenerated, limits, usage statistics, and bad input answered in the seed's
/// error shape.
@Suite("Tiered access as seed 002 describes it", .serialized)
struct TieredSeedTests {
    @Test func superAdminLicenseKeysLimitsAndUsage() async throws {
        let client = try await TieredLiveClient()
        let admin = client.superAdmin

        // The seed's own example, byte for byte (note the stray space in " limits").
        let seedBody = #"{ "suid": "user_id", "usrc": "Company_name", "license_key": {"value": "LICENSEKEY"}, " limits": {"hosted_cameras": 1} }"#
        let created = try await client.call(.admin, "POST", "/api/v2/admin/users/", json: seedBody, certificate: admin)
        #expect(created.status == 201, "\(created.text)")
        #expect((created.json["license_key"] as? [String: Any])?["value"] as? String == "LICENSEKEY")
        #expect((created.json["limits"] as? [String: Any])?["hosted_cameras"] as? Int == 1)
        let id = try #require(created.id)
        #expect(try await client.call(.admin, "POST", "/api/v2/admin/users/", json: seedBody, certificate: admin).status == 409)

        // Found by suid and by key, in the list shape.
        for query in ["suid=user_id", "license_key=LICENSEKEY"] {
            let found = try await client.call(.admin, "GET", "/api/v2/admin/users/?\(query)", certificate: admin)
            #expect(found.objects.count == 1 && (found.json["meta"] as? [String: Any])?["total_count"] as? Int == 1, "\(found.text)")
            #expect((found.objects.first?["license_key"] as? [String: Any])?["value"] as? String == "LICENSEKEY")
        }
        #expect(try await client.call(.admin, "GET", "/api/v2/admin/users/?suid=nobody", certificate: admin).objects.isEmpty)

        // hosted_cameras: one channel fits, the next is refused clearly.
        let channel = try await client.createChannel("LICENSEKEY")
        let refused = try await client.call(.main, "POST", "/api/v3/channels/", authorization: "LKey LICENSEKEY", json: #"{"name":"second"}"#)
        #expect(refused.status == 403 && refused.json["errorType"] as? String == "limit_exceeded" && refused.isTieredError, "\(refused.text)")

        // Storage: a small account limit stops events once full.
        #expect(try await client.call(.admin, "PUT", "/api/v2/admin/users/\(id)/", json: #"{"limits":{"hosted_cameras":1,"storage_bytes":100}}"#,
                                certificate: admin).status == 200)
        var statuses: [Int] = []
        for _ in 0..<5 {
            statuses.append(try await client.call(.main, "POST", "/api/v4/events/", authorization: "Acc \(channel.all)",
                                            json: #"{"type":"motion","payload":{"zone":"front-door"}}"#).status)
        }
        #expect(statuses == [201, 201, 201, 403, 403], "\(statuses)")

        // Usage statistics: channels, tokens, API calls and bytes (counted in memory, flushed every second).
        try await Task.sleep(for: .milliseconds(1500))
        let usage = try #require(try await client.call(.main, "GET", "/api/v3/account/", authorization: "LKey LICENSEKEY").json["usage"] as? [String: Any])
        #expect(usage["channels"] as? Int == 1)
        #expect(usage["tokens_issued"] as? Int == 2)
        #expect((usage["api_calls"] as? Int ?? 0) >= 7, "\(usage)")
        #expect((usage["bandwidth_bytes"] as? Int ?? 0) > 500, "\(usage)")
        #expect(usage["storage_bytes"] as? Int == 3 * ("motion".utf8.count + #"{"zone":"front-door"}"#.utf8.count))

        // Bandwidth: once the month's bytes are used up, front ends are refused.
        #expect(try await client.call(.admin, "PUT", "/api/v2/admin/users/\(id)/", json: #"{"limits":{"hosted_cameras":1,"bandwidth_bytes":10}}"#,
                                certificate: admin).status == 200)
        try await Task.sleep(for: .milliseconds(2500))
        let throttled = try await client.call(.main, "GET", "/api/v4/channel/", authorization: "Acc \(channel.watch)")
        #expect(throttled.status == 403 && throttled.json["errorType"] as? String == "limit_exceeded", "\(throttled.text)")
        #expect(try await client.call(.admin, "PUT", "/api/v2/admin/users/\(id)/", json: #"{"limits":{"hosted_cameras":1}}"#, certificate: admin).status == 200)
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await client.call(.main, "GET", "/api/v4/channel/", authorization: "Acc \(channel.watch)").status == 200)

        // Regenerating the key: the old one stops at once, the new one works and is what the super-admin sees.
        let renewed = try await client.call(.admin, "POST", "/api/v2/admin/users/\(id)/license_key/", certificate: admin)
        let newKey = try #require((renewed.json["license_key"] as? [String: Any])?["value"] as? String)
        #expect(newKey != "LICENSEKEY" && newKey.hasPrefix("v3."))
        let old = try await client.call(.main, "GET", "/api/v3/channels/", authorization: "LKey LICENSEKEY")
        #expect(old.status == 401 && old.isTieredError)
        #expect(try await client.call(.main, "GET", "/api/v3/channels/", authorization: "LKey \(newKey)").status == 200)
        #expect((try await client.call(.admin, "GET", "/api/v2/admin/users/\(id)/", certificate: admin).json["license_key"] as? [String: Any])?["value"] as? String == newKey)
        let chosen = try await client.call(.admin, "POST", "/api/v2/admin/users/\(id)/license_key/", json: #"{"value":"CHOSEN-KEY-1"}"#, certificate: admin)
        #expect((chosen.json["license_key"] as? [String: Any])?["value"] as? String == "CHOSEN-KEY-1")
        #expect(try await client.call(.main, "GET", "/api/v3/channels/", authorization: "LKey \(newKey)").status == 401)
        try await client.stop()
    }

    @Test func badInputGetsAClearAnswerInTheSeedShape() async throws {
        let client = try await TieredLiveClient(environment: ["GATEHOUSE_MAX_BODY_SIZE": "4096"])
        let admin = client.superAdmin
        let key = try await client.createAccount("bad-input@example.com").key
        let channel = try await client.createChannel(key)
        let lkey = "LKey \(key)"
        let tokenWithoutSecret = Data(#"{"camid":\#(channel.id),"access":"all"}"#.utf8).base64EncodedString()
        let cases: [(TieredLiveClient.Listener, String, String, String?, String?, Int, String)] = [
            (.main, "POST", "/api/v3/channels/", lkey, "{not json", 400, "malformed_body"),
            (.main, "POST", "/api/v3/channels/", lkey, "[1,2]", 422, "validation_failed"),
            (.main, "POST", "/api/v3/channels/", lkey, #"{"name":17}"#, 422, "validation_failed"),
            (.main, "POST", "/api/v3/channels/", lkey, #"{"rec_mode":"sometimes"}"#, 422, "validation_failed"),
            (.main, "POST", "/api/v3/channels/", lkey, #"{"timezone":"Mars/Olympus"}"#, 422, "validation_failed"),
            (.main, "POST", "/api/v3/channels/", lkey, #"{"source":{"url":"not a url"}}"#, 422, "validation_failed"),
            (.main, "POST", "/api/v3/channels/", lkey, #"{"meta":{"bad key!":"x"}}"#, 422, "validation_failed"),
            (.main, "POST", "/api/v3/channels/", lkey, #"{"name":"\#(String(repeating: "x", count: 5000))"}"#, 413, "payload_too_large"),
            (.main, "PUT", "/api/v3/channels/\(channel.id)/meta/", lkey, #"{"floor":2}"#, 422, "validation_failed"),
            (.main, "PUT", "/api/v3/channels/\(channel.id)/limits/", lkey, #"{"storage_bytes":-1}"#, 422, "validation_failed"),
            (.main, "GET", "/api/v3/channels/999999/", lkey, nil, 404, "not_found"),
            (.main, "GET", "/api/v3/channels/abc/", lkey, nil, 400, "invalid_request"),
            (.main, "GET", "/api/v3/channels/?limit=0", lkey, nil, 422, "validation_failed"),
            (.main, "GET", "/api/v3/channels/?offset=-4", lkey, nil, 422, "validation_failed"),
            (.main, "GET", "/api/v3/channels/?limit=1%27%20OR%201=1", lkey, nil, 422, "validation_failed"),
            (.main, "GET", "/api/v3/channels/\(channel.id)/events/?start=yesterday", lkey, nil, 422, "validation_failed"),
            (.main, "GET", "/api/v3/channels/\(channel.id)/events/?type=a%27%3BDROP", lkey, nil, 422, "validation_failed"),
            (.main, "POST", "/api/v3/channels/\(channel.id)/events/", lkey, #"{"payload":{}}"#, 422, "validation_failed"),
            (.main, "POST", "/api/v3/channels/\(channel.id)/events/", lkey, #"{"type":"x","payload":[1]}"#, 422, "validation_failed"),
            (.main, "POST", "/api/v3/channels/\(channel.id)/access_tokens/", lkey, #"{"access":"root"}"#, 422, "validation_failed"),
            (.main, "POST", "/api/v3/channel_groups/", lkey, #"{"name":"g","channels":["one"]}"#, 422, "validation_failed"),
            (.main, "DELETE", "/api/v3/channels/", lkey, nil, 405, "method_not_allowed"),
            (.main, "GET", "/api/v4/channel/", "Acc %%%not-base64", nil, 401, "unauthenticated"),
            (.main, "GET", "/api/v4/channel/", "Acc \(tokenWithoutSecret)", nil, 401, "unauthenticated"),
            (.main, "GET", "/api/v4/channel/", "Acc", nil, 401, "unauthenticated"),
            (.main, "GET", "/api/v4/channel/", "Bearer \(key)", nil, 401, "unauthenticated"),
            (.main, "GET", "/api/v5/channels/", "SI \(String(repeating: "A", count: 300))", nil, 401, "unauthenticated"),
            (.main, "GET", "/api/v3/nothing-here/", lkey, nil, 404, "not_found"),
            (.admin, "POST", "/api/v2/admin/users/", nil, #"{"usrc":"no suid"}"#, 422, "validation_failed"),
            (.admin, "POST", "/api/v2/admin/users/", nil, #"{"suid":"x@example.com","license_key":{"value":"short"}}"#, 422, "validation_failed"),
            (.admin, "POST", "/api/v2/admin/users/", nil, #"{"suid":"x@example.com","limits":{"hosted_cameras":"many"}}"#, 422, "validation_failed"),
            (.admin, "POST", "/api/v2/admin/users/", nil, #"{"suid":"x@example.com","parent":"no-such-node"}"#, 422, "validation_failed"),
            (.admin, "GET", "/api/v2/admin/users/424242/", nil, nil, 404, "not_found"),
        ]
        for (listener, method, path, authorization, body, status, errorType) in cases {
            let answer = try await client.call(listener, method, path, authorization: authorization, json: body, certificate: admin)
            #expect(answer.status == status && answer.json["errorType"] as? String == errorType && answer.isTieredError,
                    "\(method) \(path) \(body ?? ""): \(answer.status) \(answer.text)")
        }
        // A wrong content type is refused, and nothing was half-written by any of the above.
        let wrongType = try await LiveServer.shellAsync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Authorization: \(lkey)",
                                                      "-H", "Content-Type: text/plain", "--data", "{}", "http://127.0.0.1:\(client.port)/api/v3/channels/"])
        #expect(wrongType.output == "415")
        let list = try await client.call(.main, "GET", "/api/v3/channels/", authorization: lkey)
        #expect((list.json["meta"] as? [String: Any])?["total_count"] as? Int == 1)
        #expect(try await client.call(.admin, "GET", "/api/v2/admin/users/?suid=x@example.com", certificate: admin).objects.isEmpty)
        try await client.stop()
    }
}
