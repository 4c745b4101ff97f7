import Foundation

/// An event Gatehouse reports to operators' webhooks.
public enum WebhookEvent: String, Sendable, Hashable, Codable, CaseIterable {
    case cameraActivated = "camera.activated"
    case cameraDeactivated = "camera.deactivated"
    case tokenIssued = "token.issued"

    /// The stored form of a subscription: event names joined by commas.
    public static func encode(_ events: [WebhookEvent]) -> String {
        events.map(\.rawValue).joined(separator: ",")
    }

    /// The events of a stored subscription; unknown names (from a newer version) are skipped.
    public static func decode(_ text: String) -> [WebhookEvent] {
        text.split(separator: ",").compactMap { WebhookEvent(rawValue: String($0)) }
    }
}

/// A webhook an operator configured: where its events go. The signing secret is shown only
/// when the webhook is created (``CreatedWebhook``) and is never part of this record.
public struct Webhook: Sendable, Hashable, Codable {
    public var id: Int64
    /// The operator (a node of the tenant tree) whose events are sent.
    public var operatorId: Int64
    public var url: String
    public var events: [WebhookEvent]
    /// Unix time in seconds.
    public var createdAt: Int64

    public init(id: Int64, operatorId: Int64, url: String, events: [WebhookEvent], createdAt: Int64) {
        self.id = id
        self.operatorId = operatorId
        self.url = url
        self.events = events
        self.createdAt = createdAt
    }

    /// The context a webhook's secret is sealed for, bound to its row so that a sealed value
    /// copied to another webhook does not open.
    public static func secretContext(id: Int64) -> String { "webhook_secret:\(id)" }
}

/// A webhook just created, with its signing secret (`whsec_…`), shown this once.
public struct CreatedWebhook: Sendable, Hashable {
    public var webhook: Webhook
    public var secret: String

    public init(webhook: Webhook, secret: String) {
        self.webhook = webhook
        self.secret = secret
    }
}

/// Where a delivery stands.
public enum WebhookDeliveryStatus: String, Sendable, Hashable, Codable {
    /// Not delivered yet; it is (re)tried at `nextAttemptAt`.
    case pending
    /// The receiver answered 2xx.
    case delivered
    /// Every attempt failed; it is kept with its last error and not tried again.
    case givenUp = "given_up"
}

/// One event for one webhook, as queued in the database.
public struct WebhookDelivery: Sendable, Hashable {
    public var id: Int64
    public var webhookId: Int64
    public var event: WebhookEvent
    /// The event's data: a JSON object.
    public var payload: String
    /// Attempts made (or started) so far.
    public var attempts: Int
    public var status: WebhookDeliveryStatus
    public var nextAttemptAt: Int64?
    public var deliveredAt: Int64?
    public var lastError: String?
    public var createdAt: Int64

    public init(id: Int64, webhookId: Int64, event: WebhookEvent, payload: String, attempts: Int, status: WebhookDeliveryStatus,
                nextAttemptAt: Int64?, deliveredAt: Int64?, lastError: String?, createdAt: Int64) {
        self.id = id
        self.webhookId = webhookId
        self.event = event
        self.payload = payload
        self.attempts = attempts
        self.status = status
        self.nextAttemptAt = nextAttemptAt
        self.deliveredAt = deliveredAt
        self.lastError = lastError
        self.createdAt = createdAt
    }

    /// The JSON body sent to the receiver:
    /// `{"delivery_id":…,"event":"…","created_at":…,"data":<payload>}`.
    public var body: String {
        #"{"delivery_id":\#(id),"event":"\#(event.rawValue)","created_at":\#(createdAt),"data":\#(payload)}"#
    }
}

/// A delivery claimed for sending, with its webhook's URL and sealed secret.
public struct ClaimedWebhookDelivery: Sendable, Hashable {
    public var delivery: WebhookDelivery
    public var url: String
    /// The webhook's secret sealed for ``Webhook/secretContext(id:)``.
    public var secretSealed: String

    public init(delivery: WebhookDelivery, url: String, secretSealed: String) {
        self.delivery = delivery
        self.url = url
        self.secretSealed = secretSealed
    }
}
