import Foundation

extension GatehouseError.Code {
    /// 0200: an endpoint sent something other than its capabilities first.
    public static let capabilitiesFirst = Self(rawValue: "capabilities_first")
    /// 0201: the endpoint's capabilities do not say it sends this message type.
    public static let messageTypeNotSent = Self(rawValue: "message_type_not_sent")
    /// 0109 (403): the client certificate is not the current one of the endpoint in the URL, or the endpoint is gone.
    public static let endpointCertificate = Self(rawValue: "endpoint_certificate")
}

/// The REST gateway of signed onboarding (seed 004): an onboarded endpoint, authenticated by
/// its client certificate, sends messages to its `measures` URL and fetches what was routed to
/// it from its `commands` URL.
///
/// The seed's rule holds: an endpoint's first message must be its capabilities (the message
/// types it sends and receives); anything sent before is refused. A message then goes to every
/// other active endpoint of the same account whose capabilities receive its type. A telemetry
/// platform's endpoint also onboards virtual CUs for its account, each with its own ids and
/// certificate.
public struct EndpointGateway: Sendable {
    /// The reserved type of the capabilities message.
    public static let capabilitiesType = "dke:capabilities"
    /// At most this many messages in one `measures` call.
    public static let maxMessages = 100
    /// At most this many capability entries.
    public static let maxCapabilities = 200
    /// At most this many virtual CUs in one call.
    public static let maxVirtualEndpoints = 20
    /// A message nobody fetched is dropped after this many seconds (28 days).
    public static let messageRetention: Int64 = 28 * 86_400

    public let onboarding: Onboarding
    public let store: any GatewayStore

    /// The gateway over the onboarding service (endpoints, certificates) and its message store.
    public init(onboarding: Onboarding, store: any GatewayStore) {
        self.onboarding = onboarding
        self.store = store
    }

    /// The endpoint named in the URL, when the client certificate (already validated against
    /// the authority at the handshake) is its current one and it is active.
    public func authenticate(endpointId: String, certificateSerial: String?) async throws -> OnboardedEndpoint {
        guard let serial = certificateSerial, let id = Onboarding.uuid(endpointId),
              let endpoint = try await onboarding.store.endpoint(deviceAlternateId: id),
              endpoint.status == .active, let current = endpoint.certificateSerial,
              current == serial.lowercased()
        else {
            throw GatehouseError(.endpointCertificate, "the client certificate is not the current certificate of this endpoint, or the endpoint is gone")
        }
        return endpoint
    }

    /// `POST …/measures/<id>`: `{"messages":[{"technicalMessageType":"…","content":…}]}`. A
    /// capabilities message may only come first; the whole call is refused or stored as one.
    public func send(_ bytes: [UInt8], from endpoint: OnboardedEndpoint) async throws -> GatewayReceipt {
        let items = try Self.messages(bytes)
        var capabilities: [EndpointCapability]?
        var outgoing: [OutgoingMessage] = []
        for (index, item) in items.enumerated() {
            let type = try Self.messageType(item["technicalMessageType"], field: "messages[\(index)].technicalMessageType")
            if type == Self.capabilitiesType {
                guard index == 0 else {
                    throw GatehouseError.invalid("messages[\(index)]", "the capabilities may only be the first message of a call")
                }
                capabilities = try Self.capabilities(item["content"])
                continue
            }
            guard let content = item["content"], !(content is NSNull) else {
                throw GatehouseError.invalid("messages[\(index)].content", "content is required")
            }
            outgoing.append(OutgoingMessage(messageId: Onboarding.newUUID(), messageType: type, content: JSONText.string(content)))
        }
        if capabilities == nil, endpoint.capabilitiesAt == nil {
            throw GatehouseError(.capabilitiesFirst, "the first message of an endpoint must be its capabilities (technicalMessageType \(Self.capabilitiesType))")
        }
        if !outgoing.isEmpty {
            var declared = capabilities ?? []
            if capabilities == nil { declared = try await store.capabilities(endpointId: endpoint.id) }
            let sends = Set(declared.filter { $0.direction.sends }.map(\.messageType))
            if let refused = outgoing.first(where: { !sends.contains($0.messageType) }) {
                throw GatehouseError(.messageTypeNotSent, "the endpoint's capabilities do not send \(refused.messageType); send its capabilities again first")
            }
        }
        let counts = try await store.deliver(from: endpoint, capabilities: capabilities, messages: outgoing, at: onboarding.clock.now())
        return GatewayReceipt(capabilities: capabilities != nil, messages: zip(outgoing, counts).map {
            GatewayReceipt.Routed(messageId: $0.messageId, messageType: $0.messageType, recipients: $1)
        })
    }

    /// `GET …/commands/<id>`: what was routed to the endpoint, oldest first; each message is handed out once.
    public func fetch(for endpoint: OnboardedEndpoint, limit: Int) async throws -> [GatewayMessage] {
        try await store.takeMessages(recipientEndpointId: endpoint.id, limit: min(max(limit, 1), 500))
    }

    /// The endpoint's capabilities as stored.
    public func capabilities(of endpoint: OnboardedEndpoint) async throws -> [EndpointCapability] {
        try await store.capabilities(endpointId: endpoint.id)
    }

    /// `POST …/cloud-onboard/<id>`: a telemetry platform's endpoint onboards virtual CUs for its
    /// account: `{"endpoints":[{"id":"urn:…","certificateType":"PEM"|"P12","gatewayId":"3"|"2"}]}`.
    /// Each gets its own ids and certificate under the platform's application and certification
    /// version; one onboarded before is onboarded again (same ids, new certificate). A virtual
    /// CU cannot onboard others, and the platform must have sent its capabilities.
    public func onboardVirtual(_ bytes: [UInt8], platform: OnboardedEndpoint) async throws -> [OnboardingResult] {
        guard platform.parentEndpointId == nil else {
            throw GatehouseError(.forbidden, "a virtual CU cannot onboard other endpoints")
        }
        guard platform.capabilitiesAt != nil else {
            throw GatehouseError(.capabilitiesFirst, "the first message of an endpoint must be its capabilities (technicalMessageType \(Self.capabilitiesType))")
        }
        let body = try OnboardingBody(bytes)
        guard let entries = body.fields["endpoints"] as? [Any], (1...Self.maxVirtualEndpoints).contains(entries.count) else {
            throw GatehouseError.invalid("endpoints", "endpoints must list 1 to \(Self.maxVirtualEndpoints) virtual CUs")
        }
        var requests: [(id: String, format: CertificateFormat, gateway: OnboardingGateway)] = []
        var seen = Set<String>()
        for (index, entry) in entries.enumerated() {
            guard let fields = entry as? [String: Any] else { throw GatehouseError.invalid("endpoints[\(index)]", "each endpoint must be an object") }
            let item = OnboardingBody(fields: fields)
            let id = try Onboarding.externalId(try item.required("id"))
            guard seen.insert(id).inserted else { throw GatehouseError.invalid("endpoints[\(index)].id", "\(id) is listed twice") }
            let format = try CertificateFormat(rawValue: item.string("certificateType") ?? "PEM")
                .orThrow(GatehouseError(.certificateTypeInvalid, "certificateType must be PEM or P12", field: "endpoints[\(index)].certificateType"))
            let gateway = try OnboardingGateway(rawValue: item.string("gatewayId") ?? OnboardingGateway.rest.rawValue)
                .orThrow(GatehouseError(.gatewayInvalid, "gatewayId must be \"2\" (MQTT) or \"3\" (REST)", field: "endpoints[\(index)].gatewayId"))
            requests.append((id, format, gateway))
        }
        guard let account = try await onboarding.management.store.tenant(id: platform.tenantId) else {
            throw GatehouseError(.accountUnknown, "the account is unknown")
        }
        guard account.enabled else { throw GatehouseError(.accountInactive, "the account is inactive") }
        guard let application = try await onboarding.store.application(id: platform.applicationId),
              let version = try await onboarding.store.certificationVersions(applicationId: application.id).first(where: { $0.id == platform.certificationVersionId })
        else { throw GatehouseError(.endpointCertificate, "the platform's application is gone") }
        guard version.status != .withdrawn else { throw GatehouseError(.certificationStatus, "the certification version is withdrawn") }
        // Every id first, so that a refusal onboards none of them.
        for (index, request) in requests.enumerated() {
            if let existing = try await onboarding.store.endpoint(tenantId: account.id, applicationId: application.id, externalId: request.id),
               existing.status != .revoked {
                guard existing.parentEndpointId == platform.id else {
                    throw GatehouseError(.conflict, "\(request.id) is another endpoint of this account and application", field: "endpoints[\(index)].id")
                }
                guard existing.gateway == request.gateway else {
                    throw GatehouseError(.gatewayChange, "the gateway of an endpoint cannot change when it is onboarded again", field: "endpoints[\(index)].gatewayId")
                }
                guard existing.status != .blocked else { throw GatehouseError(.endpointBlocked, "\(request.id) was onboarded before and is blocked") }
            }
        }
        var results: [OnboardingResult] = []
        for request in requests {
            results.append(try await onboarding.issueEndpoint(
                account: account, application: application, version: version, externalId: request.id, gateway: request.gateway,
                format: request.format, registrationCodeId: nil, parent: platform.id, actor: "endpoint:\(platform.alternateIds.device)"))
        }
        return results
    }

    // MARK: Parsing

    static func messages(_ bytes: [UInt8]) throws(GatehouseError) -> [[String: Any]] {
        let body = try OnboardingBody(bytes)
        guard let list = body.fields["messages"] as? [Any], !list.isEmpty, list.count <= maxMessages else {
            throw GatehouseError.invalid("messages", "messages must list 1 to \(maxMessages) messages")
        }
        var items: [[String: Any]] = []
        for (index, entry) in list.enumerated() {
            guard let item = entry as? [String: Any] else { throw GatehouseError.invalid("messages[\(index)]", "each message must be an object") }
            items.append(item)
        }
        return items
    }

    /// A technical message type: 1–128 printable ASCII characters without spaces.
    static func messageType(_ value: Any?, field: String) throws(GatehouseError) -> String {
        guard let text = value as? String, (1...128).contains(text.utf8.count),
              text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw GatehouseError.invalid(field, "technicalMessageType must be 1 to 128 printable characters without spaces")
        }
        return text
    }

    /// `{"capabilities":[{"technicalMessageType":"…","direction":"SEND|RECEIVE|SEND_RECEIVE"}]}`.
    static func capabilities(_ content: Any?) throws(GatehouseError) -> [EndpointCapability] {
        guard let object = content as? [String: Any], let list = object["capabilities"] as? [Any], list.count <= maxCapabilities else {
            throw GatehouseError.invalid("messages[0].content.capabilities", "the capabilities must be a list of at most \(maxCapabilities) entries")
        }
        var result: [EndpointCapability] = [], seen = Set<String>()
        for (index, entry) in list.enumerated() {
            let field = "messages[0].content.capabilities[\(index)]"
            guard let item = entry as? [String: Any] else { throw GatehouseError.invalid(field, "each capability must be an object") }
            let type = try messageType(item["technicalMessageType"], field: "\(field).technicalMessageType")
            guard type != capabilitiesType else { throw GatehouseError.invalid(field, "\(capabilitiesType) is not a capability") }
            guard let direction = (item["direction"] as? String).flatMap(CapabilityDirection.init(rawValue:)) else {
                throw GatehouseError.invalid("\(field).direction", "direction must be SEND, RECEIVE or SEND_RECEIVE")
            }
            guard seen.insert(type).inserted else { throw GatehouseError.invalid(field, "\(type) is listed twice") }
            result.append(EndpointCapability(messageType: type, direction: direction))
        }
        return result
    }
}

extension Optional {
    /// The value, or `error` thrown.
    func orThrow(_ error: GatehouseError) throws(GatehouseError) -> Wrapped {
        guard let value = self else { throw error }
        return value
    }
}
