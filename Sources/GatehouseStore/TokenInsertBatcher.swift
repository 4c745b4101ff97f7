import GatehouseCore
import SQLKit

/// Group commit for the hottest write, new access tokens (every refresh grant makes one):
/// everything queued is written in one transaction with multi-row `INSERT`s. A failed batch
/// fails every request in it, and nothing of it is written.
final class TokenInsertBatcher: Sendable {
    /// Rows per INSERT statement (10 parameters each; well under SQLite's and PostgreSQL's limits).
    static let rowsPerStatement = 200
    private let group: GroupCommit<AccessTokenRecord, Void>

    init(database: any Database) {
        group = GroupCommit(executor: database.writeExecutor) { tokens in
            try await database.transaction { db in
                var start = 0
                while start < tokens.count {
                    let chunk = tokens[start..<min(start + Self.rowsPerStatement, tokens.count)]
                    try await db.raw(Self.insert(chunk)).run()
                    start += chunk.count
                }
            }
            return tokens.map { _ in .success(()) }
        }
    }

    /// Inserts `token`; returns once the transaction that holds it has committed.
    func insert(_ token: AccessTokenRecord) async throws {
        try await group.submit(token)
    }

    static func insert(_ tokens: ArraySlice<AccessTokenRecord>) -> SQLQueryString {
        MultiRowSQL.rows("INSERT INTO access_tokens (token_hash, kind, user_id, expires_at, revoked_at, created_at, client_id, scope, refresh_id, minted_by) VALUES ",
                         tokens) { token in
            [token.tokenHash, token.kind.rawValue, token.userId, token.expiresAt, token.revokedAt, token.createdAt,
             token.clientId, SQLStore.scopesText(token.scopes), token.refreshId, token.mintedBy]
        }
    }
}
