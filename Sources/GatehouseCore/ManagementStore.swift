/// Persistence of the tenant tree, users, API clients, access tokens and the audit log.
///
/// Each mutating call is atomic: it either applies the change and writes its audit entry
/// (`audit`), or changes nothing. Unique-key violations surface as `GatehouseError.conflict`,
/// an unreachable database as `GatehouseError.unavailable`. Subtree filters take a node's
/// materialised `path` (`/1/4/`): `nil` means the whole tree.
public protocol ManagementStore: Sendable {
    func tenant(id: Int64) async throws -> Tenant?
    func tenant(key: String) async throws -> Tenant?
    func createTenant(_ new: NewTenant, key: String, at: Int64, audit: AuditIntent) async throws -> Tenant
    func updateTenant(id: Int64, _ update: TenantUpdate, at: Int64, audit: AuditIntent) async throws -> Tenant
    /// Deletes a node without child nodes, with its users, clients and feature switches.
    func deleteTenant(id: Int64, at: Int64, audit: AuditIntent) async throws
    func listTenants(under path: String?, kind: TenantKind?, parentId: Int64?, page: PageRequest) async throws -> Page<Tenant>

    func features(tenantId: Int64) async throws -> [FeatureSwitch]
    func setFeature(tenantId: Int64, _ feature: Feature, enabled: Bool, at: Int64, audit: AuditIntent) async throws

    func user(id: Int64) async throws -> UserRecord?
    func user(email: String) async throws -> UserRecord?
    func createUser(_ new: NewUser, at: Int64, audit: AuditIntent) async throws -> User
    func updateUser(id: Int64, _ update: UserUpdate, at: Int64, audit: AuditIntent) async throws -> User
    func deleteUser(id: Int64, at: Int64, audit: AuditIntent) async throws
    func listUsers(under path: String?, tenantId: Int64?, email: String?, page: PageRequest) async throws -> Page<User>

    func client(id: Int64) async throws -> APIClientRecord?
    func client(clientId: String) async throws -> APIClientRecord?
    func createClient(_ new: NewAPIClient, at: Int64, audit: AuditIntent) async throws -> APIClient
    func updateClient(id: Int64, _ update: APIClientUpdate, at: Int64, audit: AuditIntent) async throws -> APIClient
    func deleteClient(id: Int64, at: Int64, audit: AuditIntent) async throws
    func listClients(under path: String?, tenantId: Int64?, page: PageRequest) async throws -> Page<APIClient>

    func insertAccessToken(_ token: AccessTokenRecord) async throws
    func accessToken(hash: String) async throws -> AccessTokenRecord?
    /// Revokes the token with this hash; returns whether one was found.
    func revokeAccessToken(hash: String, at: Int64) async throws -> Bool

    func listAudit(under path: String?, page: PageRequest) async throws -> Page<AuditEntry>
}
