import Foundation

/// What an application asks for with the authorization redirect of seed 004
/// (`response_type`): a registration code for the signed-in user's account, or only the
/// account's public id.
public enum AuthorizationResponseType: String, Sendable, CaseIterable {
    /// The token carries a fresh registration code bound to the application.
    case onboard
    /// The token carries only the account (and an expiry).
    case verify
}

/// The `token` of the authorization redirect: JSON `{"account","regcode","expires"}`
/// (`regcode` only for `onboard`), sent in standard base64.
public struct AuthorizationToken: Sendable, Hashable {
    /// The account's public id (`accountId` of verify and revoke), a UUID.
    public var account: String
    /// A registration code for the account, bound to the application; `nil` for `verify`.
    public var regcode: String?
    /// When the token (and its registration code) expires, unix seconds.
    public var expires: Int64

    /// A token for `account`, with `regcode` for `onboard`, expiring at `expires`.
    public init(account: String, regcode: String?, expires: Int64) {
        self.account = account
        self.regcode = regcode
        self.expires = expires
    }

    /// The token's JSON: `{"account":"…","regcode":"…","expires":"2026-11-23T18:57:00.000Z"}`.
    public var json: String {
        var text = "{\"account\":" + JSONText.string(account)
        if let regcode { text += ",\"regcode\":" + JSONText.string(regcode) }
        return text + ",\"expires\":" + JSONText.string(OnboardingTimestamp.format(expires)) + "}"
    }

    /// The token as the redirect carries it: standard base64 of ``json``.
    public var base64: String { Data(json.utf8).base64EncodedString() }

    /// Reads a token from its base64 form (base64url and missing padding are taken too), as an
    /// application receiving the redirect does; `nil` when it is not one.
    public init?(base64 text: String) {
        guard let bytes = RequestSignature.decodeBase64(text),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let account = object["account"] as? String, let expires = (object["expires"] as? String).flatMap(OnboardingTimestamp.parse)
        else { return nil }
        let regcode = object["regcode"] as? String
        if object["regcode"] != nil, regcode == nil { return nil }
        self.init(account: account, regcode: regcode, expires: expires)
    }
}

/// A checked authorization request: the application, what it asks for, its `state` and a
/// redirect URI that is one of the application's registered redirect URLs.
public struct AuthorizationRequest: Sendable {
    /// Longest `state` taken, in UTF-8 bytes.
    public static let maximumStateBytes = 2_048

    /// The application asking.
    public let application: OnboardingApplication
    /// What it asks for.
    public let responseType: AuthorizationResponseType
    /// The application's opaque value, sent back unchanged and covered by the signature.
    public let state: String
    /// One of `application.redirectURLs`, exactly as registered.
    public let redirectURI: String

    /// The redirect URI with `parameters` added to its query, each name and value
    /// percent-encoded (only unreserved characters stay as they are, so base64's `+`, `/`
    /// and `=` travel safely).
    public func redirect(_ parameters: [(String, String)]) -> String {
        let query = parameters.map { Self.percentEncoded($0.0) + "=" + Self.percentEncoded($0.1) }.joined(separator: "&")
        let separator = redirectURI.contains("?") ? (redirectURI.hasSuffix("?") || redirectURI.hasSuffix("&") ? "" : "&") : "?"
        return redirectURI + separator + query
    }

    /// Where a user who allowed the application goes: `state`, `token` and `signature`.
    public func redirect(_ grant: AuthorizationGrant) -> String {
        redirect([("state", grant.state), ("token", grant.token), ("signature", grant.signature)])
    }

    /// Where a user who refused goes: `error=access_denied` and `state`.
    public var denied: String { redirect([("error", "access_denied"), ("state", state)]) }

    static func percentEncoded(_ text: String) -> String { FormEncoding.escape(text) }
}

/// What the redirect of an allowed authorization carries.
public struct AuthorizationGrant: Sendable {
    /// The application's `state`, unchanged.
    public let state: String
    /// ``AuthorizationToken/base64`` of ``decoded``.
    public let token: String
    /// Standard base64 of the RSASSA-PKCS1-v1_5 SHA-256 signature, under the platform's
    /// authorization key, of the UTF-8 bytes of `state` followed by `token`.
    public let signature: String
    /// The token's content.
    public let decoded: AuthorizationToken
}

extension Onboarding {
    // MARK: Authorization redirect

    /// Checks an authorization request (`GET`/`POST /application/{applicationId}/authorize`).
    /// Every failure is `invalid_request` (field `application_id`, `redirect_uri`,
    /// `response_type` or `state`) and must be answered as a page, never as a redirect: a
    /// redirect URI that is not registered for the application is never followed.
    public func authorizationRequest(applicationId: String, responseType: String?, state: String?, redirectURI: String?) async throws
        -> AuthorizationRequest {
        guard let id = Self.uuid(applicationId), let application = try await store.application(applicationId: id) else {
            throw GatehouseError(.invalidRequest, "the application is unknown", field: "application_id")
        }
        guard let redirectURI, !redirectURI.isEmpty else {
            throw GatehouseError(.invalidRequest, "redirect_uri is missing", field: "redirect_uri")
        }
        guard application.redirectURLs.contains(redirectURI) else {
            throw GatehouseError(.invalidRequest, "redirect_uri is not one of the application's registered redirect URLs", field: "redirect_uri")
        }
        guard let responseType, !responseType.isEmpty else {
            throw GatehouseError(.invalidRequest, "response_type is missing; it is onboard or verify", field: "response_type")
        }
        guard let type = AuthorizationResponseType(rawValue: responseType) else {
            throw GatehouseError(.invalidRequest, "response_type must be onboard or verify", field: "response_type")
        }
        guard let state, !state.isEmpty else { throw GatehouseError(.invalidRequest, "state is missing", field: "state") }
        guard state.utf8.count <= AuthorizationRequest.maximumStateBytes else {
            throw GatehouseError(.invalidRequest, "state is longer than \(AuthorizationRequest.maximumStateBytes) bytes", field: "state")
        }
        return AuthorizationRequest(application: application, responseType: type, state: state, redirectURI: redirectURI)
    }

    /// Authorizes `request` for the signed-in `caller`, a user of an account (anyone who may
    /// make the account's registration codes through /v1): for `onboard` a fresh registration
    /// code of the account bound to the application (single use, good for
    /// ``OnboardingSettings/registrationCodeLifetime``), for `verify` only the account. Answers
    /// the token and its signature under the platform's authorization key.
    ///
    /// Throws `forbidden` for a caller that is not a user of an account.
    public func authorize(_ caller: Caller, _ request: AuthorizationRequest, keyring: AuthorizationKeyring) async throws -> AuthorizationGrant {
        guard case .user(_, let tenant) = caller, tenant.kind == .account else {
            throw GatehouseError(.forbidden, "only a user of an account can connect an application to it")
        }
        let token: AuthorizationToken
        switch request.responseType {
        case .onboard:
            let made = try await createRegistrationCode(caller, accountId: tenant.id, applicationId: request.application.applicationId)
            token = AuthorizationToken(account: made.accountUUID, regcode: made.code, expires: made.record.expiresAt)
        case .verify:
            let account = try await management.tenant(caller, id: tenant.id)
            token = AuthorizationToken(account: try await store.accountUUID(tenantId: account.id, newUUID: Self.newUUID()), regcode: nil,
                                       expires: clock.now() + settings.registrationCodeLifetime)
        }
        let key = try await keyring.privateKey()
        let encoded = token.base64
        let signed = Array((request.state + encoded).utf8)
        let signature: Result<String, GatehouseError> = await Offload.run {
            Result { () throws(GatehouseError) in try RequestSignature.signBase64(body: signed, privateKey: key) }
        }
        return AuthorizationGrant(state: request.state, token: encoded, signature: try signature.get(), decoded: token)
    }
}
