/// The failures of signed onboarding, as stable codes of ``GatehouseError``. The onboarding
/// surface answers each with the four-digit code of PROTOCOLS.md §5 (see ``wireCode``).
extension GatehouseError.Code {
    /// 0010: the account is disabled.
    public static let accountInactive = Self(rawValue: "account_inactive")
    /// 0011: the account is unknown.
    public static let accountUnknown = Self(rawValue: "account_unknown")
    /// 0020: the account may not use this application (a draft outside the developer's tree).
    public static let accountNotApproved = Self(rawValue: "account_not_approved")
    /// 0021: no such certification version.
    public static let certificationUnknown = Self(rawValue: "certification_unknown")
    /// 0022: the certification version is withdrawn.
    public static let certificationStatus = Self(rawValue: "certification_status")
    /// 0023: the endpoint was onboarded before and is blocked.
    public static let endpointBlocked = Self(rawValue: "endpoint_blocked")
    /// 0024: the certification version does not allow onboarding without a signature.
    public static let cuOnboardingNotAllowed = Self(rawValue: "cu_onboarding_not_allowed")
    /// 0101: `certificationVersionId` is not a valid id of this application.
    public static let certificationVersionInvalid = Self(rawValue: "certification_version_invalid")
    /// 0102: `gatewayId` is not `2` or `3`.
    public static let gatewayInvalid = Self(rawValue: "gateway_invalid")
    /// 0103: `certificateType` is not `PEM` or `P12`.
    public static let certificateTypeInvalid = Self(rawValue: "certificate_type_invalid")
    /// 0104: an endpoint's gateway cannot change when it is onboarded again.
    public static let gatewayChange = Self(rawValue: "gateway_change")
    /// 0105: the application id is not valid, or the registration code was made for another application.
    public static let applicationInvalid = Self(rawValue: "application_invalid")
    /// 0106: `X-Agrirouter-ApplicationId` or `X-Agrirouter-Signature` is missing.
    public static let signingHeadersMissing = Self(rawValue: "signing_headers_missing")
    /// 0107: the signature does not verify.
    public static let signatureInvalid = Self(rawValue: "signature_invalid")
    /// 0109: the endpoints are not the application's and account's, or are gone.
    public static let endpointMismatch = Self(rawValue: "endpoint_mismatch")
    /// 0110: no, a malformed, a stale or a future `UTCTimestamp`, or a replayed request.
    public static let timestampInvalid = Self(rawValue: "timestamp_invalid")
}

extension GatehouseError {
    /// The four-digit code and HTTP status this error has on the onboarding surface.
    public var onboardingWire: (code: String, status: Int) {
        switch code {
        case .accountInactive: ("0010", 400)
        case .accountUnknown: ("0011", 400)
        case .accountNotApproved: ("0020", 400)
        case .certificationUnknown: ("0021", 400)
        case .certificationStatus: ("0022", 400)
        case .endpointBlocked: ("0023", 400)
        case .cuOnboardingNotAllowed: ("0024", 400)
        case .certificationVersionInvalid: ("0101", 400)
        case .gatewayInvalid: ("0102", 400)
        case .certificateTypeInvalid: ("0103", 400)
        case .gatewayChange: ("0104", 400)
        case .applicationInvalid: ("0105", 400)
        case .signingHeadersMissing: ("0106", 400)
        case .signatureInvalid: ("0107", 401)
        case .endpointMismatch: ("0109", 400)
        case .timestampInvalid: ("0110", 401)
        case .rateLimited: ("0112", 429)
        case .limitExceeded: ("0115", 400)
        case .unauthenticated: ("0401", 401)
        case .capabilitiesFirst: ("0200", 400)
        case .messageTypeNotSent: ("0201", 400)
        case .endpointCertificate: ("0109", 403)
        case .notFound: ("0109", 404)
        case .methodNotAllowed: ("0100", 405)
        case .conflict: ("0100", 409)
        case .forbidden: ("0100", 403)
        case .payloadTooLarge: ("0100", 413)
        case .unsupportedMediaType: ("0100", 415)
        case .insufficientStorage: ("0100", 507)
        case .unavailable: ("0500", 503)
        case .internal: ("0500", 500)
        default: ("0100", 400)  // malformed body, validation
        }
    }
}
