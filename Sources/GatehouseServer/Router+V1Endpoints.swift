import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// /v1 for an account's side of signed onboarding: list its onboarded endpoints and revoke
    /// one (its certificate goes on the revocation list, as with the application's signed revoke).
    /// The permission model is that of registration codes: any caller that can see the node.
    func addV1EndpointRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/v1/tenants/:id/endpoints") { request, context in
            let caller = try await caller(request)
            let tenantId = try context.id()
            // Keyset-style paging on the wire (`limit`, `cursor`, `next_cursor`); the cursor is the offset.
            let page = try Self.page(request)
            let offset = Int(min(page.after ?? 0, 1 << 40))
            let found = try await onboarding.endpoints(caller, tenantId: tenantId, limit: page.limit, offset: offset)
            let next = offset + found.items.count
            let cursor = !found.items.isEmpty && Int64(next) < found.total ? String(next) : nil
            return try JSON.response(PageBody(Page(items: found.items.map(V1Onboarding.Endpoint.init), nextCursor: cursor)))
        }
        router.delete("/v1/tenants/:id/endpoints/:endpointId") { request, context in
            let caller = try await caller(request)
            let tenantId = try context.id()
            _ = try await onboarding.revokeEndpoint(caller, tenantId: tenantId, endpointId: context.text("endpointId"))
            brokerFiles?.refresh()  // the broker's revocation list and ACL follow at once
            return Response(status: .noContent)
        }
    }
}

extension V1Onboarding {
    /// An onboarded endpoint as /v1 shows it.
    struct Endpoint: Encodable, Sendable {
        let id: Int64
        let tenantId: Int64
        let externalId: String
        let applicationId: String
        let certificationVersionId: String
        let gateway: String
        let capabilityAlternateId: String
        let deviceAlternateId: String
        let sensorAlternateId: String
        let certificateSerial: String?
        let status: String
        /// For a virtual CU: the `id` of the telemetry platform's endpoint that onboarded it.
        let parentEndpointId: Int64?
        /// When it last sent its capabilities through the REST gateway.
        let capabilitiesAt: Int64?
        let createdAt: Int64
        let updatedAt: Int64

        init(_ found: Onboarding.AccountEndpoint) {
            let endpoint = found.endpoint
            id = endpoint.id
            tenantId = endpoint.tenantId
            externalId = endpoint.externalId
            applicationId = found.applicationId
            certificationVersionId = found.certificationVersionId
            gateway = endpoint.gateway.rawValue
            capabilityAlternateId = endpoint.alternateIds.capability
            deviceAlternateId = endpoint.alternateIds.device
            sensorAlternateId = endpoint.alternateIds.sensor
            certificateSerial = endpoint.certificateSerial
            status = endpoint.status.rawValue
            parentEndpointId = endpoint.parentEndpointId
            capabilitiesAt = endpoint.capabilitiesAt
            createdAt = endpoint.createdAt
            updatedAt = endpoint.updatedAt
        }
    }
}
