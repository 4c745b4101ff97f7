extension PartnerAuth {
    /// The console's "Generate Access Token": a dealer admin user signed in to the console
    /// mints an access token that acts as `userId` of `accountId`, through `clientId`, one of
    /// its own node's API clients. The rules are those of ``mintOnBehalf(_:scope:accountId:userId:requested:)``:
    /// the dealer node's "Generate Access Token" module, the client enabled (with its node)
    /// and enabled for provisioning, the user's "Generate access token" permission, and the
    /// account inside the dealer's subtree (a console user reaches its whole subtree, like
    /// `resellers/all`). The token is returned once and stored hashed; the audit log names the dealer.
    public func mintOnBehalf(dealer: User, of dealerTenant: Tenant, clientId: String, accountId: Int64, userId: Int64,
                             requested: [Scope]?) async throws -> IssuedTokens {
        guard dealerTenant.kind.isDealer, dealer.tenantId == dealerTenant.id else {
            throw GatehouseError(.forbidden, "only dealer admin users may do this")
        }
        let features = try await store.features(tenantId: dealerTenant.id)
        guard features.contains(FeatureSwitch(feature: .generateAccessToken, enabled: true)) else {
            throw GatehouseError(.forbidden, "the Generate Access Token module is not enabled for this dealer")
        }
        guard dealer.permissions.contains(.generateAccessToken) else {
            throw GatehouseError(.forbidden, "the user lacks the Generate access token permission")
        }
        guard !clientId.isEmpty, clientId.utf8.count <= 200, let found = try await store.clientForAuthentication(clientId: clientId),
              found.record.client.tenantId == dealerTenant.id
        else { throw GatehouseError(.notFound, "there is no API client \(clientId) on your node", field: "client_id") }
        let client = found.record.client
        guard client.enabled, found.tenantEnabled else { throw GatehouseError(.conflict, "the API client is disabled", field: "client_id") }
        guard client.provisioning else { throw GatehouseError(.forbidden, "this API client is not enabled for provisioning", field: "client_id") }
        guard let account = try await store.tenant(id: accountId), account.kind == .account, account.path.hasPrefix(dealerTenant.path)
        else { throw GatehouseError(.notFound, "account \(accountId) was not found", field: "account_id") }
        guard let target = try await store.user(id: userId)?.user, target.tenantId == account.id else {
            throw GatehouseError(.notFound, "user \(userId) was not found in that account", field: "user_id")
        }
        guard target.enabled, account.enabled else { throw GatehouseError(.conflict, "the user or its account is disabled", field: "user_id") }
        let scopes = try grantable(requested ?? [.read], client: [.read, .write], user: target.scopes)
        let now = clock.now()
        let token = newToken()
        let lifetime = settings.onBehalfTokenLifetime
        _ = try await store.issue(
            [AccessTokenRecord(tokenHash: Secrets.hash(token), kind: .onBehalf, userId: target.id, expiresAt: lifetime > 0 ? now + lifetime : nil,
                               createdAt: now, clientId: client.id, scopes: scopes, mintedBy: dealer.id)],
            audit: (AuditIntent(actor: "user:\(dealer.id)", detail: "for user \(target.id) via client \(client.clientId), scope \(scopes.map(\.rawValue).joined(separator: " ")) (console)"),
                    action: "token.mint_on_behalf", tenantId: account.id))
        return IssuedTokens(accessToken: token, refreshToken: nil, expiresIn: lifetime, scopes: scopes)
    }
}
