import Crypto
import Foundation
import X509

/// The rules of signed onboarding (seed 004): applications with their public keys and
/// certification versions, single-use registration codes bound to an account, requests signed
/// over their raw bytes within a timestamp window (a replay is refused), and endpoint
/// certificates issued by Gatehouse's authority as encrypted PEM or PKCS#12.
public struct Onboarding: Sendable {
    public let store: any OnboardingStore
    public let management: Management
    /// Gatehouse's certificate authority (loaded once the database is ready).
    public let authority: @Sendable () async throws -> CertificateAuthority
    public let clock: any GatehouseClock
    public let settings: OnboardingSettings
    /// Applications' public keys, parsed once per PEM.
    let publicKeys = PublicKeyCache()

    /// The service over its store, the tree's rules and the authority that signs endpoint certificates.
    public init(store: any OnboardingStore, management: Management, authority: @escaping @Sendable () async throws -> CertificateAuthority, clock: any GatehouseClock, settings: OnboardingSettings) {
        self.store = store
        self.management = management
        self.authority = authority
        self.clock = clock
        self.settings = settings
    }

    // MARK: Verify, onboard, revoke

    /// `POST …/onboard/verify`: checks a signed request and its registration code (without
    /// using it) and answers the account's public id.
    public func verify(_ call: OnboardingCall) async throws -> String {
        let checked = try await checkSigned(call)
        let account = try account(of: checked.context)
        _ = try certificationVersion(checked.body, context: checked.context, account: account, unsigned: false)
        if let known = checked.context.accountUUID { return known }
        return try await store.accountUUID(tenantId: account.id, newUUID: UUID().uuidString.lowercased())
    }

    /// `POST …/onboard/request` (signed) or `POST …/onboard` (a CU's unsigned request, allowed
    /// by its certification version): onboards the endpoint, or onboards it again with the same
    /// ids and a new certificate, and uses the registration code.
    public func onboard(_ call: OnboardingCall, signed: Bool) async throws -> OnboardingResult {
        let body: OnboardingBody, application: OnboardingApplication, code: RegistrationCode, context: OnboardingContext
        if signed {
            (body, application, code, context) = try await checkSigned(call)
        } else {
            body = try OnboardingBody(call.body)
            guard let applicationId = Self.uuid(try body.string("applicationId") ?? "") else {
                throw GatehouseError(.applicationInvalid, "the application id is not valid")
            }
            context = try await self.context(call, applicationId: applicationId, body: body)
            guard let found = context.application else { throw GatehouseError(.applicationInvalid, "the application id is not valid") }
            application = found
            code = try await registrationCode(call, context: context, application: application)
        }
        let account = try account(of: context)
        let version = try certificationVersion(body, context: context, account: account, unsigned: !signed)
        let externalId = try Self.externalId(try body.required("id"))
        guard let gateway = OnboardingGateway(rawValue: try body.string("gatewayId") ?? "") else {
            throw GatehouseError(.gatewayInvalid, "gatewayId must be \"2\" (MQTT) or \"3\" (REST)", field: "gatewayId")
        }
        let format: CertificateFormat
        if let type = try body.string("certificateType") {
            guard let known = CertificateFormat(rawValue: type) else {
                throw GatehouseError(.certificateTypeInvalid, "certificateType must be PEM or P12", field: "certificateType")
            }
            format = known
        } else {
            format = .pem
        }
        return try await issueEndpoint(account: account, application: application, version: version, externalId: externalId, gateway: gateway,
                                       format: format, registrationCodeId: code.id, parent: nil, actor: "application:\(application.applicationId)")
    }

    /// Onboards (or onboards again, with the same ids and a new certificate) one endpoint whose
    /// caller has been checked: a signed or CU onboarding (with its registration code) or a
    /// telemetry platform's virtual CU (with its platform's endpoint id).
    func issueEndpoint(account: Tenant, application: OnboardingApplication, version: CertificationVersion, externalId: String, gateway: OnboardingGateway,
                       format: CertificateFormat, registrationCodeId: Int64?, parent: Int64?, actor: String) async throws -> OnboardingResult {
        for attempt in 0..<2 {
            let existing = try await store.endpoint(tenantId: account.id, applicationId: application.id, externalId: externalId)
            var ids = AlternateIds(device: Self.newUUID(), capability: Self.newUUID(), sensor: Self.newUUID())
            if let existing, existing.status != .revoked {
                guard existing.status != .blocked else { throw GatehouseError(.endpointBlocked, "the endpoint was onboarded before and is blocked") }
                guard existing.gateway == gateway else {
                    throw GatehouseError(.gatewayChange, "the gateway of an endpoint cannot change when it is onboarded again", field: "gatewayId")
                }
                ids = existing.alternateIds
            }
            let now = clock.now()
            let (issued, credential, secret) = try await credential(for: ids.device, account: account, format: format, now: now)
            let record = IssuedCertificate(serial: issued.serialHex, purpose: "endpoint", subject: ids.device,
                                           notAfter: Int64(issued.certificate.notValidAfter.timeIntervalSince1970), revokedAt: nil, createdAt: now)
            do {
                let endpoint = try await store.onboard(EndpointOnboarding(
                    registrationCodeId: registrationCodeId, tenantId: account.id, applicationId: application.id, certificationVersionId: version.id,
                    externalId: externalId, gateway: gateway, alternateIds: ids, certificate: record, at: now, parentEndpointId: parent),
                    audit: AuditIntent(actor: actor, detail: externalId))
                return OnboardingResult(endpoint: endpoint, certificate: credential, secret: secret, format: format, connection: connection(endpoint))
            } catch let error as GatehouseError where error.code == .conflict && attempt == 0 {
                continue  // another onboarding of this endpoint got there first: take its ids
            }
        }
        throw GatehouseError(.conflict, "the endpoint is being onboarded by another request")
    }

    /// `DELETE …/onboard/revoke`: a signed request revoking endpoints of an account; their
    /// certificates go on the revocation list and their devices are removed.
    public func revoke(_ call: OnboardingCall) async throws {
        let (body, application, _) = try await checkSignature(call)
        let accountUUID = try body.required("accountId").lowercased()
        guard let account = try await store.account(uuid: accountUUID) else { throw GatehouseError(.accountUnknown, "the account is unknown") }
        guard account.enabled else { throw GatehouseError(.accountInactive, "the account is inactive") }
        let endpointIds = try body.strings("endpointIds").map { $0.lowercased() }
        guard !endpointIds.isEmpty, endpointIds.count <= 1000 else { throw GatehouseError.invalid("endpointIds", "endpointIds must name 1 to 1000 endpoints") }
        let result = try await store.revokeEndpoints(tenantId: account.id, applicationId: application.id, deviceAlternateIds: Array(Set(endpointIds)),
                                                     at: clock.now(), audit: AuditIntent(actor: "application:\(application.applicationId)"))
        guard result.missing.isEmpty else {
            throw GatehouseError(.endpointMismatch, "the application does not match the endpoints, or they are gone: \(result.missing.sorted().joined(separator: ", "))")
        }
    }

    /// The connection criteria of an endpoint.
    public func connection(_ endpoint: OnboardedEndpoint) -> ConnectionCriteria {
        let id = endpoint.alternateIds.device
        switch endpoint.gateway {
        case .rest:
            let base = settings.restBaseURL.hasSuffix("/") ? String(settings.restBaseURL.dropLast()) : settings.restBaseURL
            return ConnectionCriteria(gateway: .rest, measures: "\(base)/api/v1.0/gateway/rest/measures/\(id)",
                                      commands: "\(base)/api/v1.0/gateway/rest/commands/\(id)", host: nil, port: nil, clientId: nil)
        case .mqtt:
            return ConnectionCriteria(gateway: .mqtt, measures: settings.measuresPrefix + id, commands: settings.commandsPrefix + id,
                                      host: settings.mqttHost, port: settings.mqttPort, clientId: id)
        }
    }

    // MARK: Checks

    /// Everything the call's checks read, in one query: the application, the body's
    /// certification version, the bearer code with its account, and the address's failures.
    func context(_ call: OnboardingCall, applicationId: String, body: OnboardingBody) async throws -> OnboardingContext {
        let now = clock.now()
        let code = (call.registrationCode ?? "").trimmingCharacters(in: .whitespaces)
        return try await store.onboardingContext(OnboardingContextQuery(
            applicationId: applicationId, versionId: (try? body.string("certificationVersionId")).flatMap { $0 }.flatMap(Self.uuid),
            codeHash: code.isEmpty || code.utf8.count > 64 ? nil : Self.codeHash(code),
            failureScope: Self.failureScope(call), sinceMinute: now / 60 - settings.guessWindowMinutes + 1))
    }

    static func failureScope(_ call: OnboardingCall) -> String { "regcode-address:\(call.sourceAddress)" }

    /// Headers, body, application, signature over the raw bytes, timestamp window and replay.
    func checkSignature(_ call: OnboardingCall) async throws -> (OnboardingBody, OnboardingApplication, OnboardingContext) {
        guard let applicationHeader = call.applicationId, !applicationHeader.isEmpty, let signature = call.signature, !signature.isEmpty else {
            throw GatehouseError(.signingHeadersMissing, "X-Agrirouter-ApplicationId and X-Agrirouter-Signature are required")
        }
        let body = try OnboardingBody(call.body)
        guard let applicationId = Self.uuid(applicationHeader) else { throw GatehouseError(.applicationInvalid, "the application id is not valid") }
        let context = try await context(call, applicationId: applicationId, body: body)
        guard let application = context.application else { throw GatehouseError(.applicationInvalid, "the application id is not valid") }
        if let named = try body.string("applicationId"), Self.uuid(named) != applicationId {
            throw GatehouseError(.applicationInvalid, "the body's applicationId is not the application of the header", field: "applicationId")
        }
        guard let pem = application.publicKeyPEM, let key = publicKeys.key(pem: pem),
              signature.utf8.count <= 2048, RequestSignature.verify(body: call.body, hexSignature: signature, publicKey: key) else {
            throw GatehouseError(.signatureInvalid, "the signature is invalid")
        }
        let now = clock.now()
        guard let stamp = try body.string("UTCTimestamp").flatMap(OnboardingTimestamp.parse), abs(stamp - now) <= settings.timestampWindow else {
            throw GatehouseError(.timestampInvalid, "the signing header is invalid, the request has timed out, or UTCTimestamp is not provided; "
                                 + "the server time is \(OnboardingTimestamp.format(now))")
        }
        let fingerprint = Secrets.hex(SHA256.hash(data: Array("\(call.path)\n\(applicationId)\n".utf8) + call.body))
        guard try await store.recordSignedRequest(fingerprint: fingerprint, at: now, expiresAt: now + 2 * settings.timestampWindow + 1) else {
            throw GatehouseError(.timestampInvalid, "this signed request was sent before; sign a new one with a fresh UTCTimestamp")
        }
        return (body, application, context)
    }

    /// ``checkSignature(_:)`` and the registration code.
    func checkSigned(_ call: OnboardingCall) async throws
        -> (body: OnboardingBody, application: OnboardingApplication, code: RegistrationCode, context: OnboardingContext) {
        let (body, application, context) = try await checkSignature(call)
        return (body, application, try await registrationCode(call, context: context, application: application), context)
    }

    /// The bearer registration code: known, unused, unexpired, and for this application when it
    /// came from one's authorization. Failures count against the caller's address.
    func registrationCode(_ call: OnboardingCall, context: OnboardingContext, application: OnboardingApplication) async throws -> RegistrationCode {
        let now = clock.now()
        let scope = [Self.failureScope(call)]
        let minute = now / 60
        let since = minute - settings.guessWindowMinutes + 1
        let usable = context.code.flatMap { $0.usedAt == nil && $0.expiresAt > now ? $0 : nil }
        var held = context.failures >= settings.guessesPerAddress
        if !held, usable == nil {
            // A wrong code is charged before it is answered, so that wrong guesses in flight at
            // once, on any node, each take their place in line: at most the limit of them is
            // ever told "not known"; a charge over the limit is given back and answered as
            // held. A right code costs no write (the limit already read above holds it back
            // once the address is over the limit).
            try await store.recordActivationFailure(scopes: scope, minute: minute)
            if try await store.activationFailures(scopes: scope, sinceMinute: since)[scope[0], default: 0] > settings.guessesPerAddress {
                try await store.forgetActivationFailure(scopes: scope, minute: minute)
                held = true
            }
        }
        if held {
            let failures = { (since: Int64) in try await self.store.activationFailures(scopes: scope, sinceMinute: since)[scope[0], default: 0] }
            // The first minute from which fewer failures remain: once the window has moved past
            // the minute before it, the address may try again.
            var low = since + 1, high = minute + 1
            while low < high {
                let middle = (low + high) / 2
                if try await failures(middle) < settings.guessesPerAddress { high = middle } else { low = middle + 1 }
            }
            let wait = max(1, (low + settings.guessWindowMinutes - 1) * 60 - now)
            throw GatehouseError(.rateLimited, "too many unknown registration codes; try again in \(wait) seconds")
        }
        guard let code = usable else {
            throw GatehouseError(.unauthenticated, "the registration code is not known")
        }
        if let bound = code.applicationId, bound != application.id {
            throw GatehouseError(.applicationInvalid, "the registration code was not made for this application")
        }
        return code
    }

    /// The account a code onboards into: known and enabled.
    func account(of context: OnboardingContext) throws(GatehouseError) -> Tenant {
        guard let account = context.account else { throw GatehouseError(.accountUnknown, "the account is unknown") }
        guard account.enabled else { throw GatehouseError(.accountInactive, "the account is inactive") }
        return account
    }

    /// The body's certification version: one of the application's, not withdrawn, a draft only
    /// in the developer's own tree, and open to unsigned (CU) onboarding when that is asked.
    func certificationVersion(_ body: OnboardingBody, context: OnboardingContext, account: Tenant, unsigned: Bool) throws(GatehouseError) -> CertificationVersion {
        guard Self.uuid(try body.string("certificationVersionId") ?? "") != nil else {
            throw GatehouseError(.certificationVersionInvalid, "certificationVersionId is not valid", field: "certificationVersionId")
        }
        guard let version = context.version else {
            throw GatehouseError(.certificationUnknown, "the certification version is unknown", field: "certificationVersionId")
        }
        guard version.applicationId == context.application?.id else {
            throw GatehouseError(.certificationVersionInvalid, "the certification version is not one of this application's", field: "certificationVersionId")
        }
        switch version.status {
        case .withdrawn: throw GatehouseError(.certificationStatus, "the certification version is withdrawn")
        case .draft:
            guard let developer = context.developerPath, account.path.hasPrefix(developer) else {
                throw GatehouseError(.accountNotApproved, "the account is not approved for this application")
            }
        case .certified: break
        }
        if unsigned, !version.cuOnboarding {
            throw GatehouseError(.cuOnboardingNotAllowed, "the certification version does not allow onboarding without a signature")
        }
        return version
    }

    /// A new certificate for endpoint `id` with its key, as the caller asked: PEM (encrypted
    /// key, then the certificate) or PKCS#12 in base64, under a new random secret.
    func credential(for id: String, account: Tenant, format: CertificateFormat, now: Int64) async throws -> (CertificateAuthority.Issued, String, String) {
        let authority = try await authority(), days = settings.certificateDays
        let result: Result<(CertificateAuthority.Issued, String, String), any Error> = await Offload.run {
            Result {
                let issued = try authority.issue(commonName: id, organizationalUnit: account.key, usage: .client,
                                                 now: Date(timeIntervalSince1970: TimeInterval(now)), days: days)
                let secret = CertificatePassphrase.generate()
                switch format {
                case .pem:
                    let key = try EncryptedPrivateKey.encryptPEM(privateKeyDER: issued.privateKey.derRepresentation, password: secret)
                    return (issued, key + (try issued.certificatePEM) + "\n", secret)
                case .p12:
                    let file = try PKCS12Bundle.build(certificate: issued.certificate, privateKeyDER: issued.privateKey.derRepresentation,
                                                      caCertificates: [authority.certificate], password: secret, friendlyName: id)
                    return (issued, Data(file).base64EncodedString(), secret)
                }
            }
        }
        return try result.get()
    }

    // MARK: Values

    /// A registration code's look-up hash.
    static func codeHash(_ code: String) -> String { Secrets.hash("regcode:\(code.lowercased())") }

    static func newUUID() -> String { UUID().uuidString.lowercased() }

    /// A UUID in canonical lower-case form, nil when `text` is not one.
    static func uuid(_ text: String) -> String? {
        guard text.utf8.count == 36, let uuid = UUID(uuidString: text) else { return nil }
        return uuid.uuidString.lowercased()
    }

    /// An endpoint's external id: 1–256 characters without controls (a URN is advised).
    static func externalId(_ text: String) throws(GatehouseError) -> String {
        guard text.utf8.count <= 256, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw GatehouseError.invalid("id", "id must be at most 256 characters without control characters")
        }
        return text
    }
}

extension Onboarding {
    /// The authority's current revocation list (DER): every revoked certificate that has not
    /// expired, numbered by the time it was made, good for a day.
    public func revocationList() async throws -> [UInt8] {
        let now = clock.now()
        let revoked = try await store.revokedCertificates(now: now)
        return try await authority().revocationList(of: revoked, number: now, thisUpdate: Date(timeIntervalSince1970: TimeInterval(now)),
                                                    nextUpdate: Date(timeIntervalSince1970: TimeInterval(now + 86_400)))
    }
}
