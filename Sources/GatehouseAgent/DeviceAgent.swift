import Foundation
import Logging

/// The agent's status as its local API reports it (`GET /agent-status`).
public enum AgentActivationStatus: String, Sendable {
    case waitActivate = "wait_activate"
    case activate
}

/// The agent's state machine: it holds the state file, runs one activation at a time against
/// the server (retrying with ``Backoff`` while the server is away or answers 5xx), and
/// reports `activate` once it holds credentials. It keeps a heartbeat with the server
/// (``startHeartbeat()``). Credentials are replaced only by new ones, and wiped only when the
/// server answers a check-in with 410 Gone (the agent's camera was deleted): then the agent
/// returns to `wait_activate` and, with a built-in operator id, activates again by it. No
/// other failure deletes them.
public actor DeviceAgent {
    /// The camera's serial number, sent with every activation.
    public nonisolated let serial: String
    /// The agent's version, sent with every activation and shown by `/agent-status`.
    public nonisolated let version: String
    /// The operator id built into the agent, if any: with no credentials and nothing else to
    /// do, the agent activates by it alone.
    public nonisolated let builtInOperatorId: Int64?

    let stateFile: AgentStateFile
    let transport: any ActivationTransport
    let backoff: Backoff
    let logger: Logger
    var state: AgentState
    var worker: Task<Void, Never>?
    var generation = 0
    /// How often the agent checks in with the server (nil: no heartbeat).
    public nonisolated let heartbeatInterval: Duration?
    var heartbeat: Task<Void, Never>?
    /// Counters for `gatehouse agent simulate`: activations granted, refused, and deactivations.
    public private(set) var activations = 0
    public private(set) var refusals = 0
    public private(set) var deactivations = 0

    /// An agent over an already loaded `state` (see ``AgentStateFile/load()``).
    public init(serial: String, version: String, builtInOperatorId: Int64?, stateFile: AgentStateFile, state: AgentState,
                transport: any ActivationTransport, backoff: Backoff, logger: Logger, heartbeatInterval: Duration? = nil) {
        self.heartbeatInterval = heartbeatInterval
        self.serial = serial
        self.version = version
        self.builtInOperatorId = builtInOperatorId
        self.stateFile = stateFile
        self.state = state
        self.transport = transport
        self.backoff = backoff
        self.logger = logger
    }

    /// `activate` once the agent holds credentials, else `wait_activate`.
    public var status: AgentActivationStatus { state.credentials == nil ? .waitActivate : .activate }

    /// The credentials held, if any.
    public var credentials: AgentCredentials? { state.credentials }

    /// Whether an activation is under way.
    public var isActivating: Bool { state.pending != nil }

    /// The credential the channel opens with: the agent's id and key, once it holds them and
    /// no activation is under way.
    public var channelCredential: ChannelCredential? {
        guard let held = state.credentials, state.pending == nil else { return nil }
        return .agent(id: held.agentId, key: held.agentKey)
    }

    /// What to do at start: carry on with an activation a restart interrupted, else activate
    /// with `qr` (unless the credentials held came from that very code), else, with no
    /// credentials, activate by the built-in operator id.
    public func start(qr: QRPayload? = nil) throws(AgentFileError) {
        if let qr {
            let request = PendingActivation(operatorId: qr.operatorId, token: qr.token)
            if alreadyHolds(request) {
                logger.info("the QR payload's token is the one the agent activated with; nothing to do", metadata: ["operator_id": "\(qr.operatorId)"])
            } else if state.pending != request {
                logger.info("activating with the QR payload", metadata: ["operator_id": "\(qr.operatorId)", "ssid": "\(qr.ssid)"])
                try submit(request)
                return
            }
        }
        if let pending = state.pending {
            logger.info("resuming the activation a restart interrupted", metadata: ["operator_id": "\(pending.operatorId)"])
            launch(pending)
        } else if state.credentials == nil, let operatorId = builtInOperatorId {
            logger.info("no credentials: activating by the built-in operator id", metadata: ["operator_id": "\(operatorId)"])
            try submit(PendingActivation(operatorId: operatorId, token: nil))
        }
    }

    /// Accepts an activation request (from `POST /activate` or a QR payload): it is written to
    /// the state file first, then the server is called in the background. A newer request
    /// replaces one still retrying. Throws only when the state file cannot be written.
    public func submit(_ request: PendingActivation) throws(AgentFileError) {
        if alreadyHolds(request), state.pending == nil {
            logger.info("already activated with this token; nothing to do", metadata: ["operator_id": "\(request.operatorId)"])
            return
        }
        if state.pending == request, let worker, !worker.isCancelled, generation > 0 {
            // The same request again (the app repeating itself) while it is under way: keep the one running.
            return
        }
        var next = state
        next.pending = request
        try stateFile.save(next)
        state = next
        launch(request)
    }

    /// Stops retrying and the heartbeat (at shutdown).
    public func stop() {
        worker?.cancel()
        worker = nil
        generation += 1
        heartbeat?.cancel()
        heartbeat = nil
    }

    /// Starts the heartbeat (when ``heartbeatInterval`` is set): a check-in every interval
    /// while the agent holds credentials and no activation is under way, the first at a random
    /// point of the second half of the first interval (agents started together spread out).
    /// While the server is away the check-ins are retried with ``Backoff`` (never more than an
    /// interval apart) and the credentials are kept.
    public func startHeartbeat() {
        guard let interval = heartbeatInterval, heartbeat == nil else { return }
        heartbeat = Task { await self.beat(every: interval) }
    }

    func beat(every interval: Duration) async {
        let period = max(1, interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
        var wait = Int64.random(in: (period + 1) / 2...period)
        var failures = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(wait)) } catch { return }
            wait = period
            if case .unavailable = await checkIn() {
                var generator = SystemRandomNumberGenerator()
                wait = min(period, backoff.delayMilliseconds(attempt: failures, using: &generator))
                failures += 1
            } else {
                failures = 0
            }
        }
    }

    /// One heartbeat, when the agent holds credentials and no activation is under way (nil
    /// otherwise). A 410 Gone wipes the credentials (see ``DeviceAgent``); any other answer
    /// keeps them.
    @discardableResult
    public func checkIn() async -> CheckInOutcome? {
        guard let held = state.credentials, state.pending == nil else { return nil }
        let outcome = await transport.checkIn(agentId: held.agentId, agentKey: held.agentKey, version: version)
        // New credentials or an activation arrived meanwhile: this answer is about the old ones.
        guard state.credentials == held, state.pending == nil else { return outcome }
        let metadata: Logger.Metadata = ["agent_id": "\(held.agentId)", "serial": "\(serial)"]
        switch outcome {
        case let .alive(status):
            logger.debug("heartbeat", metadata: metadata.merging(["server_status": "\(status)"]) { $1 })
        case .deactivated:
            wipe(held, metadata: metadata)
        case let .refused(status, code):
            logger.warning("heartbeat refused by the server; keeping the credentials", metadata: metadata.merging([
                "http_status": "\(status)", "code": "\(code ?? "-")"]) { $1 })
        case let .unavailable(reason):
            logger.warning("heartbeat: server unavailable; keeping the credentials", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
        }
        return outcome
    }

    /// After the channel refused the credentials (4401): a check-in at once. A deactivated
    /// agent wipes them (and activates again by its operator id); answers whether the server
    /// still takes them (200).
    public func stillAccepted() async -> Bool {
        if case .alive = await checkIn() { return true }
        return false
    }

    /// The server deactivated the agent: its credentials are wiped durably, then, with a
    /// built-in operator id, it activates again by it.
    func wipe(_ held: AgentCredentials, metadata: Logger.Metadata) {
        var next = state
        next.credentials = nil
        do {
            try stateFile.save(next)
        } catch {
            logger.error("deactivated by the server but could not wipe the credentials; trying again at the next heartbeat",
                         metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return
        }
        state = next
        deactivations += 1
        logger.notice("deactivated by the server (its camera was deleted): credentials wiped", metadata: metadata.merging([
            "camera_name": "\(held.cameraName ?? "-")", "agent_status": "\(status.rawValue)"]) { $1 })
        if let operatorId = builtInOperatorId {
            logger.info("activating again by the built-in operator id", metadata: ["operator_id": "\(operatorId)"])
            do { try submit(PendingActivation(operatorId: operatorId, token: nil)) } catch {
                logger.error("could not store the activation again", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Waits until no activation is under way (for tests and `simulate`).
    public func waitUntilIdle() async {
        while let worker {
            await worker.value
            if self.worker == worker { break }
        }
    }

    func alreadyHolds(_ request: PendingActivation) -> Bool {
        guard let credentials = state.credentials, request.token != nil else { return false }
        return credentials.operatorId == request.operatorId && credentials.token == request.token
    }

    func launch(_ request: PendingActivation) {
        worker?.cancel()
        generation += 1
        let generation = generation
        worker = Task { await self.run(request, generation: generation) }
    }

    /// Calls the server until it grants or refuses; waits with backoff in between.
    func run(_ request: PendingActivation, generation: Int) async {
        var attempt = 0
        let metadata: Logger.Metadata = ["operator_id": "\(request.operatorId)", "serial": "\(serial)",
                                         "by": "\(request.token == nil ? "operator_id" : "token")"]
        while !Task.isCancelled {
            let outcome = await transport.activate(operatorId: request.operatorId, token: request.token, serial: serial, version: version)
            guard generation == self.generation, !Task.isCancelled else { return }
            var generator = SystemRandomNumberGenerator()
            let wait = backoff.delayMilliseconds(attempt: attempt, using: &generator)
            switch outcome {
            case let .granted(grant):
                var next = state
                next.credentials = AgentCredentials(agentId: grant.agentId, agentKey: grant.agentKey, watcherURL: grant.watcherURL,
                                                    serverStatus: grant.status, cameraName: grant.cameraName, operatorId: request.operatorId,
                                                    token: request.token, activatedAt: Int64(Date().timeIntervalSince1970))
                next.pending = nil
                do {
                    try stateFile.save(next)
                    state = next
                    activations += 1
                    logger.notice("activated", metadata: metadata.merging(["agent_id": "\(grant.agentId)", "server_status": "\(grant.status)",
                                                                           "camera_name": "\(grant.cameraName ?? "-")"]) { $1 })
                    return
                } catch {
                    // The server answers a repeat by this serial and token with the same agent: ask again after a wait.
                    logger.error("activated but could not store the credentials; will ask again", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                }
            case let .refused(status, code, message):
                var next = state
                next.pending = nil
                do { try stateFile.save(next) } catch {
                    logger.error("could not clear the pending activation", metadata: ["error": "\(error)"])
                }
                state = next
                refusals += 1
                logger.error("activation refused by the server; not retrying", metadata: metadata.merging([
                    "http_status": "\(status)", "code": "\(code ?? "-")", "reason": "\(message ?? "-")",
                    "agent_status": "\(self.status.rawValue)"]) { $1 })
                return
            case let .unavailable(reason):
                logger.warning("activation server unavailable; retrying", metadata: metadata.merging(["reason": "\(reason)", "attempt": "\(attempt + 1)", "retry_in_ms": "\(wait)"]) { $1 })
            }
            attempt += 1
            do { try await Task.sleep(for: .milliseconds(wait)) } catch { return }
        }
    }
}
