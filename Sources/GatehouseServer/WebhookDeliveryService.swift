import AsyncHTTPClient
import GatehouseCore
import GatehouseStore
import Logging
import NIOCore
import ServiceLifecycle

/// Sends queued webhook deliveries (``SQLStore/enqueueWebhookEvent(_:operatorId:event:payload:at:)``)
/// to operators' URLs: a JSON `POST` signed with the webhook's secret (``WebhookSignature``).
/// A 2xx answer settles a delivery; any other answer, a connection error or a timeout makes
/// it due again after ``WebhookBackoff`` until it is given up.
///
/// Every node may run one: deliveries are claimed with a lease in the database, so two nodes
/// never send one at the same moment, and what a stopped node had pending is sent by
/// whichever node runs next (at least once; receivers dedupe by `X-Gatehouse-Delivery`).
/// It polls every ``Configuration/pollInterval``, and sends at once what this node queues
/// (the store rings ``SQLStore/webhookOutbox`` after each commit that queued deliveries).
/// On graceful shutdown it claims nothing more and lets the attempts under way finish.
/// Secrets and bodies are never logged.
public final class WebhookDeliveryService: Service {
    public struct Configuration: Sendable {
        /// How often due deliveries are looked for.
        public var pollInterval: Duration
        /// Deliveries claimed (and sent concurrently) at once.
        public var batchSize: Int
        /// Seconds a claimed delivery is reserved for this node; longer than any attempt.
        public var lease: Int64
        /// Time one attempt has, connection included.
        public var requestTimeout: Duration
        /// Time to establish the connection.
        public var connectTimeout: Duration
        /// When failed deliveries are retried, and when they are given up.
        public var backoff: WebhookBackoff

        public init(pollInterval: Duration = .milliseconds(250), batchSize: Int = 32, lease: Int64 = 60,
                    requestTimeout: Duration = .seconds(10), connectTimeout: Duration = .seconds(5), backoff: WebhookBackoff = .standard) {
            self.pollInterval = pollInterval
            self.batchSize = max(1, batchSize)
            self.lease = max(1, lease)
            self.requestTimeout = requestTimeout
            self.connectTimeout = connectTimeout
            self.backoff = backoff
        }
    }

    let store: SQLStore
    let vault: SecretVault
    let clock: any GatehouseClock
    let logger: Logger
    public let configuration: Configuration
    /// Whether the node has finished starting (migrations, master-key check); nothing is
    /// claimed before, since the tables may not exist yet.
    let ready: @Sendable () -> Bool
    /// Wake-ups of the sending loop: the poll timer and ``nudge()``; at most one is pending.
    private let wake: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation

    /// A service over `store`, opening webhook secrets with `vault`. Run it once.
    public init(store: SQLStore, vault: SecretVault, clock: any GatehouseClock, logger: Logger, configuration: Configuration = Configuration(),
                ready: @escaping @Sendable () -> Bool = { true }) {
        self.ready = ready
        self.store = store
        self.vault = vault
        self.clock = clock
        self.logger = logger
        self.configuration = configuration
        let (wake, waker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (self.wake, self.waker) = (wake, waker)
        // The store rings after each commit that queued deliveries on this node.
        store.webhookOutbox.onCommit { waker.yield() }
    }

    /// Looks for due deliveries now rather than at the next poll (the store does this itself
    /// after every commit that queued deliveries on this node).
    public func nudge() { waker.yield() }

    public func run() async throws {
        var http = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                            timeout: .init(connect: Self.timeAmount(configuration.connectTimeout),
                                                           read: Self.timeAmount(configuration.requestTimeout)))
        http.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [waker, interval = configuration.pollInterval] in
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: interval) } catch { return }
                        if case .terminated = waker.yield() { return }
                    }
                }
                waker.yield()
                for await _ in wake {
                    if Task.isShuttingDownGracefully { break }
                    // A full batch means more may be due: keep going until the queue is drained.
                    while await deliverDue(client) == configuration.batchSize, !Task.isShuttingDownGracefully, !Task.isCancelled {}
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.waker.finish()
        }
        try? await client.shutdown()
    }

    /// Claims one batch of due deliveries and attempts them all; answers how many it claimed.
    func deliverDue(_ client: HTTPClient) async -> Int {
        guard ready() else { return 0 }
        let claimed: [ClaimedWebhookDelivery]
        do {
            claimed = try await store.claimDueWebhookDeliveries(now: clock.now(), limit: configuration.batchSize, lease: configuration.lease)
        } catch {
            logger.warning("webhooks: could not claim due deliveries; will retry", metadata: ["error": "\(error)"])
            return 0
        }
        await withTaskGroup(of: Void.self) { group in
            for delivery in claimed { group.addTask { await self.attempt(delivery, client: client) } }
        }
        return claimed.count
    }

    /// One attempt at one claimed delivery, settled in the database.
    func attempt(_ claimed: ClaimedWebhookDelivery, client: HTTPClient) async {
        let delivery = claimed.delivery
        var metadata: Logger.Metadata = [
            "delivery": "\(delivery.id)", "webhook": "\(delivery.webhookId)", "event": "\(delivery.event.rawValue)", "attempt": "\(delivery.attempts)",
        ]
        let failure: String?
        do {
            let secret = try vault.open(claimed.secretSealed, context: Webhook.secretContext(id: delivery.webhookId))
            failure = try await send(delivery, to: claimed.url, secret: secret, client: client)
        } catch {
            // Stopped mid-attempt: the lease runs out and the delivery is tried again.
            if Task.isCancelled { return }
            failure = Self.describe(error)
        }
        let now = clock.now()
        do {
            guard let failure else {
                try await store.markWebhookDelivered(id: delivery.id, at: now)
                logger.debug("webhooks: delivered", metadata: metadata)
                return
            }
            let backoff = configuration.backoff
            let giveUp = backoff.givesUp(afterAttempt: delivery.attempts)
            let next = now + backoff.delay(afterAttempt: delivery.attempts)
            try await store.markWebhookFailed(id: delivery.id, error: failure, nextAttemptAt: next, giveUp: giveUp)
            metadata["error"] = "\(failure)"
            if giveUp {
                logger.warning("webhooks: delivery given up after its last attempt", metadata: metadata)
            } else {
                metadata["next_attempt_at"] = "\(next)"
                logger.info("webhooks: delivery failed; will retry", metadata: metadata)
            }
        } catch {
            metadata["error"] = "\(error)"
            logger.warning("webhooks: could not record a delivery attempt; it is retried when its lease runs out", metadata: metadata)
        }
    }

    /// POSTs the signed body; answers nil when the receiver took it (2xx), else why not.
    func send(_ delivery: WebhookDelivery, to url: String, secret: String, client: HTTPClient) async throws -> String? {
        let body = delivery.body
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Gatehouse-Webhooks/1")
        for header in WebhookSignature.headers(deliveryId: delivery.id, event: delivery.event, body: body, secret: secret, timestamp: clock.now()) {
            request.headers.add(name: header.name, value: header.value)
        }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: Self.timeAmount(configuration.requestTimeout))
        // The answer's body is read (so the connection can be reused) but not kept.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return (200..<300).contains(response.status.code) ? nil : "HTTP \(response.status.code)"
    }

    /// A short, secret-free description of a failed attempt for `last_error`.
    static func describe(_ error: any Error) -> String {
        if let error = error as? GatehouseError { return error.message }
        return String(String(describing: error).prefix(300))
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let parts = duration.components
        return .nanoseconds(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000)
    }
}
