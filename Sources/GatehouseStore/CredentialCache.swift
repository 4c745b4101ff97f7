import GatehouseCore
import NIOConcurrencyHelpers

/// A small in-process cache of bearer and client look-ups (and of the operator and preset
/// look-ups of agent activation), for the embedded (single-process) SQLite engine only.
///
/// Every write in this process that can change a cached answer — revoking a token, changing
/// or deleting a user, node, client or preset, changing activation settings, switching a
/// feature — bumps a generation and so drops
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
        /// Channel records change more often (every stored event moves their storage
        /// counter), so they have a generation of their own that does not drop credentials.
        var channelGeneration: UInt64 = 0
        var channels: [Int64: Entry<ChannelRecord>] = [:]
        /// Agent activation: operator nodes with their settings, and token-issue targets by
        /// operator, organization and preset (found ones only).
        var activationOperators: [Int64: Entry<ActivationOperator>] = [:]
        var issueTargets: [IssueTargetKey: Entry<IssueTarget>] = [:]
        /// Serial provisioning: a device's content list by CIK hash. Content and group changes
        /// bump a generation of their own; serial changes drop everything (they go through `invalidate`).
        var provisioningGeneration: UInt64 = 0
        var deviceContents: [String: Entry<DeviceContents>] = [:]
    }

    /// A device with the content ids it may see, valid for request times before `stableUntil`
    /// (the next group-membership expiry of its model; nil when none is pending).
    typealias DeviceContents = (device: ProvisionedDevice, contents: [String], stableUntil: Int64?)

    typealias ActivationOperator = (node: Tenant, settings: OperatorSettings)

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
            $0.activationOperators.removeAll(keepingCapacity: true)
            $0.issueTargets.removeAll(keepingCapacity: true)
            $0.channelGeneration &+= 1
            $0.channels.removeAll(keepingCapacity: true)
            $0.provisioningGeneration &+= 1
            $0.deviceContents.removeAll(keepingCapacity: true)
        }
    }

    /// Drops the cached device content lists only (after a content or group change).
    func invalidateProvisioning() {
        state.withLockedValue {
            $0.provisioningGeneration &+= 1
            $0.deviceContents.removeAll(keepingCapacity: true)
        }
    }

    var provisioningGeneration: UInt64 { state.withLockedValue { $0.provisioningGeneration } }

    /// A device's cached content list, if it still holds at request time `at`.
    func deviceContents(_ cikHash: String, at: Int64) -> DeviceContents? {
        guard let found = lookup(\.deviceContents, cikHash, generation: \.provisioningGeneration) else { return nil }
        if let stableUntil = found.stableUntil, at >= stableUntil { return nil }
        return found
    }

    func store(deviceContents value: DeviceContents, for cikHash: String, readAt generation: UInt64) {
        store(value, in: \.deviceContents, for: cikHash, readAt: generation, current: \.provisioningGeneration)
    }

    /// Drops the cached channel records only (after a write that changes a channel but no credential).
    func invalidateChannels() {
        state.withLockedValue {
            $0.channelGeneration &+= 1
            $0.channels.removeAll(keepingCapacity: true)
        }
    }

    var generation: UInt64 { state.withLockedValue { $0.generation } }
    var channelGeneration: UInt64 { state.withLockedValue { $0.channelGeneration } }

    /// A live entry of one of the maps, or nil.
    private func lookup<Key: Hashable, Value>(_ map: KeyPath<State, [Key: Entry<Value>]>, _ key: Key,
                                              generation: KeyPath<State, UInt64> = \.generation) -> Value? {
        let now = ContinuousClock.now
        return state.withLockedValue { state in
            guard let entry = state[keyPath: map][key], entry.generation == state[keyPath: generation], now - entry.storedAt < maxAge else { return nil }
            return entry.value
        }
    }

    /// Stores a value read at `generation` in one of the maps; dropped if a write happened since.
    private func store<Key: Hashable, Value>(_ value: Value, in map: WritableKeyPath<State, [Key: Entry<Value>]>, for key: Key, readAt generation: UInt64,
                                             current: KeyPath<State, UInt64> = \.generation) {
        let now = ContinuousClock.now
        state.withLockedValue { state in
            guard state[keyPath: current] == generation else { return }
            if state[keyPath: map].count >= maxEntries { state[keyPath: map].removeAll(keepingCapacity: true) }
            state[keyPath: map][key] = Entry(value: value, generation: generation, storedAt: now)
        }
    }

    func bearer(_ hash: String) -> BearerContext? { lookup(\.bearers, hash) }

    func store(bearer value: BearerContext, for hash: String, readAt generation: UInt64) {
        store(value, in: \.bearers, for: hash, readAt: generation)
    }

    func client(_ clientId: String) -> (record: APIClientRecord, tenantEnabled: Bool)? { lookup(\.clients, clientId) }

    func store(client value: (record: APIClientRecord, tenantEnabled: Bool), for clientId: String, readAt generation: UInt64) {
        store(value, in: \.clients, for: clientId, readAt: generation)
    }

    /// A license-key, channel- or group-token principal by `<kind>:<hash>`.
    func tiered(_ key: String) -> TieredPrincipal? { lookup(\.tiered, key) }

    func store(tiered value: TieredPrincipal, for key: String, readAt generation: UInt64) {
        store(value, in: \.tiered, for: key, readAt: generation)
    }

    /// A channel record by id.
    func channel(_ id: Int64) -> ChannelRecord? { lookup(\.channels, id, generation: \.channelGeneration) }

    func store(channel value: ChannelRecord, readAt generation: UInt64) {
        store(value, in: \.channels, for: value.id, readAt: generation, current: \.channelGeneration)
    }

    func activationOperator(_ id: Int64) -> ActivationOperator? { lookup(\.activationOperators, id) }

    func store(activationOperator value: ActivationOperator, readAt generation: UInt64) {
        store(value, in: \.activationOperators, for: value.node.id, readAt: generation)
    }

    func issueTarget(_ key: IssueTargetKey) -> IssueTarget? { lookup(\.issueTargets, key) }

    func store(issueTarget value: IssueTarget, for key: IssueTargetKey, readAt generation: UInt64) {
        store(value, in: \.issueTargets, for: key, readAt: generation)
    }
}
