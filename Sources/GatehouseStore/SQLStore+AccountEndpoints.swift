import GatehouseCore
import SQLKit

/// Signed onboarding (seed 004), the account's side: one endpoint by its internal id, for the
/// /v1 routes that list and revoke an account's endpoints.
extension SQLStore {
    /// An endpoint by its internal id (any status), or nil.
    public func endpoint(id: Int64) async throws -> OnboardedEndpoint? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.endpointColumnList) FROM onboarded_endpoints WHERE id = \(bind: id)")
                .first().map(Self.onboardedEndpoint(from:))
        }
    }
}
