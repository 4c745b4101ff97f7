import GatehouseCore
import HTTPTypes
import Hummingbird

extension GatehouseApp {
    /// The platform operator's pages (issue 10, point 4): the tenant tree (browse, create a
    /// node, enable/disable) with each node's feature switches. Every call is the `Management`
    /// call of the /v1 API with the signed-in user as the caller; the pages themselves need a
    /// user of the platform node with `manage_tenants` (`Caller.requireOperator`), others get 403.
    func addConsoleOperatorPages(_ routes: ConsoleRoutes) {
        let console = routes.console
        routes.page(RouterPath(ConsolePaths.tenants)) { _, _, session in
            Console.redirect(to: ConsolePaths.tenant(Management.platformTenantId))
        }
        routes.page("/console/operator/tenants/:id") { request, context, session in
            let notice = request.uri.queryParameters["done"].flatMap { Self.consoleOperatorNotices[String($0)] }
            return try await tenantsPage(console, session, id: try context.id(), notice: notice)
        }
        routes.action("/console/operator/tenants/:id/children") { _, context, session, form in
            try session.caller.requireOperator(.manageTenants)
            let parentId = try context.id()
            var typed = ConsoleTenantsPage.NewNodeForm(kind: form.trimmed("kind"), name: String(form.trimmed("name").prefix(200)),
                                                       key: String(form.trimmed("key").prefix(100)))
            var errors = ConsoleFieldErrors()
            let kind = TenantKind(rawValue: typed.kind)
            if kind == nil || kind == .platform { errors.add("Choose what kind of node to create.", field: "kind") }
            if typed.name.isEmpty { errors.add("Enter a name for the node.", field: "name") }
            if errors.isEmpty, let kind {
                do {
                    let made = try await management.createTenant(session.caller, NewTenant(key: typed.key.isEmpty ? nil : typed.key, kind: kind,
                                                                                           parentId: parentId, name: typed.name))
                    return Console.redirect(to: ConsolePaths.tenant(parentId) + "?done=created&node=\(made.id)")
                } catch let error as GatehouseError where error.field != nil || error.code == .conflict {
                    errors.add(error, fields: ["parent_id": "kind", "kind": "kind", "name": "name", "key": "key"], fallback: error.code == .conflict ? "key" : "general")
                }
            }
            typed.errors = errors.values
            return try await tenantsPage(console, session, id: parentId, create: typed, status: .unprocessableContent)
        }
        routes.action("/console/operator/tenants/:id/enabled") { _, context, session, form in
            try session.caller.requireOperator(.manageTenants)
            let id = try context.id()
            guard let enabled = Bool(form["enabled"]) else { throw GatehouseError.invalid("enabled", "enabled must be true or false") }
            let node = try await management.updateTenant(session.caller, id: id, TenantUpdate(enabled: enabled))
            return Console.redirect(to: ConsolePaths.tenant(node.parentId ?? node.id) + "?done=" + (enabled ? "enabled" : "disabled"))
        }
        routes.action("/console/operator/tenants/:id/features/:feature") { _, context, session, form in
            let id = try context.id()
            guard let feature = Feature(rawValue: context.text("feature")) else { throw GatehouseError(.notFound, "there is no such feature") }
            guard let enabled = Bool(form["enabled"]) else { throw GatehouseError.invalid("enabled", "enabled must be true or false") }
            _ = try await management.setFeature(session.caller, tenantId: id, feature, enabled: enabled)
            return Console.redirect(to: ConsolePaths.tenant(id) + "?done=feature")
        }
    }

    /// The one-line notices of `?done=` after an operator action.
    static let consoleOperatorNotices: [String: String] = [
        "created": "Node created.",
        "enabled": "Node enabled.",
        "disabled": "Node disabled. Its users and clients stop working until it is enabled again.",
        "feature": "Feature switch saved.",
    ]

    /// Labels of the feature switches.
    static let consoleFeatureLabels: [Feature: String] = [
        .generateAccessToken: "Generate Access Token (dealers mint tokens on behalf of end users)",
    ]

    /// Node `id` of the tenant tree as the operator `session` sees it.
    func tenantsPage(_ console: Console, _ session: ConsoleSession, id: Int64, create: ConsoleTenantsPage.NewNodeForm = .init(),
                     notice: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let caller = session.caller
        try caller.requireOperator(.manageTenants)
        let node = try await management.tenant(caller, id: id)
        var trail: [ConsoleTenantsPage.Crumb] = []
        for ancestor in node.path.split(separator: "/").compactMap({ Int64($0) }) where ancestor != node.id {
            let parent = try await management.tenant(caller, id: ancestor)
            trail.append(.init(name: parent.name, href: ConsolePaths.tenant(parent.id)))
        }
        func row(_ tenant: Tenant) -> ConsoleTenantsPage.Child {
            .init(id: tenant.id, name: tenant.name, kind: tenant.kind.rawValue, key: tenant.key, enabled: tenant.enabled, href: ConsolePaths.tenant(tenant.id))
        }
        let children = try await management.listTenants(caller, kind: nil, parentId: node.id, page: PageRequest(limit: PageRequest.maxLimit)).items
        let features = try await management.features(caller, tenantId: node.id).map {
            ConsoleTenantsPage.Switch(name: $0.feature.rawValue, label: Self.consoleFeatureLabels[$0.feature] ?? $0.feature.rawValue, enabled: $0.enabled)
        }
        let kinds = TenantKind.allCases.filter { $0.allowedParents.contains(node.kind) }
        let page = ConsoleTenantsPage(
            frame: ConsoleFrame(title: "Tenant tree – \(node.name)", session: session, path: ConsolePaths.tenants, notice: notice),
            csrf: session.csrf, node: row(node), trail: trail, features: features, children: children.map(row),
            kinds: kinds.map { .init(value: $0.rawValue, selected: $0.rawValue == create.kind) }, canCreate: !kinds.isEmpty, create: create, base: ConsolePaths.tenant(node.id),
            organizationsHref: node.kind.isDealer ? ConsolePaths.operatorOrganizations(node.id) : nil,
            webhooksHref: node.kind.isDealer ? ConsolePaths.operatorWebhooks(node.id) : nil)
        return try console.render("tenants", page, status: status)
    }
}

extension ConsolePaths {
    static let tenants = "/console/operator/tenants"
    static func tenant(_ id: Int64) -> String { "/console/operator/tenants/\(id)" }
}
