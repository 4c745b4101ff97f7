import NIOCore
import NIOPosix

/// A sleep whose cancellation frees it at once, for the per-operation timeout that races every
/// PostgreSQL operation.
///
/// `Task.sleep` on Linux keeps a cancelled sleep's task and dispatch timer alive until the
/// deadline would have passed. A 10 s timeout raced by thousands of operations a second so
/// held some 90,000 dead sleeps (about 30 MB of heap, measured with heaptrack) under load.
/// Here the timer is a task scheduled on an event loop; cancelling the sleep removes it from
/// the loop's queue and returns straight away.
enum CancellableSleep {
    /// Returns after `duration`, or throws `CancellationError` as soon as the task is cancelled.
    static func sleep(for duration: Duration) async throws {
        let scheduled = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(duration)) {}
        do {
            try await withTaskCancellationHandler {
                try await scheduled.futureResult.get()
            } onCancel: {
                scheduled.cancel()
            }
        } catch {
            throw CancellationError()
        }
    }
}
