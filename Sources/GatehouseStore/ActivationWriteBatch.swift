import GatehouseCore
import SQLKit

/// A write of the agent-activation hot path, queued for group commit.
enum ActivationWrite: Sendable {
    case issue(TokenIssue)
    case redeem(RedemptionRequest)
}

/// The answer to an ``ActivationWrite``.
enum ActivationWritten: Sendable {
    case issued(ActivationTokenRecord)
    case redeemed(Redemption)
}

/// A token by its operator and look-up hash (the key of `activation_tokens`).
struct TokenKey: Hashable {
    let operatorId: Int64
    let tokenHash: String
    init(_ operatorId: Int64, _ tokenHash: String) {
        self.operatorId = operatorId
        self.tokenHash = tokenHash
    }
}

/// An audit entry written with others in one multi-row `INSERT`.
struct AuditRow: Sendable {
    var at: Int64
    var actor: String
    var action: String
    var targetType: String
    var targetId: String
    var tenantId: Int64?
    var tenantPath: String?
    var detail: String?
}

/// Webhook events gathered by a batch, queued together at its end. The payload is made only
/// when a webhook of the operator takes the event (most operators have none).
typealias QueuedEvent = (operatorId: Int64, event: WebhookEvent, payload: @Sendable () -> String, at: Int64)

/// Token issues and redemptions queued together are written in one transaction: the new
/// tokens (``TokenIssueBatch``), then the redemptions (``RedemptionBatch``), then the audit
/// entries and webhook deliveries of both. On the single writer of SQLite (and the two
/// drain loops per node on PostgreSQL) this keeps the statements per activation few and the
/// transactions large. Answers each write, and how many webhook deliveries were queued.
enum ActivationWriteBatch {
    static func commit(_ database: any Database, _ batch: [ActivationWrite]) async throws -> (results: [Result<ActivationWritten, any Error>], queued: Int) {
        var issues: [(Int, TokenIssue)] = [], redemptions: [(Int, RedemptionRequest)] = []
        for (index, write) in batch.enumerated() {
            switch write {
            case .issue(let issue): issues.append((index, issue))
            case .redeem(let request): redemptions.append((index, request))
            }
        }
        let engine = database.engine
        let (issueList, redemptionList) = (issues, redemptions)
        return try await database.batchTransaction { db in
            var audits: [AuditRow] = []
            var events: [QueuedEvent] = []
            var results = [Result<ActivationWritten, any Error>?](repeating: nil, count: batch.count)
            let issued = try await TokenIssueBatch.write(db, issueList.map(\.1), audits: &audits, events: &events)
            for ((index, _), result) in zip(issueList, issued) { results[index] = result.map { .issued($0) } }
            let redeemed = try await RedemptionBatch.write(db, engine, redemptionList.map(\.1), audits: &audits, events: &events)
            for ((index, _), result) in zip(redemptionList, redeemed) { results[index] = result.map { .redeemed($0) } }
            let queued = try await SQLStore.writeAudits(db, audits, queueing: events)
            return (results.map { $0! }, queued)
        }
    }
}
