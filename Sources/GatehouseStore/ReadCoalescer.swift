/// Point reads of a server database gathered into multi-key queries.
///
/// On PostgreSQL every query is a round trip and a parse and plan in the server; under load
/// many requests look up a credential or a setting at the same moment. Concurrent `read`s
/// queue, and one query (`IN (…)`) answers everything queued so far, with a few such queries
/// under way at once — the read-side twin of ``GroupCommit``. With one request at a time it
/// is one query per read, as before. Answers are as fresh as a read of their own: nothing is
/// kept once the query has answered.
final class ReadCoalescer<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let reads: GroupCommit<Key, Value?>

    /// `read` answers the keys it found (each distinct key is asked once per batch).
    init(concurrency: Int = 4, maxBatch: Int = 200, read: @escaping @Sendable ([Key]) async throws -> [Key: Value]) {
        reads = GroupCommit(maxBatch: maxBatch, concurrency: concurrency, executor: nil) { keys in
            let found = try await read(Array(Set(keys)))
            return keys.map { .success(found[$0]) }
        }
    }

    /// The value of `key`, nil when there is none.
    func read(_ key: Key) async throws -> Value? {
        try await reads.submit(key)
    }
}
