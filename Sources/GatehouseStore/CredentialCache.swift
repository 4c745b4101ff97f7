import GatehouseCore
import NIOConcurrencyHelpers

/// A small in-process cache of bearer and client look-ups, for the embedded (single-process)
/// SQLite engine only.
///
/// Every write in this process that can change a cached answer — revoking a token, changing
/// or deleting a user, node or client, switching a feature — bumps a generation and so drops
/// every entry at once; entries also expire after `maxAge` so that changes made by another
/// process on the same file (`gatehouse import`) are seen within that time. New tokens never
/// need an invalidation (misses are not cached). On PostgreSQL there is no cache: every check
/// reads the database, so a revocation on one node holds on every node at once.
final class CredentialCache: Sendable {
    struct Entry<Value: Sendable>: Sendable {
        let value: Value
        let generation: UInt64
        let storedAt: ContinuousClock.Instant
    }

    struct State: Sendable {
        var generation: UInt64 = 0
        var bearers: [String: Entry<BearerContext>] = [:]
        var clients: [String: Entry<(record: APIClientRecord, tenantEnabled: Bool)>] = [:]
        var tiered: [String: Entry<TieredPrincipal>] = [:]
    }

    let maxAge: Duration
    let maxEntries: Int
    private let state = NIOLockedValueBox(State())

    init(maxAge: Duration = .seconds(2), maxEntries: Int = 100_000) {
        self.maxAge = maxAge
        self.maxEntries = maxEntries
    }

    /// Drops every entry (after any write that may change a cached answer).
    func invalidate() {
        state.withLockedValue {
            $0.generation &+= 1
            $0.bearers.removeAll(keepingCapacity: true)
            $0.clients.removeAll(keepingCapacity: true)
            $0.tiered.removeAll(keepingCapacity: true)
        }
    }

    var generation: UInt64 { state.withLockedValue { $0.generation } }

    func bearer(_ hash: String) -> BearerContext? {
        let now = ContinuousClock.now
        return state.withLockedValue { state in
            guard let entry = state.bearers[hash], entry.generation == state.generation, now - entry.storedAt < maxAge else { return nil }
            return entry.value
        }
    }

    /// Stores a value read at `generation`; dropped if a write happened since.
    func store(bearer value: BearerContext, for hash: String, readAt generation: UInt64) {
        let now = ContinuousClock.now
        state.withLockedValue { state in
            guard state.generation == generation else { return }
            if state.bearers.count >= maxEntries { state.bearers.removeAll(keepingCapacity: true) }
            state.bearers[hash] = Entry(value: value, generation: generation, storedAt: now)
        }
    }

    func client(_ clientId: String) -> (record: APIClientRecord, tenantEnabled: Bool)? {
        let now = ContinuousClock.now
        return state.withLockedValue { state in
            guard let entry = state.clients[clientId], entry.generation == state.generation, now - entry.storedAt < maxAge else { return nil }
            return entry.value
        }
    }

    func store(client value: (record: APIClientRecord, tenantEnabled: Bool), for clientId: String, readAt generation: UInt64) {
        let now = ContinuousClock.now
        state.withLockedValue { state in
            guard state.generation == generation else { return }
            if state.clients.count >= maxEntries { state.clients.removeAll(keepingCapacity: true) }
            state.clients[clientId] = Entry(value: value, generation: generation, storedAt: now)
        }
    }

    /// A license-key, channel- or group-token principal by `<kind>:<hash>`.
    func tiered(_ key: String) -> TieredPrincipal? {
        let now = ContinuousClock.now
        return state.withLockedValue { state in
            guard let entry = state.tiered[key], entry.generation == state.generation, now - entry.storedAt < maxAge else { return nil }
            return entry.value
        }
    }

    func store(tiered value: TieredPrincipal, for key: String, readAt generation: UInt64) {
        let now = ContinuousClock.now
        state.withLockedValue { state in
            guard state.generation == generation else { return }
            if state.tiered.count >= maxEntries { state.tiered.removeAll(keepingCapacity: true) }
            state.tiered[key] = Entry(value: value, generation: generation, storedAt: now)
        }
    }
}
