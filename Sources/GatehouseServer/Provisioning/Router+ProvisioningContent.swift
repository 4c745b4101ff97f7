import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// The vendor's content and group API (PROTOCOLS.md §4): content entries with their blobs
    /// (uploaded as a raw body, streamed to storage) and groups that open protected content to
    /// chosen serial numbers.
    func addProvisioningContentRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/provision/manage/content/:model") { request, context in
            let caller = try await vendorCaller(request)
            let name = try context.parameters.require("model")
            if let sn = ProvisioningForm.query(request)["sn"] {
                return ProvisioningReply.csv(try await provisioning.contents(caller, model: name, visibleTo: sn).map { [$0] })
            }
            return ProvisioningReply.csv(try await provisioning.contents(caller, model: name).map { [$0.name] })
        }
        router.post("/provision/manage/content/:model") { request, context in
            let caller = try await vendorCaller(request)
            let name = try context.parameters.require("model")
            let form = try await ProvisioningForm.read(request, limit: configuration.maxBodySize)
            guard let id = form["id"] else { throw GatehouseError.invalid("id", "id is required") }
            if form.flag("delete") {
                try await provisioning.deleteContent(caller, model: name, id: id)
            } else {
                _ = try await provisioning.createContent(caller, model: name, id: id, meta: form["meta"] ?? "", isProtected: form.flag("protected"))
            }
            return ProvisioningReply.reset
        }

        router.get("/provision/manage/content/:model/:id") { request, context in try await vendorContent(request, context) }
        router.head("/provision/manage/content/:model/:id") { request, context in try await vendorContent(request, context) }
        router.post("/provision/manage/content/:model/:id") { request, context in
            let caller = try await vendorCaller(request)
            let (name, id) = (try context.parameters.require("model"), try context.parameters.require("id"))
            let declared = request.headers[.contentLength].flatMap { Int64($0) }
            _ = try await provisioning.upload(caller, model: name, id: id, contentType: request.headers[.contentType], declaredLength: declared,
                                              body: request.body)
            return ProvisioningReply.reset
        }
        router.delete("/provision/manage/content/:model/:id") { request, context in
            let caller = try await vendorCaller(request)
            try await provisioning.deleteContent(caller, model: try context.parameters.require("model"), id: try context.parameters.require("id"))
            return ProvisioningReply.reset
        }

        addProvisioningGroupRoutes(to: router)
    }

    /// `GET|HEAD /provision/manage/content/<model>/<id>`: info, `download=true`, `sn=` (as that
    /// serial would see it), `show=groups`.
    private func vendorContent(_ request: Request, _ context: GatehouseRequestContext) async throws -> Response {
        let caller = try await vendorCaller(request)
        let (name, id) = (try context.parameters.require("model"), try context.parameters.require("id"))
        let form = ProvisioningForm.query(request)
        if form["show"] == "groups" {
            let (offset, limit) = try form.paging()
            _ = try await provisioning.content(caller, model: name, id: id)
            return ProvisioningReply.csv(try await provisioning.memberGroups(caller, model: name, type: "content", memberId: id, offset: offset, limit: limit).map { [$0] })
        }
        let item: ContentItem
        if let sn = form["sn"] {
            item = try await provisioning.content(caller, model: name, id: id, visibleTo: sn)
        } else {
            item = try await provisioning.content(caller, model: name, id: id).item
        }
        if form.flag("download") { return try contentResponse(request, item) }
        let info = ProvisioningReply.contentInfo(item, withProtected: form["sn"] == nil)
        return ProvisioningReply.text(ProvisioningCSV.render([info]), type: ProvisioningReply.csvType)
    }

    private func addProvisioningGroupRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/provision/manage/group/:model") { request, context in
            let caller = try await vendorCaller(request)
            let (offset, limit) = try ProvisioningForm.query(request).paging()
            return ProvisioningReply.csv(try await provisioning.groups(caller, model: try context.parameters.require("model"), offset: offset, limit: limit)
                .map { [$0.name, $0.meta] })
        }
        router.post("/provision/manage/group/:model") { request, context in
            let caller = try await vendorCaller(request)
            let name = try context.parameters.require("model")
            let form = try await ProvisioningForm.read(request, limit: configuration.maxBodySize)
            guard let id = form["id"] else { throw GatehouseError.invalid("id", "id is required") }
            if form.flag("delete") {
                try await provisioning.deleteGroup(caller, model: name, id: id)
            } else {
                _ = try await provisioning.createGroup(caller, model: name, id: id, meta: form["meta"] ?? "")
            }
            return ProvisioningReply.reset
        }
        router.get("/provision/manage/group/:model/:id") { request, context in
            let caller = try await vendorCaller(request)
            let (name, id) = (try context.parameters.require("model"), try context.parameters.require("id"))
            let form = ProvisioningForm.query(request)
            if request.uri.path.hasSuffix("/") {
                let (offset, limit) = try form.paging()
                return ProvisioningReply.csv(try await provisioning.members(caller, model: name, group: id, type: form["type"], memberId: form["id"],
                                                                            offset: offset, limit: limit)
                    .map { [$0.type, $0.memberId, String($0.expire), $0.meta] })
            }
            let (_, group) = try await provisioning.group(caller, model: name, id: id)
            // Groups hold serial numbers and content, never other groups.
            if form["show"] == "groups" { return ProvisioningReply.csv([]) }
            return ProvisioningReply.text(ProvisioningCSV.render([[group.meta, String(group.memberCount)]]), type: ProvisioningReply.csvType)
        }
        router.post("/provision/manage/group/:model/:id") { request, context in
            let caller = try await vendorCaller(request)
            let (name, id) = (try context.parameters.require("model"), try context.parameters.require("id"))
            guard request.uri.path.hasSuffix("/") else { throw GatehouseError(.methodNotAllowed, "POST members to the group's member list (a trailing /)") }
            if ProvisioningForm.media(request) == "text/csv" {
                let rows = try await ProvisioningForm.csv(request, limit: Self.serialFormLimit)
                let members = try rows.map { row throws(GatehouseError) -> GroupMember in
                    guard row.count >= 2 else { throw .invalid("body", "each line is type,memberid,expire,meta") }
                    guard let expire = row.count > 2 && !row[2].isEmpty ? Int64(row[2]) : 0 else { throw .invalid("expire", "expire must be a unix time or 0") }
                    return GroupMember(type: row[0], memberId: row[1], expire: expire, meta: row.count > 3 ? row[3] : "")
                }
                try await provisioning.putMembers(caller, model: name, group: id, members)
                return ProvisioningReply.reset
            }
            let form = try await ProvisioningForm.read(request, limit: Self.serialFormLimit)
            guard let type = form["type"] else { throw GatehouseError.invalid("type", "type is required (sn or content)") }
            let ids = form.all("id")
            if form.flag("delete") {
                try await provisioning.removeMembers(caller, model: name, group: id, ids.map { (type: type, memberId: $0) })
            } else {
                let expire = try form.int64("expire") ?? 0
                try await provisioning.putMembers(caller, model: name, group: id, ids.map { GroupMember(type: type, memberId: $0, expire: expire, meta: form["meta"] ?? "") })
            }
            return ProvisioningReply.reset
        }
        router.delete("/provision/manage/group/:model/:id") { request, context in
            let caller = try await vendorCaller(request)
            let (name, id) = (try context.parameters.require("model"), try context.parameters.require("id"))
            if request.uri.path.hasSuffix("/") {
                let rows = try await ProvisioningForm.csv(request, limit: Self.serialFormLimit)
                let members = try rows.map { row throws(GatehouseError) -> (type: String, memberId: String) in
                    guard row.count >= 2 else { throw .invalid("body", "each line is type,memberid") }
                    return (row[0], row[1])
                }
                try await provisioning.removeMembers(caller, model: name, group: id, members)
            } else {
                try await provisioning.deleteGroup(caller, model: name, id: id)
            }
            return ProvisioningReply.reset
        }
    }
}
