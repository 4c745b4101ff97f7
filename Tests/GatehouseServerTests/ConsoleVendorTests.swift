import Foundation
import GatehouseCore
import GatehouseServer
import HTTPTypes
import Hummingbird
import Testing

extension ConsoleBrowser {
    static let boundary = "----GatehouseTestBoundary7MA4YWxkTrZu0gW"

    /// A `multipart/form-data` body as a browser sends it: `fields` in order, then the file (if any).
    static func multipart(_ fields: [(String, String)], file: (field: String, filename: String, type: String, body: String)? = nil,
                          close: Bool = true) -> String {
        var text = ""
        for (name, value) in fields {
            text += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        if let file {
            text += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.filename)\"\r\nContent-Type: \(file.type)\r\n\r\n\(file.body)\r\n"
        }
        if close { text += "--\(boundary)--\r\n" }
        return text
    }

    /// POSTs a multipart form (the page's `csrf` first unless `csrf` is given; `.some(nil)` sends none).
    @discardableResult
    mutating func upload(_ path: String, _ fields: [(String, String)] = [], file: (field: String, filename: String, type: String, body: String)?,
                         csrf: String?? = .none, body raw: String? = nil) async throws -> TestApp.Client.Answer {
        var headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(Self.boundary)"]
        if let cookie = cookieHeader { headers[.cookie] = cookie }
        var all: [(String, String)] = []
        switch csrf {
        case .none: if let token = formToken { all.append(("csrf", token)) }
        case .some(.some(let token)): all.append(("csrf", token))
        case .some(.none): break
        }
        let answer = try await client.raw(.post, path, headers: headers, body: raw ?? Self.multipart(all + fields, file: file))
        absorb(answer)
        return answer
    }
}

/// The vendor's console pages (issue 10, point 5; seed 003) through the router: models, serials
/// with a CSV upload, content upload; only users who may act for the vendor (`manage_clients`
/// on the vendor's node or above it) get them, forms need the token, rejected forms keep values.
@Suite("Console: vendor pages")
struct ConsoleVendorTests {
    static let vendorUser = "vendor@acme.example"

    /// The vendor of `ProvisioningAPITests` (node Acme, model cam1 with serials A, B, C) with
    /// console users: one who may act for it, one who may not, a dealer elsewhere, an account user.
    static func world(_ client: TestApp.Client) async throws -> ProvisioningAPITests.Vendor {
        let vendor = try await ProvisioningAPITests.vendor(client)
        _ = try await client.createUser(tenant: vendor.nodeId, email: vendorUser, permissions: ["manage_clients"])
        _ = try await client.createUser(tenant: vendor.nodeId, email: "viewer@acme.example", permissions: ["read_audit"])
        let other = try await client.createTenant(kind: "distributor", parent: 1, name: "Other")
        _ = try await client.createUser(tenant: other, email: "dev@other.example", permissions: ["manage_clients"])
        _ = try await client.createUser(tenant: vendor.accountId, email: "end@home.example")
        return vendor
    }

    static func models(_ vendor: ProvisioningAPITests.Vendor) async throws -> [String] {
        try await vendor.call(.get, "/provision/manage/model").text.split(separator: "\n").map(String.init)
    }

    static func serials(_ vendor: ProvisioningAPITests.Vendor, _ model: String = "cam1") async throws -> [String] {
        try await vendor.call(.get, "/provision/manage/model/\(model)/").text.split(separator: "\n").map { String($0.split(separator: ",")[0]) }
    }

    @Test func onlyUsersWhoMayActForTheVendorGetItsPages() async throws {
        try await TestApp().run { client in
            let vendor = try await Self.world(client)
            let models = "/console/vendors/\(vendor.nodeId)/models"
            var anonymous = ConsoleBrowser(client)
            #expect(try await anonymous.get(models).headers[.location] == "/console/sign-in")
            #expect(try await anonymous.get(models + "/cam1").headers[.location] == "/console/sign-in")
            #expect(try await anonymous.upload(models + "/cam1/serials", file: ("file", "s.csv", "text/csv", "Z1\n"), csrf: "x").headers[.location]
                == "/console/sign-in")

            let expected: [(String, HTTPResponse.Status)] = [("viewer@acme.example", .forbidden), ("end@home.example", .forbidden), ("dev@other.example", .notFound)]
            for (email, status) in expected {
                var user = ConsoleBrowser(client)
                try await user.signIn(email)
                #expect(!user.page.contains(#"href="\#(models)""#), "\(email) has no Models link")
                #expect(try await user.get(models).status == status, "\(email)")
                #expect(try await user.get(models + "/cam1").status == status, "\(email)")
                #expect(try await user.post(models, [("model", "sneaky")], csrf: user.formToken).status == status, "\(email)")
                #expect(try await user.post(models + "/cam1/window", [("window", "600")], csrf: user.formToken).status == status, "\(email)")
                #expect(try await user.upload(models + "/cam1/serials", file: ("file", "s.csv", "text/csv", "Z1\n"), csrf: user.formToken).status == status,
                        "\(email)")
                #expect(try await user.upload(models + "/cam1/content", [("content_id", "x"), ("version", "1")], file: ("file", "f.bin", "application/octet-stream", "X"),
                                              csrf: user.formToken).status == status, "\(email)")
            }
            #expect(try await Self.models(vendor) == ["cam1"])
            #expect(try await Self.serials(vendor) == ["A", "B", "C"])
            #expect(try await vendor.call(.get, "/provision/manage/content/cam1/").status == .noContent)
            // A node that is not a vendor is not found, even for a user who may manage it.
            var other = ConsoleBrowser(client)
            try await other.signIn("dev@other.example")
            let otherNode = try #require(try await client.admin(.get, "/v1/tenants?parent_id=1").items.first { $0["name"] as? String == "Other" }?["id"] as? NSNumber)
            #expect(try await other.get("/console/vendors/\(otherNode.int64Value)/models").status == .notFound)
        }
    }

    @Test func theVendorCreatesAndEditsModels() async throws {
        try await TestApp().run { client in
            let vendor = try await Self.world(client)
            let models = "/console/vendors/\(vendor.nodeId)/models"
            var user = ConsoleBrowser(client)
            try await user.signIn(Self.vendorUser)
            #expect(user.page.contains(#"href="\#(models)">Models</a>"#), "the home page links the vendor's models")
            let list = try await user.get(models)
            #expect(list.status == .ok && list.text.contains(#"<a href="\#(models)/cam1">cam1</a>"#) && list.text.contains("1 day (86400 s)"))

            // Without the form token nothing is created.
            #expect(try await user.post(models, [("model", "forged")], csrf: .some(nil)).status == .forbidden)
            #expect(try await Self.models(vendor) == ["cam1"])

            try await user.get(models)
            let created = try await user.post(models, [("model", "cam-2"), ("window", "3600")])
            #expect(created.status == .seeOther && created.headers[.location] == models + "/cam-2?done=model-created", "\(created.text)")
            #expect(try await Self.models(vendor).sorted() == ["cam-2", "cam1"])
            // The audit log names the user who acted, not the vendor's token.
            let userId = try #require(try await client.admin(.get, "/v1/users?limit=500").items.first { $0["email"] as? String == Self.vendorUser }?["id"] as? NSNumber)
            let audit = try await client.admin(.get, "/v1/audit?limit=500").items.filter { $0["action"] as? String == "provision.model.create" }
            #expect(audit.last?["actor"] as? String == "user:\(userId.int64Value)", "\(audit)")
            let page = try await user.get(models + "/cam-2?done=model-created")
            #expect(page.text.contains("Model created.") && page.text.contains("1 hour (3600 s)"))

            // Rejected forms keep what was typed, with the error next to its field.
            let badName = try await user.post(models, [("model", "bad name!"), ("window", "600")])
            #expect(badName.status == .unprocessableContent && badName.text.contains(#"id="model-name-error""#))
            #expect(badName.text.contains(#"value="bad name!""#) && badName.text.contains(#"value="600""#))
            let badWindow = try await user.post(models, [("model", "cam-3"), ("window", "soon")])
            #expect(badWindow.status == .unprocessableContent && badWindow.text.contains(#"id="model-window-error""#) && badWindow.text.contains(#"value="cam-3""#))
            let shortWindow = try await user.post(models, [("model", "cam-3"), ("window", "5")])
            #expect(shortWindow.status == .unprocessableContent && shortWindow.text.contains(#"id="model-window-error""#))
            let taken = try await user.post(models, [("model", "cam1")])
            #expect(taken.status == .unprocessableContent && taken.text.contains(#"id="model-name-error""#) && taken.text.contains("already exists"))
            #expect(try await Self.models(vendor).sorted() == ["cam-2", "cam1"])

            // The activation window.
            try await user.get(models + "/cam1")
            let saved = try await user.post(models + "/cam1/window", [("window", "7200")])
            #expect(saved.status == .seeOther)
            #expect(try await vendor.call(.get, "/provision/manage/model/cam1").text.hasPrefix("window=7200&"))
            let refused = try await user.post(models + "/cam1/window", [("window", "30")])
            #expect(refused.status == .unprocessableContent && refused.text.contains(#"id="window-seconds-error""#) && refused.text.contains(#"value="30""#))
            #expect(try await user.post(models + "/cam1/window", [("window", "600")], csrf: .some(nil)).status == .forbidden)
            #expect(try await vendor.call(.get, "/provision/manage/model/cam1").text.hasPrefix("window=7200&"))
            #expect(try await user.get(models + "/no-such-model").status == .notFound)
        }
    }

    @Test func theVendorUploadsSerialsAsCSV() async throws {
        try await TestApp().run { client in
            let vendor = try await Self.world(client)
            let model = "/console/vendors/\(vendor.nodeId)/models/cam1"
            var user = ConsoleBrowser(client)
            try await user.signIn(Self.vendorUser)
            let page = try await user.get(model)
            #expect(page.text.contains(#"enctype="multipart/form-data""#) && page.text.contains(#"<label for="serials-file">"#))

            // Without the token (or with the token after the file) nothing is read or stored.
            #expect(try await user.upload(model + "/serials", file: ("file", "s.csv", "text/csv", "Z1\n"), csrf: .some(nil)).status == .forbidden)
            let late = ConsoleBrowser.multipart([], file: ("file", "s.csv", "text/csv", "Z2\n")).replacingOccurrences(
                of: "--\(ConsoleBrowser.boundary)--", with: "--\(ConsoleBrowser.boundary)\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(user.formToken ?? "")\r\n--\(ConsoleBrowser.boundary)--")
            #expect(try await user.upload(model + "/serials", file: nil, body: late).status == .forbidden)
            #expect(try await Self.serials(vendor) == ["A", "B", "C"])

            // A good file: quoted fields, CRLF line ends, blank lines; the same import as the API.
            let csv = "SN-1,first\r\n\r\nSN-2\r\n\"SN-3\",\"extra, with a comma\"\r\n"
            let imported = try await user.upload(model + "/serials", file: ("file", "serials.csv", "text/csv", csv))
            #expect(imported.status == .seeOther && imported.headers[.location] == model + "?done=serials-imported&count=3", "\(imported.text)")
            #expect(try await Self.serials(vendor) == ["A", "B", "C", "SN-1", "SN-2", "SN-3"])
            let listed = try await user.get(try #require(imported.headers[.location]))
            #expect(listed.text.contains("Imported 3 serial numbers.") && listed.text.contains(#"<th scope="row" data-label="Serial number">SN-3</th>"#))
            #expect(listed.text.contains("extra, with a comma") && listed.text.contains(#"<td data-label="Status">unused</td>"#))

            // Bad rows: each is listed with its row number, and nothing of the file is imported.
            let bad = try await user.upload(model + "/serials", file: ("file", "bad.csv", "text/csv", "OK-1\nBAD SN!\nOK-2\nOK-1,again\n"))
            #expect(bad.status == .unprocessableContent, "\(bad.text)")
            #expect(bad.text.contains(#"id="serials-file-error""#) && bad.text.contains("bad.csv: Nothing was imported: 2 rows have problems"))
            #expect(bad.text.contains(#"<th scope="row" data-label="Row">2</th><td data-label="Serial number"><code>BAD SN!</code></td>"#))
            #expect(bad.text.contains(#"<th scope="row" data-label="Row">4</th>"#) && bad.text.contains("named twice (first in row 1)"))
            // A serial that is already there: the import's own answer, and again nothing imported.
            let present = try await user.upload(model + "/serials", file: ("file", "again.csv", "text/csv", "NEW-1\nSN-2\n"))
            #expect(present.status == .unprocessableContent && present.text.contains("Serial number SN-2 already exists"), "\(present.text)")
            let empty = try await user.upload(model + "/serials", file: ("file", "empty.csv", "text/csv", "\n\n"))
            #expect(empty.status == .unprocessableContent && empty.text.contains("The file has no serial numbers"))
            let unterminated = try await user.upload(model + "/serials", file: ("file", "q.csv", "text/csv", "\"open\n"))
            #expect(unterminated.status == .unprocessableContent && unterminated.text.contains("unterminated quoted field"))
            let none = try await user.upload(model + "/serials", file: ("file", "", "application/octet-stream", ""))
            #expect(none.status == .unprocessableContent && none.text.contains("Choose a CSV file of serial numbers."))
            #expect(try await Self.serials(vendor) == ["A", "B", "C", "SN-1", "SN-2", "SN-3"])

            // Bodies that are not a well-formed form are refused with a 4xx page, nothing stored.
            let cut = try await user.upload(model + "/serials", file: ("file", "cut.csv", "text/csv", "CUT-1\nCUT-2"), body:
                ConsoleBrowser.multipart([("csrf", user.formToken ?? "")], file: ("file", "cut.csv", "text/csv", "CUT-1\nCUT-2"), close: false))
            #expect(cut.status == .badRequest && cut.text.contains("cut short"), "\(cut.text)")
            let plain = try await user.post(model + "/serials", [("file", "CUT-3")])
            #expect(plain.status == .unsupportedMediaType)
            let noDisposition = "--\(ConsoleBrowser.boundary)\r\nContent-Type: text/plain\r\n\r\nx\r\n--\(ConsoleBrowser.boundary)--\r\n"
            #expect(try await user.upload(model + "/serials", file: nil, body: noDisposition).status == .badRequest)
            let longHeader = "--\(ConsoleBrowser.boundary)\r\nContent-Disposition: form-data; name=\"" + String(repeating: "a", count: 9000) + "\"\r\n\r\nx\r\n--\(ConsoleBrowser.boundary)--\r\n"
            #expect(try await user.upload(model + "/serials", file: nil, body: longHeader).status == .badRequest)
            #expect(try await Self.serials(vendor) == ["A", "B", "C", "SN-1", "SN-2", "SN-3"])
        }
    }

    @Test func theVendorUploadsAndDeletesContent() async throws {
        try await TestApp(contentMaxBytes: 64).run { client in
            let vendor = try await Self.world(client)
            let model = "/console/vendors/\(vendor.nodeId)/models/cam1"
            var user = ConsoleBrowser(client)
            try await user.signIn(Self.vendorUser)
            try await user.get(model)
            let firmware = "GATEHOUSE-FIRMWARE\r\n--not-a-boundary\r\n\u{1}\u{2}end"
            #expect(try await user.upload(model + "/content", [("content_id", "fw-1"), ("version", "1.0.0")],
                                          file: ("file", "fw.bin", "application/octet-stream", firmware), csrf: .some(nil)).status == .forbidden)
            #expect(try await vendor.call(.get, "/provision/manage/content/cam1/").status == .noContent)

            let uploaded = try await user.upload(model + "/content", [("content_id", "fw-1"), ("version", "1.0.0"), ("protected", "true")],
                                                 file: ("file", "fw.bin", "application/octet-stream", firmware))
            #expect(uploaded.status == .seeOther, "\(uploaded.text)")
            let download = try await vendor.call(.get, "/provision/manage/content/cam1/fw-1?download=true")
            #expect(download.status == .ok && download.text == firmware && download.headers[.contentType] == "application/octet-stream")
            #expect(try await vendor.call(.get, "/provision/manage/content/cam1/fw-1").text.hasSuffix(",1.0.0,true"))
            let listed = try await user.get(try #require(uploaded.headers[.location]))
            #expect(listed.text.contains("Content uploaded (\(firmware.utf8.count) bytes).") && listed.text.contains(#"<td data-label="Version">1.0.0</td>"#))

            // Rejected: the id is taken, a field is missing, the file is too large; nothing is left behind.
            let taken = try await user.upload(model + "/content", [("content_id", "fw-1"), ("version", "1.0.1")], file: ("file", "fw.bin", "application/octet-stream", "X"))
            #expect(taken.status == .unprocessableContent && taken.text.contains(#"id="content-id-error""#) && taken.text.contains(#"value="1.0.1""#))
            let missing = try await user.upload(model + "/content", [("content_id", "fw-2"), ("version", "")], file: ("file", "", "application/octet-stream", ""))
            #expect(missing.status == .unprocessableContent && missing.text.contains(#"id="content-version-error""#) && missing.text.contains(#"id="content-file-error""#))
            #expect(missing.text.contains(#"value="fw-2""#))
            let large = try await user.upload(model + "/content", [("content_id", "fw-big"), ("version", "2")],
                                              file: ("file", "big.bin", "application/octet-stream", String(repeating: "B", count: 100)))
            #expect(large.status == .contentTooLarge && large.text.contains(#"id="content-file-error""#) && large.text.contains(#"value="fw-big""#))
            let cut = try await user.upload(model + "/content", [], file: nil, body: ConsoleBrowser.multipart(
                [("csrf", user.formToken ?? ""), ("content_id", "fw-cut"), ("version", "3")], file: ("file", "c.bin", "application/octet-stream", "partial"), close: false))
            #expect(cut.status == .badRequest)
            #expect(try await vendor.call(.get, "/provision/manage/content/cam1/").text == "fw-1")

            // Delete: the form token is needed; then the content is gone.
            try await user.get(model)
            #expect(user.page.contains(#"aria-label="Delete content fw-1""#))
            #expect(try await user.post(model + "/content/fw-1/delete", csrf: .some(nil)).status == .forbidden)
            let deleted = try await user.post(model + "/content/fw-1/delete")
            #expect(deleted.status == .seeOther && deleted.headers[.location] == model + "?done=content-deleted")
            #expect(try await vendor.call(.get, "/provision/manage/content/cam1/").status == .noContent)
        }
    }
}
