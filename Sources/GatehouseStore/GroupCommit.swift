import NIOConcurrencyHelpers

/// Group commit for hot writes on a single-writer database.
///
/// Concurrent callers queue their items; one drain loop hands everything queued so far (at
/// most `maxBatch`) to `commit`, which writes the batch in a single transaction and answers
/// each item. Under load one commit carries many writes instead of one, so the writer's
/// per-transaction cost (a lock, a WAL commit, thread hops) is shared; with one request at a
/// time it degrades to one write per transaction. The drain loop runs on `executor` when given
/// (the database's ``Database/writeExecutor``: SQLite's writer thread, where its transactions run), else
/// wherever the runtime puts it (a server database's statements run on their connection's
/// event loop, and a drain pinned to a thread of its own would add a hop to each batch).
///
/// With `concurrency` above 1 that many drain loops may run at once, each with a batch of
/// its own (for a server database, where a commit's time is mostly round trips and several
/// transactions can be under way; the batch must then be safe against concurrent batches,
/// as it must be against other nodes).
final class GroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    typealias Waiter = CheckedContinuation<Output, any Error>
    /// Writes a batch and answers each item, in order. Throwing fails every item of the batch
    /// (the transaction must then have written none of them).
    typealias Commit = @Sendable ([Item]) async throws -> [Result<Output, any Error>]

    private struct State: Sendable {
        var pending: [(Item, Waiter)] = []
        var draining = 0
    }

    private let state = NIOLockedValueBox(State())
    private let maxBatch: Int
    private let concurrency: Int
    private let commit: Commit
    private let executor: (any TaskExecutor)?

    init(maxBatch: Int = 1000, concurrency: Int = 1, executor: (any TaskExecutor)?, commit: @escaping Commit) {
        self.maxBatch = maxBatch
        self.concurrency = max(1, concurrency)
        self.executor = executor
        self.commit = commit
    }

    /// Queues `item`; returns its answer once the transaction holding it has committed.
    func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { (waiter: Waiter) in
            let startDrain = state.withLockedValue { state -> Bool in
                state.pending.append((item, waiter))
                if state.draining >= concurrency { return false }
                state.draining += 1
                return true
            }
            if startDrain { Task(executorPreference: executor) { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLockedValue { state -> [(Item, Waiter)] in
                let batch = Array(state.pending.prefix(maxBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.draining -= 1 }
                return batch
            }
            if batch.isEmpty { return }
            do {
                let results = try await commit(batch.map(\.0))
                precondition(results.count == batch.count, "a group commit must answer every item")
                for ((_, waiter), result) in zip(batch, results) { waiter.resume(with: result) }
            } catch {
                for (_, waiter) in batch { waiter.resume(throwing: error) }
            }
        }
    }
}
