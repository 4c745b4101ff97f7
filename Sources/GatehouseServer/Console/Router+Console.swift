import GatehouseCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

extension GatehouseApp {
    /// The console (issue 10): server-rendered pages under `/console` for the users of the
    /// tenant tree. Sign-in and sign-out, the home page and static files are here; each group
    /// of pages registers itself from its own `Router+Console….swift` file. See docs/console.md.
    func addConsoleRoutes(to router: Router<GatehouseRequestContext>) {
        let console: Console
        do {
            console = try Console(configuration: configuration)
        } catch {
            Logger(label: "gatehouse.console").error("the console cannot start", metadata: ["error": "\(error)"])
            router.get("/console") { _, _ in Response(status: .internalServerError, headers: [.contentType: "text/plain; charset=utf-8"],
                                                      body: .init(byteBuffer: ByteBuffer(string: "The console's resources could not be loaded.\n"))) }
            return
        }
        let routes = ConsoleRoutes(router: router, console: console, app: self)
        addConsoleSignInRoutes(routes)
        addConsoleDevicePages(routes)
        addConsoleDealerPages(routes)
        addConsoleOperatorPages(routes)
        addConsoleOrganizationPages(routes)
        addConsoleWebhookPages(routes)
        addConsoleCertificatePages(routes)
        addConsoleVendorPages(routes)
        addConsoleDeveloperPages(routes)
        // Any other console address: a page that says so, with a way back.
        router.get("/console/**") { _, context in
            ConsoleRoutes.errorPage(console, GatehouseError(.notFound, "there is no such page in the console"), requestID: context.requestID)
        }
    }

    /// The model of `sign-in.mustache`.
    struct ConsoleSignInPage: Sendable {
        let frame: ConsoleFrame
        let email: String
        let csrf: String
        let errors: [String: String]
    }

    /// The model of `home.mustache`.
    struct ConsoleHomePage: Sendable {
        struct Link: Sendable { let label: String; let href: String }
        let frame: ConsoleFrame
        let name: String
        let node: String
        let kind: String
        let links: [Link]
    }

    func addConsoleSignInRoutes(_ routes: ConsoleRoutes) {
        let console = routes.console
        let router = routes.router
        router.get("/console/static/:file") { _, context in
            guard let file = console.files[context.text("file")] else {
                return ConsoleRoutes.errorPage(console, GatehouseError(.notFound, "no such file"), requestID: context.requestID)
            }
            return Response(status: .ok, headers: [.contentType: file.type, .cacheControl: "no-cache", .contentSecurityPolicy: Console.contentSecurityPolicy,
                                                   HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                            body: .init(byteBuffer: file.body))
        }
        // Home: users of an account go straight to their devices; others see their sections.
        routes.page("/console") { _, _, session in
            let items = ConsoleNavigation.items(for: session)
            if session.tenant.kind == .account, let first = items.first { return Console.redirect(to: first.href) }
            let page = ConsoleHomePage(frame: ConsoleFrame(title: "Gatehouse console", session: session, path: ConsolePaths.root),
                                       name: session.user.name, node: session.tenant.name, kind: session.tenant.kind.rawValue,
                                       links: items.map { ConsoleHomePage.Link(label: $0.label, href: $0.href) })
            return try console.render("home", page)
        }
        router.get(RouterPath(ConsolePaths.signIn)) { request, context in
            await ConsoleRoutes.guarded(console, context) {
                if try await ConsoleSession.resolve(request, console: console, management: management) != nil {
                    return Console.redirect(to: ConsolePaths.root)
                }
                let notice = request.uri.queryParameters["signed-out"] != nil ? "You are signed out." : nil
                return try signInPage(console, request: request, email: "", errors: ConsoleFieldErrors(), notice: notice, status: .ok)
            }
        }
        router.post(RouterPath(ConsolePaths.signIn)) { request, context in
            await ConsoleRoutes.guarded(console, context) {
                try ConsoleRoutes.requireSameOrigin(request, console: console)
                let form = try await ConsoleForm.read(request)
                guard let secret = request.cookies[console.signInCookie]?.value,
                      ConsoleSession.formTokenMatches(form.values["csrf"], secret: secret) else { throw ConsoleRoutes.formRefused }
                let email = String(form.trimmed("email").prefix(254))
                var errors = ConsoleFieldErrors()
                if email.isEmpty { errors.add("Enter your e-mail address.", field: "email") }
                if form["password"].isEmpty { errors.add("Enter your password.", field: "password") }
                if !errors.isEmpty {
                    return try signInPage(console, request: request, email: email, errors: errors, notice: nil, status: .unprocessableContent)
                }
                let user: User
                do {
                    // The sign-in of the OAuth password grant and POST /v1/sessions: the same
                    // failure counters per user name and client address, in the database.
                    user = try await partnerAuth.checkPassword(username: email, password: form["password"], address: context.clientAddress,
                                                               failure: GatehouseError(.unauthenticated, "e-mail or password is wrong"))
                } catch let error as GatehouseError where error.code == .unauthenticated {
                    errors.add("The e-mail address or the password is wrong (after several wrong tries, sign-in is paused for a while).", field: "general")
                    return try signInPage(console, request: request, email: email, errors: errors, notice: nil, status: .unauthorized)
                }
                let session = try await management.startSession(for: user)
                return Console.redirect(to: ConsolePaths.root, cookies: [
                    console.cookie(console.sessionCookie, session.token, maxAge: max(0, session.expiresAt - configuration.clock.now())),
                    console.cookie(console.signInCookie, "", maxAge: 0),
                ])
            }
        }
        routes.action(RouterPath(ConsolePaths.signOut)) { _, _, session, _ in
            try await management.revoke(bearer: session.token)
            return Console.redirect(to: ConsolePaths.signIn + "?signed-out=1", cookies: [console.cookie(console.sessionCookie, "", maxAge: 0)])
        }
    }

    /// The sign-in form; a fresh sign-in cookie (the form token's secret) when the browser has none.
    func signInPage(_ console: Console, request: Request, email: String, errors: ConsoleFieldErrors, notice: String?,
                    status: HTTPResponse.Status) throws -> Response {
        var cookies: [String] = []
        let secret: String
        if let existing = request.cookies[console.signInCookie]?.value, existing.utf8.count >= 32, existing.utf8.count <= 128 {
            secret = existing
        } else {
            secret = Secrets.token(byteCount: 32)
            cookies.append(console.cookie(console.signInCookie, secret, maxAge: 3600))
        }
        let page = ConsoleSignInPage(frame: ConsoleFrame(title: "Sign in", notice: notice), email: email,
                                     csrf: ConsoleSession.formToken(for: secret), errors: errors.values)
        return try console.render("sign-in", page, status: status, cookies: cookies)
    }
}
