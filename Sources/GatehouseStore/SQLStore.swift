import GatehouseCore
import SQLKit

/// The SQL implementation of Gatehouse's stores, one set of queries for SQLite and PostgreSQL.
///
/// Every query is parameterised (SQLKit `\(bind:)`); every mutation runs in one transaction
/// together with its audit entry.
public struct SQLStore: ManagementStore {
    public let database: any Database
    /// Bearer and client look-ups cached in this process (SQLite only; see ``CredentialCache``).
    let cache: CredentialCache?
    /// Hot look-ups gathered into multi-key queries (PostgreSQL only; see ``CoalescedReads``).
    let coalescedReads: CoalescedReads?
    /// Group commit of new access tokens.
    let tokenBatcher: TokenInsertBatcher
    /// Group commit of new channels (tiered access).
    let channelCreations: GroupCommit<ChannelCreation, ChannelRecord>
    /// Group commit of new activation tokens and their redemptions, together (agent activation).
    let activationWrites: GroupCommit<ActivationWrite, ActivationWritten>
    /// Group commit of serial activations (serial provisioning).
    let serialActivations: GroupCommit<SerialActivationRequest, SerialActivation>
    /// Group commit of seen signed requests (signed onboarding's replay check).
    let signedRequests: GroupCommit<SignedRequestRecord, Bool>
    /// What onboarding calls check, read for the calls that arrive together in one query.
    let onboardingContexts: ReadCoalescer<OnboardingContextQuery, OnboardingContext>
    /// Rings after a commit that queued webhook deliveries (see ``WebhookOutboxSignal``).
    public let webhookOutbox: WebhookOutboxSignal

    /// A store over a running, migrated database.
    public init(database: any Database) {
        self.database = database
        self.cache = database.engine == .sqlite ? CredentialCache() : nil
        self.coalescedReads = database.engine == .postgres ? CoalescedReads(database: database) : nil
        // Drain loops start where the batches are written (SQLite's writer thread).
        let drainExecutor = database.writeExecutor
        self.tokenBatcher = TokenInsertBatcher(database: database)
        self.channelCreations = GroupCommit(executor: drainExecutor) { batch in try await ChannelCreationBatch.commit(database, batch) }
        // SQLite has one writer; on PostgreSQL a few batches are under way at once (their
        // claims lock tokens in id order, as they must against other nodes anyway).
        let outbox = WebhookOutboxSignal()
        self.webhookOutbox = outbox
        // Activation writes: one batch under way on SQLite (one writer), two on PostgreSQL, so
        // that one is answered while the next is written. Measured with
        // bench/agent-activation.sh on two cores (noisy: ±15 % run to run): two loops 606-811
        // pairs/s against 581-650 with one; three make the batches smaller and each pair
        // dearer (597). Batches of good tokens share no lock (RedemptionBatch), so two of them
        // do not queue.
        self.activationWrites = GroupCommit(concurrency: database.engine == .postgres ? 2 : 1, executor: drainExecutor) { batch in
            let (results, queued) = try await ActivationWriteBatch.commit(database, batch)
            outbox.committed(queued)
            return results
        }
        self.serialActivations = GroupCommit(concurrency: database.engine == .postgres ? 4 : 1, executor: drainExecutor) { batch in
            try await SerialActivationBatch.commit(database, batch)
        }
        self.signedRequests = GroupCommit(concurrency: database.engine == .postgres ? 4 : 1, executor: drainExecutor) { batch in
            try await SignedRequestBatch.commit(database, batch)
        }
        self.onboardingContexts = ReadCoalescer(concurrency: database.engine == .postgres ? 4 : 2) { queries in
            try await Self.readOnboardingContexts(database, queries: queries)
        }
    }

    /// Runs a write that may change a cached credential answer, then drops the cache.
    func invalidating<T: Sendable>(_ write: () async throws -> T) async throws -> T {
        defer { cache?.invalidate() }
        return try await write()
    }

    /// Writes an audit entry inside the caller's transaction.
    static func audit(_ db: any SQLDatabase, at: Int64, intent: AuditIntent, action: String, targetType: String, targetId: String, tenantId: Int64?) async throws {
        var path: String?
        if let tenantId {
            path = try await db.raw("SELECT path FROM tenants WHERE id = \(bind: tenantId)").first()?.decode(column: "path", as: String.self)
        }
        try await db.raw("""
            INSERT INTO audit_log (at, actor, action, target_type, target_id, tenant_id, tenant_path, detail)
            VALUES (\(bind: at), \(bind: intent.actor), \(bind: action), \(bind: targetType), \(bind: targetId), \(bind: tenantId), \(bind: path), \(bind: intent.detail))
            """).run()
    }

    /// Keyset paging: fetches `limit + 1` rows to know whether there is a next page.
    static func page<T>(_ rows: [T], limit: Int, id: (T) -> Int64) -> Page<T> {
        if rows.count > limit {
            let items = Array(rows.prefix(limit))
            return Page(items: items, nextCursor: items.last.map { String(id($0)) })
        }
        return Page(items: rows, nextCursor: nil)
    }

    /// `path LIKE 'prefix%'`, with LIKE's wildcards escaped (paths hold only digits and '/').
    static func likePrefix(_ path: String) -> String {
        path.replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
    }
}
