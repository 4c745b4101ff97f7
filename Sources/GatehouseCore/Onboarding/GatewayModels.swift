/// What an endpoint declares it sends and receives of one message type.
public enum CapabilityDirection: String, Sendable, Codable, CaseIterable {
    case send = "SEND"
    case receive = "RECEIVE"
    case sendReceive = "SEND_RECEIVE"

    /// Whether an endpoint with this direction may send the type.
    public var sends: Bool { self != .receive }
    /// Whether an endpoint with this direction gets messages of the type.
    public var receives: Bool { self != .send }
}

/// One entry of an endpoint's capabilities: a technical message type and its direction.
public struct EndpointCapability: Sendable, Hashable, Codable {
    public var messageType: String
    public var direction: CapabilityDirection

    public init(messageType: String, direction: CapabilityDirection) {
        self.messageType = messageType
        self.direction = direction
    }
}

/// A message an endpoint sends through the gateway, before routing.
public struct OutgoingMessage: Sendable, Hashable {
    /// The public id shared by every copy of the message (a lower-case UUID).
    public var messageId: String
    public var messageType: String
    /// The message content as JSON text.
    public var content: String

    public init(messageId: String, messageType: String, content: String) {
        self.messageId = messageId
        self.messageType = messageType
        self.content = content
    }
}

/// A message waiting for (or handed to) one recipient endpoint.
public struct GatewayMessage: Sendable, Hashable {
    public var messageId: String
    public var messageType: String
    /// The sender's endpoint id (its device alternate id).
    public var senderId: String
    /// The content as JSON text.
    public var content: String
    public var createdAt: Int64

    public init(messageId: String, messageType: String, senderId: String, content: String, createdAt: Int64) {
        self.messageId = messageId
        self.messageType = messageType
        self.senderId = senderId
        self.content = content
        self.createdAt = createdAt
    }
}

/// What one `measures` call did: the messages it routed and to how many endpoints each went.
public struct GatewayReceipt: Sendable, Hashable {
    public struct Routed: Sendable, Hashable {
        public var messageId: String
        public var messageType: String
        public var recipients: Int
    }

    /// Whether the call carried (and stored) the endpoint's capabilities.
    public var capabilities: Bool
    public var messages: [Routed]
}

/// The gateway's storage: capabilities and routed messages.
public protocol GatewayStore: Sendable {
    /// In one transaction: replaces the endpoint's capabilities when `capabilities` is given
    /// (marking that it has sent them), then stores each message once for every other active
    /// endpoint of `sender`'s account that receives its type. Answers each message's recipient
    /// count. `conflict` when the sender is no longer active.
    func deliver(from sender: OnboardedEndpoint, capabilities: [EndpointCapability]?, messages: [OutgoingMessage], at: Int64) async throws -> [Int]
    /// The endpoint's declared capabilities (empty until it sent them).
    func capabilities(endpointId: Int64) async throws -> [EndpointCapability]
    /// Up to `limit` messages waiting for the endpoint, oldest first, removed as they are handed out.
    func takeMessages(recipientEndpointId: Int64, limit: Int) async throws -> [GatewayMessage]
    /// Removes messages sent before `before` that nobody fetched; answers how many.
    func purgeMessages(before: Int64) async throws -> Int
}
