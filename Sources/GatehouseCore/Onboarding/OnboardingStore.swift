/// What signed onboarding (seed 004) needs from storage. Every mutation runs in one
/// transaction with its audit entry.
public protocol OnboardingStore: Sendable {
    // MARK: Applications (developers)
    /// `conflict` when the application id is taken.
    func createApplication(_ application: OnboardingApplication, audit: AuditIntent) async throws -> OnboardingApplication
    func application(id: Int64) async throws -> OnboardingApplication?
    func application(applicationId: String) async throws -> OnboardingApplication?
    /// Applications of the nodes under `path`, in id order.
    func applications(under path: String) async throws -> [OnboardingApplication]
    /// Saves name, public key and redirect URLs.
    func updateApplication(_ application: OnboardingApplication, audit: AuditIntent) async throws -> OnboardingApplication
    /// Deletes an application with its versions; `conflict` while it has active endpoints.
    func deleteApplication(id: Int64, at: Int64, audit: AuditIntent) async throws

    func createCertificationVersion(_ version: CertificationVersion, audit: AuditIntent) async throws -> CertificationVersion
    func certificationVersions(applicationId: Int64) async throws -> [CertificationVersion]
    func certificationVersion(versionId: String) async throws -> CertificationVersion?
    func updateCertificationVersion(_ version: CertificationVersion, at: Int64, audit: AuditIntent) async throws -> CertificationVersion

    // MARK: Accounts and registration codes
    /// The account's public id (`accountId`, a UUID), made on first use.
    func accountUUID(tenantId: Int64, newUUID: String) async throws -> String
    /// The account node with a public id.
    func account(uuid: String) async throws -> Tenant?
    /// Stores a new code by its hash.
    func createRegistrationCode(_ code: RegistrationCode, codeHash: String, audit: AuditIntent) async throws -> RegistrationCode
    /// A code by hash, used or not (the caller checks expiry and use).
    func registrationCode(hash: String) async throws -> RegistrationCode?
    /// Everything an onboarding call checks, read in one query (see ``OnboardingContext``).
    func onboardingContext(_ query: OnboardingContextQuery) async throws -> OnboardingContext

    // MARK: Signed requests
    /// Records a signed request's fingerprint until `expiresAt`; false when it was seen before
    /// (a replay). Expired fingerprints are dropped as a side effect.
    func recordSignedRequest(fingerprint: String, at: Int64, expiresAt: Int64) async throws -> Bool

    // MARK: Endpoints
    /// An endpoint by account, application and external id (any status).
    func endpoint(tenantId: Int64, applicationId: Int64, externalId: String) async throws -> OnboardedEndpoint?
    /// An endpoint by its endpoint id (`deviceAlternateId`).
    func endpoint(deviceAlternateId: String) async throws -> OnboardedEndpoint?
    /// Onboards (or onboards again) an endpoint in one transaction: uses the registration code
    /// (`unauthenticated` when it was used meanwhile), creates or updates the endpoint and its
    /// device, records the new certificate and revokes the endpoint's previous one.
    func onboard(_ onboarding: EndpointOnboarding, audit: AuditIntent) async throws -> OnboardedEndpoint
    /// Revokes endpoints of an account and application: their certificates are revoked and
    /// their devices removed. Answers the endpoints revoked; ids that are unknown, of another
    /// account or application, or already revoked are answered in `missing` and nothing is written.
    func revokeEndpoints(tenantId: Int64, applicationId: Int64, deviceAlternateIds: [String], at: Int64, audit: AuditIntent) async throws
        -> (revoked: [OnboardedEndpoint], missing: [String])
    /// Endpoints of the accounts under `path`, in id order.
    func endpoints(under path: String, limit: Int, offset: Int) async throws -> OffsetPage<OnboardedEndpoint>
    /// An endpoint by its internal id (any status).
    func endpoint(id: Int64) async throws -> OnboardedEndpoint?

    // MARK: Guessing
    /// Failed look-ups per scope since `minute` (unix minutes); shared with agent activation.
    func activationFailures(scopes: [String], sinceMinute minute: Int64) async throws -> [String: Int64]
    func recordActivationFailure(scopes: [String], minute: Int64) async throws
    /// Takes back one failure recorded in `minute` (an attempt charged before it was checked
    /// that turned out right, or that was not checked at all).
    func forgetActivationFailure(scopes: [String], minute: Int64) async throws

    // MARK: The platform's authorization key
    /// The key that signs authorization redirects, if one was made.
    func authorizationKey() async throws -> StoredAuthorizationKey?
    /// Stores `key` unless a key is stored already, and answers the stored one: nodes racing to
    /// make the first key all end up with the same key.
    func storeAuthorizationKeyOnce(_ key: StoredAuthorizationKey) async throws -> StoredAuthorizationKey

    // MARK: Revocation list
    /// Revoked certificates that have not yet expired (`not_after` after `now`), for the CRL.
    func revokedCertificates(now: Int64) async throws -> [IssuedCertificate]
}
