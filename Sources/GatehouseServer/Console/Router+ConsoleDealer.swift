import GatehouseCore
import HTTPTypes
import Hummingbird

extension GatehouseApp {
    /// The dealer admin's pages (issue 10, point 3): the accounts and users of its subtree,
    /// search by e-mail, "Generate access token" (an on-behalf token, shown once, under the
    /// partner-auth rules of `PartnerAuth.mintOnBehalf`) and the audit log of its subtree.
    /// Users of an account get a 403 page; a dealer sees only its own subtree (the core's
    /// `Management` calls are scoped to the caller).
    func addConsoleDealerPages(_ routes: ConsoleRoutes) {
        let console = routes.console
        routes.page(RouterPath(ConsolePaths.dealerAccounts)) { request, _, session in
            let email = String((request.uri.queryParameters["email"].map(String.init) ?? "").trimmingCharacters(in: .whitespaces).prefix(254))
            return try await dealerPage(console, session, email: email, searched: request.uri.queryParameters["email"] != nil)
        }
        routes.action(RouterPath(ConsolePaths.dealerTokens)) { _, _, session, form in
            try Self.requireDealer(session)
            var typed = ConsoleDealerPage.MintForm(accountId: String(form.trimmed("account_id").prefix(20)), userId: String(form.trimmed("user_id").prefix(20)),
                                                   clientId: String(form.trimmed("client_id").prefix(200)), write: form["write"] == "on")
            var errors = ConsoleFieldErrors()
            let accountId = Int64(typed.accountId), userId = Int64(typed.userId)
            if accountId == nil { errors.add("Enter the account's number.", field: "account_id") }
            if userId == nil { errors.add("Enter the user's number.", field: "user_id") }
            if typed.clientId.isEmpty { errors.add("Choose the API client the token is for.", field: "client_id") }
            if errors.isEmpty, let accountId, let userId {
                do {
                    let issued = try await partnerAuth.mintOnBehalf(dealer: session.user, of: session.tenant, clientId: typed.clientId, accountId: accountId,
                                                                    userId: userId, requested: typed.write ? [.read, .write] : [.read])
                    let user = try await management.user(session.caller, id: userId)
                    let now = configuration.clock.now()
                    let minted = ConsoleDealerPage.Minted(token: issued.accessToken, userEmail: user.email, scopes: issued.scopes.map(\.rawValue).joined(separator: " "),
                                                          expires: issued.expiresIn > 0 ? ConsoleTime(now + issued.expiresIn) : nil)
                    return try await dealerPage(console, session, minted: minted, notice: "Access token generated. Copy it now: it is not shown again.",
                                                status: .created)
                } catch let error as GatehouseError where error.field != nil || error.code == .invalidScope {
                    errors.add(error, fields: ["account_id": "account_id", "user_id": "user_id", "client_id": "client_id"],
                               fallback: error.code == .invalidScope ? "write" : "general")
                }
            }
            typed.errors = errors.values
            return try await dealerPage(console, session, mint: typed, status: .unprocessableContent)
        }
        routes.page(RouterPath(ConsolePaths.audit)) { request, _, session in
            let page = try PageRequest.parse(limit: nil, cursor: request.uri.queryParameters["cursor"].map(String.init))
            let entries = try await management.audit(session.caller, page: PageRequest(limit: 50, after: page.after))
            let rows = entries.items.map {
                ConsoleAuditPage.Row(id: $0.id, at: ConsoleTime($0.at), actor: $0.actor, action: $0.action, target: "\($0.targetType) \($0.targetId)",
                                     tenantId: $0.tenantId.map(String.init) ?? "", detail: $0.detail)
            }
            let model = ConsoleAuditPage(frame: ConsoleFrame(title: "Audit log", session: session, path: ConsolePaths.audit), rows: rows,
                                         next: entries.nextCursor.map { ConsolePaths.audit + "?cursor=" + $0 }, first: page.after == nil)
            return try console.render("audit", model)
        }
    }

    /// Dealer pages are for users of dealer nodes; users of an account get a 403 page.
    static func requireDealer(_ session: ConsoleSession) throws {
        guard session.tenant.kind.isDealer else { throw GatehouseError(.forbidden, "this page is for dealer admin users") }
    }

    /// The dealer page as `session` sees it.
    func dealerPage(_ console: Console, _ session: ConsoleSession, email: String = "", searched: Bool = false,
                    mint: ConsoleDealerPage.MintForm = .init(), minted: ConsoleDealerPage.Minted? = nil, notice: String? = nil,
                    status: HTTPResponse.Status = .ok) async throws -> Response {
        try Self.requireDealer(session)
        let caller = session.caller
        let accounts = try await management.listTenants(caller, kind: .account, parentId: nil, page: PageRequest(limit: 200)).items
        var searchError: String?
        var users: [User] = []
        var status = status
        do {
            users = try await management.listUsers(caller, tenantId: nil, email: email.isEmpty ? nil : email, page: PageRequest(limit: 200)).items
        } catch let error as GatehouseError where error.field == "email" {
            searchError = "Enter a whole e-mail address, like name@example.com."
            status = .unprocessableContent
        }
        let names = Dictionary(accounts.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let features = try await management.features(caller, tenantId: session.tenant.id)
        let canMint = features.contains(FeatureSwitch(feature: .generateAccessToken, enabled: true)) && session.user.permissions.contains(.generateAccessToken)
        let clients = canMint ? try await management.listClients(caller, tenantId: session.tenant.id, page: PageRequest(limit: 100)).items
            .filter { $0.provisioning && $0.enabled } : []
        let page = ConsoleDealerPage(
            frame: ConsoleFrame(title: "Accounts and users", session: session, path: ConsolePaths.dealerAccounts, notice: notice),
            csrf: session.csrf,
            accounts: accounts.map { .init(id: $0.id, name: $0.name, key: $0.key, enabled: $0.enabled, devicesHref: ConsolePaths.devices(account: $0.id)) },
            users: users.map { user in
                .init(id: user.id, email: user.email, name: user.name, node: names[user.tenantId] ?? (user.tenantId == session.tenant.id ? session.tenant.name : "node \(user.tenantId)"),
                      nodeId: user.tenantId, enabled: user.enabled, accountId: names[user.tenantId] != nil ? user.tenantId : nil)
            },
            email: email, searchError: searchError, searched: searched, canMint: canMint,
            clients: clients.map { .init(clientId: $0.clientId, name: $0.name, selected: $0.clientId == mint.clientId || clients.count == 1) },
            mint: mint, minted: minted)
        return try console.render("dealer", page, status: status)
    }
}

extension ConsolePaths {
    static let dealerAccounts = "/console/dealer/accounts"
    static let dealerTokens = "/console/dealer/tokens"
    static let audit = "/console/audit"
}
