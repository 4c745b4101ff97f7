extension Onboarding {
    // MARK: The account's side: its onboarded endpoints

    /// An onboarded endpoint as an account (or a dealer above it) sees it: with the public ids
    /// of its application and certification version.
    public struct AccountEndpoint: Sendable, Hashable {
        /// The endpoint as stored.
        public var endpoint: OnboardedEndpoint
        /// The application's public id (a UUID).
        public var applicationId: String
        /// The certification version's public id (a UUID).
        public var certificationVersionId: String

        /// An endpoint with the public ids of its application and version.
        public init(endpoint: OnboardedEndpoint, applicationId: String, certificationVersionId: String) {
            self.endpoint = endpoint
            self.applicationId = applicationId
            self.certificationVersionId = certificationVersionId
        }
    }

    /// The endpoints of the accounts at and under node `tenantId`, which must lie in the caller's
    /// subtree (else `not_found`), in id order: `limit` of them from `offset` on, with the total.
    /// No permission is needed, as for registration codes: an account's own users see theirs.
    public func endpoints(_ caller: Caller, tenantId: Int64, limit: Int, offset: Int) async throws -> OffsetPage<AccountEndpoint> {
        let node = try await management.tenant(caller, id: tenantId)
        let page = try await store.endpoints(under: node.path, limit: limit, offset: offset)
        var names = PublicIds()
        var items: [AccountEndpoint] = []
        for endpoint in page.items { items.append(try await names.resolve(endpoint, store: store)) }
        return OffsetPage(items: items, total: page.total, limit: page.limit, offset: page.offset)
    }

    /// One endpoint of the accounts at and under node `tenantId` (in the caller's subtree), named
    /// by its internal id or its endpoint id (`deviceAlternateId`, a UUID). `not_found` when it is
    /// unknown or elsewhere in the tree; `invalid_request` when `endpointId` is neither.
    public func endpoint(_ caller: Caller, tenantId: Int64, endpointId: String) async throws -> AccountEndpoint {
        let node = try await management.tenant(caller, id: tenantId)
        let found: OnboardedEndpoint?
        if let id = Int64(endpointId), id > 0, endpointId.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            found = try await store.endpoint(id: id)
        } else if let uuid = Self.uuid(endpointId) {
            found = try await store.endpoint(deviceAlternateId: uuid)
        } else {
            throw GatehouseError(.invalidRequest, "the endpoint id must be a positive integer or an endpoint's UUID (deviceAlternateId)", field: "endpointId")
        }
        guard let found, let owner = try await management.store.tenant(id: found.tenantId), owner.path.hasPrefix(node.path) else {
            throw GatehouseError.notFound("endpoint", endpointId)
        }
        var names = PublicIds()
        return try await names.resolve(found, store: store)
    }

    /// Revokes one active endpoint of the accounts at and under node `tenantId` (see
    /// ``endpoint(_:tenantId:endpointId:)``), as its application's signed revocation does: its
    /// certificate goes on the revocation list and its device is removed. `conflict` when it is
    /// not active. Answers the endpoint as revoked.
    public func revokeEndpoint(_ caller: Caller, tenantId: Int64, endpointId: String) async throws -> AccountEndpoint {
        var found = try await endpoint(caller, tenantId: tenantId, endpointId: endpointId)
        let endpoint = found.endpoint
        guard endpoint.status == .active else {
            throw GatehouseError(.conflict, "the endpoint is \(endpoint.status.rawValue); only an active endpoint can be revoked")
        }
        let result = try await store.revokeEndpoints(tenantId: endpoint.tenantId, applicationId: endpoint.applicationId,
                                                     deviceAlternateIds: [endpoint.alternateIds.device], at: clock.now(),
                                                     audit: AuditIntent(actor: caller.auditName, detail: endpoint.externalId))
        guard let revoked = result.revoked.first, result.missing.isEmpty else {
            throw GatehouseError(.conflict, "the endpoint was revoked or onboarded again meanwhile")
        }
        found.endpoint = revoked
        return found
    }

    /// Public ids of applications and certification versions, read once per listing.
    struct PublicIds {
        var applications: [Int64: String] = [:]
        var versions: [Int64: String] = [:]

        mutating func resolve(_ endpoint: OnboardedEndpoint, store: any OnboardingStore) async throws -> AccountEndpoint {
            if applications[endpoint.applicationId] == nil {
                guard let application = try await store.application(id: endpoint.applicationId) else {
                    throw GatehouseError(.conflict, "the endpoint's application was deleted meanwhile")
                }
                applications[endpoint.applicationId] = application.applicationId
                for version in try await store.certificationVersions(applicationId: application.id) { versions[version.id] = version.versionId }
            }
            guard let applicationId = applications[endpoint.applicationId], let versionId = versions[endpoint.certificationVersionId] else {
                throw GatehouseError(.conflict, "the endpoint's certification version was deleted meanwhile")
            }
            return AccountEndpoint(endpoint: endpoint, applicationId: applicationId, certificationVersionId: versionId)
        }
    }
}
