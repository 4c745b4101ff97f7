import Foundation
import GatehouseCore
import SQLKit

/// Operators' webhooks and their delivery queue (a transactional outbox).
///
/// An event is queued by ``enqueueWebhookEvent(_:operatorId:event:payload:at:)`` inside the
/// transaction of the change that caused it, so it is recorded if and only if the change is.
/// Senders claim due deliveries with a lease (``claimDueWebhookDeliveries(now:limit:lease:)``):
/// several nodes on one database never send one delivery at the same moment, and a node that
/// dies mid-send only delays it until its lease runs out (delivery is at least once).
extension SQLStore {
    /// `next_attempt_at` of a delivery that was given up: never due again.
    public static let webhookGivenUp = Int64.max

    static let webhookColumns = "id, operator_id, url, events, created_at"
    static let webhookDeliveryColumns = "d.id, d.webhook_id, d.event, d.payload, d.attempts, d.next_attempt_at, d.delivered_at, d.last_error, d.created_at"

    static func webhook(from row: any SQLRow) throws -> Webhook {
        Webhook(
            id: try row.decode(column: "id", as: Int64.self),
            operatorId: try row.decode(column: "operator_id", as: Int64.self),
            url: try row.decode(column: "url", as: String.self),
            events: WebhookEvent.decode(try row.decode(column: "events", as: String.self)),
            createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    static func webhookDelivery(from row: any SQLRow) throws -> WebhookDelivery {
        guard let event = WebhookEvent(rawValue: try row.decode(column: "event", as: String.self)) else {
            throw GatehouseError(.internal, "unknown webhook event in the database")
        }
        let next = try row.decode(column: "next_attempt_at", as: Int64.self)
        let deliveredAt = try row.decode(column: "delivered_at", as: Int64?.self)
        let status: WebhookDeliveryStatus = deliveredAt != nil ? .delivered : next == webhookGivenUp ? .givenUp : .pending
        return WebhookDelivery(
            id: try row.decode(column: "id", as: Int64.self),
            webhookId: try row.decode(column: "webhook_id", as: Int64.self),
            event: event,
            payload: try row.decode(column: "payload", as: String.self),
            attempts: Int(try row.decode(column: "attempts", as: Int64.self)),
            status: status,
            nextAttemptAt: status == .pending ? next : nil,
            deliveredAt: deliveredAt,
            lastError: try row.decode(column: "last_error", as: String?.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    // MARK: Webhooks

    /// Creates a webhook for `operatorId` with a new CSPRNG secret (`whsec_…`), stored sealed
    /// under the master key and returned this once. The URL and events are validated here.
    public func createWebhook(operatorId: Int64, url: String, events: [WebhookEvent], vault: SecretVault,
                              at: Int64, audit: AuditIntent) async throws -> CreatedWebhook {
        let url = try WebhookValidation.url(url)
        let events = try WebhookValidation.events(events.map(\.rawValue))
        let secret = Secrets.token(prefix: "whsec_", byteCount: 32)
        return try await database.transaction { db in
            guard try await Self.fetchTenant(db, id: operatorId) != nil else { throw GatehouseError.notFound("operator", operatorId) }
            guard let row = try await db.raw("""
                INSERT INTO webhooks (operator_id, url, secret_sealed, events, created_at)
                VALUES (\(bind: operatorId), \(bind: url), '', \(bind: WebhookEvent.encode(events)), \(bind: at))
                RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let id = try row.decode(column: "id", as: Int64.self)
            // Sealed for its own row, so the sealed value does not open anywhere else.
            let sealed = try vault.seal(secret, context: Webhook.secretContext(id: id))
            try await db.raw("UPDATE webhooks SET secret_sealed = \(bind: sealed) WHERE id = \(bind: id)").run()
            try await Self.audit(db, at: at, intent: audit, action: "webhook.create", targetType: "webhook", targetId: String(id), tenantId: operatorId)
            return CreatedWebhook(webhook: Webhook(id: id, operatorId: operatorId, url: url, events: events, createdAt: at), secret: secret)
        }
    }

    /// One webhook, or nil.
    public func webhook(id: Int64) async throws -> Webhook? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.webhookColumns) FROM webhooks WHERE id = \(bind: id)").first().map(Self.webhook(from:))
        }
    }

    /// An operator's webhooks, oldest first.
    public func webhooks(operatorId: Int64) async throws -> [Webhook] {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.webhookColumns) FROM webhooks WHERE operator_id = \(bind: operatorId) ORDER BY id")
                .all().map(Self.webhook(from:))
        }
    }

    /// Deletes an operator's webhook and every delivery still queued for it;
    /// `not_found` when the webhook is not this operator's.
    public func deleteWebhook(id: Int64, operatorId: Int64, at: Int64, audit: AuditIntent) async throws {
        try await database.transaction { db in
            guard try await db.raw("SELECT id FROM webhooks WHERE id = \(bind: id) AND operator_id = \(bind: operatorId)").first() != nil else {
                throw GatehouseError.notFound("webhook", id)
            }
            // The foreign key cascades too; deleting explicitly does not depend on it.
            try await db.raw("DELETE FROM webhook_deliveries WHERE webhook_id = \(bind: id)").run()
            try await db.raw("DELETE FROM webhooks WHERE id = \(bind: id)").run()
            try await Self.audit(db, at: at, intent: audit, action: "webhook.delete", targetType: "webhook", targetId: String(id), tenantId: operatorId)
        }
    }

    // MARK: Queue

    /// Queues `event` for every webhook of `operatorId` subscribed to it, inside the caller's
    /// transaction `db` (so the event is recorded atomically with the change that caused it).
    /// `payload` must be a JSON object; it becomes the `data` of the body sent. The caller
    /// audits its change as usual. Answers the ids of the queued deliveries (none when no
    /// webhook is subscribed).
    @discardableResult
    public static func enqueueWebhookEvent(_ db: any SQLDatabase, operatorId: Int64, event: WebhookEvent, payload: String,
                                           at: Int64) async throws -> [Int64] {
        guard (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) is [String: Any] else {
            throw GatehouseError.invalid("payload", "a webhook payload must be a JSON object")
        }
        let hooks = try await db.raw("SELECT id, events FROM webhooks WHERE operator_id = \(bind: operatorId) ORDER BY id").all()
        var ids: [Int64] = []
        for hook in hooks where WebhookEvent.decode(try hook.decode(column: "events", as: String.self)).contains(event) {
            let webhookId = try hook.decode(column: "id", as: Int64.self)
            guard let row = try await db.raw("""
                INSERT INTO webhook_deliveries (webhook_id, event, payload, attempts, next_attempt_at, created_at)
                VALUES (\(bind: webhookId), \(bind: event.rawValue), \(bind: payload), 0, \(bind: at), \(bind: at))
                RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            ids.append(try row.decode(column: "id", as: Int64.self))
        }
        return ids
    }

    /// Writes a batch's audit entries and queues its events, inside the caller's
    /// transaction: one read of the webhooks of every operator named, then multi-row inserts
    /// of the deliveries. Payloads are JSON objects made by Gatehouse itself (``JSONText``).
    ///
    /// On PostgreSQL the audit entries share the webhook read's round trip, as a
    /// data-modifying `WITH` of one prepared statement; elsewhere they are multi-row inserts
    /// of 100 rows. Answers how many deliveries were queued.
    @discardableResult
    static func writeAudits(_ db: any SQLDatabase, _ audits: [AuditRow], queueing events: [QueuedEvent]) async throws -> Int {
        let operators = Set(events.map(\.operatorId)).sorted()
        let hookRows: [any SQLRow]
        if let postgres = db as? GuardedPostgresSQL {
            guard !audits.isEmpty || !operators.isEmpty else { return 0 }
            hookRows = try await postgres.rows(of: PostgresActivationStatements.AuditAndWebhooks(audits: audits, operators: operators))
        } else {
            for chunk in audits.chunked(100) {
                try await db.raw(MultiRowSQL.rows("INSERT INTO audit_log (at, actor, action, target_type, target_id, tenant_id, tenant_path, detail) VALUES ",
                                                  chunk) { [$0.at, $0.actor, $0.action, $0.targetType, $0.targetId, $0.tenantId, $0.tenantPath, $0.detail] }).run()
            }
            guard !operators.isEmpty else { return 0 }
            hookRows = try await db.raw("""
                SELECT id, operator_id, events FROM webhooks WHERE operator_id IN (\(unsafeRaw: operators.map(String.init).joined(separator: ",")))
                """).all()
        }
        var hooks: [Int64: [(id: Int64, events: [WebhookEvent])]] = [:]
        for row in hookRows {
            hooks[try row.decode(column: "operator_id", as: Int64.self), default: []].append(
                (try row.decode(column: "id", as: Int64.self), WebhookEvent.decode(try row.decode(column: "events", as: String.self))))
        }
        for operatorId in hooks.keys { hooks[operatorId]!.sort { $0.id < $1.id } }
        guard !hooks.isEmpty else { return 0 }
        var deliveries: [(webhookId: Int64, event: WebhookEvent, payload: String, at: Int64)] = []
        for event in events {
            var payload: String?
            for hook in hooks[event.operatorId] ?? [] where hook.events.contains(event.event) {
                if payload == nil { payload = event.payload() }
                deliveries.append((hook.id, event.event, payload!, event.at))
            }
        }
        for chunk in deliveries.chunked(100) {
            try await db.raw(MultiRowSQL.rows("INSERT INTO webhook_deliveries (webhook_id, event, payload, attempts, next_attempt_at, created_at) VALUES ",
                                                  chunk) { [$0.webhookId, $0.event.rawValue, $0.payload, Int64(0), $0.at, $0.at] }).run()
        }
        return deliveries.count
    }

    /// ``enqueueWebhookEvent(_:operatorId:event:payload:at:)`` in a transaction of its own,
    /// for events not tied to another change.
    @discardableResult
    public func enqueueWebhookEvent(operatorId: Int64, event: WebhookEvent, payload: String, at: Int64) async throws -> [Int64] {
        let ids = try await database.transaction { db in
            try await Self.enqueueWebhookEvent(db, operatorId: operatorId, event: event, payload: payload, at: at)
        }
        webhookOutbox.committed(ids.count)
        return ids
    }

    /// Claims up to `limit` deliveries due at `now` (oldest due first) for sending: each one's
    /// attempt count goes up by one and it is not due again until `now + lease`, so no other
    /// claimer (on this node or another) gets it meanwhile. A claimed delivery is settled with
    /// ``markWebhookDelivered(id:at:)`` or ``markWebhookFailed(id:error:nextAttemptAt:giveUp:)``;
    /// if neither happens (the node died), it is due again when the lease runs out.
    public func claimDueWebhookDeliveries(now: Int64, limit: Int, lease: Int64 = 60) async throws -> [ClaimedWebhookDelivery] {
        guard limit > 0 else { return [] }
        // PostgreSQL: concurrent claimers skip each other's rows instead of queueing on them;
        // the outer `next_attempt_at <= now` is re-checked on a row another claimer just
        // took, so it is never returned twice. SQLite serialises writers (BEGIN IMMEDIATE).
        let skipLocked = database.engine == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        let (leased, overflow) = now.addingReportingOverflow(max(lease, 1))
        let until = overflow ? Self.webhookGivenUp - 1 : min(leased, Self.webhookGivenUp - 1)
        return try await database.transaction { db in
            let claimed = try await db.raw("""
                UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = \(bind: until)
                WHERE id IN (SELECT id FROM webhook_deliveries WHERE delivered_at IS NULL AND next_attempt_at <= \(bind: now)
                             ORDER BY next_attempt_at, id LIMIT \(unsafeRaw: String(limit))\(unsafeRaw: skipLocked))
                  AND delivered_at IS NULL AND next_attempt_at <= \(bind: now)
                RETURNING id
                """).all().map { try $0.decode(column: "id", as: Int64.self) }
            guard !claimed.isEmpty else { return [] }
            let ids = claimed.sorted().map(String.init).joined(separator: ",")
            return try await db.raw("""
                SELECT \(unsafeRaw: Self.webhookDeliveryColumns), w.url, w.secret_sealed
                FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                WHERE d.id IN (\(unsafeRaw: ids)) ORDER BY d.id
                """).all().map { row in
                    ClaimedWebhookDelivery(delivery: try Self.webhookDelivery(from: row), url: try row.decode(column: "url", as: String.self),
                                           secretSealed: try row.decode(column: "secret_sealed", as: String.self))
                }
        }
    }

    /// Records that the receiver accepted delivery `id` (a later claim never returns it).
    public func markWebhookDelivered(id: Int64, at: Int64) async throws {
        try await database.transaction { db in
            try await db.raw("""
                UPDATE webhook_deliveries SET delivered_at = \(bind: at), last_error = NULL WHERE id = \(bind: id) AND delivered_at IS NULL
                """).run()
        }
    }

    /// Records a failed attempt of delivery `id`: it is due again at `nextAttemptAt`, or, with
    /// `giveUp`, never again (it stays, with `error`, for the operator to see).
    public func markWebhookFailed(id: Int64, error: String, nextAttemptAt: Int64, giveUp: Bool) async throws {
        let next = giveUp ? Self.webhookGivenUp : nextAttemptAt
        try await database.transaction { db in
            try await db.raw("""
                UPDATE webhook_deliveries SET last_error = \(bind: String(error.prefix(500))), next_attempt_at = \(bind: next)
                WHERE id = \(bind: id) AND delivered_at IS NULL
                """).run()
        }
    }

    /// A webhook's deliveries, newest first.
    public func webhookDeliveries(webhookId: Int64, limit: Int = 100) async throws -> [WebhookDelivery] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.webhookDeliveryColumns) FROM webhook_deliveries d
                WHERE d.webhook_id = \(bind: webhookId) ORDER BY d.id DESC LIMIT \(unsafeRaw: String(max(limit, 0)))
                """).all().map(Self.webhookDelivery(from:))
        }
    }

    /// One delivery, or nil.
    public func webhookDelivery(id: Int64) async throws -> WebhookDelivery? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.webhookDeliveryColumns) FROM webhook_deliveries d WHERE d.id = \(bind: id)")
                .first().map(Self.webhookDelivery(from:))
        }
    }
}
