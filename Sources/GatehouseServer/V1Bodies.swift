import GatehouseCore

/// Request bodies of the /v1 API (snake_case on the wire).
enum V1 {
    struct SignIn: Decodable {
        let email: String
        let password: String
    }

    struct Session: Encodable {
        let token: String
        let expiresAt: Int64
        let user: User
    }

    struct Me: Encodable {
        let kind: String
        let user: User?
        let tenant: Tenant?
    }

    struct CreateTenant: Decodable {
        let key: String?
        let kind: TenantKind
        let parentId: Int64
        let name: String
        let enabled: Bool?
    }

    struct UpdateTenant: Decodable {
        let name: String?
        let enabled: Bool?
    }

    struct Features: Encodable {
        let features: [FeatureSwitch]
    }

    struct SetFeature: Decodable {
        let enabled: Bool
    }

    struct CreateUser: Decodable {
        let tenantId: Int64
        let email: String
        let name: String
        let password: String?
        let permissions: [Permission]?
        let scopes: [Scope]?
        let enabled: Bool?
    }

    struct UpdateUser: Decodable {
        let name: String?
        let email: String?
        let password: String?
        let permissions: [Permission]?
        let scopes: [Scope]?
        let enabled: Bool?
    }

    struct CreateClient: Decodable {
        let tenantId: Int64
        let clientId: String?
        let name: String
        let scopes: [Scope]
        let provisioning: Bool?
        let enabled: Bool?
    }

    struct UpdateClient: Decodable {
        let name: String?
        let scopes: [Scope]?
        let provisioning: Bool?
        let enabled: Bool?
    }

    /// A client with its secret: only in the answer that created or rotated it.
    struct ClientWithSecret: Encodable {
        let client: APIClient
        let clientSecret: String

        enum CodingKeys: String, CodingKey { case clientSecret }

        func encode(to encoder: any Encoder) throws {
            try client.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(clientSecret, forKey: .clientSecret)
        }
    }
}
