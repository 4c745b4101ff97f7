import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Registers console pages and form actions with the checks every one of them needs, so a
/// new page is a handler that builds a model and renders a template:
///
/// - ``page(_:_:)`` (GET): a signed-in user, else 303 to the sign-in page.
/// - ``action(_:_:)`` (POST): a signed-in user (else 303 to sign-in, nothing done), a
///   same-origin request (`Origin`, else `Sec-Fetch-Site`), and the session's form token in
///   the `csrf` field (compared in constant time); a failed check is a 403 page and nothing
///   is changed.
///
/// Any `GatehouseError` a handler throws becomes an error page with the code's status
/// (404 for what the user cannot see, 403, 409, …); anything else a 500 page that says nothing
/// about internals.
struct ConsoleRoutes {
    let router: Router<GatehouseRequestContext>
    let console: Console
    let app: GatehouseApp

    typealias PageHandler = @Sendable (Request, GatehouseRequestContext, ConsoleSession) async throws -> Response
    typealias ActionHandler = @Sendable (Request, GatehouseRequestContext, ConsoleSession, ConsoleForm) async throws -> Response

    /// A GET page for signed-in users.
    func page(_ path: RouterPath, _ handler: @escaping PageHandler) {
        let console = console, app = app
        router.get(path) { request, context in
            await Self.guarded(console, context) {
                guard let session = try await ConsoleSession.resolve(request, console: console, management: app.management, provisioning: app.provisioning) else {
                    return Console.redirect(to: ConsolePaths.signIn)
                }
                return try await handler(request, context, session)
            }
        }
    }

    /// A POST form action for signed-in users, with the origin and CSRF checks.
    func action(_ path: RouterPath, _ handler: @escaping ActionHandler) {
        let console = console, app = app
        router.post(path) { request, context in
            await Self.guarded(console, context) {
                guard let session = try await ConsoleSession.resolve(request, console: console, management: app.management, provisioning: app.provisioning) else {
                    return Console.redirect(to: ConsolePaths.signIn)
                }
                try Self.requireSameOrigin(request, console: console)
                let form = try await ConsoleForm.read(request)
                guard ConsoleSession.formTokenMatches(form.values["csrf"], secret: session.token) else { throw Self.formRefused }
                return try await handler(request, context, session, form)
            }
        }
    }

    /// The refusal of a form without the right token or from another site.
    static let formRefused = GatehouseError(.forbidden, "This form has expired or was sent from another site, so nothing was changed. "
                                            + "Reload the page and try again.")

    /// Refuses a POST a browser made from another origin: `Origin` must be the console's own
    /// (the `--public-url` origin, else this request's scheme and `Host`); without `Origin`,
    /// `Sec-Fetch-Site` must not be `cross-site` or `same-site`. Clients that send neither
    /// (not browsers) still need the form token.
    static func requireSameOrigin(_ request: Request, console: Console) throws {
        if let origin = request.headers[.origin] {
            let expected = console.publicOrigin ?? (request.head.authority ?? request.headers[Self.hostField]).map { (console.secure ? "https://" : "http://") + $0.lowercased() }
            guard let expected, origin.lowercased() == expected else { throw formRefused }
        } else if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" {
            throw formRefused
        }
    }

    /// `Host`, for requests that carry it as a header rather than as the authority.
    static let hostField = HTTPField.Name("Host")!

    /// Runs a console handler; failures become error pages, never JSON.
    static func guarded(_ console: Console, _ context: GatehouseRequestContext, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as GatehouseError {
            if error.code == .internal { context.logger.error("internal error", metadata: ["error": "\(error.message)"]) }
            return errorPage(console, error, requestID: context.requestID)
        } catch let error as HTTPError {
            return errorPage(console, GatehouseError.fromHTTP(error.status, message: error.body), requestID: context.requestID)
        } catch is NIOTooManyBytesError {
            return errorPage(console, GatehouseError(.payloadTooLarge, "the form is larger than the limit"), requestID: context.requestID)
        } catch is CancellationError {
            return errorPage(console, GatehouseError(.unavailable, "the request was cancelled"), requestID: context.requestID)
        } catch {
            context.logger.error("internal error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return errorPage(console, GatehouseError(.internal, "internal error; quote the request id when reporting it"), requestID: context.requestID)
        }
    }

    /// The model of `error.mustache`.
    struct ErrorPage: Sendable {
        let frame: ConsoleFrame
        let heading: String
        let message: String
        let requestID: String
    }

    /// An error page with the status of `error`'s code.
    static func errorPage(_ console: Console, _ error: GatehouseError, requestID: String) -> Response {
        let status = error.code.httpStatus
        let heading = switch error.code {
        case .notFound: "Not found"
        case .forbidden: "Not allowed"
        case .conflict: "Cannot do that now"
        case .rateLimited: "Too many attempts"
        case .internal: "Something went wrong"
        default: "Cannot continue"
        }
        let model = ErrorPage(frame: ConsoleFrame(title: heading), heading: heading, message: ConsoleFieldErrors.sentence(error.message), requestID: requestID)
        if let page = try? console.render("error", model, status: status) { return page }
        return Response(status: status, headers: Console.pageHeaders, body: .init(byteBuffer: ByteBuffer(string: "<!doctype html><title>Error</title><p>\(heading)</p>")))
    }
}
