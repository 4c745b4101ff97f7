/// How signed onboarding behaves on this platform.
public struct OnboardingSettings: Sendable {
    /// How far a request's `UTCTimestamp` may be from the server's clock, in seconds (default ±5 minutes).
    public var timestampWindow: Int64
    /// How long a registration code stays good, in seconds.
    public var registrationCodeLifetime: Int64
    /// How long an endpoint certificate is valid, in days.
    public var certificateDays: Int
    /// The base URL of the endpoint TLS listener (REST gateway), e.g. `https://gatehouse.example:8443`.
    public var restBaseURL: String
    /// The MQTT broker endpoints are told to connect to.
    public var mqttHost: String
    public var mqttPort: Int
    /// Topic prefixes: an endpoint publishes to `<measures><endpoint id>` and reads `<commands><endpoint id>`.
    public var measuresPrefix: String
    public var commandsPrefix: String
    /// Failed registration-code look-ups tolerated per source address within `guessWindowMinutes`.
    public var guessesPerAddress: Int64
    public var guessWindowMinutes: Int64

    public init(timestampWindow: Int64 = 300, registrationCodeLifetime: Int64 = 3600, certificateDays: Int = 365,
                restBaseURL: String = "https://127.0.0.1:8443", mqttHost: String = "127.0.0.1", mqttPort: Int = 8883,
                measuresPrefix: String = "measures/", commandsPrefix: String = "commands/", guessesPerAddress: Int64 = 20, guessWindowMinutes: Int64 = 15) {
        self.timestampWindow = timestampWindow
        self.registrationCodeLifetime = registrationCodeLifetime
        self.certificateDays = certificateDays
        self.restBaseURL = restBaseURL
        self.mqttHost = mqttHost
        self.mqttPort = mqttPort
        self.measuresPrefix = measuresPrefix
        self.commandsPrefix = commandsPrefix
        self.guessesPerAddress = guessesPerAddress
        self.guessWindowMinutes = guessWindowMinutes
    }
}

/// An onboarding call as it arrived: the headers that matter and the exact body bytes.
public struct OnboardingCall: Sendable {
    /// The request path (part of a signed request's replay fingerprint).
    public var path: String
    /// The bearer: a registration code.
    public var registrationCode: String?
    /// `X-Agrirouter-ApplicationId`.
    public var applicationId: String?
    /// `X-Agrirouter-Signature`.
    public var signature: String?
    public var body: [UInt8]
    public var sourceAddress: String

    public init(path: String, registrationCode: String?, applicationId: String?, signature: String?, body: [UInt8], sourceAddress: String) {
        self.path = path
        self.registrationCode = registrationCode
        self.applicationId = applicationId
        self.signature = signature
        self.body = body
        self.sourceAddress = sourceAddress
    }
}

/// Where and how an onboarded endpoint talks (`connectionCriteria`).
public struct ConnectionCriteria: Sendable, Hashable {
    public var gateway: OnboardingGateway
    public var measures: String
    public var commands: String
    /// MQTT only.
    public var host: String?
    public var port: Int?
    public var clientId: String?
}

/// The answer to an onboarding: the endpoint, its credential (shown once) and where to connect.
public struct OnboardingResult: Sendable {
    public var endpoint: OnboardedEndpoint
    /// PEM: the encrypted private key followed by the certificate; P12: the PKCS#12 file in base64.
    public var certificate: String
    /// The password of the key or the PKCS#12 file.
    public var secret: String
    public var format: CertificateFormat
    public var connection: ConnectionCriteria
}
