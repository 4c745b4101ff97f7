import GatehouseCore
import HTTPTypes
import Hummingbird

extension GatehouseApp {
    /// The platform operator's webhook pages (issue 10, point 4). A webhook belongs to an
    /// activation operator: a dealer node of the tree, the `operator_id` of activation QR codes
    /// and of the cameras it makes (the operator API's `/vsaas/api/v2/webhooks` are the calling
    /// dealer node's). So the console lists, adds and deletes the webhooks of one dealer node,
    /// chosen like the organizations page's, after `AgentActivation.operatorScope` with the
    /// signed-in user as the caller (visible node, `manage_tenants` to change). The store calls
    /// are those of the operator API: the URL and events are validated there, the secret is
    /// made by a CSPRNG, stored sealed and shown once.
    func addConsoleWebhookPages(_ routes: ConsoleRoutes) {
        let console = routes.console
        routes.page(RouterPath(ConsolePaths.webhooks)) { request, _, session in
            try session.caller.requireOperator(.manageTenants)
            return Console.redirect(to: ConsolePaths.operatorWebhooks(try Self.consoleOperatorChoice(request)))
        }
        routes.page("/console/operator/operators/:id/webhooks") { request, context, session in
            let notice = request.uri.queryParameters["done"].flatMap { Self.consoleWebhookNotices[String($0)] }
            return try await webhooksPage(console, session, operatorId: try context.id(), notice: notice)
        }
        routes.action("/console/operator/operators/:id/webhooks") { _, context, session, form in
            try session.caller.requireOperator(.manageTenants)
            let operatorId = try context.id()
            var typed = ConsoleWebhooksPage.AddForm(url: String(form.trimmed("url").prefix(WebhookValidation.maxURLLength + 1)),
                                                    events: Self.consoleWebhookEvents { form[Self.consoleWebhookField($0)] == "on" })
            let names = typed.events.filter(\.checked).map(\.name)
            var errors = ConsoleFieldErrors()
            if typed.url.isEmpty { errors.add("Enter the URL the events are sent to.", field: "url") }
            if names.isEmpty { errors.add("Choose at least one event.", field: "events") }
            if errors.isEmpty {
                do {
                    let scope = try await activation.operatorScope(session.caller, operatorId: operatorId, write: true)
                    let created = try await store.createWebhook(operatorId: scope.operatorId, url: typed.url, events: try WebhookValidation.events(names),
                                                                vault: vault, at: configuration.clock.now(),
                                                                audit: AuditIntent(actor: scope.auditName, detail: typed.url))
                    // The secret is shown on this answer only: a page, not a redirect.
                    return try await webhooksPage(console, session, operatorId: scope.operatorId,
                                                  created: .init(url: created.webhook.url, secret: created.secret), notice: "Webhook added.")
                } catch let error as GatehouseError where error.field != nil && error.code != .notFound {
                    errors.add(error, fields: ["url": "url", "events": "events"])
                }
            }
            typed.errors = errors.values
            return try await webhooksPage(console, session, operatorId: operatorId, add: typed, status: .unprocessableContent)
        }
        routes.action("/console/operator/operators/:id/webhooks/:webhook/delete") { _, context, session, _ in
            try session.caller.requireOperator(.manageTenants)
            let scope = try await activation.operatorScope(session.caller, operatorId: try context.id(), write: true)
            try await store.deleteWebhook(id: try context.id("webhook"), operatorId: scope.operatorId, at: configuration.clock.now(),
                                          audit: AuditIntent(actor: scope.auditName))
            return Console.redirect(to: ConsolePaths.operatorWebhooks(scope.operatorId) + "?done=deleted")
        }
    }

    static let consoleWebhookNotices: [String: String] = ["deleted": "Webhook deleted. Its queued deliveries were dropped."]

    /// What each event means, for the checkboxes' labels.
    static let consoleWebhookEventLabels: [WebhookEvent: String] = [
        .cameraActivated: "a camera's agent activated",
        .cameraDeactivated: "a camera was deleted and its agent deactivated",
        .tokenIssued: "an activation token was issued",
    ]

    static func consoleWebhookField(_ event: WebhookEvent) -> String { "event-" + event.rawValue }

    static func consoleWebhookEvents(checked: (WebhookEvent) -> Bool) -> [ConsoleWebhooksPage.EventOption] {
        WebhookEvent.allCases.map { event in
            .init(name: event.rawValue, field: consoleWebhookField(event), id: "webhook-event-" + event.rawValue.replacingOccurrences(of: ".", with: "-"),
                  label: "\(event.rawValue): \(consoleWebhookEventLabels[event] ?? event.rawValue)", checked: checked(event))
        }
    }

    /// The webhooks of operator `operatorId` with their five latest deliveries each.
    func webhooksPage(_ console: Console, _ session: ConsoleSession, operatorId: Int64, add: ConsoleWebhooksPage.AddForm? = nil,
                      created: ConsoleWebhooksPage.Created? = nil, notice: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        try session.caller.requireOperator(.manageTenants)
        let scope = try await activation.operatorScope(session.caller, operatorId: operatorId, write: false)
        var rows: [ConsoleWebhooksPage.Row] = []
        for webhook in try await store.webhooks(operatorId: scope.operatorId) {
            let deliveries = try await store.webhookDeliveries(webhookId: webhook.id, limit: 5).map { delivery in
                ConsoleWebhooksPage.Delivery(event: delivery.event.rawValue, status: Self.consoleDeliveryState(delivery), attempts: delivery.attempts,
                                             at: ConsoleTime(delivery.deliveredAt ?? delivery.createdAt), error: delivery.lastError)
            }
            rows.append(.init(id: webhook.id, url: webhook.url, events: webhook.events.map(\.rawValue).joined(separator: ", "),
                              created: ConsoleTime(webhook.createdAt), latest: deliveries.first.map { "\($0.status) (\($0.event))" } ?? "no deliveries yet",
                              deliveries: deliveries, hasDeliveries: !deliveries.isEmpty, deleteAction: ConsolePaths.operatorWebhooks(scope.operatorId) + "/\(webhook.id)/delete"))
        }
        let node = scope.operatorTenant
        let model = ConsoleWebhooksPage(
            frame: ConsoleFrame(title: "Webhooks – \(node.name)", session: session, path: ConsolePaths.webhooks, notice: notice),
            csrf: session.csrf, operatorNode: .init(id: node.id, name: node.name, kind: node.kind.rawValue),
            switcher: try await consoleOperatorSwitch(session, current: node.id, action: ConsolePaths.webhooks), webhooks: rows,
            add: add ?? .init(events: Self.consoleWebhookEvents { _ in true }), created: created,
            addAction: ConsolePaths.operatorWebhooks(node.id), organizationsHref: ConsolePaths.operatorOrganizations(node.id))
        return try console.render("webhooks", model, status: status)
    }

    static func consoleDeliveryState(_ delivery: WebhookDelivery) -> String {
        switch delivery.status {
        case .delivered: "delivered"
        case .pending: delivery.attempts == 0 ? "queued" : "failed, will retry"
        case .givenUp: "given up"
        }
    }
}

extension ConsolePaths {
    static let webhooks = "/console/operator/webhooks"
    static func operatorWebhooks(_ id: Int64) -> String { "/console/operator/operators/\(id)/webhooks" }
}
