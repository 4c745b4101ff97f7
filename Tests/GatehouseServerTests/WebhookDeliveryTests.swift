import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseStore
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Testing

/// Webhook deliveries sent over real HTTP to a receiver on a loopback port, which checks
/// every signature with ``WebhookSignature/verify(header:body:secret:now:tolerance:)``.
@Suite("Webhook delivery")
struct WebhookDeliveryTests {
    static let payload = #"{"camera":{"id":7,"name":"front door"}}"#
    static let audit = AuditIntent(actor: "test")

    /// A failing receiver is retried after the backoff — not before — until it answers 2xx,
    /// with the same delivery id and a valid signature every time, and not after.
    @Test func retriedWithBackoffUntilDelivered() async throws {
        let clock = TestClock()
        try await TestDatabases.withMigrated(.sqlite) { database in
            let fixture = try await Fixture(database: database, clock: clock)
            let receiver = Receiver(clock: clock, answers: [500, 500])
            try await receiver.serving { port in
                let created = try await fixture.webhook(port: port, events: [.cameraActivated, .tokenIssued])
                receiver.secret = created.secret
                let id = try #require(try await fixture.store.enqueueWebhookEvent(operatorId: fixture.operatorId, event: .cameraActivated,
                                                                                  payload: Self.payload, at: clock.now()).first)
                let service = fixture.service(backoff: WebhookBackoff(baseSeconds: 2, jitter: 0))
                try await running(service) {
                    service.nudge()
                    try await eventually { receiver.hits.count == 1 }
                    try await eventually { try await fixture.store.webhookDelivery(id: id)?.lastError == "HTTP 500" }
                    var stored = try #require(try await fixture.store.webhookDelivery(id: id))
                    #expect(stored.status == .pending && stored.attempts == 1 && stored.nextAttemptAt == clock.now() + 2)

                    // Not before the backoff has passed...
                    clock.advance(1)
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(receiver.hits.count == 1)
                    // ...then the second attempt, and after 4 s more the third, which succeeds.
                    clock.advance(1)
                    try await eventually { receiver.hits.count == 2 }
                    try await eventually { try await fixture.store.webhookDelivery(id: id)?.nextAttemptAt == clock.now() + 4 }
                    clock.advance(3)
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(receiver.hits.count == 2)
                    clock.advance(1)
                    try await eventually { try await fixture.store.webhookDelivery(id: id)?.status == .delivered }
                    stored = try #require(try await fixture.store.webhookDelivery(id: id))
                    #expect(stored.attempts == 3 && stored.deliveredAt == clock.now() && stored.lastError == nil)
                    clock.advance(3600)
                    try await Task.sleep(for: .milliseconds(300))
                }
                let hits = receiver.hits
                #expect(hits.map(\.status) == [500, 500, 200])
                #expect(hits.allSatisfy { $0.signed && $0.delivery == String(id) && $0.event == "camera.activated" && $0.contentType == "application/json" })
                let body = try #require(try JSONSerialization.jsonObject(with: Data(hits[2].body.utf8)) as? [String: Any])
                #expect((body["delivery_id"] as? NSNumber)?.int64Value == id && body["event"] as? String == "camera.activated")
                let camera = try #require((body["data"] as? [String: Any])?["camera"] as? [String: Any])
                #expect((camera["id"] as? NSNumber)?.intValue == 7 && camera["name"] as? String == "front door")
            }
        }
    }

    /// A receiver that is down at first (connection refused) gets the delivery once it is up.
    @Test func deliveredOnceTheReceiverComesUp() async throws {
        let clock = TestClock()
        try await TestDatabases.withMigrated(.sqlite) { database in
            let fixture = try await Fixture(database: database, clock: clock)
            let port = LiveServer.freePort()
            let created = try await fixture.webhook(port: port, events: [.tokenIssued])
            let id = try #require(try await fixture.store.enqueueWebhookEvent(operatorId: fixture.operatorId, event: .tokenIssued,
                                                                              payload: Self.payload, at: clock.now()).first)
            // The HTTP client retries a refused connection until the attempt's time is up: keep it short.
            let service = fixture.service(backoff: WebhookBackoff(baseSeconds: 2, jitter: 0), requestTimeout: .seconds(1))
            try await running(service) {
                service.nudge()
                try await eventually { try await fixture.store.webhookDelivery(id: id)?.lastError != nil }
                let failed = try #require(try await fixture.store.webhookDelivery(id: id))
                #expect(failed.status == .pending && failed.attempts == 1 && failed.deliveredAt == nil)

                let receiver = Receiver(clock: clock)
                receiver.secret = created.secret
                try await receiver.serving(port: port) { _ in
                    clock.advance(2)
                    // AsyncHTTPClient keeps trying to connect after a refusal, with a backoff of
                    // its own that grows with each failure (up to a minute): the longer the
                    // receiver took to come up (a loaded machine), the longer the next attempt
                    // may wait for the client's next connection. On a loaded machine the
                    // receiver may also answer after the 1 s request timeout: that attempt
                    // failed (the receiver saw it) and the next is due at its backoff time,
                    // which this clock reaches only when moved.
                    let started = ContinuousClock.now
                    do {
                        try await eventually(timeout: .seconds(90)) {
                            guard let stored = try await fixture.store.webhookDelivery(id: id) else { return false }
                            if stored.status == .delivered { return true }
                            if let next = stored.nextAttemptAt, next > clock.now() {
                                clock.advance(next - clock.now())
                                service.nudge()
                            }
                            return false
                        }
                    } catch {
                        let stored = try await fixture.store.webhookDelivery(id: id)
                        Issue.record("not delivered: \(String(describing: stored)), receiver hits \(receiver.hits.count), clock \(clock.now())")
                        throw error
                    }
                    print("deliveredOnceTheReceiverComesUp: delivered \(ContinuousClock.now - started) after the receiver came up")
                    // At least once: an attempt answered too late is made again, with the same delivery id.
                    #expect(!receiver.hits.isEmpty, "\(receiver.hits.count) hits")
                    #expect(receiver.hits.allSatisfy { $0.signed && $0.delivery == String(id) && $0.event == "token.issued" })
                }
            }
        }
    }

    /// What a stopped node left — one delivery it was cancelled in the middle of sending, and
    /// ones that failed — is delivered by a new service instance over a reopened database file.
    @Test func pendingDeliveriesSurviveARestart() async throws {
        let clock = TestClock()
        let configuration = try await TestDatabases.freshConfiguration(.sqlite)
        let receiver = Receiver(clock: clock, answers: [500, 500])
        try await receiver.serving { port in
            let (first, others) = try await withDatabase(configuration, logger: TestDatabases.logger) { database in
                try await Migrator(database: database).migrate()
                let fixture = try await Fixture(database: database, clock: clock)
                receiver.secret = try await fixture.webhook(port: port, events: [.cameraDeactivated]).secret
                let enqueue = { try await fixture.store.enqueueWebhookEvent(operatorId: fixture.operatorId, event: .cameraDeactivated,
                                                                            payload: Self.payload, at: clock.now())[0] }
                let first = try await enqueue()
                // The receiver holds the next request without answering; the node is killed meanwhile.
                receiver.holding.withLockedValue { $0 = true }
                let service = fixture.service(backoff: WebhookBackoff(baseSeconds: 2, jitter: 0))
                let task = Task { try await service.run() }
                service.nudge()
                try await eventually { receiver.held.withLockedValue { $0 } == 1 }
                task.cancel()
                _ = await task.result
                receiver.holding.withLockedValue { $0 = false }
                let claimed = try #require(try await fixture.store.webhookDelivery(id: first))
                #expect(claimed.status == .pending && claimed.attempts == 1 && claimed.nextAttemptAt == clock.now() + 60)

                // Two more events fail (500) with a second instance, which then shuts down gracefully.
                let others = [try await enqueue(), try await enqueue()]
                let second = fixture.service(backoff: WebhookBackoff(baseSeconds: 2, jitter: 0))
                try await running(second) {
                    second.nudge()
                    try await eventually { receiver.hits.filter { $0.status == 500 }.count == 2 }
                    try await eventually {
                        var failed = 0
                        for id in others where try await fixture.store.webhookDelivery(id: id)?.lastError == "HTTP 500" { failed += 1 }
                        return failed == 2
                    }
                }
                return (first, others)
            }

            // The node restarts: a new database pool over the same file, a new service.
            try await withDatabase(configuration, logger: TestDatabases.logger) { database in
                try await Migrator(database: database).migrate()
                let store = SQLStore(database: database)
                let service = WebhookDeliveryService(store: store, vault: try SecretVault(keyData: Fixture.masterKey), clock: clock, logger: TestDatabases.logger,
                                                     configuration: .init(pollInterval: .milliseconds(50)))
                try await running(service) {
                    clock.advance(2)
                    for id in others { try await eventually { try await store.webhookDelivery(id: id)?.status == .delivered } }
                    #expect(try await store.webhookDelivery(id: first)?.status == .pending)
                    clock.advance(58)
                    try await eventually { try await store.webhookDelivery(id: first)?.status == .delivered }
                    #expect(try await store.webhookDelivery(id: first)?.attempts == 2)
                }
            }
            let delivered = receiver.hits.filter { $0.status == 200 }
            #expect(Set(delivered.map(\.delivery)) == Set(([first] + others).map(String.init)))
            #expect(delivered.count == 3 && receiver.hits.allSatisfy(\.signed))
        }
    }

    /// A long poll interval does not delay an event: ``WebhookDeliveryService/nudge()`` sends at once.
    @Test func nudgeSendsAtOnce() async throws {
        let clock = TestClock()
        try await TestDatabases.withMigrated(.sqlite) { database in
            let fixture = try await Fixture(database: database, clock: clock)
            let receiver = Receiver(clock: clock)
            try await receiver.serving { port in
                receiver.secret = try await fixture.webhook(port: port, events: [.cameraActivated]).secret
                let service = fixture.service(backoff: .standard, pollInterval: .seconds(60))
                try await running(service) {
                    try await Task.sleep(for: .milliseconds(100))
                    let id = try await fixture.store.enqueueWebhookEvent(operatorId: fixture.operatorId, event: .cameraActivated,
                                                                         payload: Self.payload, at: clock.now())[0]
                    service.nudge()
                    // Well inside the 60 s poll interval, with room for a loaded CI machine.
                    try await eventually(timeout: .seconds(20)) { try await fixture.store.webhookDelivery(id: id)?.status == .delivered }
                }
                #expect(receiver.hits.count == 1 && receiver.hits[0].signed)
            }
        }
    }

    /// URLs other than absolute http(s) with a host are refused; nothing is stored.
    @Test func badURLsAreRefused() async throws {
        try await TestDatabases.withMigrated(.sqlite) { database in
            let fixture = try await Fixture(database: database, clock: TestClock())
            for bad in ["ftp://hooks.example.com/", "javascript:alert(1)", "http://", "hooks.example.com/path", "https://u:p@hooks.example.com/",
                        "https://hooks.example.com/\n", "https://hooks.example.com/" + String(repeating: "a", count: 2030)] {
                await #expect(throws: GatehouseError.self, "\(bad.prefix(30))") {
                    try await fixture.store.createWebhook(operatorId: fixture.operatorId, url: bad, events: [.cameraActivated],
                                                          vault: fixture.vault, at: 0, audit: Self.audit)
                }
                #expect(throws: GatehouseError.self) { try WebhookValidation.url(bad) }
            }
            #expect(try WebhookValidation.url("https://hooks.example.com:8443/gatehouse?tenant=7") == "https://hooks.example.com:8443/gatehouse?tenant=7")
            #expect(throws: GatehouseError.self) { try WebhookValidation.events(["camera.exploded"]) }
            #expect(try WebhookValidation.events(["token.issued", "token.issued"]) == [.tokenIssued])
            #expect(try await fixture.store.webhooks(operatorId: fixture.operatorId).isEmpty)
        }
    }

    /// What a receiver checks: the signature fails for another body, secret, time or header.
    @Test func signatureVerification() throws {
        let body = #"{"delivery_id":1,"event":"token.issued","created_at":1,"data":{}}"#
        let secret = "whsec_test"
        let header = WebhookSignature.sign(body: Array(body.utf8), secret: secret, timestamp: 1_700_000_000)
        #expect(header.hasPrefix("t=1700000000,v1=") && header.count == "t=1700000000,v1=".count + 64)
        #expect(WebhookSignature.verify(header: header, body: body, secret: secret, now: 1_700_000_000))
        #expect(WebhookSignature.verify(header: header, body: body, secret: secret, now: 1_700_000_300))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: secret, now: 1_700_000_301))
        #expect(!WebhookSignature.verify(header: header, body: body + " ", secret: secret, now: 1_700_000_000))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: "whsec_other", now: 1_700_000_000))
        let forgedTime = header.replacingOccurrences(of: "t=1700000000", with: "t=1700000100")
        #expect(!WebhookSignature.verify(header: forgedTime, body: body, secret: secret, now: 1_700_000_100))
        #expect(!WebhookSignature.verify(header: "v1=" + header.suffix(64), body: body, secret: secret, now: 1_700_000_000))
        #expect(!WebhookSignature.verify(header: "garbage", body: body, secret: secret, now: 1_700_000_000))
        #expect(!WebhookSignature.verify(header: "t=-9223372036854775808,v1=00", body: body, secret: secret, now: 1_700_000_000))
        // Another v1 entry beside the right one (a rotated secret) still verifies.
        #expect(WebhookSignature.verify(header: header + ",v1=" + String(repeating: "0", count: 64), body: body, secret: secret, now: 1_700_000_000))
        let backoff = WebhookBackoff(jitter: 0)
        #expect((1...13).map { backoff.delay(afterAttempt: $0) } == [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600])
        #expect(backoff.delay(afterAttempt: 500) == 3600)
        let jittered = (0..<50).map { _ in WebhookBackoff(jitter: 0.1).delay(afterAttempt: 10) }
        #expect(jittered.allSatisfy { (1024...1126).contains($0) } && Set(jittered).count > 1)
        #expect(WebhookBackoff.standard.givesUp(afterAttempt: WebhookBackoff.standard.maxAttempts) && !WebhookBackoff.standard.givesUp(afterAttempt: 1))
    }
}

// MARK: Helpers

/// An operator node with the store, vault and clock of one test.
private struct Fixture {
    let store: SQLStore
    let vault: SecretVault
    let clock: TestClock
    let operatorId: Int64

    /// The master key of every test here (a restarted node must open what the first one sealed).
    static let masterKey = SecretVault.generateKeyData()

    init(database: any Database, clock: TestClock) async throws {
        store = SQLStore(database: database)
        vault = try SecretVault(keyData: Self.masterKey)
        self.clock = clock
        operatorId = try await store.createTenant(NewTenant(key: "operator-1", kind: .distributor, parentId: Management.platformTenantId, name: "Operator"),
                                                  key: "operator-1", at: clock.now(), audit: AuditIntent(actor: "test")).id
    }

    func webhook(port: Int, events: [WebhookEvent]) async throws -> CreatedWebhook {
        try await store.createWebhook(operatorId: operatorId, url: "http://127.0.0.1:\(port)/hook", events: events, vault: vault,
                                      at: clock.now(), audit: AuditIntent(actor: "test"))
    }

    func service(backoff: WebhookBackoff, pollInterval: Duration = .milliseconds(50), requestTimeout: Duration = .seconds(5)) -> WebhookDeliveryService {
        WebhookDeliveryService(store: store, vault: vault, clock: clock, logger: TestDatabases.logger,
                               configuration: .init(pollInterval: pollInterval, requestTimeout: requestTimeout, backoff: backoff))
    }
}

/// A webhook receiver: answers the scripted statuses, then 200; records every request and
/// whether its signature verified.
private final class Receiver: Sendable {
    struct Hit: Sendable {
        let delivery: String
        let event: String
        let contentType: String
        let body: String
        let signed: Bool
        let status: Int
    }

    let clock: TestClock
    private let state: NIOLockedValueBox<(hits: [Hit], answers: [Int], secret: String)>
    /// While true, requests are held unanswered (for up to 5 s); `held` counts them.
    let holding = NIOLockedValueBox(false)
    let held = NIOLockedValueBox(0)

    init(clock: TestClock, answers: [Int] = []) {
        self.clock = clock
        state = NIOLockedValueBox(([], answers, ""))
    }

    var hits: [Hit] { state.withLockedValue { $0.hits } }
    var secret: String {
        get { state.withLockedValue { $0.secret } }
        set { state.withLockedValue { $0.secret = newValue } }
    }

    func handle(_ request: Request) async throws -> Response {
        let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
        if holding.withLockedValue({ $0 }) {
            held.withLockedValue { $0 += 1 }
            let deadline = ContinuousClock.now + .seconds(5)
            while holding.withLockedValue({ $0 }), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            return Response(status: .serviceUnavailable)
        }
        let header = { (name: String) in HTTPField.Name(name).flatMap { request.headers[$0] } ?? "" }
        let status = state.withLockedValue { state in
            let signed = WebhookSignature.verify(header: header(WebhookSignature.signatureHeader), body: body, secret: state.secret, now: clock.now())
            let status = signed ? (state.answers.isEmpty ? 200 : state.answers.removeFirst()) : 401
            state.hits.append(Hit(delivery: header(WebhookSignature.deliveryHeader), event: header(WebhookSignature.eventHeader),
                                  contentType: header("Content-Type"), body: body, signed: signed, status: status))
            return status
        }
        return Response(status: .init(code: status))
    }

    /// Runs the receiver on 127.0.0.1:`port` (0: any free port) around `body`, which gets the port.
    func serving<T: Sendable>(port: Int = 0, _ body: (Int) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/hook") { request, _ in try await self.handle(request) }
        let (bound, binding) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "webhook-receiver")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                              onServerRunning: { binding.yield($0.localAddress?.port ?? 0) }, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            var ports = bound.makeAsyncIterator()
            guard let actual = await ports.next() else { throw GatehouseError(.internal, "the receiver did not start") }
            do {
                let result = try await body(actual)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}

/// Runs `service` in a service group around `body`, then shuts it down gracefully.
private func running<T: Sendable>(_ service: WebhookDeliveryService, _ body: () async throws -> T) async throws -> T {
    let group = ServiceGroup(configuration: .init(services: [service], logger: TestDatabases.logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            let result = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// Waits (without blocking a thread) until `condition` holds; fails the test after `timeout`.
private func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
    throw GatehouseError(.internal, "timed out")
}
