import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// Operators' webhooks and their delivery queue, run on both engines.
enum WebhookContract {
    static let now: Int64 = 1_700_000_000
    static let audit = AuditIntent(actor: "test")
    static let payload = #"{"camera":{"id":7,"name":"front door"}}"#

    static func operatorNode(_ store: SQLStore, _ key: String) async throws -> Int64 {
        try await store.createTenant(NewTenant(key: key, kind: .distributor, parentId: Management.platformTenantId, name: key),
                                     key: key, at: now, audit: audit).id
    }

    static func hook(_ store: SQLStore, _ operatorId: Int64, _ events: [WebhookEvent], vault: SecretVault? = nil) async throws -> CreatedWebhook {
        try await store.createWebhook(operatorId: operatorId, url: "https://hooks.example.com/gatehouse", events: events,
                                      vault: try vault ?? SecretVault(keyData: SecretVault.generateKeyData()), at: now, audit: audit)
    }

    static func count(_ database: any Database, _ sql: String) async throws -> Int64 {
        try await database.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: sql)").first()?.decode(column: "n", as: Int64.self) ?? -1
        }
    }

    /// An event queued in a transaction that then fails is not queued; in one that commits it is.
    static func enqueueIsPartOfTheTransaction(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let op = try await operatorNode(store, "op-a")
            _ = try await hook(store, op, [.cameraActivated])
            await #expect(throws: GatehouseError.self) {
                try await database.transaction { db in
                    let ids = try await SQLStore.enqueueWebhookEvent(db, operatorId: op, event: .cameraActivated, payload: payload, at: now)
                    #expect(ids.count == 1)
                    throw GatehouseError(.conflict, "the change that caused the event failed")
                }
            }
            #expect(try await count(database, "webhook_deliveries") == 0)
            #expect(try await store.claimDueWebhookDeliveries(now: now + 3600, limit: 10).isEmpty)

            let ids = try await database.transaction { db in
                try await SQLStore.enqueueWebhookEvent(db, operatorId: op, event: .cameraActivated, payload: payload, at: now)
            }
            #expect(ids.count == 1)
            #expect(try await count(database, "webhook_deliveries") == 1)
            let delivery = try #require(try await store.webhookDelivery(id: ids[0]))
            #expect(delivery.status == .pending && delivery.attempts == 0 && delivery.nextAttemptAt == now && delivery.payload == payload)
            // A payload must be a JSON object (it becomes the body's `data`).
            await #expect(throws: GatehouseError.self) {
                try await store.enqueueWebhookEvent(operatorId: op, event: .cameraActivated, payload: "not json", at: now)
            }
        }
    }

    /// One delivery per webhook of the operator subscribed to the event, and none for others.
    static func enqueueOnlyForSubscribers(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let op = try await operatorNode(store, "op-a"), other = try await operatorNode(store, "op-b")
            let activated = try await hook(store, op, [.cameraActivated])
            let both = try await hook(store, op, [.tokenIssued, .cameraActivated])
            _ = try await hook(store, op, [.cameraDeactivated])
            _ = try await hook(store, other, [.cameraActivated])
            #expect(try await store.webhooks(operatorId: op).map(\.events) == [[.cameraActivated], [.tokenIssued, .cameraActivated], [.cameraDeactivated]])

            let ids = try await store.enqueueWebhookEvent(operatorId: op, event: .cameraActivated, payload: payload, at: now)
            #expect(ids.count == 2)
            let claimed = try await store.claimDueWebhookDeliveries(now: now, limit: 10)
            #expect(Set(claimed.map(\.delivery.webhookId)) == [activated.webhook.id, both.webhook.id])
            #expect(claimed.allSatisfy { $0.delivery.event == .cameraActivated && $0.url == "https://hooks.example.com/gatehouse" })

            #expect(try await store.enqueueWebhookEvent(operatorId: op, event: .tokenIssued, payload: payload, at: now) .count == 1)
            #expect(try await store.enqueueWebhookEvent(operatorId: other, event: .tokenIssued, payload: payload, at: now).isEmpty)
            #expect(try await count(database, "webhook_deliveries") == 3)
        }
    }

    /// Claimers racing (on PostgreSQL: on several connections) never get one delivery twice,
    /// together they get every due one, and a claimed delivery is due again only when its
    /// lease runs out (a node that died mid-send).
    static func concurrentClaimersNeverShare(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let op = try await operatorNode(store, "op-a")
            _ = try await hook(store, op, [.cameraActivated])
            _ = try await hook(store, op, [.cameraActivated])
            for _ in 0..<30 { try await store.enqueueWebhookEvent(operatorId: op, event: .cameraActivated, payload: payload, at: now) }

            let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        var mine: [Int64] = []
                        while true {
                            let batch = try await store.claimDueWebhookDeliveries(now: now, limit: 3, lease: 60)
                            if batch.isEmpty { return mine }
                            mine += batch.map(\.delivery.id)
                            #expect(batch.allSatisfy { $0.delivery.attempts == 1 })
                        }
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0 += $1 }
            }
            #expect(claims.count == 60)
            #expect(Set(claims).count == 60)
            #expect(try await store.claimDueWebhookDeliveries(now: now + 59, limit: 100).isEmpty)
            let again = try await store.claimDueWebhookDeliveries(now: now + 60, limit: 100)
            #expect(Set(again.map(\.delivery.id)) == Set(claims))
            #expect(again.allSatisfy { $0.delivery.attempts == 2 })
        }
    }

    /// A failed attempt is due again at the time given (the backoff), with its error kept;
    /// a delivered one is never claimed again.
    static func failedIsRetriedAfterBackoff(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let op = try await operatorNode(store, "op-a")
            _ = try await hook(store, op, [.tokenIssued])
            let id = try #require(try await store.enqueueWebhookEvent(operatorId: op, event: .tokenIssued, payload: payload, at: now).first)
            let backoff = WebhookBackoff(baseSeconds: 2, jitter: 0)

            var claimed = try #require(try await store.claimDueWebhookDeliveries(now: now, limit: 5).first)
            #expect(claimed.delivery.id == id && claimed.delivery.attempts == 1)
            try await store.markWebhookFailed(id: id, error: "HTTP 500", nextAttemptAt: now + backoff.delay(afterAttempt: 1), giveUp: false)
            var stored = try #require(try await store.webhookDelivery(id: id))
            #expect(stored.status == .pending && stored.lastError == "HTTP 500" && stored.nextAttemptAt == now + 2)
            #expect(try await store.claimDueWebhookDeliveries(now: now + 1, limit: 5).isEmpty)

            claimed = try #require(try await store.claimDueWebhookDeliveries(now: now + 2, limit: 5).first)
            #expect(claimed.delivery.attempts == 2)
            try await store.markWebhookFailed(id: id, error: "connection refused", nextAttemptAt: now + 2 + backoff.delay(afterAttempt: 2), giveUp: false)
            #expect(try await store.claimDueWebhookDeliveries(now: now + 5, limit: 5).isEmpty)
            claimed = try #require(try await store.claimDueWebhookDeliveries(now: now + 6, limit: 5).first)
            #expect(claimed.delivery.attempts == 3)

            try await store.markWebhookDelivered(id: id, at: now + 6)
            stored = try #require(try await store.webhookDelivery(id: id))
            #expect(stored.status == .delivered && stored.deliveredAt == now + 6 && stored.lastError == nil && stored.attempts == 3)
            #expect(try await store.claimDueWebhookDeliveries(now: now + 1_000_000, limit: 5).isEmpty)
            // A late failure report (a lease that ran out meanwhile) does not undo a delivery.
            try await store.markWebhookFailed(id: id, error: "late", nextAttemptAt: now, giveUp: false)
            #expect(try await store.webhookDelivery(id: id)?.status == .delivered)
        }
    }

    /// After the last attempt a delivery is given up: kept with its last error, never claimed again.
    static func givenUpAfterMaxAttempts(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let op = try await operatorNode(store, "op-a")
            let created = try await hook(store, op, [.cameraDeactivated])
            let id = try #require(try await store.enqueueWebhookEvent(operatorId: op, event: .cameraDeactivated, payload: payload, at: now).first)
            let backoff = WebhookBackoff(baseSeconds: 1, maxAttempts: 3, jitter: 0)
            var clock = now, attempts = 0
            while let claimed = try await store.claimDueWebhookDeliveries(now: clock, limit: 5).first {
                attempts = claimed.delivery.attempts
                let giveUp = backoff.givesUp(afterAttempt: attempts)
                try await store.markWebhookFailed(id: id, error: "HTTP 503 (attempt \(attempts))", nextAttemptAt: clock + backoff.delay(afterAttempt: attempts), giveUp: giveUp)
                clock += backoff.delay(afterAttempt: attempts)
                #expect(attempts <= 3)
                if attempts > 3 { break }
            }
            #expect(attempts == 3)
            let stored = try #require(try await store.webhookDelivery(id: id))
            #expect(stored.status == .givenUp && stored.nextAttemptAt == nil && stored.attempts == 3 && stored.lastError == "HTTP 503 (attempt 3)")
            #expect(try await store.claimDueWebhookDeliveries(now: now + 100 * 365 * 86400, limit: 5).isEmpty)
            #expect(try await store.webhookDeliveries(webhookId: created.webhook.id).map(\.id) == [id])
        }
    }

    /// Deleting a webhook drops its queued deliveries (and only its own); only its operator may delete it.
    static func deleteDropsDeliveries(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let op = try await operatorNode(store, "op-a"), other = try await operatorNode(store, "op-b")
            let doomed = try await hook(store, op, [.cameraActivated])
            let kept = try await hook(store, op, [.cameraActivated])
            for _ in 0..<3 { try await store.enqueueWebhookEvent(operatorId: op, event: .cameraActivated, payload: payload, at: now) }
            #expect(try await count(database, "webhook_deliveries") == 6)

            await #expect(throws: GatehouseError.notFound("webhook", doomed.webhook.id)) {
                try await store.deleteWebhook(id: doomed.webhook.id, operatorId: other, at: now, audit: audit)
            }
            try await store.deleteWebhook(id: doomed.webhook.id, operatorId: op, at: now, audit: audit)
            #expect(try await store.webhook(id: doomed.webhook.id) == nil)
            #expect(try await store.webhooks(operatorId: op).map(\.id) == [kept.webhook.id])
            #expect(try await store.webhookDeliveries(webhookId: doomed.webhook.id).isEmpty)
            #expect(try await count(database, "webhook_deliveries") == 3)
            #expect(try await count(database, "audit_log WHERE action = 'webhook.delete'") == 1)
        }
    }

    /// The signing secret is generated (`whsec_`, 256 bits), returned once, and stored only
    /// sealed for its own row; URLs are validated.
    static func secretIsNotStoredInClear(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let vault = try SecretVault(keyData: SecretVault.generateKeyData())
            let op = try await operatorNode(store, "op-a")
            let first = try await hook(store, op, [.cameraActivated], vault: vault)
            let second = try await hook(store, op, [.cameraActivated], vault: vault)
            #expect(first.secret.hasPrefix("whsec_") && first.secret.count == 6 + 43 && first.secret != second.secret)
            try await store.enqueueWebhookEvent(operatorId: op, event: .cameraActivated, payload: payload, at: now)

            let dump = try await database.withConnection { db in
                var text = ""
                for table in ["webhooks", "webhook_deliveries", "audit_log"] {
                    for row in try await db.raw("SELECT * FROM \(unsafeRaw: table)").all() {
                        for column in row.allColumns { text += ((try? row.decode(column: column, as: String?.self)) ?? nil) ?? "" }
                    }
                }
                return text
            }
            #expect(!dump.contains(first.secret) && !dump.contains(second.secret))
            #expect(!dump.contains(String(first.secret.dropFirst(6))))

            let claimed = try await store.claimDueWebhookDeliveries(now: now, limit: 5).sorted { $0.delivery.webhookId < $1.delivery.webhookId }
            #expect(claimed.count == 2)
            #expect(try vault.open(claimed[0].secretSealed, context: Webhook.secretContext(id: first.webhook.id)) == first.secret)
            // Sealed for its own row: it does not open as another webhook's secret, nor under another key.
            #expect(throws: GatehouseError.self) { try vault.open(claimed[0].secretSealed, context: Webhook.secretContext(id: second.webhook.id)) }
            let otherVault = try SecretVault(keyData: SecretVault.generateKeyData())
            #expect(throws: GatehouseError.self) { try otherVault.open(claimed[0].secretSealed, context: Webhook.secretContext(id: first.webhook.id)) }

            for bad in ["ftp://hooks.example.com/x", "https://", "/relative/path", "https://user:pw@hooks.example.com/", "https://hooks.example.com/a b",
                        "https://hooks.example.com/" + String(repeating: "x", count: 2048), ""] {
                await #expect(throws: GatehouseError.self, "\(bad.prefix(40))") {
                    try await store.createWebhook(operatorId: op, url: bad, events: [.cameraActivated], vault: vault, at: now, audit: audit)
                }
            }
            await #expect(throws: GatehouseError.self) {
                try await store.createWebhook(operatorId: op, url: "https://hooks.example.com/", events: [], vault: vault, at: now, audit: audit)
            }
            await #expect(throws: GatehouseError.notFound("operator", 999_999)) {
                try await store.createWebhook(operatorId: 999_999, url: "https://hooks.example.com/", events: [.tokenIssued], vault: vault, at: now, audit: audit)
            }
            #expect(try await store.webhooks(operatorId: op).count == 2)
        }
    }
}
