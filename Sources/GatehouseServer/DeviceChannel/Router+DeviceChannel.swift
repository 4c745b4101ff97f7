import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// The device channel's HTTP routes: the upgrade path (answers requests that did not
    /// upgrade), and under `/v1/devices/{id}` presence, settings, commands and the command log.
    func addDeviceChannelRoutes(to router: Router<GatehouseRequestContext>) {
        let hub = deviceHub
        addSettingsSchemaRoutes(to: router)
        addFleetSettingsRoutes(to: router)
        // Reached only by requests that did not ask to upgrade: the same errors as a refused upgrade.
        router.get(RouterPath(stringLiteral: DeviceChannelHub.devicePath)) { request, context -> Response in
            do {
                _ = try await hub.authenticate(request.head)
                throw GatehouseError(.invalidRequest, "this route opens a WebSocket: send an Upgrade: websocket request")
            } catch let error as GatehouseError {
                return ErrorFormat.gatehouse.response(error, requestID: context.requestID)
            }
        }
        router.get("/v1/devices/online") { request, _ in
            let caller = try await caller(request)
            let tenantId = try Self.int64(request, "tenant_id")
            if let tenantId { _ = try await management.tenant(caller, id: tenantId) }
            let page = try await store.onlineDevices(under: caller.scopePath ?? "/", tenantId: tenantId, freshAfter: hub.freshAfter, page: try Self.page(request))
            return try JSON.response(PageBody(Page(items: page.items.map(V1.Presence.init), nextCursor: page.nextCursor)))
        }
        router.get("/v1/devices/:id/presence") { request, context in
            let device = try await visibleDevice(request, context)
            return try JSON.response(V1.Presence(try await store.presence(deviceId: device.id, freshAfter: hub.freshAfter)))
        }
        router.get("/v1/devices/:id/settings") { request, context in
            let device = try await visibleDevice(request, context)
            return Self.rawJSON(V1.settings(try await store.settings(deviceId: device.id)))
        }
        router.put("/v1/devices/:id/settings") { request, context in
            let caller = try await caller(request)
            try caller.require(.manageTenants)
            let device = try await visibleDevice(caller, context)
            let body = try await rawBody(request)
            guard let version = DeviceChannelHub.integer(body["version"]) else {
                throw GatehouseError.invalid("version", "version is required: the desired version the change is based on (0 for none)")
            }
            guard let desired = body["desired"] as? [String: Any] else { throw GatehouseError.invalid("desired", "desired is required: a JSON object of sections") }
            if let unknown = body.keys.sorted().first(where: { $0 != "version" && $0 != "desired" }) { throw GatehouseError.invalid(unknown, "unknown field") }
            let settings = try await hub.channel.setDesired(device: device, version: version, desired: desired, actor: caller.auditName)
            await hub.publish([.settings(deviceId: device.id)])
            return Self.rawJSON(V1.settings(settings))
        }
        router.get("/v1/devices/:id/settings/schema") { request, context in
            let device = try await visibleDevice(request, context)
            return Self.rawJSON(V1.schema(try await hub.channel.schema(deviceId: device.id)))
        }
        router.post("/v1/devices/:id/commands") { request, context in
            let caller = try await caller(request)
            try caller.require(.manageTenants)
            let device = try await visibleDevice(caller, context)
            let body = try await rawBody(request)
            if let unknown = body.keys.sorted().first(where: { !["name", "params", "timeout", "wait"].contains($0) }) {
                throw GatehouseError.invalid(unknown, "unknown field")
            }
            guard let name = body["name"] as? String else { throw GatehouseError.invalid("name", "name is required") }
            let params: [String: Any]
            switch body["params"] {
            case nil, is NSNull: params = [:]
            case let object as [String: Any]: params = object
            default: throw GatehouseError.invalid("params", "params must be a JSON object")
            }
            var timeout: Int64?
            if let value = body["timeout"], !(value is NSNull) {
                guard let seconds = DeviceChannelHub.integer(value) else { throw GatehouseError.invalid("timeout", "timeout must be an integer number of seconds") }
                timeout = seconds
            }
            var wait = false
            if let value = body["wait"], !(value is NSNull) {
                guard let flag = value as? Bool, type(of: value) is NSNumber.Type ? JSONText.isBool(value as! NSNumber) : true else {
                    throw GatehouseError.invalid("wait", "wait must be true or false")
                }
                wait = flag
            }
            var command = try await hub.channel.send(device: device, name: name, params: params, timeout: timeout, actor: caller.auditName)
            await hub.publish([.commands(deviceId: device.id)])
            if wait { command = try await hub.waitForCommand(command) }
            return Self.rawJSON(V1.command(command), status: wait ? .ok : .accepted)
        }
        router.get("/v1/devices/:id/commands") { request, context in
            let device = try await visibleDevice(request, context)
            let page = try await store.commands(deviceId: device.id, page: try Self.page(request))
            let items = page.items.map(V1.command).joined(separator: ",")
            let cursor = page.nextCursor.map { JSONText.string($0) } ?? "null"
            return Self.rawJSON("{\"items\":[\(items)],\"next_cursor\":\(cursor)}")
        }
        router.get("/v1/devices/:id/commands/:commandId") { request, context in
            let device = try await visibleDevice(request, context)
            let commandId = context.parameters.get("commandId") ?? ""
            guard commandId.utf8.count <= 64, let command = try await store.command(deviceId: device.id, commandId: commandId) else {
                throw GatehouseError.notFound("command", commandId)
            }
            return Self.rawJSON(V1.command(command))
        }
    }

    /// The endpoints' upgrade path on the REST gateway listener, for requests that did not upgrade.
    func addGatewayChannelRoute(to router: Router<GatehouseRequestContext>) {
        let hub = deviceHub
        router.get(RouterPath(stringLiteral: DeviceChannelHub.gatewayPath)) { _, context -> Response in
            do {
                _ = try await hub.channel.authenticate(certificateSerial: await DeviceChannelHub.certificateSerial(context.channel))
                throw GatehouseError(.invalidRequest, "this route opens a WebSocket: send an Upgrade: websocket request")
            } catch let error as GatehouseError {
                return ErrorFormat.gatehouse.response(error, requestID: context.requestID)
            }
        }
    }

    /// The device in the URL, when the caller's subtree holds it.
    func visibleDevice(_ request: Request, _ context: GatehouseRequestContext) async throws -> Device {
        try await visibleDevice(try await caller(request), context)
    }

    func visibleDevice(_ caller: Caller, _ context: GatehouseRequestContext) async throws -> Device {
        let id = try context.id()
        guard let device = try await store.device(id: id), let tenant = try await store.tenant(id: device.tenantId), caller.canSee(tenant) else {
            throw GatehouseError.notFound("device", id)
        }
        return device
    }

    /// A JSON object body of free-form shape (settings documents, command params), of at most
    /// `limit` bytes (and the configured body limit).
    func rawBody(_ request: Request, limit: Int = 64 * 1024) async throws -> [String: Any] {
        if let contentType = request.headers[.contentType], RequestMediaType.essence(contentType) != "application/json" {
            throw GatehouseError(.unsupportedMediaType, "the body must be application/json")
        }
        var request = request
        let buffer = try await request.collectBody(upTo: min(configuration.maxBodySize, limit))
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(buffer: buffer), options: [.fragmentsAllowed]) else {
            throw GatehouseError(.malformedBody, "the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw GatehouseError.invalid("body", "the body must be a JSON object") }
        return object
    }

    static func rawJSON(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

extension DeviceChannelHub {
    /// Presence older than this (unix seconds) no longer counts as online.
    var freshAfter: Int64 { clock.now() - DeviceChannel.nodeStaleAfter }

    /// Waits until the command is answered or expires (then marks it `timed_out`); any node may hold the device.
    func waitForCommand(_ command: DeviceCommand) async throws -> DeviceCommand {
        while true {
            guard let current = try await store.command(deviceId: command.deviceId, commandId: command.id) else { return command }
            if !current.state.isOpen { return current }
            let now = clock.now()
            if now >= current.expiresAt {
                _ = try await store.expireCommands(at: now)
                return try await store.command(deviceId: command.deviceId, commandId: command.id) ?? current
            }
            // Woken by the result's event; polls once a second in case an event was missed.
            await waiters.wait(commandId: command.id, upTo: .seconds(1))
        }
    }
}

extension V1 {
    /// A device's presence as the API answers it.
    struct Presence: Encodable {
        let deviceId: Int64
        let online: Bool
        let node: String?
        let connectedAt: Int64?
        let lastSeen: Int64?
        let agentVersion: String?

        init(_ presence: DevicePresence) {
            deviceId = presence.deviceId
            online = presence.online
            node = presence.node
            connectedAt = presence.connectedAt
            lastSeen = presence.lastSeen
            agentVersion = presence.agentVersion
        }
    }

    /// `{"device_id", "version", "desired", "reported", "reported_version", "reported_error", "in_sync", …}`.
    static func settings(_ settings: DeviceSettings) -> String {
        func number(_ value: Int64?) -> String { value.map(String.init) ?? "null" }
        func text(_ value: String?) -> String { value.map { JSONText.string($0) } ?? "null" }
        return "{\"device_id\":\(settings.deviceId),\"version\":\(settings.desiredVersion),\"desired\":\(settings.desired),\"desired_at\":\(number(settings.desiredAt))"
            + ",\"reported\":\(settings.reported ?? "null"),\"reported_version\":\(number(settings.reportedVersion)),\"reported_error\":\(text(settings.reportedError))"
            + ",\"reported_at\":\(number(settings.reportedAt)),\"in_sync\":\(settings.inSync)}"
    }

    /// A command and what became of it.
    static func command(_ command: DeviceCommand) -> String {
        func number(_ value: Int64?) -> String { value.map(String.init) ?? "null" }
        func text(_ value: String?) -> String { value.map { JSONText.string($0) } ?? "null" }
        return "{\"id\":\(JSONText.string(command.id)),\"device_id\":\(command.deviceId),\"name\":\(JSONText.string(command.name)),\"params\":\(command.params)"
            + ",\"state\":\(JSONText.string(command.state.rawValue)),\"result\":\(command.result ?? "null"),\"error\":\(text(command.error))"
            + ",\"created_by\":\(JSONText.string(command.createdBy)),\"created_at\":\(command.createdAt),\"expires_at\":\(command.expiresAt)"
            + ",\"sent_at\":\(number(command.sentAt)),\"finished_at\":\(number(command.finishedAt))}"
    }

    /// A settings schema in the form a vendor sets it.
    static func schema(_ schema: SettingsSchema) -> String {
        var sections: [String: Any] = [:]
        for (name, fields) in schema.sections {
            var rules: [String: Any] = [:]
            for (field, rule) in fields {
                var entry: [String: Any] = ["type": rule.kind.rawValue]
                if let min = rule.min { entry["min"] = min == min.rounded() ? Int64(min) as Any : min as Any }
                if let max = rule.max { entry["max"] = max == max.rounded() ? Int64(max) as Any : max as Any }
                if let length = rule.maxLength { entry["max_length"] = length }
                if let allowed = rule.allowed { entry["enum"] = allowed }
                rules[field] = entry
            }
            sections[name] = rules
        }
        return JSONText.string(sections)
    }
}
