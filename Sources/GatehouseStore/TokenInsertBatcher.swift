import GatehouseCore
import NIOConcurrencyHelpers
import SQLKit

/// Group commit for the hottest write, new access tokens (every refresh grant makes one).
///
/// Concurrent inserts queue up; one drain loop writes everything queued so far in a single
/// transaction (multi-row `INSERT`), then answers each caller. Under load a commit carries
/// many tokens instead of one, so the single SQLite writer is no longer the limit; with one
/// request at a time it degrades to one insert per transaction. A failed batch fails every
/// request in it, and nothing of it is written.
final class TokenInsertBatcher: Sendable {
    typealias Waiter = CheckedContinuation<Void, any Error>

    struct State: Sendable {
        var pending: [(AccessTokenRecord, Waiter)] = []
        var draining = false
    }

    let database: any Database
    /// Rows per INSERT statement (10 parameters each; well under SQLite's and PostgreSQL's limits).
    let rowsPerStatement = 200
    private let state = NIOLockedValueBox(State())

    init(database: any Database) {
        self.database = database
    }

    /// Inserts `token`; returns once the transaction that holds it has committed.
    func insert(_ token: AccessTokenRecord) async throws {
        try await withCheckedThrowingContinuation { (waiter: Waiter) in
            let startDrain = state.withLockedValue { state -> Bool in
                state.pending.append((token, waiter))
                if state.draining { return false }
                state.draining = true
                return true
            }
            if startDrain { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLockedValue { state -> [(AccessTokenRecord, Waiter)] in
                let batch = state.pending
                state.pending.removeAll(keepingCapacity: true)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            let tokens = batch.map(\.0)
            do {
                try await database.transaction { db in
                    var start = 0
                    while start < tokens.count {
                        let chunk = tokens[start..<min(start + self.rowsPerStatement, tokens.count)]
                        try await db.raw(Self.insert(chunk)).run()
                        start += chunk.count
                    }
                }
                for (_, waiter) in batch { waiter.resume() }
            } catch {
                for (_, waiter) in batch { waiter.resume(throwing: error) }
            }
        }
    }

    static func insert(_ tokens: ArraySlice<AccessTokenRecord>) -> SQLQueryString {
        var query = SQLQueryString(
            "INSERT INTO access_tokens (token_hash, kind, user_id, expires_at, revoked_at, created_at, client_id, scope, refresh_id, minted_by) VALUES ")
        for (index, token) in tokens.enumerated() {
            query.appendInterpolation(unsafeRaw: index == 0 ? "(" : ", (")
            let values: [any Encodable & Sendable] = [
                token.tokenHash, token.kind.rawValue, token.userId, token.expiresAt, token.revokedAt, token.createdAt,
                token.clientId, SQLStore.scopesText(token.scopes), token.refreshId, token.mintedBy,
            ]
            query.appendInterpolation(binds: values)
            query.appendInterpolation(unsafeRaw: ")")
        }
        return query
    }
}
