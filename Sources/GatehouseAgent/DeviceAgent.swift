import Foundation
import Logging

/// The agent's status as its local API reports it (`GET /agent-status`).
public enum AgentActivationStatus: String, Sendable {
    case waitActivate = "wait_activate"
    case activate
}

/// The agent's state machine: it holds the state file, runs one activation at a time against
/// the server (retrying with ``Backoff`` while the server is away or answers 5xx), and
/// reports `activate` once it holds credentials. Credentials are replaced only by new ones;
/// no failure deletes them.
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

    /// An agent over an already loaded `state` (see ``AgentStateFile/load()``).
    public init(serial: String, version: String, builtInOperatorId: Int64?, stateFile: AgentStateFile, state: AgentState,
                transport: any ActivationTransport, backoff: Backoff, logger: Logger) {
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

    /// Stops retrying (at shutdown).
    public func stop() {
        worker?.cancel()
        worker = nil
        generation += 1
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
