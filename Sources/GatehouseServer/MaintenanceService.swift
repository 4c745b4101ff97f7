import GatehouseCore
import GatehouseStore
import Logging
import ServiceLifecycle

/// Periodic clean-up, run by every node (each run is idempotent): deletes tokens that
/// expired or were revoked more than `retention` seconds ago, stale sign-in counters, and
/// REST-gateway messages nobody fetched within ``EndpointGateway/messageRetention``.
struct MaintenanceService: Service {
    let store: SQLStore
    let clock: any GatehouseClock
    let interval: Duration
    let retention: Int64
    let logger: Logger
    /// Images and clips past their channel's `records_max_age`, and unfinished uploads.
    var media: MediaLibrary? = nil

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                let now = clock.now()
                do {
                    let removed = try await store.purge(before: now - retention, now: now)
                    if removed > 0 { logger.info("maintenance: removed expired credentials", metadata: ["rows": "\(removed)"]) }
                    let events = try await store.purgeExpiredEvents(now: now)
                    if events > 0 { logger.info("maintenance: removed events past their channel's records_max_age", metadata: ["rows": "\(events)"]) }
                    if let removed = try await media?.purge(), removed > 0 {
                        logger.info("maintenance: removed images and clips past their channel's records_max_age", metadata: ["rows": "\(removed)"])
                    }
                    let messages = try await store.purgeMessages(before: now - EndpointGateway.messageRetention)
                    if messages > 0 { logger.info("maintenance: removed gateway messages nobody fetched", metadata: ["rows": "\(messages)"]) }
                } catch {
                    logger.warning("maintenance: clean-up failed; will retry", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
