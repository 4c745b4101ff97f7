import Foundation
import GatehouseServer
import GatehouseTestSupport
import Testing

/// Every route of the tiered-access surface (seed 002) against every kind of caller, on a
/// live server with curl: exactly the allowed cells succeed; every other cell is refused
/// (401/403/404 in the surface's error shape, or a failed TLS handshake on the admin listener)
/// and changes nothing.
@Suite("Tiered access authorization matrix", .serialized)
struct TieredMatrixTests {
    enum Caller: String, CaseIterable {
        case none, garbage, otherAccountLKey, lkey, accAll, accWatch, otherChannelAcc, groupWithChannel, groupWithoutChannel, superAdmin, foreignCertificate
    }

    /// What the fixture made: account A (the owner) with channels C1 (the target) and C2, groups
    /// G1 = {C1} and G2 = {C2}; account B (another account). C1 is a serial device of A (seed
    /// 003) attached as a channel, so that it can upload images and clips with its CIK.
    final class Fixture: @unchecked Sendable {
        let client: TieredLiveClient
        let accountA: Int64, keyA: String, accountB: Int64, keyB: String
        let c1: (id: Int64, all: String, watch: String), c2: (id: Int64, all: String, watch: String)
        let g1: (id: Int64, token: String), g2: (id: Int64, token: String)
        let foreign: (String, String)
        let cik: String, vendorToken: String
        let image: Int64, clip: Int64
        var serial = 0

        init(_ client: TieredLiveClient) async throws {
            self.client = client
            (accountA, keyA) = try await client.createAccount("owner@example.com")
            (accountB, keyB) = try await client.createAccount("other@example.com")
            let admin = ["-H", "Authorization: Bearer \(try #require(client.server.adminToken))", "-H", "Content-Type: application/json"]
            _ = try await Self.curl(client, "POST", "/v1/tenants/1/vendor", admin + ["--data-binary", #"{"name":"matrixvendor"}"#])
            vendorToken = try #require(Self.json(try await Self.curl(client, "POST", "/v1/tenants/1/vendor-tokens", admin + ["--data-binary", #"{"name":"f"}"#]).text)["token"] as? String)
            _ = try await Self.curl(client, "POST", "/provision/manage/model/", ["-H", "X-Exosite-Token: \(vendorToken)", "--data-binary", "model=cam1"])
            let target = try await Self.serialDevice(client, vendorToken: vendorToken, sn: "MATRIX-C1", owner: accountA, key: keyA)
            cik = target.cik
            let attached = try await client.call(.main, "POST", "/api/v3/devices/\(target.device)/channel/", authorization: "LKey \(keyA)")
            let tokens = attached.json["access_tokens"] as? [String: String] ?? [:]
            c1 = (target.device, try #require(tokens["all"], "\(attached.text)"), try #require(tokens["watch"]))
            image = try await Self.upload(client, cik: cik, kind: "images")
            clip = try await Self.upload(client, cik: cik, kind: "clips?duration=5")
            c2 = try await client.createChannel(keyA, name: "neighbour")
            g1 = try await client.createGroup(keyA, channels: [c1.id])
            g2 = try await client.createGroup(keyA, channels: [c2.id])
            foreign = try await client.foreignCertificate()
        }

        func unique() -> Int { serial += 1; return serial }
        func freshImage() async throws -> Int64 { try await Self.upload(client, cik: cik, kind: "images") }
        func freshClip() async throws -> Int64 { try await Self.upload(client, cik: cik, kind: "clips?duration=5") }
        /// A serial device of account A that is not a channel yet.
        func freshDevice() async throws -> Int64 {
            try await Self.serialDevice(client, vendorToken: vendorToken, sn: "MATRIX-D\(unique())", owner: accountA, key: keyA).device
        }

        static func curl(_ client: TieredLiveClient, _ method: String, _ path: String, _ extra: [String]) async throws -> (status: Int, text: String) {
            let result = try await LiveServer.shellAsync("curl", ["-s", "--max-time", "10", "-X", method, "-w", "\n%{http_code}"] + extra + ["http://127.0.0.1:\(client.port)\(path)"])
            let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        static func json(_ text: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }

        /// A serial of the model, enabled for account `owner` and activated: its device id and CIK.
        static func serialDevice(_ client: TieredLiveClient, vendorToken: String, sn: String, owner: Int64, key: String) async throws -> (device: Int64, cik: String) {
            let vendor = ["-H", "X-Exosite-Token: \(vendorToken)"]
            _ = try await curl(client, "POST", "/provision/manage/model/cam1/", vendor + ["--data-binary", "sn=\(sn)"])
            _ = try await curl(client, "POST", "/provision/manage/model/cam1/\(sn)", vendor + ["--data-binary", "enable=true&owner=\(owner)"])
            let cik = try await curl(client, "POST", "/provision/activate", ["--data-binary", "vendor=matrixvendor&model=cam1&sn=\(sn)"])
            #expect(cik.status == 200, "\(cik.text)")
            let devices = try await client.call(.main, "GET", "/api/v3/devices/?limit=1000", authorization: "LKey \(key)")
            let device = try #require(devices.objects.first { $0["serial"] as? String == sn }?["id"] as? NSNumber, "\(devices.text)")
            return (device.int64Value, cik.text)
        }

        /// An upload of 100 bytes with the CIK; the new item's id.
        static func upload(_ client: TieredLiveClient, cik: String, kind: String) async throws -> Int64 {
            let type = kind.hasPrefix("clips") ? "video/mp4" : "image/jpeg"
            let answer = try await curl(client, "POST", "/api/v1.0/device/media/\(kind)",
                                        ["-H", "X-Exosite-CIK: \(cik)", "-H", "Content-Type: \(type)", "--data-binary", String(repeating: "x", count: 100)])
            return try #require((json(answer.text)["id"] as? NSNumber)?.int64Value, "\(answer.text)")
        }
        func freshChannel() async throws -> Int64 { try await client.createChannel(keyA, name: "fresh").id }
        func freshGroup() async throws -> Int64 { try await client.createGroup(keyA, channels: [c1.id]).id }
        func freshAccount() async throws -> Int64 { try await client.createAccount("fresh\(unique())@example.com").id }

        func authorization(_ caller: Caller) -> String? {
            switch caller {
            case .none, .superAdmin, .foreignCertificate: nil
            case .garbage: "Acc not-base64-@@@"
            case .otherAccountLKey: "LKey \(keyB)"
            case .lkey: "LKey \(keyA)"
            case .accAll: "Acc \(c1.all)"
            case .accWatch: "Acc \(c1.watch)"
            case .otherChannelAcc: "Acc \(c2.all)"
            case .groupWithChannel: "SI \(g1.token)"
            case .groupWithoutChannel: "SI \(g2.token)"
            }
        }

        func certificate(_ caller: Caller) -> (String, String)? {
            switch caller {
            case .superAdmin: client.superAdmin
            case .foreignCertificate: foreign
            default: nil
            }
        }
    }

    struct Row: Sendable {
        /// `METHOD path` as the router lists it.
        let route: String
        let listener: TieredLiveClient.Listener
        let allowed: Set<Caller>
        /// The concrete path for one cell (may make a fresh object to act on).
        let path: @Sendable (Fixture) async throws -> String
        var body: (@Sendable (Fixture) -> String)? = nil
        /// For destructive rows: whether the object of a refused cell is still intact.
        var intact: (@Sendable (Fixture, String) async throws -> Bool)? = nil
        /// Extra check of an allowed answer.
        var check: (@Sendable (Fixture, Caller, TieredLiveClient.Answer) -> Bool)? = nil
    }

    static let owner: Set<Caller> = [.lkey]
    /// Collection routes act on the caller's own account, so any valid license key may call them.
    static let anyLicenseKey: Set<Caller> = [.lkey, .otherAccountLKey]

    static func ids(_ answer: TieredLiveClient.Answer) -> [Int64] { answer.objects.compactMap { ($0["id"] as? NSNumber)?.int64Value } }
    static let channelReaders: Set<Caller> = [.accAll, .accWatch, .otherChannelAcc]
    static let channelWriters: Set<Caller> = [.accAll, .otherChannelAcc]

    static func mediaStillThere(_ fixture: Fixture, _ path: String) async throws -> Bool {
        try await fixture.client.call(.main, "GET", path, authorization: "Acc \(fixture.c1.watch)").status == 200
    }

    static func stillNoChannel(_ fixture: Fixture, _ path: String) async throws -> Bool {
        let device = path.split(separator: "/").dropLast().last.map(String.init) ?? ""
        return try await fixture.client.call(.main, "GET", "/api/v3/channels/\(device)/", authorization: "LKey \(fixture.keyA)").status == 404
    }

    static func channelStillThere(_ fixture: Fixture, _ path: String) async throws -> Bool {
        try await fixture.client.call(.main, "GET", path, authorization: "LKey \(fixture.keyA)").status == 200
    }

    /// The matrix: one row per route of the surface.
    static let rows: [Row] = [
        // Super-admin API, on the mutual-TLS listener.
        Row(route: "GET /api/v2/admin/users", listener: .admin, allowed: [.superAdmin], path: { _ in "/api/v2/admin/users/?suid=owner@example.com" },
            check: { f, _, answer in answer.objects.first?["id"] as? NSNumber == NSNumber(value: f.accountA) }),
        Row(route: "POST /api/v2/admin/users", listener: .admin, allowed: [.superAdmin], path: { _ in "/api/v2/admin/users/" },
            body: { f in #"{"suid":"new\#(f.unique())@example.com","limits":{"hosted_cameras":3}}"# }),
        Row(route: "GET /api/v2/admin/users/{id}", listener: .admin, allowed: [.superAdmin], path: { f in "/api/v2/admin/users/\(f.accountA)/" }),
        Row(route: "PUT /api/v2/admin/users/{id}", listener: .admin, allowed: [.superAdmin], path: { f in "/api/v2/admin/users/\(try await f.freshAccount())/" },
            body: { _ in #"{"usrc":"Renamed Co","limits":{"hosted_cameras":7}}"# }),
        Row(route: "POST /api/v2/admin/users/{id}/license_key", listener: .admin, allowed: [.superAdmin],
            path: { f in "/api/v2/admin/users/\(try await f.freshAccount())/license_key/" }),
        // License-key admin API.
        Row(route: "GET /api/v3/account", listener: .main, allowed: anyLicenseKey, path: { _ in "/api/v3/account/" },
            check: { f, caller, answer in answer.id == (caller == .lkey ? f.accountA : f.accountB) }),
        Row(route: "GET /api/v3/channels", listener: .main, allowed: anyLicenseKey, path: { _ in "/api/v3/channels/" },
            check: { f, caller, answer in ids(answer).contains(f.c1.id) == (caller == .lkey) }),
        Row(route: "POST /api/v3/channels", listener: .main, allowed: anyLicenseKey, path: { _ in "/api/v3/channels/" }, body: { _ in #"{"name":"made"}"# }),
        Row(route: "GET /api/v3/channels/{id}", listener: .main, allowed: owner, path: { f in "/api/v3/channels/\(f.c1.id)/" }),
        Row(route: "PUT /api/v3/channels/{id}", listener: .main, allowed: owner, path: { f in "/api/v3/channels/\(f.c1.id)/" },
            body: { _ in #"{"name":"target","timezone":"Europe/Berlin"}"# }),
        Row(route: "DELETE /api/v3/channels/{id}", listener: .main, allowed: owner, path: { f in "/api/v3/channels/\(try await f.freshChannel())/" },
            intact: channelStillThere),
        Row(route: "GET /api/v3/channels/{id}/limits", listener: .main, allowed: owner, path: { f in "/api/v3/channels/\(f.c1.id)/limits/" }),
        Row(route: "PUT /api/v3/channels/{id}/limits", listener: .main, allowed: owner, path: { f in "/api/v3/channels/\(f.c1.id)/limits/" },
            body: { _ in #"{"records_max_age":720}"# }),
        Row(route: "GET /api/v3/channels/{id}/meta", listener: .main, allowed: owner, path: { f in "/api/v3/channels/\(f.c1.id)/meta/" }),
        Row(route: "PUT /api/v3/channels/{id}/meta", listener: .main, allowed: owner, path: { f in "/api/v3/channels/\(f.c1.id)/meta/" },
            body: { _ in #"{"floor":"2"}"# }),
        Row(route: "POST /api/v3/channels/{id}/access_tokens", listener: .main, allowed: owner,
            path: { f in "/api/v3/channels/\(try await f.freshChannel())/access_tokens/" }),
        Row(route: "GET /api/v3/channels/{id}/events", listener: .main, allowed: owner, path: { f in "/api/v3/channels/\(f.c1.id)/events/" }),
        Row(route: "POST /api/v3/channels/{id}/events", listener: .main, allowed: owner, path: { f in "/api/v3/channels/\(f.c1.id)/events/" },
            body: { _ in #"{"type":"backend"}"# }),
        Row(route: "GET /api/v3/channel_groups", listener: .main, allowed: anyLicenseKey, path: { _ in "/api/v3/channel_groups/" },
            check: { f, caller, answer in ids(answer).contains(f.g1.id) == (caller == .lkey) }),
        Row(route: "POST /api/v3/channel_groups", listener: .main, allowed: owner, path: { _ in "/api/v3/channel_groups/" },
            body: { f in #"{"name":"made","channels":[\#(f.c1.id)]}"# }),
        Row(route: "GET /api/v3/channel_groups/{id}", listener: .main, allowed: owner, path: { f in "/api/v3/channel_groups/\(f.g1.id)/" }),
        Row(route: "PUT /api/v3/channel_groups/{id}", listener: .main, allowed: owner, path: { f in "/api/v3/channel_groups/\(f.g1.id)/" },
            body: { _ in #"{"name":"front"}"# }),
        Row(route: "DELETE /api/v3/channel_groups/{id}", listener: .main, allowed: owner, path: { f in "/api/v3/channel_groups/\(try await f.freshGroup())/" },
            intact: channelStillThere),
        // Front ends with a channel token: always the token's own channel.
        Row(route: "GET /api/v4/channel", listener: .main, allowed: channelReaders, path: { _ in "/api/v4/channel/" },
            check: { f, caller, answer in answer.id == (caller == .otherChannelAcc ? f.c2.id : f.c1.id) }),
        Row(route: "GET /api/v4/meta", listener: .main, allowed: channelReaders, path: { _ in "/api/v4/meta/" }),
        Row(route: "PUT /api/v4/meta", listener: .main, allowed: channelWriters, path: { _ in "/api/v4/meta/" }, body: { _ in #"{"floor":"2"}"# }),
        Row(route: "GET /api/v4/events", listener: .main, allowed: channelReaders, path: { _ in "/api/v4/events/" }),
        Row(route: "POST /api/v4/events", listener: .main, allowed: channelWriters, path: { _ in "/api/v4/events/" },
            body: { _ in #"{"type":"motion","payload":{"zone":1}}"# }),
        // Images, clips and live video (issue 9 points 4 and 5).
        Row(route: "GET /api/v3/devices", listener: .main, allowed: anyLicenseKey, path: { _ in "/api/v3/devices/" },
            check: { f, caller, answer in ids(answer).contains(f.c1.id) == (caller == .lkey) }),
        Row(route: "POST /api/v3/devices/{id}/channel", listener: .main, allowed: owner, path: { f in "/api/v3/devices/\(try await f.freshDevice())/channel/" },
            intact: stillNoChannel),
        Row(route: "GET /api/v3/live/templates", listener: .main, allowed: anyLicenseKey, path: { _ in "/api/v3/live/templates/" }),
        Row(route: "PUT /api/v3/live/templates", listener: .main, allowed: anyLicenseKey, path: { _ in "/api/v3/live/templates/" },
            body: { _ in #"{"url_templates":{"rtsp":"rtsp://media.example/{channel_id}"}}"# }),
        Row(route: "GET /api/v4/live/watch", listener: .main, allowed: channelReaders, path: { _ in "/api/v4/live/watch/" },
            check: { f, caller, answer in (answer.json["channel_id"] as? NSNumber)?.int64Value == (caller == .otherChannelAcc ? f.c2.id : f.c1.id) }),
        Row(route: "GET /api/v4/storage/images", listener: .main, allowed: channelReaders, path: { _ in "/api/v4/storage/images/" },
            check: { f, caller, answer in ids(answer).contains(f.image) == (caller != .otherChannelAcc) }),
        Row(route: "GET /api/v4/storage/images/{id}", listener: .main, allowed: [.accAll, .accWatch], path: { f in "/api/v4/storage/images/\(f.image)/" }),
        Row(route: "GET /api/v4/storage/images/{id}/download", listener: .main, allowed: [.accAll, .accWatch],
            path: { f in "/api/v4/storage/images/\(f.image)/download/" }, check: { _, _, answer in answer.text.utf8.count == 100 }),
        Row(route: "DELETE /api/v4/storage/images/{id}", listener: .main, allowed: [.accAll], path: { f in "/api/v4/storage/images/\(try await f.freshImage())/" },
            intact: mediaStillThere),
        Row(route: "GET /api/v4/storage/clips", listener: .main, allowed: channelReaders, path: { _ in "/api/v4/storage/clips/" },
            check: { f, caller, answer in ids(answer).contains(f.clip) == (caller != .otherChannelAcc) }),
        Row(route: "GET /api/v4/storage/clips/{id}", listener: .main, allowed: [.accAll, .accWatch], path: { f in "/api/v4/storage/clips/\(f.clip)/" }),
        Row(route: "GET /api/v4/storage/clips/{id}/download", listener: .main, allowed: [.accAll, .accWatch],
            path: { f in "/api/v4/storage/clips/\(f.clip)/download/" }, check: { _, _, answer in answer.text.utf8.count == 100 }),
        Row(route: "DELETE /api/v4/storage/clips/{id}", listener: .main, allowed: [.accAll], path: { f in "/api/v4/storage/clips/\(try await f.freshClip())/" },
            intact: mediaStillThere),
        // Front ends with a group token: the group's channels only, read only.
        Row(route: "GET /api/v5/channels", listener: .main, allowed: [.groupWithChannel, .groupWithoutChannel], path: { _ in "/api/v5/channels/" },
            check: { f, caller, answer in ids(answer) == [caller == .groupWithChannel ? f.c1.id : f.c2.id] }),
        Row(route: "GET /api/v5/channels/{id}", listener: .main, allowed: [.groupWithChannel], path: { f in "/api/v5/channels/\(f.c1.id)/" }),
        Row(route: "GET /api/v5/events", listener: .main, allowed: [.groupWithChannel], path: { f in "/api/v5/events/?channel_id=\(f.c1.id)" }),
    ]

    @Test func everyRouteHasARow() throws {
        let served = Set(try gatehouseRoutes(GatehouseConfiguration(dataDirectory: try TestDatabases.temporaryDirectory())).routes
            // /api/v1.0/ is signed onboarding (seed 004), with its own tests.
            .filter { $0.path.hasPrefix("/api/") && !$0.path.hasPrefix("/api/v1.0/") }.map { "\($0.method.rawValue) \($0.path)" })
        let tabled = Set(Self.rows.map(\.route))
        #expect(tabled.count == Self.rows.count, "one row per route")
        #expect(served == tabled, "routes without a row: \(served.subtracting(tabled).sorted()); rows without a route: \(tabled.subtracting(served).sorted())")
    }

    @Test func exactlyTheAllowedCellsSucceed() async throws {
        let client = try await TieredLiveClient()
        let fixture = try await Fixture(client)
        var failures: [String] = []
        for row in Self.rows {
            let method = String(row.route.split(separator: " ")[0])
            for caller in Caller.allCases {
                let path = try await row.path(fixture)
                let answer = try await client.call(row.listener, method, path, authorization: fixture.authorization(caller), json: row.body?(fixture),
                                             certificate: fixture.certificate(caller))
                let cell = "\(row.route) as \(caller.rawValue)"
                if row.allowed.contains(caller) {
                    if !(200..<300).contains(answer.status) { failures.append("\(cell): expected success, got \(answer.status) \(answer.text)") }
                    else if let check = row.check, !check(fixture, caller, answer) { failures.append("\(cell): wrong answer \(answer.text)") }
                } else {
                    let refusedOverHTTP = [401, 403, 404].contains(answer.status) && answer.isTieredError
                    let refusedAtHandshake = row.listener == .admin && answer.status == 0
                    if !(refusedOverHTTP || refusedAtHandshake) { failures.append("\(cell): expected refusal, got \(answer.status) \(answer.text)") }
                    if let intact = row.intact, try await !intact(fixture, path) { failures.append("\(cell): a refused call changed data") }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")

        // The refused writes changed nothing: the watch token's and the other account's attempts left C1 as the owner set it.
        let meta = try await client.call(.main, "GET", "/api/v3/channels/\(fixture.c1.id)/meta/", authorization: "LKey \(fixture.keyA)")
        #expect(meta.json as? [String: String] == ["floor": "2"])
        try await client.stop()
    }
}
