import NIOCore
import NIOPosix

/// A task executor on one thread of its own, for the drain loops of group commits and the
/// statements of SQLite's writer connections.
///
/// A write transaction is a chain of statements, and after each one the writing task waits to
/// be scheduled again. On the shared cooperative pool that wait is behind every queued HTTP
/// request, while the transaction holds the database's write lock; on this thread, which runs
/// nothing else, the next statement starts at once.
final class WriterExecutor: TaskExecutor {
    /// The executor the drain loops of group commits start on.
    static let shared = WriterExecutor()

    /// The thread's event loop (SQLite's writer connections run their statements here).
    let loop: any EventLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
