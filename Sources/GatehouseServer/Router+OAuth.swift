import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

extension GatehouseApp {
    /// The OAuth endpoints of partner auth (seed 001): token (password, refresh_token and
    /// client_credentials grants), revocation (RFC 7009), logout.
    func addOAuthRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/oauth/token") { request, context in
            let parameters = try await FormParameters.read(request, limit: configuration.maxBodySize)
            let client = try await authenticateClient(request, parameters)
            let requested = try PartnerAuth.parseScopes(parameters["scope"])
            let tokens: IssuedTokens
            switch parameters["grant_type"] {
            case "password":
                guard let username = parameters["username"], !username.isEmpty, let password = parameters["password"] else {
                    throw GatehouseError(.invalidRequest, "the password grant needs username and password")
                }
                tokens = try await partnerAuth.passwordGrant(client: client, username: username, password: password, requested: requested,
                                                             address: context.clientAddress)
            case "refresh_token":
                guard let refresh = parameters["refresh_token"], !refresh.isEmpty else {
                    throw GatehouseError(.invalidRequest, "the refresh_token grant needs refresh_token")
                }
                tokens = try await partnerAuth.refreshGrant(client: client, refreshToken: refresh, requested: requested)
            case "client_credentials":
                tokens = try await partnerAuth.clientCredentialsGrant(client: client, requested: requested)
            case nil, "":
                throw GatehouseError(.invalidRequest, "grant_type is required")
            case let other?:
                throw GatehouseError(.unsupportedGrantType, "grant_type \(other.prefix(40)) is not supported; use password, refresh_token or client_credentials")
            }
            return Self.tokenResponse(tokens)
        }
        router.post("/oauth/revoke") { request, _ in
            let parameters = try await FormParameters.read(request, limit: configuration.maxBodySize)
            let client = try await authenticateClient(request, parameters)
            guard let token = parameters["token"], !token.isEmpty else { throw GatehouseError(.invalidRequest, "token is required") }
            try await partnerAuth.revoke(client: client, token: token)
            return Response(status: .ok, headers: [.cacheControl: "no-store"])
        }
        router.post("/oauth/logout") { request, _ in
            let caller = try await partnerAuth.caller(bearer: Self.bearerToken(request))
            try await partnerAuth.logout(caller)
            return Response(status: .noContent)
        }
    }

    /// HTTP Basic client credentials, or `client_id` and `client_secret` parameters.
    func authenticateClient(_ request: Request, _ parameters: FormParameters) async throws -> APIClient {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "basic", let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
                  let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else { throw GatehouseError(.invalidClient, "the Authorization header must be Basic base64(client_id:client_secret)") }
            let id = String(text[..<colon]).removingPercentEncoding ?? String(text[..<colon])
            let secret = String(text[text.index(after: colon)...]).removingPercentEncoding ?? String(text[text.index(after: colon)...])
            return try await partnerAuth.authenticateClient(clientId: id, secret: secret)
        }
        guard let id = parameters["client_id"], let secret = parameters["client_secret"] else {
            throw GatehouseError(.invalidClient, "client authentication is required (HTTP Basic or client_id and client_secret)")
        }
        return try await partnerAuth.authenticateClient(clientId: id, secret: secret)
    }

    /// The token answer, fields in the order of the seed document.
    static func tokenResponse(_ tokens: IssuedTokens) -> Response {
        var json = #"{"access_token":"\#(tokens.accessToken)","token_type":"bearer""#
        if let refresh = tokens.refreshToken { json += #","refresh_token":"\#(refresh)""# }
        json += #","expires_in":\#(tokens.expiresIn),"scope":"\#(tokens.scopes.map(\.rawValue).joined(separator: " "))"}"#
        return Response(status: .ok, headers: [.contentType: "application/json;charset=UTF-8", .cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"],
                        body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}
