import Foundation

extension Onboarding {
    // MARK: Applications (developers)

    /// What a developer sets on an application. A `nil` field is left as it is (on create: empty).
    public struct ApplicationInput: Sendable {
        public var name: String?
        /// An RSA public key (SPKI PEM, at least 2048 bits).
        public var publicKeyPEM: String?
        /// Make a key pair here instead: the private key is answered once and never stored.
        public var generateKeyPair: Bool
        public var redirectURLs: [String]?

        public init(name: String? = nil, publicKeyPEM: String? = nil, generateKeyPair: Bool = false, redirectURLs: [String]? = nil) {
            self.name = name
            self.publicKeyPEM = publicKeyPEM
            self.generateKeyPair = generateKeyPair
            self.redirectURLs = redirectURLs
        }
    }

    /// Creates an application owned by node `tenantId` (caller needs `manage_clients` there).
    /// Answers it and, when a key pair was generated, its private key (PKCS#8 PEM, shown once).
    public func createApplication(_ caller: Caller, tenantId: Int64, _ input: ApplicationInput, applicationId: String? = nil) async throws
        -> (application: OnboardingApplication, privateKeyPEM: String?) {
        try caller.require(.manageClients)
        let owner = try await management.tenant(caller, id: tenantId)
        let id: String
        if let applicationId {
            guard let valid = Self.uuid(applicationId) else { throw GatehouseError.invalid("application_id", "application_id must be a UUID") }
            id = valid
        } else {
            id = Self.newUUID()
        }
        let (publicKey, privateKey) = try await key(input)
        let now = clock.now()
        let application = OnboardingApplication(id: 0, applicationId: id, tenantId: owner.id, name: try Validation.name(input.name ?? ""),
                                                publicKeyPEM: publicKey, redirectURLs: try Self.redirectURLs(input.redirectURLs ?? []), createdAt: now, updatedAt: now)
        return (try await store.createApplication(application, audit: AuditIntent(actor: caller.auditName, detail: application.name)), privateKey)
    }

    /// The applications of the caller's subtree, or of node `tenantId` and below.
    public func applications(_ caller: Caller, tenantId: Int64) async throws -> [OnboardingApplication] {
        try await store.applications(under: try await management.tenant(caller, id: tenantId).path)
    }

    /// An application the caller can see, by its public id.
    public func application(_ caller: Caller, applicationId: String) async throws -> OnboardingApplication {
        guard let id = Self.uuid(applicationId), let application = try await store.application(applicationId: id),
              (try? await management.tenant(caller, id: application.tenantId)) != nil else {
            throw GatehouseError.notFound("application", applicationId)
        }
        return application
    }

    /// Changes name, key or redirect URLs; answers a generated private key once.
    public func updateApplication(_ caller: Caller, applicationId: String, _ input: ApplicationInput) async throws
        -> (application: OnboardingApplication, privateKeyPEM: String?) {
        try caller.require(.manageClients)
        var application = try await application(caller, applicationId: applicationId)
        if let name = input.name { application.name = try Validation.name(name) }
        var privateKey: String?
        if input.generateKeyPair || input.publicKeyPEM != nil { (application.publicKeyPEM, privateKey) = try await key(input) }
        if let urls = input.redirectURLs { application.redirectURLs = try Self.redirectURLs(urls) }
        application.updatedAt = clock.now()
        return (try await store.updateApplication(application, audit: AuditIntent(actor: caller.auditName, detail: application.name)), privateKey)
    }

    /// Deletes an application without active endpoints.
    public func deleteApplication(_ caller: Caller, applicationId: String) async throws {
        try caller.require(.manageClients)
        let application = try await application(caller, applicationId: applicationId)
        try await store.deleteApplication(id: application.id, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: application.name))
    }

    /// Adds a certification version to an application.
    public func createCertificationVersion(_ caller: Caller, applicationId: String, name: String, status: CertificationStatus, cuOnboarding: Bool) async throws
        -> CertificationVersion {
        try caller.require(.manageClients)
        let application = try await application(caller, applicationId: applicationId)
        let version = CertificationVersion(id: 0, versionId: Self.newUUID(), applicationId: application.id, name: try Validation.name(name),
                                           status: status, cuOnboarding: cuOnboarding, createdAt: clock.now())
        return try await store.createCertificationVersion(version, audit: AuditIntent(actor: caller.auditName, detail: version.name))
    }

    /// An application's certification versions.
    public func certificationVersions(_ caller: Caller, applicationId: String) async throws -> [CertificationVersion] {
        try await store.certificationVersions(applicationId: try await application(caller, applicationId: applicationId).id)
    }

    /// Changes a version's name, status or whether CUs may onboard without a signature.
    public func updateCertificationVersion(_ caller: Caller, applicationId: String, versionId: String, name: String? = nil, status: CertificationStatus?,
                                           cuOnboarding: Bool?) async throws
        -> CertificationVersion {
        try caller.require(.manageClients)
        let application = try await application(caller, applicationId: applicationId)
        guard let id = Self.uuid(versionId), var version = try await store.certificationVersion(versionId: id), version.applicationId == application.id else {
            throw GatehouseError.notFound("certification version", versionId)
        }
        if let name { version.name = try Validation.name(name) }
        if let status { version.status = status }
        if let cuOnboarding { version.cuOnboarding = cuOnboarding }
        return try await store.updateCertificationVersion(version, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: version.name))
    }

    /// The public key to store and the private key to show, from an input.
    func key(_ input: ApplicationInput) async throws -> (publicKey: String?, privateKey: String?) {
        if input.generateKeyPair {
            guard input.publicKeyPEM == nil else { throw GatehouseError.invalid("public_key", "give a public key or ask for a key pair, not both") }
            let pair: Result<RSAKeyPair, GatehouseError> = await Offload.run { Result { () throws(GatehouseError) in try RSAKeyPair.generate() } }
            let generated = try pair.get()
            return (generated.publicKeyPEM, generated.privateKeyPEM)
        }
        guard let pem = input.publicKeyPEM else { return (nil, nil) }
        do {
            _ = try RSAPublicKey(pem: pem)
        } catch {
            throw GatehouseError.invalid("public_key", error.message)
        }
        return (pem.trimmingCharacters(in: .whitespacesAndNewlines) + "\n", nil)
    }

    /// Absolute http(s) URLs without credentials or fragments, at most 20.
    public static func redirectURLs(_ urls: [String]) throws(GatehouseError) -> [String] {
        guard urls.count <= 20 else { throw GatehouseError.invalid("redirect_urls", "at most 20 redirect URLs") }
        for url in urls {
            guard url.utf8.count <= 2048, let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                  scheme == "https" || scheme == "http", components.host?.isEmpty == false, components.user == nil, components.password == nil,
                  components.fragment == nil else {
                throw GatehouseError.invalid("redirect_urls", "each redirect URL must be an absolute http(s) URL without credentials or fragment")
            }
        }
        return urls
    }

    // MARK: Registration codes

    /// Makes a registration code ("+ Connection") for account `accountId`: 10 lower-case hex
    /// characters, single use, good for ``OnboardingSettings/registrationCodeLifetime``. Answers
    /// the code (shown once), its record and the account's public id.
    public func createRegistrationCode(_ caller: Caller, accountId: Int64, applicationId: String? = nil) async throws
        -> (code: String, record: RegistrationCode, accountUUID: String) {
        let account = try await management.tenant(caller, id: accountId)
        guard account.kind == .account else { throw GatehouseError.invalid("tenant_id", "registration codes are made for accounts") }
        var boundTo: Int64?
        if let applicationId { boundTo = try await application(applicationId: applicationId).id }
        let now = clock.now()
        let code = Secrets.hex(Secrets.randomBytes(Self.registrationCodeBytes))
        var userId: Int64?
        if case .user(let user, _) = caller { userId = user.id }
        let record = try await store.createRegistrationCode(
            RegistrationCode(id: 0, tenantId: account.id, userId: userId, applicationId: boundTo, expiresAt: now + settings.registrationCodeLifetime,
                             usedAt: nil, createdAt: now),
            codeHash: Self.codeHash(code), audit: AuditIntent(actor: caller.auditName))
        return (code, record, try await store.accountUUID(tenantId: account.id, newUUID: Self.newUUID()))
    }

    /// Any application by public id (for codes bound to an application's authorization).
    func application(applicationId: String) async throws -> OnboardingApplication {
        guard let id = Self.uuid(applicationId), let application = try await store.application(applicationId: id) else {
            throw GatehouseError(.notFound, "application \(applicationId) not found", field: "application_id")
        }
        return application
    }
}
