/// An application (seed 004's "endpoint software"), owned by a developer's tenant node.
public struct OnboardingApplication: Sendable, Hashable, Codable {
    public var id: Int64
    /// The public application id (a lower-case UUID), sent as `X-Agrirouter-ApplicationId`.
    public var applicationId: String
    /// The developer's node.
    public var tenantId: Int64
    public var name: String
    /// The RSA public key (SPKI PEM) that signs the application's requests; nil until set.
    public var publicKeyPEM: String?
    /// Where the authorization redirect may send the user back to.
    public var redirectURLs: [String]
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: Int64, applicationId: String, tenantId: Int64, name: String, publicKeyPEM: String?, redirectURLs: [String], createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.applicationId = applicationId
        self.tenantId = tenantId
        self.name = name
        self.publicKeyPEM = publicKeyPEM
        self.redirectURLs = redirectURLs
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Where a certification version stands. Endpoints of a `draft` version may be onboarded only
/// in accounts of the developer's own subtree; `withdrawn` ones not at all.
public enum CertificationStatus: String, Sendable, Codable, CaseIterable {
    case draft, certified, withdrawn
}

/// A certified version of an application (`certificationVersionId`).
public struct CertificationVersion: Sendable, Hashable, Codable {
    public var id: Int64
    /// The public id (a lower-case UUID).
    public var versionId: String
    /// The owning application's internal id.
    public var applicationId: Int64
    public var name: String
    public var status: CertificationStatus
    /// Whether communication units (CUs) may onboard with a registration code alone (unsigned).
    public var cuOnboarding: Bool
    public var createdAt: Int64

    public init(id: Int64, versionId: String, applicationId: Int64, name: String, status: CertificationStatus, cuOnboarding: Bool, createdAt: Int64) {
        self.id = id
        self.versionId = versionId
        self.applicationId = applicationId
        self.name = name
        self.status = status
        self.cuOnboarding = cuOnboarding
        self.createdAt = createdAt
    }
}

/// A registration code as stored (the code itself is shown once and kept hashed).
public struct RegistrationCode: Sendable, Hashable, Codable {
    public var id: Int64
    /// The account the code onboards into.
    public var tenantId: Int64
    /// The user who made it.
    public var userId: Int64?
    /// Set when the code came from an application's authorization redirect: it is only good for that application.
    public var applicationId: Int64?
    public var expiresAt: Int64
    public var usedAt: Int64?
    public var createdAt: Int64

    public init(id: Int64, tenantId: Int64, userId: Int64?, applicationId: Int64?, expiresAt: Int64, usedAt: Int64?, createdAt: Int64) {
        self.id = id
        self.tenantId = tenantId
        self.userId = userId
        self.applicationId = applicationId
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.createdAt = createdAt
    }
}

/// The protocol an endpoint talks after onboarding (`gatewayId`).
public enum OnboardingGateway: String, Sendable, Codable, CaseIterable {
    case mqtt = "2"
    case rest = "3"
}

/// The certificate format an endpoint asked for (`certificateType`).
public enum CertificateFormat: String, Sendable, Codable, CaseIterable {
    case pem = "PEM"
    case p12 = "P12"
}

/// An onboarded endpoint: one per account, application and external id.
public struct OnboardedEndpoint: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Codable {
        case active, revoked, blocked
    }

    public var id: Int64
    /// Its entry in the device registry; nil once the endpoint is revoked (its device is removed).
    public var deviceId: Int64?
    /// The account it belongs to.
    public var tenantId: Int64
    public var applicationId: Int64
    public var certificationVersionId: Int64
    /// The app's own id for it (a URN), unique per account and application.
    public var externalId: String
    public var gateway: OnboardingGateway
    public var alternateIds: AlternateIds
    /// The serial (lower-case hex) of its current certificate.
    public var certificateSerial: String?
    public var status: Status
    public var createdAt: Int64
    public var updatedAt: Int64
    /// For a virtual CU: the telemetry platform's endpoint that onboarded it.
    public var parentEndpointId: Int64?
    /// When the endpoint last sent its capabilities through the gateway; nil until it has.
    public var capabilitiesAt: Int64?

    public init(id: Int64, deviceId: Int64?, tenantId: Int64, applicationId: Int64, certificationVersionId: Int64, externalId: String, gateway: OnboardingGateway,
                alternateIds: AlternateIds, certificateSerial: String?, status: Status,
                createdAt: Int64, updatedAt: Int64, parentEndpointId: Int64? = nil, capabilitiesAt: Int64? = nil) {
        self.parentEndpointId = parentEndpointId
        self.capabilitiesAt = capabilitiesAt
        self.id = id
        self.deviceId = deviceId
        self.tenantId = tenantId
        self.applicationId = applicationId
        self.certificationVersionId = certificationVersionId
        self.externalId = externalId
        self.gateway = gateway
        self.alternateIds = alternateIds
        self.certificateSerial = certificateSerial
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What an onboarding writes, decided by ``Onboarding`` before the store is called.
public struct EndpointOnboarding: Sendable {
    /// The registration code used (marked used in the same transaction; `unauthenticated` if it was used meanwhile);
    /// nil for a virtual CU, which its telemetry platform onboards without one.
    public var registrationCodeId: Int64?
    /// For a virtual CU: its telemetry platform's endpoint.
    public var parentEndpointId: Int64? = nil
    public var tenantId: Int64
    public var applicationId: Int64
    public var certificationVersionId: Int64
    public var externalId: String
    public var gateway: OnboardingGateway
    /// The endpoint's alternate ids: its own when it is onboarded again, new ones otherwise.
    /// The store refuses with `conflict` when they differ from those it holds for the
    /// external id (another onboarding of the same endpoint got there first).
    public var alternateIds: AlternateIds
    /// The newly issued certificate (recorded in `issued_certificates`); the endpoint's previous one is revoked.
    public var certificate: IssuedCertificate
    public var at: Int64

    public init(registrationCodeId: Int64?, tenantId: Int64, applicationId: Int64, certificationVersionId: Int64, externalId: String, gateway: OnboardingGateway,
                alternateIds: AlternateIds, certificate: IssuedCertificate, at: Int64, parentEndpointId: Int64? = nil) {
        self.registrationCodeId = registrationCodeId
        self.parentEndpointId = parentEndpointId
        self.tenantId = tenantId
        self.applicationId = applicationId
        self.certificationVersionId = certificationVersionId
        self.externalId = externalId
        self.gateway = gateway
        self.alternateIds = alternateIds
        self.certificate = certificate
        self.at = at
    }
}

/// The three ids an onboarded endpoint is known by (lower-case UUIDs).
public struct AlternateIds: Sendable, Hashable, Codable {
    /// The endpoint id: the certificate's common name, the MQTT client id and topics.
    public var device: String
    public var capability: String
    public var sensor: String

    public init(device: String, capability: String, sensor: String) {
        self.device = device
        self.capability = capability
        self.sensor = sensor
    }
}
