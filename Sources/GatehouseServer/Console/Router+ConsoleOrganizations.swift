import GatehouseCore
import HTTPTypes
import Hummingbird

extension GatehouseApp {
    /// The platform operator's organizations and presets (issue 10, point 4). Organizations
    /// are the account nodes under an activation operator (a dealer node; the operator API of
    /// seed 000 shows a dealer its own); presets belong to organizations. Every call is the
    /// `AgentActivation` call of `/vsaas/api/v2/organizations` and `/v1/tenants/{id}/presets`,
    /// with the signed-in user as the core caller (`operatorScope`, `organizationScope`,
    /// `presetScope`), so the core enforces the rights; the pages need the platform operator.
    func addConsoleOrganizationPages(_ routes: ConsoleRoutes) {
        let console = routes.console
        routes.page(RouterPath(ConsolePaths.organizations)) { request, _, session in
            try session.caller.requireOperator(.manageTenants)
            let id = try Self.consoleOperatorChoice(request)
            return Console.redirect(to: ConsolePaths.operatorOrganizations(id))
        }
        routes.page("/console/operator/operators/:id/organizations") { request, context, session in
            let notice = request.uri.queryParameters["done"].flatMap { Self.consoleOrganizationNotices[String($0)] }
            let cursor = request.uri.queryParameters["cursor"].map(String.init)
            return try await organizationsPage(console, session, operatorId: try context.id(), cursor: cursor, notice: notice)
        }
        routes.action("/console/operator/operators/:id/organizations") { _, context, session, form in
            try session.caller.requireOperator(.manageTenants)
            let operatorId = try context.id()
            let (input, checked) = Self.consoleOrganizationInput(form)
            var typed = checked
            if typed.errors.isEmpty {
                do {
                    let scope = try await activation.operatorScope(session.caller, operatorId: operatorId, write: true)
                    let made = try await activation.createOrganization(scope, input)
                    return Console.redirect(to: ConsolePaths.organization(made.tenant.id) + "?done=created")
                } catch let error as GatehouseError where error.field != nil && error.code != .notFound {
                    var errors = ConsoleFieldErrors()
                    errors.add(error, fields: Self.consoleOrganizationFields)
                    typed.errors = errors.values
                }
            }
            return try await organizationsPage(console, session, operatorId: operatorId, cursor: nil, create: typed, status: .unprocessableContent)
        }
        routes.page("/console/operator/organizations/:id") { request, context, session in
            let notice = request.uri.queryParameters["done"].flatMap { Self.consoleOrganizationNotices[String($0)] }
            return try await organizationPage(console, session, id: try context.id(), notice: notice)
        }
        routes.action("/console/operator/organizations/:id") { _, context, session, form in
            try session.caller.requireOperator(.manageTenants)
            let id = try context.id()
            let (input, checked) = Self.consoleOrganizationInput(form)
            var typed = checked
            if typed.errors.isEmpty {
                do {
                    let scope = try await activation.organizationScope(session.caller, organizationId: id, write: true)
                    _ = try await activation.updateOrganization(scope, id: id, input)
                    return Console.redirect(to: ConsolePaths.organization(id) + "?done=saved")
                } catch let error as GatehouseError where error.field != nil && error.code != .notFound {
                    var errors = ConsoleFieldErrors()
                    errors.add(error, fields: Self.consoleOrganizationFields)
                    typed.errors = errors.values
                }
            }
            return try await organizationPage(console, session, id: id, edit: typed, status: .unprocessableContent)
        }
        routes.action("/console/operator/organizations/:id/delete") { _, context, session, _ in
            try session.caller.requireOperator(.manageTenants)
            let id = try context.id()
            let organization = try await management.tenant(session.caller, id: id)
            try await activation.deleteOrganization(session.caller, id: id)
            return Console.redirect(to: ConsolePaths.operatorOrganizations(organization.parentId ?? Management.platformTenantId) + "?done=deleted")
        }
        routes.action("/console/operator/organizations/:id/presets") { _, context, session, form in
            try session.caller.requireOperator(.manageTenants)
            let id = try context.id()
            let rejected = try await Self.consoleSavePreset(form) { title, settings in
                let scope = try await activation.organizationScope(session.caller, organizationId: id, write: true)
                _ = try await activation.createPreset(scope, organizationId: id, title: title, settings: settings)
            }
            guard let rejected else { return Console.redirect(to: ConsolePaths.organization(id) + "?done=preset-created") }
            return try await organizationPage(console, session, id: id, preset: rejected, status: .unprocessableContent)
        }
        routes.page("/console/operator/presets/:id") { request, context, session in
            let notice = request.uri.queryParameters["done"].flatMap { Self.consoleOrganizationNotices[String($0)] }
            return try await presetPage(console, session, id: try context.id(), notice: notice)
        }
        routes.action("/console/operator/presets/:id") { _, context, session, form in
            try session.caller.requireOperator(.manageTenants)
            let id = try context.id()
            let rejected = try await Self.consoleSavePreset(form) { title, settings in
                let scope = try await activation.presetScope(session.caller, presetId: id, write: true)
                _ = try await activation.updatePreset(scope, id: id, title: title, settings: settings)
            }
            guard let rejected else { return Console.redirect(to: ConsolePaths.preset(id) + "?done=preset-saved") }
            return try await presetPage(console, session, id: id, edit: rejected, status: .unprocessableContent)
        }
        routes.action("/console/operator/presets/:id/delete") { _, context, session, _ in
            try session.caller.requireOperator(.manageTenants)
            let id = try context.id()
            let scope = try await activation.presetScope(session.caller, presetId: id, write: true)
            let preset = try await activation.preset(scope, id: id)
            try await activation.deletePreset(scope, id: id)
            return Console.redirect(to: ConsolePaths.organization(preset.organizationId) + "?done=preset-deleted")
        }
    }

    /// The one-line notices of `?done=` after an organization or preset action.
    static let consoleOrganizationNotices: [String: String] = [
        "created": "Organization created.",
        "saved": "Organization saved.",
        "deleted": "Organization deleted.",
        "preset-created": "Preset created.",
        "preset-saved": "Preset saved.",
        "preset-deleted": "Preset deleted.",
    ]

    /// Core field → form field of the organization form.
    static let consoleOrganizationFields = ["title": "title", "name": "title", "note": "note", "camera_limit": "camera_limit", "user_limit": "user_limit"]
    /// Core field → form field of the preset form (one setting's error goes to the settings box).
    static let consolePresetFields = ["title": "title", "name": "title", "settings": "settings"]

    /// `?operator=` of the operator switch (the platform node when absent).
    static func consoleOperatorChoice(_ request: Request) throws -> Int64 {
        guard let text = request.uri.queryParameters["operator"], !text.isEmpty else { return Management.platformTenantId }
        guard let id = Int64(String(text)), id > 0 else { throw GatehouseError(.notFound, "there is no such operator") }
        return id
    }

    /// The organization form as typed, checked for what the console can tell by itself
    /// (a title, whole-number limits); the core checks the rest.
    static func consoleOrganizationInput(_ form: ConsoleForm) -> (OrganizationInput, ConsoleOrganizationForm) {
        var typed = ConsoleOrganizationForm(title: String(form.trimmed("title").prefix(200)),
                                            note: String(form["note"].replacingOccurrences(of: "\r\n", with: "\n").prefix(4000)),
                                            cameraLimit: String(form.trimmed("camera_limit").prefix(20)), userLimit: String(form.trimmed("user_limit").prefix(20)))
        var errors = ConsoleFieldErrors()
        if typed.title.isEmpty { errors.add("Enter a name for the organization.", field: "title") }
        func limit(_ text: String, _ field: String, _ what: String) -> Int64?? {
            if text.isEmpty { return .some(nil) }
            guard let value = Int64(text), value >= 0 else {
                errors.add("Enter the \(what) as a whole number (0 or more), or leave it empty for no limit.", field: field)
                return nil
            }
            return .some(value)
        }
        let cameraLimit = limit(typed.cameraLimit, "camera_limit", "camera limit")
        let userLimit = limit(typed.userLimit, "user_limit", "user limit")
        typed.errors = errors.values
        return (OrganizationInput(title: typed.title, note: typed.note, cameraLimit: cameraLimit, userLimit: userLimit), typed)
    }

    /// Reads a preset form and, when the console finds nothing wrong with it, hands its title
    /// and settings to `save` (a create or an update). Returns nil once saved, or the form as
    /// typed with its field errors (the console's own, or a field error of the core) to show again.
    static func consoleSavePreset(_ form: ConsoleForm,
                                  save: (_ title: String, _ settings: [String: String]) async throws -> Void) async throws -> ConsolePresetForm? {
        var typed = consolePresetTyped(form)
        guard let settings = consolePresetSettings(typed) else {
            typed.errors = consolePresetErrors(typed)
            return typed
        }
        do {
            try await save(typed.title, settings)
            return nil
        } catch let error as GatehouseError where error.field != nil && error.code != .notFound {
            var errors = ConsoleFieldErrors()
            errors.add(error, fields: consolePresetFields)
            typed.errors = errors.values
            return typed
        }
    }

    static func consolePresetTyped(_ form: ConsoleForm) -> ConsolePresetForm {
        ConsolePresetForm(title: String(form.trimmed("title").prefix(200)),
                          settings: String(form["settings"].replacingOccurrences(of: "\r\n", with: "\n").prefix(60_000)))
    }

    /// The settings box (`name=value` per line) as a map, or nil when the form has an error
    /// the console can tell by itself (``consolePresetErrors(_:)`` says which).
    static func consolePresetSettings(_ typed: ConsolePresetForm) -> [String: String]? {
        guard consolePresetErrors(typed).isEmpty else { return nil }
        var map: [String: String] = [:]
        for line in typed.settings.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, let equals = text.firstIndex(of: "=") else { continue }
            map[text[..<equals].trimmingCharacters(in: .whitespaces)] = text[text.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return map
    }

    static func consolePresetErrors(_ typed: ConsolePresetForm) -> [String: String] {
        var errors = ConsoleFieldErrors()
        if typed.title.isEmpty { errors.add("Enter a title for the preset.", field: "title") }
        var names = Set<String>()
        for (number, line) in typed.settings.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let equals = text.firstIndex(of: "="), !text[..<equals].trimmingCharacters(in: .whitespaces).isEmpty else {
                errors.add("Line \(number + 1): write each setting as name=value.", field: "settings")
                break
            }
            let name = text[..<equals].trimmingCharacters(in: .whitespaces)
            guard names.insert(name).inserted else {
                errors.add("Line \(number + 1): the setting \(name) is given twice.", field: "settings")
                break
            }
        }
        return errors.values
    }

    /// Settings as the box shows them: `name=value` lines in name order.
    static func consoleSettingsText(_ settings: [String: String]) -> String {
        settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
    }

    /// The operator switch: the platform node, its distributors and resellers the caller sees.
    func consoleOperatorSwitch(_ session: ConsoleSession, current: Int64, action: String) async throws -> ConsoleOperatorSwitch {
        let caller = session.caller
        var nodes = [try await management.tenant(caller, id: Management.platformTenantId)]
        for kind in [TenantKind.distributor, .reseller] {
            nodes += try await management.listTenants(caller, kind: kind, parentId: nil, page: PageRequest(limit: PageRequest.maxLimit)).items
        }
        if !nodes.contains(where: { $0.id == current }) { nodes.append(try await management.tenant(caller, id: current)) }
        return ConsoleOperatorSwitch(action: action, options: nodes.map {
            .init(id: $0.id, label: "\($0.name) (\($0.kind.rawValue) \($0.id))", selected: $0.id == current)
        })
    }

    /// The organizations under operator `operatorId`.
    func organizationsPage(_ console: Console, _ session: ConsoleSession, operatorId: Int64, cursor: String?, create: ConsoleOrganizationForm = .init(),
                           notice: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        try session.caller.requireOperator(.manageTenants)
        let scope = try await activation.operatorScope(session.caller, operatorId: operatorId, write: false)
        var after: Int64?
        if let cursor, !cursor.isEmpty {
            guard let value = Int64(cursor), value >= 0 else { throw GatehouseError(.invalidRequest, "the page cursor is not valid") }
            after = value
        }
        let page = try await activation.organizations(scope, after: after)
        let switcher = try await consoleOperatorSwitch(session, current: operatorId, action: ConsolePaths.organizations)
        let names = Dictionary(switcher.options.map { ($0.id, $0.label) }, uniquingKeysWith: { first, _ in first })
        let rows = page.items.map { organization in
            ConsoleOrganizationsPage.Row(id: organization.tenant.id, name: organization.tenant.name, key: organization.tenant.key,
                                         under: organization.tenant.parentId.map { names[$0] ?? "node \($0)" } ?? "",
                                         note: organization.note, cameraLimit: organization.cameraLimit.map(String.init) ?? "no limit",
                                         userLimit: organization.userLimit.map(String.init) ?? "no limit", enabled: organization.tenant.enabled,
                                         href: ConsolePaths.organization(organization.tenant.id))
        }
        let node = scope.operatorTenant
        let model = ConsoleOrganizationsPage(
            frame: ConsoleFrame(title: "Organizations – \(node.name)", session: session, path: ConsolePaths.organizations, notice: notice),
            csrf: session.csrf, operatorNode: .init(id: node.id, name: node.name, kind: node.kind.rawValue), switcher: switcher,
            organizations: rows, nextHref: page.nextCursor.map { ConsolePaths.operatorOrganizations(node.id) + "?cursor=" + $0 },
            create: create, createAction: ConsolePaths.operatorOrganizations(node.id), webhooksHref: ConsolePaths.operatorWebhooks(node.id))
        return try console.render("organizations", model, status: status)
    }

    /// One organization with its presets.
    func organizationPage(_ console: Console, _ session: ConsoleSession, id: Int64, edit: ConsoleOrganizationForm? = nil,
                          preset: ConsolePresetForm = .init(), notice: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        try session.caller.requireOperator(.manageTenants)
        let scope = try await activation.organizationScope(session.caller, organizationId: id, write: false)
        let organization = try await activation.organization(scope, id: id)
        let presets = try await activation.presets(scope, organizationId: id, limit: 500, offset: 0).items
        let parentId = organization.tenant.parentId ?? Management.platformTenantId
        let parent = try await management.tenant(session.caller, id: parentId)
        let form = edit ?? ConsoleOrganizationForm(title: organization.tenant.name, note: organization.note,
                                                   cameraLimit: organization.cameraLimit.map(String.init) ?? "",
                                                   userLimit: organization.userLimit.map(String.init) ?? "")
        let model = ConsoleOrganizationPage(
            frame: ConsoleFrame(title: "Organization – \(organization.tenant.name)", session: session, path: ConsolePaths.organizations, notice: notice),
            csrf: session.csrf, id: id, name: organization.tenant.name, key: organization.tenant.key, parentName: parent.name,
            parentHref: ConsolePaths.operatorOrganizations(parent.id), devicesHref: ConsolePaths.devices(account: id), edit: form,
            presets: presets.map { .init(id: $0.id, title: $0.title, settings: Self.consoleSettingsText($0.settings).replacingOccurrences(of: "\n", with: ", "),
                                         href: ConsolePaths.preset($0.id)) },
            createPreset: preset, base: ConsolePaths.organization(id))
        return try console.render("organization", model, status: status)
    }

    /// One preset's edit page.
    func presetPage(_ console: Console, _ session: ConsoleSession, id: Int64, edit: ConsolePresetForm? = nil,
                    notice: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        try session.caller.requireOperator(.manageTenants)
        let scope = try await activation.presetScope(session.caller, presetId: id, write: false)
        let preset = try await activation.preset(scope, id: id)
        let model = ConsolePresetPage(
            frame: ConsoleFrame(title: "Preset – \(preset.title)", session: session, path: ConsolePaths.organizations, notice: notice),
            csrf: session.csrf, id: id, organizationName: scope.operatorTenant.name, organizationHref: ConsolePaths.organization(preset.organizationId),
            edit: edit ?? ConsolePresetForm(title: preset.title, settings: Self.consoleSettingsText(preset.settings)), base: ConsolePaths.preset(id))
        return try console.render("preset", model, status: status)
    }
}

extension ConsolePaths {
    static let organizations = "/console/operator/organizations"
    static func operatorOrganizations(_ id: Int64) -> String { "/console/operator/operators/\(id)/organizations" }
    static func organization(_ id: Int64) -> String { "/console/operator/organizations/\(id)" }
    static func preset(_ id: Int64) -> String { "/console/operator/presets/\(id)" }
}
