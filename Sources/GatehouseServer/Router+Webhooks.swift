import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// An operator's webhooks: where camera and token events are sent, signed with the
    /// webhook's secret (shown once, at creation).
    func addWebhookRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/vsaas/api/v2/webhooks") { request, _ in
            let caller = try await operatorCaller(request)
            return VSaaS.json(try await store.webhooks(operatorId: caller.operatorId).map(Self.webhookBody))
        }
        router.post("/vsaas/api/v2/webhooks") { request, _ in
            let caller = try await operatorCaller(request)
            let body = try await TieredBody.read(request, limit: min(configuration.maxBodySize, 16 * 1024))
            guard let url = try body.string("url") else { throw GatehouseError.invalid("url", "url is required") }
            var names = WebhookEvent.allCases.map(\.rawValue)
            if body.has("events") {
                guard let list = body.object["events"] as? [any Sendable], list.allSatisfy({ $0 is String }) else {
                    throw GatehouseError.invalid("events", "events must be an array of event names")
                }
                names = list.compactMap { $0 as? String }
            }
            let created = try await store.createWebhook(operatorId: caller.operatorId, url: url, events: try WebhookValidation.events(names), vault: vault,
                                                        at: configuration.clock.now(), audit: AuditIntent(actor: caller.auditName, detail: url))
            var answer = Self.webhookBody(created.webhook)
            answer["secret"] = created.secret
            return VSaaS.json(answer, status: .created)
        }
        router.delete("/vsaas/api/v2/webhooks/:id") { request, context in
            let caller = try await operatorCaller(request)
            try await store.deleteWebhook(id: try context.id(), operatorId: caller.operatorId, at: configuration.clock.now(),
                                          audit: AuditIntent(actor: caller.auditName))
            return Response(status: .noContent)
        }
    }

    static func webhookBody(_ webhook: Webhook) -> [String: Any] {
        ["id": webhook.id, "url": webhook.url, "events": webhook.events.map(\.rawValue), "created_at": webhook.createdAt]
    }
}
