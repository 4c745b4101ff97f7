/// What an onboarding call needs from the store, read in one query: the application named by
/// the header (or body), the certification version and registration code the call names, the
/// code's account with its public id, the application owner's path, and the failed code
/// look-ups of the caller's address. Each is nil when absent (or not asked for).
public struct OnboardingContext: Sendable {
    public var application: OnboardingApplication?
    public var version: CertificationVersion?
    public var code: RegistrationCode?
    /// The code's account.
    public var account: Tenant?
    /// The account's public id, once made.
    public var accountUUID: String?
    /// The path of the application's owner (for `draft` versions).
    public var developerPath: String?
    /// Failed registration-code look-ups of the address in the window.
    public var failures: Int64

    public init(application: OnboardingApplication?, version: CertificationVersion?, code: RegistrationCode?, account: Tenant?,
                accountUUID: String?, developerPath: String?, failures: Int64) {
        self.application = application
        self.version = version
        self.code = code
        self.account = account
        self.accountUUID = accountUUID
        self.developerPath = developerPath
        self.failures = failures
    }
}

/// The question behind an ``OnboardingContext``.
public struct OnboardingContextQuery: Sendable, Hashable {
    /// The application's public id (a canonical UUID).
    public var applicationId: String
    /// The certification version's public id, when the call names a valid one.
    public var versionId: String?
    /// The registration code's look-up hash, when the call carries a code.
    public var codeHash: String?
    /// The failure counter of the caller's address and the first minute of its window.
    public var failureScope: String
    public var sinceMinute: Int64

    public init(applicationId: String, versionId: String?, codeHash: String?, failureScope: String, sinceMinute: Int64) {
        self.applicationId = applicationId
        self.versionId = versionId
        self.codeHash = codeHash
        self.failureScope = failureScope
        self.sinceMinute = sinceMinute
    }
}
