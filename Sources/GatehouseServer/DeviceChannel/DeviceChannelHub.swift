import Foundation
import GatehouseCore
import GatehouseStore
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOWebSocket
import ServiceLifecycle

/// This node's side of the device channel: the open WebSockets, the node's heartbeat, the
/// events that reach a device on whichever node holds it, and the checks that close a
/// connection whose credential stopped working.
///
/// Presence lives in the database (``DeviceChannelStore``) so every node sees it; a node
/// whose heartbeat stops (a crash) stops counting its devices online after
/// ``DeviceChannel/nodeStaleAfter`` seconds. Events go through PostgreSQL `NOTIFY` when
/// several nodes may share the database, and straight to this node on SQLite.
final class DeviceChannelHub: Service, Sendable {
    /// This process's node id, shown as `node` in presence and in `welcome`.
    let nodeId: String
    let store: SQLStore
    let channel: DeviceChannel
    let clock: any GatehouseClock
    let logger: Logger
    /// Seconds between pings (the `welcome` frame's `ping_interval`).
    let pingInterval: Int
    /// How often the node checks its connections' credentials and expires commands.
    let checkInterval: Duration
    let heartbeatInterval: Duration
    /// Opens once migrations are done (the hub writes nothing before).
    let ready: @Sendable () -> Bool
    let waiters = CommandWaiters()

    private struct State {
        var connections: [Int64: DeviceConnection] = [:]
        var seen: Set<Int64> = []
        var stopping = false
    }
    private let state = NIOLockedValueBox(State())

    /// Close codes of the channel (see `docs/device-channel.md`).
    enum CloseCode {
        static let goingAway = 1001
        static let credentialRevoked = 4401
        static let replaced = 4409
    }

    init(store: SQLStore, clock: any GatehouseClock, logger: Logger, pingInterval: Int = 20, checkInterval: Duration = .seconds(1),
         heartbeatInterval: Duration = .seconds(5), ready: @escaping @Sendable () -> Bool) {
        self.nodeId = "n-" + Secrets.hex(Secrets.randomBytes(4))
        self.store = store
        self.channel = DeviceChannel(store: store, clock: clock)
        self.clock = clock
        self.logger = logger
        self.pingInterval = pingInterval
        self.checkInterval = checkInterval
        self.heartbeatInterval = heartbeatInterval
        self.ready = ready
    }

    /// The WebSocket settings of the channel's listeners: pings every `pingInterval` seconds
    /// (a connection that does not answer one before the next is closed), 64 KiB frames.
    var webSocketConfiguration: WebSocketServerConfiguration {
        WebSocketServerConfiguration(maxFrameSize: 64 * 1024, autoPing: .enabled(timePeriod: .seconds(pingInterval)), closeTimeout: .seconds(5))
    }

    /// Number of connections open on this node.
    var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    // MARK: Service

    func run() async throws {
        while !ready() {
            try? await Task.sleep(for: .milliseconds(20))
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
        }
        try? await store.nodeHeartbeat(nodeId: nodeId, at: clock.now())
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.loop(every: self.heartbeatInterval) { try await self.beat() } }
                group.addTask { await self.loop(every: self.checkInterval) { try await self.check() } }
                if store.deviceEventsCrossNode {
                    group.addTask {
                        try? await self.store.listenDeviceEvents(ready: { self.resync() }, handle: { await self.handle(event: $0) })
                    }
                }
                await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.stop()
        }
        // Stopped (gracefully or cancelled): this node's devices are no longer online.
        stop()
        try? await store.removeNode(nodeId: nodeId)
        // `goAway()` (the channel closer, first at a graceful stop) ends the loops before the
        // service group reaches this service; a service that ends before its turn stops the
        // group with "a service has finished unexpectedly" and the process exits 1. Wait for
        // the turn (at once when it has come; cancellation ends the wait too).
        try? await gracefulShutdown()
    }

    private func loop(every interval: Duration, _ body: @Sendable () async throws -> Void) async {
        while !Task.isCancelled && !state.withLockedValue({ $0.stopping }) {
            do {
                try await body()
            } catch {
                logger.warning("device channel: periodic work failed; will retry", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Closes every connection with 1001 and refuses new ones (the node is stopping).
    func goAway() {
        stop()
    }

    /// Closes every connection with 1001 and stops the periodic work.
    private func stop() {
        let open = state.withLockedValue { state -> [DeviceConnection] in
            state.stopping = true
            return Array(state.connections.values)
        }
        for connection in open { connection.close(code: CloseCode.goingAway, reason: "server going away") }
    }

    private func beat() async throws {
        let now = clock.now()
        try await store.nodeHeartbeat(nodeId: nodeId, at: now)
        let seen = state.withLockedValue { state -> [Int64] in
            defer { state.seen.removeAll() }
            return Array(state.seen)
        }
        try await store.touch(deviceIds: seen, at: now)
    }

    /// Closes connections whose credential stopped working or that a newer one replaced, and
    /// expires unanswered commands.
    private func check() async throws {
        // Only connections already recorded: one still being recorded has no row yet.
        let open = state.withLockedValue { $0.connections.filter { $0.value.isRecorded }.mapValues(\.connectionId) }
        let checks = try await store.checkConnections(nodeId: nodeId, open)
        for (deviceId, check) in checks where check != .valid {
            guard let connection = state.withLockedValue({ $0.connections[deviceId] }), connection.connectionId == open[deviceId] else { continue }
            if check == .replaced {
                connection.close(code: CloseCode.replaced, reason: "replaced by a newer connection")
            } else {
                logger.info("device channel: credential no longer valid; closing", metadata: ["device": "\(deviceId)"])
                connection.close(code: CloseCode.credentialRevoked, reason: "the credential no longer opens the channel")
            }
        }
        _ = try await store.expireCommands(at: clock.now())
    }

    // MARK: Events

    /// Tells the node holding each device (this one or another) about changes.
    func publish(_ events: [DeviceChannelEvent]) async {
        if store.deviceEventsCrossNode {
            do {
                try await store.publishDeviceEvents(events.map(\.payload))
                return
            } catch {
                logger.warning("device channel: could not publish events; handling them on this node", metadata: ["error": "\(error)"])
            }
        }
        for event in events { await handle(event: event.payload) }
    }

    /// Tells the nodes holding these devices that their desired settings changed (a fleet
    /// change): the ids travel several to a `NOTIFY` payload (PostgreSQL allows 8000 bytes).
    func publishSettings(deviceIds: [Int64]) async {
        var events: [DeviceChannelEvent] = []
        var batch: [Int64] = []
        var length = 0
        for id in deviceIds {
            let digits = String(id).utf8.count + 1
            if length + digits > 7000 {
                events.append(.settingsOf(deviceIds: batch))
                batch.removeAll(keepingCapacity: true)
                length = 0
            }
            batch.append(id)
            length += digits
        }
        if !batch.isEmpty { events.append(.settingsOf(deviceIds: batch)) }
        await publish(events)
    }

    /// Acts on an event published by any node.
    func handle(event payload: String) async {
        guard let event = DeviceChannelEvent(payload: payload) else { return }
        switch event {
        case .settings(let deviceId):
            state.withLockedValue { $0.connections[deviceId] }?.enqueue(.settings)
        case .settingsOf(let deviceIds):
            // The settings of this node's devices among them, read at once, not one query per device.
            // Done apart from the caller (the API answers once the change is committed); a writer
            // skips settings older than what it already sent, so the order does not matter.
            let open = state.withLockedValue { state in deviceIds.compactMap { state.connections[$0] } }
            guard !open.isEmpty else { return }
            let store = self.store
            Task {
                do {
                    let settings = try await store.settings(deviceIds: open.map(\.device.deviceId))
                    for connection in open {
                        connection.enqueue(settings[connection.device.deviceId].map { .knownSettings($0) } ?? .settings)
                    }
                } catch {
                    for connection in open { connection.enqueue(.settings) }
                }
            }
        case .commands(let deviceId):
            state.withLockedValue { $0.connections[deviceId] }?.enqueue(.commands)
        case .commandDone(let commandId):
            waiters.signal(commandId: commandId)
        case .replaced(let deviceId, let connectionId):
            if let connection = state.withLockedValue({ $0.connections[deviceId] }), connection.connectionId == connectionId {
                connection.close(code: CloseCode.replaced, reason: "replaced by a newer connection")
            }
        }
    }

    /// After the event subscription was (re)established: catch up with what may have been missed.
    private func resync() {
        for connection in state.withLockedValue({ Array($0.connections.values) }) {
            connection.enqueue(.settings)
            connection.enqueue(.commands)
        }
    }

    // MARK: Connections

    /// Registers a new connection; a connection of the same device on this node is replaced.
    func open(_ device: ChannelDevice) -> DeviceConnection? {
        let connection = DeviceConnection(device: device, connectionId: UUID().uuidString.lowercased())
        let (accepted, replaced) = state.withLockedValue { state -> (Bool, DeviceConnection?) in
            guard !state.stopping else { return (false, nil) }
            let previous = state.connections[device.deviceId]
            state.connections[device.deviceId] = connection
            return (true, previous)
        }
        guard accepted else { return nil }
        replaced?.close(code: CloseCode.replaced, reason: "replaced by a newer connection")
        return connection
    }

    /// Forgets a connection that ended.
    func closed(_ connection: DeviceConnection) {
        state.withLockedValue { state in
            if state.connections[connection.device.deviceId] === connection { state.connections[connection.device.deviceId] = nil }
        }
        connection.finish()
    }

    /// Notes that a device sent something (its `last_seen`, written with the next heartbeat).
    func seen(_ deviceId: Int64) {
        state.withLockedValue { _ = $0.seen.insert(deviceId) }
    }

    /// Whether the hub is closing its connections (graceful shutdown).
    var isStopping: Bool { state.withLockedValue { $0.stopping } }
}

/// A change another node may have to act on, as a `NOTIFY` payload.
enum DeviceChannelEvent: Sendable, Hashable {
    case settings(deviceId: Int64)
    /// Several devices' settings changed (a fleet change).
    case settingsOf(deviceIds: [Int64])
    case commands(deviceId: Int64)
    case commandDone(commandId: String)
    case replaced(deviceId: Int64, connectionId: String)

    var payload: String {
        switch self {
        case .settings(let id): "s:\(id)"
        case .settingsOf(let ids): "S:" + ids.map(String.init).joined(separator: ",")
        case .commands(let id): "c:\(id)"
        case .commandDone(let id): "r:\(id)"
        case .replaced(let id, let connection): "x:\(id):\(connection)"
        }
    }

    init?(payload: String) {
        let parts = payload.split(separator: ":", maxSplits: 2).map(String.init)
        guard parts.count >= 2 else { return nil }
        switch (parts[0], parts.count) {
        case ("s", 2): guard let id = Int64(parts[1]) else { return nil }; self = .settings(deviceId: id)
        case ("S", 2):
            let ids = parts[1].split(separator: ",").compactMap { Int64($0) }
            guard !ids.isEmpty else { return nil }
            self = .settingsOf(deviceIds: ids)
        case ("c", 2): guard let id = Int64(parts[1]) else { return nil }; self = .commands(deviceId: id)
        case ("r", 2): self = .commandDone(commandId: parts[1])
        case ("x", 3): guard let id = Int64(parts[1]) else { return nil }; self = .replaced(deviceId: id, connectionId: parts[2])
        default: return nil
        }
    }
}
