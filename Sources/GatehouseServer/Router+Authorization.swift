import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

extension GatehouseApp {
    /// The authorization redirect of seed 004 (PROTOCOLS.md §5): an application sends the user
    /// to `/application/{applicationId}/authorize?response_type=onboard|verify&state=…&redirect_uri=…`;
    /// the user signs in and allows (or denies), and goes back to the registered redirect URI
    /// with `state`, a base64 `token` and its `signature` under the platform's key, which is
    /// published at `/api/v1.0/registration/authorization-key.pem`.
    func addAuthorizationRoutes(to router: Router<GatehouseRequestContext>) {
        let keyring = AuthorizationKeyring(store: store, vault: vault, clock: configuration.clock)
        router.get("/application/:applicationId/authorize") { request, context in
            await Self.authorizationPage(context) {
                let query = try FormParameters.parse(request.uri.query ?? "")
                func value(_ name: String) -> String? { query.last(where: { $0.0 == name })?.1 }
                let checked = try await onboarding.authorizationRequest(applicationId: context.text("applicationId"), responseType: value("response_type"),
                                                                        state: value("state"), redirectURI: value("redirect_uri"))
                return AuthorizationPage.form(Self.authorizationForm(checked))
            }
        }
        router.post("/application/:applicationId/authorize") { request, context in
            await Self.authorizationPage(context) {
                let form = try await FormParameters.read(request, limit: min(configuration.maxBodySize, 64 * 1024))
                let checked = try await onboarding.authorizationRequest(applicationId: context.text("applicationId"), responseType: form["response_type"],
                                                                        state: form["state"], redirectURI: form["redirect_uri"])
                switch form["decision"] ?? "allow" {
                case "deny": return AuthorizationPage.redirect(to: checked.denied)
                case "allow": break
                default: throw GatehouseError(.invalidRequest, "decision must be allow or deny", field: "decision")
                }
                var page = Self.authorizationForm(checked)
                page.email = String((form["email"] ?? form["username"] ?? "").prefix(254))
                let user: User
                do {
                    // The sign-in of POST /v1/sessions, with its throttling per user name and address.
                    user = try await partnerAuth.checkPassword(username: form["email"] ?? form["username"] ?? "", password: form["password"] ?? "",
                                                               address: context.clientAddress,
                                                               failure: GatehouseError(.unauthenticated, "e-mail or password is wrong"))
                } catch let error as GatehouseError where error.code == .unauthenticated {
                    page.message = error.message
                    return AuthorizationPage.form(page, status: .unauthorized)
                }
                guard let tenant = try await management.store.tenant(id: user.tenantId) else {
                    page.message = "e-mail or password is wrong"
                    return AuthorizationPage.form(page, status: .unauthorized)
                }
                do {
                    let grant = try await onboarding.authorize(.user(user, tenant), checked, keyring: keyring)
                    return AuthorizationPage.redirect(to: checked.redirect(grant))
                } catch let error as GatehouseError where [GatehouseError.Code.forbidden, .validationFailed, .notFound].contains(error.code) {
                    page.message = error.message
                    return AuthorizationPage.form(page, status: .forbidden)
                }
            }
        }
        router.get("/api/v1.0/registration/authorization-key.pem") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/x-pem-file"],
                     body: .init(byteBuffer: ByteBuffer(string: try await keyring.publicKeyPEM())))
        }
    }

    /// The form of a checked request.
    static func authorizationForm(_ request: AuthorizationRequest) -> AuthorizationPage.Form {
        AuthorizationPage.Form(applicationId: request.application.applicationId, applicationName: request.application.name,
                               responseType: request.responseType, state: request.state, redirectURI: request.redirectURI)
    }

    /// Runs a page handler; any failure is answered as a page with its status, never a redirect.
    static func authorizationPage(_ context: GatehouseRequestContext, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as GatehouseError {
            if error.code == .internal { context.logger.error("internal error", metadata: ["error": "\(error.message)"]) }
            return AuthorizationPage.error(error, status: error.code.httpStatus)
        } catch let error as HTTPError {
            let mapped = GatehouseError.fromHTTP(error.status, message: error.body)
            return AuthorizationPage.error(mapped, status: mapped.code.httpStatus)
        } catch is NIOTooManyBytesError {
            return AuthorizationPage.error(GatehouseError(.payloadTooLarge, "the request body is larger than the limit"), status: .contentTooLarge)
        } catch is CancellationError {
            return AuthorizationPage.error(GatehouseError(.unavailable, "the request was cancelled"), status: .serviceUnavailable)
        } catch {
            context.logger.error("internal error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return AuthorizationPage.error(GatehouseError(.internal, "internal error; quote the request id when reporting it"), status: .internalServerError)
        }
    }
}
