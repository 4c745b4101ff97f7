import GatehouseCore
import GatehouseStore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Counts tiered-access API calls and bytes served per account in memory, so that counting
/// costs no database write per request; ``UsageFlushService`` adds the counts to the
/// database every second (and at shutdown). Several nodes add their own counts.
final class UsageMeter: Sendable {
    private let counts = NIOLockedValueBox([Int64: (apiCalls: Int64, bandwidthBytes: Int64)]())

    func record(account: Int64, bytes: Int) {
        counts.withLockedValue { counts in
            let current = counts[account] ?? (0, 0)
            counts[account] = (current.apiCalls + 1, current.bandwidthBytes + Int64(bytes))
        }
    }

    /// Takes the counts gathered so far, leaving zero.
    func drain() -> [Int64: (apiCalls: Int64, bandwidthBytes: Int64)] {
        counts.withLockedValue { counts in
            defer { counts.removeAll(keepingCapacity: true) }
            return counts
        }
    }

    /// Puts drained counts back (after a failed flush), so that none are lost.
    func restore(_ drained: [Int64: (apiCalls: Int64, bandwidthBytes: Int64)]) {
        counts.withLockedValue { counts in
            for (account, delta) in drained {
                let current = counts[account] ?? (0, 0)
                counts[account] = (current.apiCalls + delta.apiCalls, current.bandwidthBytes + delta.bandwidthBytes)
            }
        }
    }
}

/// Flushes the ``UsageMeter`` to the database periodically and once more at shutdown.
struct UsageFlushService: Service {
    let meter: UsageMeter
    let store: SQLStore
    let clock: any GatehouseClock
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { break }
                await flush()
            }
        }
        await flush()
    }

    func flush() async {
        let drained = meter.drain()
        guard !drained.isEmpty else { return }
        do {
            try await store.addUsage(drained, month: Int64.usageMonth(of: clock.now()))
        } catch {
            meter.restore(drained)
            logger.warning("usage counters not flushed; will retry", metadata: ["error": "\(error)"])
        }
    }
}
