import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// The QR API of agent activation: what a live server renders decodes, with zbarimg, to the
/// seed's three lines exactly.
@Suite("Activation QR codes over HTTP", .serialized)
struct ActivationQRAPITests {
    /// Fetches the QR of `token` as `format` into a file with curl; answers the HTTP status and the file.
    static func fetch(_ client: VSaaSLiveClient, session: String, token: String, body: String, into file: String) async throws -> (status: Int, type: String) {
        let result = try await LiveServer.shellAsync("curl", [
            "-s", "--max-time", "10", "-o", file, "-w", "%{http_code} %{content_type}", "-X", "POST",
            "-H", "x-vsaas-session: \(session)", "-H", "Content-Type: application/json", "--data-binary", body,
            "http://127.0.0.1:\(client.port)/vsaas/api/v2/agent-activation-tokens/\(token)/qr"])
        let parts = result.output.split(separator: " ", maxSplits: 1)
        return (Int(parts.first ?? "") ?? 0, parts.count > 1 ? String(parts[1]) : "")
    }

    /// zbarimg's bytes for a PNG file (`-Sbinary`: the payload exactly as encoded).
    static func decode(png file: String) async throws -> String {
        // Standard error apart: zbarimg may complain there about D-Bus.
        let result = try await LiveServer.shellAsync("sh", ["-c", #"zbarimg --raw -q -Sdisable -Sqrcode.enable -Sbinary "$0" 2>/dev/null"#, file])
        #expect(result.status == 0, "zbarimg: \(result.output)")
        return result.output
    }

    @Test func pngSVGAndJSONCarryTheSeedPayload() async throws {
        let (server, client) = try await AgentActivationSeedTests.start()
        let setup = try await client.operatorSetup(adminToken: try #require(server.adminToken), email: "qr@example.com")
        let session = "x-vsaas-session: \(setup.session)"
        let issued = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens", headers: [session, "Content-Type: application/json"],
                                           body: #"{"title":"Porch","organization_id":\#(setup.organization),"preset_id":\#(setup.preset)}"#)
        let token = try #require(issued.json["token"] as? String, "\(issued.text)")
        let directory = try TestDatabases.temporaryDirectory()
        // Non-ASCII and the separators a Wi-Fi QR would have to escape, kept exactly.
        let ssid = "Café Straße;:,\\\"", password = "pässwörd:1;2"
        let expected = "\(ssid)\n\(password)\n\(setup.operatorId):\(token)"
        let fields = #""ssid":"Café Straße;:,\\\"","password":"pässwörd:1;2""#

        let png = try await Self.fetch(client, session: setup.session, token: token, body: "{\(fields),\"format\":\"png\"}", into: directory + "/code.png")
        #expect(png.status == 200 && png.type == "image/png")
        #expect(try await Self.decode(png: directory + "/code.png") == expected)

        let svg = try await Self.fetch(client, session: setup.session, token: token, body: "{\(fields),\"format\":\"svg\",\"correction\":\"H\"}",
                                       into: directory + "/code.svg")
        #expect(svg.status == 200 && svg.type == "image/svg+xml")
        let raster = try await LiveServer.shellAsync("rsvg-convert", ["--background-color", "white", "-o", directory + "/svg.png", directory + "/code.svg"])
        #expect(raster.status == 0, "\(raster.output)")
        #expect(try await Self.decode(png: directory + "/svg.png") == expected)

        let json = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens/\(token)/qr", headers: [session, "Content-Type: application/json"],
                                         body: "{\(fields),\"format\":\"json\"}")
        #expect(json.status == 200 && json.json["payload"] as? String == expected, "\(json.text)")

        // Refusals: bad input 422, an API key 403, an unknown token 404, a used token 409.
        let refusals: [([String], String, String, Int)] = [
            ([session], token, #"{"ssid":"a\nb"}"#, 422),
            ([session], token, #"{"ssid":"net","format":"gif"}"#, 422),
            ([session], token, #"{"password":"x"}"#, 422),
            ([session], token, #"{"ssid":"net","password":"\#(String(repeating: "p", count: 64))"}"#, 422),
            (["x-vsaas-api-key: gvk_nothing"], token, #"{"ssid":"net"}"#, 403),
            ([session], "NOSUCHTK", #"{"ssid":"net"}"#, 404),
        ]
        for (headers, path, body, status) in refusals {
            let answer = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens/\(path)/qr",
                                               headers: headers + ["Content-Type: application/json"], body: body)
            #expect(answer.status == status && answer.errorCode != nil, "\(body): \(answer.status) \(answer.text)")
        }
        let activated = try await client.call("POST", "/vsaas/api/v2/agents/activate", headers: ["Content-Type: application/x-www-form-urlencoded"],
                                              body: "operatorid=\(setup.operatorId)&sign=\(token)&serial=QR-1")
        #expect(activated.status == 200, "\(activated.text)")
        let used = try await client.call("POST", "/vsaas/api/v2/agent-activation-tokens/\(token)/qr", headers: [session, "Content-Type: application/json"],
                                         body: #"{"ssid":"net"}"#)
        #expect(used.status == 409 && used.errorCode == "conflict", "\(used.text)")
        _ = try await server.stop()
    }
}
