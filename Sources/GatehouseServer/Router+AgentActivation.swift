import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// Seed 000's activation tokens and cameras, and the activation endpoint agents call.
    func addAgentActivationRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/vsaas/api/v2/agent-activation-tokens") { request, _ in
            // Only a session key may ask for a token (the seed refuses every other key type).
            let caller = try await operatorCaller(request, apiKeyAllowed: false)
            let body = try await TieredBody.read(request, limit: 16 * 1024)
            guard let title = try body.string("title") else { throw GatehouseError.invalid("title", "title is required") }
            let issued = try await activation.issueToken(caller, title: title, organizationId: try VSaaS.id(body, "organization_id"),
                                                         presetId: try VSaaS.id(body, "preset_id"))
            return VSaaS.json(VSaaS.token(issued.token, issued.record, withCamera: false))
        }
        router.get("/vsaas/api/v2/agent-activation-tokens/:token") { request, context in
            let caller = try await operatorCaller(request, apiKeyAllowed: false)
            let token = context.parameters.get("token") ?? ""
            return VSaaS.json(VSaaS.token(token, try await activation.token(caller, token), withCamera: true))
        }

        // The activation endpoint (ours): form or JSON `operator_id`, `token` (absent: activation by
        // operator id alone), `serial`, `version`, `mac`.
        router.post("/vsaas/api/v2/agents/activate") { request, context in
            let fields = try await Self.agentFields(request)
            guard let operatorText = fields["operator_id"] ?? fields["operatorid"], let operatorId = Int64(operatorText), operatorId > 0 else {
                throw GatehouseError.invalid("operator_id", "operator_id must be a positive integer")
            }
            let grant = try await activation.activate(AgentActivationRequest(
                operatorId: operatorId, token: fields["token"] ?? fields["sign"], serial: fields["serial"] ?? "", version: fields["version"],
                mac: fields["mac"], sourceAddress: context.clientAddress))
            return VSaaS.json(["agent_id": grant.agentId, "agent_key": grant.agentKey, "watcher_url": grant.watcherURL,
                               "status": grant.status.rawValue, "camera_name": grant.cameraName as Any? ?? NSNull()] as [String: Any])
        }
        router.post("/vsaas/api/v2/agents/status") { request, _ in
            let fields = try await Self.agentFields(request)
            guard let idText = fields["agent_id"], let agentId = Int64(idText), agentId > 0 else {
                throw GatehouseError(.unauthenticated, "the agent id or key is not valid")
            }
            let agent = try await activation.agentStatus(agentId: agentId, key: fields["agent_key"] ?? "", version: fields["version"])
            let body: [String: Any] = ["agent_id": agent.id, "status": agent.status.rawValue, "last_seen": agent.lastSeenAt ?? NSNull()]
            // A deactivated agent learns it must activate again; its key opens nothing else.
            return VSaaS.json(body, status: agent.status == .deactivated ? .gone : .ok)
        }

        router.get("/vsaas/api/v2/agents") { request, _ in
            let caller = try await operatorCaller(request)
            var status: AgentStatus?
            if let text = request.query("status"), !text.isEmpty {
                guard let parsed = AgentStatus(rawValue: text) else { throw GatehouseError.invalid("status", "status must be unassigned, active or deactivated") }
                status = parsed
            }
            let paging = try Self.offsetPaging(request)
            return VSaaS.json(try await activation.agents(caller, status: status, limit: paging.limit, offset: paging.offset).items.map(VSaaS.agent))
        }
        router.post("/vsaas/api/v2/agents/:id/assign") { request, context in
            let caller = try await operatorCaller(request)
            let body = try await TieredBody.read(request, limit: 16 * 1024)
            guard let title = try body.string("title") else { throw GatehouseError.invalid("title", "title is required") }
            let camera = try await activation.assignAgent(caller, agentId: try context.id(), organizationId: try VSaaS.id(body, "organization_id"),
                                                          presetId: try VSaaS.id(body, "preset_id"), title: title)
            return VSaaS.json(VSaaS.camera(camera), status: .created)
        }

        router.get("/vsaas/api/v2/cameras") { request, _ in
            let caller = try await operatorCaller(request)
            let paging = try Self.offsetPaging(request)
            let page = try await activation.cameras(caller, organizationId: try Self.int64(request, "organization_id"), limit: paging.limit, offset: paging.offset)
            return VSaaS.json(page.items.map(VSaaS.camera))
        }
        router.get("/vsaas/api/v2/cameras/:name") { request, context in
            VSaaS.json(VSaaS.camera(try await activation.camera(try await operatorCaller(request), name: context.parameters.get("name") ?? "")))
        }
        router.delete("/vsaas/api/v2/cameras/:name") { request, context in
            try await activation.deleteCamera(try await operatorCaller(request), name: context.parameters.get("name") ?? "")
            return Response(status: .noContent)
        }
    }

    /// The fields of an agent's call: a form body (as the agent's own API uses) or a JSON object.
    static func agentFields(_ request: Request) async throws -> [String: String] {
        let media = RequestMediaType.of(request.headers)
        if media == "application/json" {
            let body = try await TieredBody.read(request, limit: 16 * 1024)
            var fields: [String: String] = [:]
            for (key, value) in body.object {
                if let text = value as? String { fields[key] = text } else if let number = value as? NSNumber, !TieredBody.isBool(number) { fields[key] = number.stringValue }
                else if !(value is NSNull) { throw GatehouseError.invalid(key, "\(key) must be a string or a number") }
            }
            return fields
        }
        return try await FormParameters.read(request, limit: 16 * 1024).values
    }
}
