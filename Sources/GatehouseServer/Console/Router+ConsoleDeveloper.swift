import GatehouseCore
import HTTPTypes
import Hummingbird

extension GatehouseApp {
    /// The application developer's pages (issue 10, point 5; signed onboarding, seed 004):
    /// the applications of the user's subtree, "Create an application" with a public key
    /// pasted as PEM or a key pair generated here (the private key is shown once, as text and
    /// as a download, and never stored), the redirect URLs (checked line by line), the key,
    /// and certification versions. Every call is the `Onboarding` call of `/v1/applications`
    /// with the signed-in user as the caller: listing needs a user of a dealer node (users of
    /// accounts get 403), changes need `manage_clients` as in the API.
    func addConsoleDeveloperPages(_ routes: ConsoleRoutes) {
        let console = routes.console
        routes.page(RouterPath(ConsolePaths.applications)) { _, _, session in
            try await applicationsPage(console, session)
        }
        routes.action(RouterPath(ConsolePaths.applications)) { _, _, session, form in
            try Self.requireDeveloper(session)
            try session.caller.require(.manageClients)
            var typed = Self.applicationForm(form)
            var errors = ConsoleFieldErrors()
            if typed.name.isEmpty { errors.add("Enter a name for the application.", field: "name") }
            let urls = Self.consoleRedirectURLs(typed.redirectURLs, errors: &errors)
            let key = Self.consoleKeyChoice(typed, errors: &errors)
            if errors.isEmpty {
                do {
                    let input = Onboarding.ApplicationInput(name: typed.name, publicKeyPEM: key.pem, generateKeyPair: key.generate, redirectURLs: urls)
                    let (application, privateKey) = try await onboarding.createApplication(session.caller, tenantId: session.tenant.id, input)
                    if let privateKey {
                        return try await applicationPage(console, session, applicationId: application.applicationId,
                                                         generated: .init(pem: privateKey, applicationName: application.name),
                                                         notice: "Application created with a new key pair. Save the private key now: it is shown only once.",
                                                         status: .created)
                    }
                    return Console.redirect(to: ConsolePaths.application(application.applicationId) + "?done=created")
                } catch let error as GatehouseError where error.field != nil {
                    errors.add(Self.consoleKeyError(error), fields: ["name": "name", "public_key": "public_key", "redirect_urls": "redirect_urls"])
                }
            }
            typed.errors = errors.values
            return try await applicationsPage(console, session, create: typed, status: .unprocessableContent)
        }
        routes.page("/console/developer/applications/:applicationId") { request, context, session in
            let notice = request.uri.queryParameters["done"].flatMap { Self.consoleDeveloperNotices[String($0)] }
            return try await applicationPage(console, session, applicationId: context.text("applicationId"), notice: notice)
        }
        routes.action("/console/developer/applications/:applicationId/redirect-urls") { _, context, session, form in
            try Self.requireDeveloper(session)
            try session.caller.require(.manageClients)
            let applicationId = context.text("applicationId")
            var typed = Self.applicationForm(form)
            var errors = ConsoleFieldErrors()
            let urls = Self.consoleRedirectURLs(typed.redirectURLs, errors: &errors)
            if errors.isEmpty {
                do {
                    let (application, _) = try await onboarding.updateApplication(session.caller, applicationId: applicationId,
                                                                                  Onboarding.ApplicationInput(redirectURLs: urls))
                    return Console.redirect(to: ConsolePaths.application(application.applicationId) + "?done=redirects")
                } catch let error as GatehouseError where error.field == "redirect_urls" {
                    errors.add(error, fields: ["redirect_urls": "redirect_urls"])
                }
            }
            typed.errors = errors.values
            return try await applicationPage(console, session, applicationId: applicationId, redirectForm: typed, status: .unprocessableContent)
        }
        routes.action("/console/developer/applications/:applicationId/key") { _, context, session, form in
            try Self.requireDeveloper(session)
            try session.caller.require(.manageClients)
            let applicationId = context.text("applicationId")
            var typed = Self.applicationForm(form)
            var errors = ConsoleFieldErrors()
            let key = Self.consoleKeyChoice(typed, errors: &errors)
            if key.pem == nil, !key.generate, errors.isEmpty { errors.add("Choose how to set the key.", field: "key") }
            if errors.isEmpty {
                do {
                    let (application, privateKey) = try await onboarding.updateApplication(
                        session.caller, applicationId: applicationId, Onboarding.ApplicationInput(publicKeyPEM: key.pem, generateKeyPair: key.generate))
                    if let privateKey {
                        return try await applicationPage(console, session, applicationId: application.applicationId,
                                                         generated: .init(pem: privateKey, applicationName: application.name),
                                                         notice: "New key pair made. Save the private key now: it is shown only once. The old key no longer signs.")
                    }
                    return Console.redirect(to: ConsolePaths.application(application.applicationId) + "?done=key")
                } catch let error as GatehouseError where error.field == "public_key" {
                    errors.add(Self.consoleKeyError(error), fields: ["public_key": "public_key"])
                }
            }
            typed.errors = errors.values
            return try await applicationPage(console, session, applicationId: applicationId, keyForm: typed, status: .unprocessableContent)
        }
        routes.action("/console/developer/applications/:applicationId/versions") { _, context, session, form in
            try Self.requireDeveloper(session)
            try session.caller.require(.manageClients)
            let applicationId = context.text("applicationId")
            var typed = ConsoleApplicationPage.VersionForm(name: String(form.trimmed("name").prefix(300)), status: form.trimmed("status"),
                                                          cuOnboarding: form["cu_onboarding"] == "true")
            var errors = ConsoleFieldErrors()
            if typed.name.isEmpty { errors.add("Enter the version's name, for example 1.0.", field: "name") }
            let status = CertificationStatus(rawValue: typed.status)
            if status == nil { errors.add("Choose a status.", field: "status") }
            if errors.isEmpty, let status {
                do {
                    _ = try await onboarding.createCertificationVersion(session.caller, applicationId: applicationId, name: typed.name, status: status,
                                                                        cuOnboarding: typed.cuOnboarding)
                    return Console.redirect(to: ConsolePaths.application(applicationId) + "?done=version#versions-heading")
                } catch let error as GatehouseError where error.field == "name" {
                    errors.add(error, fields: ["name": "name"])
                }
            }
            typed.errors = errors.values
            return try await applicationPage(console, session, applicationId: applicationId, version: typed, status: .unprocessableContent)
        }
    }

    /// Applications belong to dealer nodes; users of accounts have none to manage.
    static func requireDeveloper(_ session: ConsoleSession) throws(GatehouseError) {
        guard session.tenant.kind.isDealer else { throw GatehouseError(.forbidden, "applications are managed by users of dealer nodes, not of accounts") }
    }

    static let consoleDeveloperNotices: [String: String] = [
        "created": "Application created.",
        "redirects": "Redirect URLs saved.",
        "key": "Public key saved. Requests must now be signed with its private key.",
        "version": "Certification version added.",
    ]

    /// The application fields of a form (what was typed; a private key is never among them).
    static func applicationForm(_ form: ConsoleForm) -> ConsoleApplicationForm {
        let key = form.trimmed("key")
        return ConsoleApplicationForm(name: String(form.trimmed("name").prefix(300)), key: ["generate", "pem", "none"].contains(key) ? key : "",
                                      publicKey: String(form.trimmed("public_key").prefix(16_384)), redirectURLs: String(form["redirect_urls"].prefix(48_000)))
    }

    /// The key the form asks for: a pasted PEM, a key pair to generate, or none.
    static func consoleKeyChoice(_ typed: ConsoleApplicationForm, errors: inout ConsoleFieldErrors) -> (pem: String?, generate: Bool) {
        switch typed.key {
        case "generate": return (nil, true)
        case "pem":
            if typed.publicKey.isEmpty { errors.add("Paste the public key: the text from -----BEGIN PUBLIC KEY----- to -----END PUBLIC KEY-----.", field: "public_key") }
            return (typed.publicKey, false)
        case "none": return (nil, false)
        default:
            errors.add("Choose how to set the key.", field: "key")
            return (nil, false)
        }
    }

    /// A core key error in words that say what to paste.
    static func consoleKeyError(_ error: GatehouseError) -> GatehouseError {
        guard error.field == "public_key", error.code == .validationFailed, !error.message.contains("not both") else { return error }
        return GatehouseError(.validationFailed, "this is not an RSA public key of at least 2048 bits in PEM form (-----BEGIN PUBLIC KEY-----): \(error.message)",
                              field: "public_key")
    }

    /// The redirect URLs of a text area, one a line (blank lines skipped); each line is checked
    /// with the core's rule so that the error names the line at fault.
    static func consoleRedirectURLs(_ text: String, errors: inout ConsoleFieldErrors) -> [String] {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        var urls: [String] = []
        for (index, line) in lines.enumerated() where !line.isEmpty {
            do {
                _ = try Onboarding.redirectURLs([line])
                urls.append(line)
            } catch {
                let shown = line.count > 80 ? String(line.prefix(80)) + "…" : line
                errors.add("Line \(index + 1) (\(shown)) is not an absolute http:// or https:// URL without a user name, password or #fragment.",
                           field: "redirect_urls")
                return urls
            }
        }
        if urls.count > 20 { errors.add("At most 20 redirect URLs; this list has \(urls.count).", field: "redirect_urls") }
        return urls
    }

    /// The applications page of the user's subtree.
    func applicationsPage(_ console: Console, _ session: ConsoleSession, create: ConsoleApplicationForm = .init(),
                          status: HTTPResponse.Status = .ok) async throws -> Response {
        try Self.requireDeveloper(session)
        let applications = try await onboarding.applications(session.caller, tenantId: session.tenant.id)
        var names: [Int64: String] = [session.tenant.id: session.tenant.name]
        var rows: [ConsoleApplicationsPage.Row] = []
        for application in applications {
            if names[application.tenantId] == nil { names[application.tenantId] = (try? await management.tenant(session.caller, id: application.tenantId))?.name ?? "" }
            rows.append(.init(name: application.name, applicationId: application.applicationId, hasKey: application.publicKeyPEM != nil,
                              redirects: application.redirectURLs.count, node: names[application.tenantId] ?? "",
                              href: ConsolePaths.application(application.applicationId)))
        }
        let page = ConsoleApplicationsPage(frame: ConsoleFrame(title: "Applications", session: session, path: ConsolePaths.applications),
                                           csrf: session.csrf, node: session.tenant.name, applications: rows,
                                           canManage: session.user.permissions.contains(.manageClients), create: create, base: ConsolePaths.applications)
        return try console.render("applications", page, status: status)
    }

    /// The page of one application, with the forms as given.
    func applicationPage(_ console: Console, _ session: ConsoleSession, applicationId: String, generated: ConsoleApplicationPage.GeneratedKey? = nil,
                         redirectForm: ConsoleApplicationForm? = nil, keyForm: ConsoleApplicationForm = .init(key: ""),
                         version: ConsoleApplicationPage.VersionForm = .init(), notice: String? = nil,
                         status: HTTPResponse.Status = .ok) async throws -> Response {
        try Self.requireDeveloper(session)
        let application = try await onboarding.application(session.caller, applicationId: applicationId)
        let versions = try await onboarding.certificationVersions(session.caller, applicationId: application.applicationId).map {
            ConsoleApplicationPage.Version(name: $0.name, versionId: $0.versionId, status: $0.status.rawValue, cuOnboarding: $0.cuOnboarding,
                                           created: ConsoleTime($0.createdAt))
        }
        let owner = try await management.tenant(session.caller, id: application.tenantId)
        let base = ConsolePaths.application(application.applicationId)
        let page = ConsoleApplicationPage(
            frame: ConsoleFrame(title: "Application \(application.name)", session: session, path: ConsolePaths.applications, notice: notice),
            csrf: session.csrf, name: application.name, applicationId: application.applicationId, owner: owner.name, publicKey: application.publicKeyPEM,
            redirects: application.redirectURLs, versions: versions, canManage: session.user.permissions.contains(.manageClients), generated: generated,
            redirectForm: redirectForm ?? ConsoleApplicationForm(redirectURLs: application.redirectURLs.joined(separator: "\n")), keyForm: keyForm,
            version: version, statuses: CertificationStatus.allCases.map { .init(value: $0.rawValue, selected: $0.rawValue == version.status) },
            base: base, listHref: ConsolePaths.applications)
        return try console.render("application", page, status: status)
    }
}

extension ConsolePaths {
    static let applications = "/console/developer/applications"
    static func application(_ applicationId: String) -> String { "/console/developer/applications/\(applicationId)" }
}
