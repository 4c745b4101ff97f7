/// The declarative import/export file: the whole tenant tree with its users, clients and
/// signed-onboarding applications.
///
/// Objects are named by stable natural keys (node `key`, user `email`, client `client_id`),
/// never by database ids, so the same file can be applied to any installation and
/// re-applying it changes nothing. Secrets appear only as hashes on export; on import a
/// plain `password` or `secret` is accepted (for fixtures) and hashed.
/// The schema is documented in `docs/import-format.md`.
public struct TreeDocument: Codable, Sendable, Equatable {
    /// The format version; this build reads and writes version 1.
    public var version: Int
    public var tenants: [TenantEntry]
    public var users: [UserEntry]
    public var clients: [ClientEntry]
    /// Signed-onboarding applications (seed 004) with their certification versions; left out of
    /// an export when there are none.
    public var applications: [ApplicationEntry]

    /// A document; every list defaults to empty.
    public init(version: Int = 1, tenants: [TenantEntry] = [], users: [UserEntry] = [], clients: [ClientEntry] = [],
                applications: [ApplicationEntry] = []) {
        self.version = version
        self.tenants = tenants
        self.users = users
        self.clients = clients
        self.applications = applications
    }

    enum CodingKeys: String, CodingKey { case version, tenants, users, clients, applications }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        tenants = try c.decodeIfPresent([TenantEntry].self, forKey: .tenants) ?? []
        users = try c.decodeIfPresent([UserEntry].self, forKey: .users) ?? []
        clients = try c.decodeIfPresent([ClientEntry].self, forKey: .clients) ?? []
        applications = try c.decodeIfPresent([ApplicationEntry].self, forKey: .applications) ?? []
    }

    /// Writes the document; `applications` only when there are some.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(tenants, forKey: .tenants)
        try c.encode(users, forKey: .users)
        try c.encode(clients, forKey: .clients)
        if !applications.isEmpty { try c.encode(applications, forKey: .applications) }
    }

    /// One node. `parent` is the key of its parent node (`platform` for the root).
    public struct TenantEntry: Codable, Sendable, Equatable {
        public var key: String
        public var kind: TenantKind
        public var parent: String?
        public var name: String
        public var enabled: Bool?
        /// Feature switches by name; features not named are left as they are.
        public var features: [String: Bool]?

        public init(key: String, kind: TenantKind, parent: String?, name: String, enabled: Bool? = nil, features: [String: Bool]? = nil) {
            self.key = key
            self.kind = kind
            self.parent = parent
            self.name = name
            self.enabled = enabled
            self.features = features
        }
    }

    /// One user, in the node with key `tenant`.
    public struct UserEntry: Codable, Sendable, Equatable {
        public var email: String
        public var tenant: String
        public var name: String
        public var permissions: [Permission]?
        /// The most an OAuth token of this user may carry; default read and write.
        public var scopes: [Scope]?
        public var enabled: Bool?
        /// A plain password (fixtures only); hashed on import, never exported.
        public var password: String?
        /// A stored hash, as exported.
        public var passwordHash: String?

        enum CodingKeys: String, CodingKey {
            case email, tenant, name, permissions, scopes, enabled, password
            case passwordHash = "password_hash"
        }

        public init(email: String, tenant: String, name: String, permissions: [Permission]? = nil, scopes: [Scope]? = nil, enabled: Bool? = nil,
                    password: String? = nil, passwordHash: String? = nil) {
            self.scopes = scopes
            self.email = email
            self.tenant = tenant
            self.name = name
            self.permissions = permissions
            self.enabled = enabled
            self.password = password
            self.passwordHash = passwordHash
        }
    }

    /// One API client, in the node with key `tenant`.
    public struct ClientEntry: Codable, Sendable, Equatable {
        public var clientId: String
        public var tenant: String
        public var name: String
        public var scopes: [Scope]
        public var provisioning: Bool?
        public var enabled: Bool?
        /// A plain secret (fixtures only); hashed on import, never exported.
        public var secret: String?
        /// The SHA-256 hex of the secret, as exported.
        public var secretHash: String?

        enum CodingKeys: String, CodingKey {
            case tenant, name, scopes, provisioning, enabled, secret
            case clientId = "client_id"
            case secretHash = "secret_hash"
        }

        public init(clientId: String, tenant: String, name: String, scopes: [Scope], provisioning: Bool? = nil, enabled: Bool? = nil, secret: String? = nil, secretHash: String? = nil) {
            self.clientId = clientId
            self.tenant = tenant
            self.name = name
            self.scopes = scopes
            self.provisioning = provisioning
            self.enabled = enabled
            self.secret = secret
            self.secretHash = secretHash
        }
    }

    /// One signed-onboarding application (seed 004), owned by the node with key `tenant`.
    /// Without `application_id` a new application gets a generated one, and an application of
    /// that node with the same name is taken to be this one (so re-importing changes nothing).
    public struct ApplicationEntry: Codable, Sendable, Equatable {
        /// The key of the owner node (the developer), in the file or already stored.
        public var tenant: String
        /// 1–200 characters.
        public var name: String
        /// The public application id (a UUID); generated when absent.
        public var applicationId: String?
        /// The RSA public key (SPKI PEM, at least 2048 bits) that signs the application's requests; absent leaves it as it is.
        public var publicKey: String?
        /// Where the authorization redirect may send users back to; absent leaves them as they are.
        public var redirectUrls: [String]?
        /// Certification versions; versions not named are left as they are.
        public var versions: [VersionEntry]?

        enum CodingKeys: String, CodingKey {
            case tenant, name, versions
            case applicationId = "application_id"
            case publicKey = "public_key"
            case redirectUrls = "redirect_urls"
        }

        /// An application entry.
        public init(tenant: String, name: String, applicationId: String? = nil, publicKey: String? = nil, redirectUrls: [String]? = nil,
                    versions: [VersionEntry]? = nil) {
            self.tenant = tenant
            self.name = name
            self.applicationId = applicationId
            self.publicKey = publicKey
            self.redirectUrls = redirectUrls
            self.versions = versions
        }
    }

    /// One certification version of an application. Without `version_id` a new version gets a
    /// generated one, and a version of the application with the same name is taken to be this one.
    public struct VersionEntry: Codable, Sendable, Equatable {
        /// The public certification version id (a UUID); generated when absent.
        public var versionId: String?
        /// 1–200 characters.
        public var name: String
        /// `draft` on create when absent; absent leaves it as it is.
        public var status: CertificationStatus?
        /// Whether CUs may onboard without a signature; `false` on create when absent.
        public var cuOnboarding: Bool?

        enum CodingKeys: String, CodingKey {
            case name, status
            case versionId = "version_id"
            case cuOnboarding = "cu_onboarding"
        }

        /// A version entry.
        public init(versionId: String? = nil, name: String, status: CertificationStatus? = nil, cuOnboarding: Bool? = nil) {
            self.versionId = versionId
            self.name = name
            self.status = status
            self.cuOnboarding = cuOnboarding
        }
    }
}
