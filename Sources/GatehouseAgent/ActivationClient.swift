import AsyncHTTPClient
import Foundation
import GatehouseCore
import NIOCore

/// The outcome of one call to the activation server.
public enum ActivationOutcome: Sendable, Equatable {
    /// The server granted credentials.
    case granted(ActivationGrant)
    /// The server refused for good (a 4xx other than 408 and 429: unknown or used token,
    /// unknown operator, bad input): asking again would not help.
    case refused(status: Int, code: String?, message: String?)
    /// The server could not be reached, or answered 5xx, 408 or 429: worth another try later.
    case unavailable(reason: String)
}

/// The credentials of a successful activation, as the server sent them.
public struct ActivationGrant: Sendable, Equatable {
    public var agentId: Int64
    public var agentKey: String
    public var watcherURL: String
    public var status: String
    public var cameraName: String?

    public init(agentId: Int64, agentKey: String, watcherURL: String, status: String, cameraName: String?) {
        self.agentId = agentId
        self.agentKey = agentKey
        self.watcherURL = watcherURL
        self.status = status
        self.cameraName = cameraName
    }
}

/// The outcome of one heartbeat (check-in) with the server.
public enum CheckInOutcome: Sendable, Equatable {
    /// The server knows the agent and its key (200); `status` is the server's status for it.
    case alive(status: String)
    /// The server answered 410 Gone: the agent's camera was deleted and the agent was
    /// deactivated; its credentials are worthless and it must activate again.
    case deactivated
    /// Another 4xx (such as 401 for an unknown agent or key): not taken as a deactivation;
    /// the agent keeps its credentials.
    case refused(status: Int, code: String?)
    /// The server could not be reached, or answered 5xx, 408 or 429.
    case unavailable(reason: String)
}

/// Something that activates an agent with the server (``ActivationClient``; tests give fakes).
public protocol ActivationTransport: Sendable {
    /// One activation call: never throws, every failure is an outcome.
    func activate(operatorId: Int64, token: String?, serial: String, version: String) async -> ActivationOutcome
    /// One heartbeat with the agent's id and key: never throws, every failure is an outcome.
    func checkIn(agentId: Int64, agentKey: String, version: String) async -> CheckInOutcome
}

extension ActivationTransport {
    /// Transports without a heartbeat: the server counts as unreachable for check-ins.
    public func checkIn(agentId: Int64, agentKey: String, version: String) async -> CheckInOutcome {
        .unavailable(reason: "this transport has no heartbeat")
    }
}

/// Gatehouse's activation endpoint, `POST <server>/vsaas/api/v2/agents/activate`, called with
/// a form of `operator_id`, `token` (left out: activation by operator id alone), `serial`
/// and `version`.
public struct ActivationClient: ActivationTransport {
    /// The path of the activation endpoint under the server's URL.
    public static let activatePath = "/vsaas/api/v2/agents/activate"
    /// The path of the check-in (heartbeat) endpoint under the server's URL.
    public static let checkInPath = "/vsaas/api/v2/agents/status"
    let http: HTTPClient
    let endpoint: String
    let checkInEndpoint: String
    let timeout: TimeAmount

    /// A client for the server at `serverURL` (`http://host:port`, optionally with a path prefix).
    public init(http: HTTPClient, serverURL: String, timeout: TimeAmount = .seconds(15)) {
        self.http = http
        var base = serverURL
        while base.hasSuffix("/") { base.removeLast() }
        endpoint = base + Self.activatePath
        checkInEndpoint = base + Self.checkInPath
        self.timeout = timeout
    }

    /// Posts `fields` as a form and answers the status and body (at most 64 KiB), or why the
    /// server could not be reached.
    func postForm(_ url: String, _ fields: [(String, String)]) async -> Result<(Int, Data), any Error> {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded;charset=UTF-8")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(fields)))
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 64 * 1024)
            return .success((Int(response.status.code), Data(body.readableBytesView)))
        } catch {
            return .failure(error)
        }
    }

    /// `POST <server>/vsaas/api/v2/agents/status` with a form of `agent_id`, `agent_key` and `version`.
    public func checkIn(agentId: Int64, agentKey: String, version: String) async -> CheckInOutcome {
        switch await postForm(checkInEndpoint, [("agent_id", String(agentId)), ("agent_key", agentKey), ("version", version)]) {
        case .success(let (status, body)): return Self.checkInOutcome(status: status, body: body)
        case .failure(let error): return .unavailable(reason: "\(error)")
        }
    }

    /// How an answer of the check-in endpoint is taken: only 410 Gone is a deactivation.
    public static func checkInOutcome(status: Int, body: Data) -> CheckInOutcome {
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        switch status {
        case 200..<300:
            return .alive(status: json?["status"] as? String ?? "unknown")
        case 410:
            return .deactivated
        case 408, 429, 500...:
            return .unavailable(reason: "the server answered \(status)")
        default:
            return .refused(status: status, code: (json?["error"] as? [String: Any])?["code"] as? String)
        }
    }

    public func activate(operatorId: Int64, token: String?, serial: String, version: String) async -> ActivationOutcome {
        var fields = [("operator_id", String(operatorId))]
        if let token { fields.append(("token", token)) }
        fields += [("serial", serial), ("version", version)]
        switch await postForm(endpoint, fields) {
        case .success(let (status, body)): return Self.outcome(status: status, body: body)
        case .failure(let error): return .unavailable(reason: "\(error)")
        }
    }

    /// How an answer of the activation server is taken.
    public static func outcome(status: Int, body: Data) -> ActivationOutcome {
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        switch status {
        case 200..<300:
            guard let json, let agentId = (json["agent_id"] as? NSNumber)?.int64Value, let key = json["agent_key"] as? String, !key.isEmpty,
                  let watcher = json["watcher_url"] as? String else {
                return .unavailable(reason: "the server answered \(status) without credentials")
            }
            return .granted(ActivationGrant(agentId: agentId, agentKey: key, watcherURL: watcher, status: json["status"] as? String ?? "active",
                                            cameraName: json["camera_name"] as? String))
        case 408, 429, 500...:
            return .unavailable(reason: "the server answered \(status)")
        default:
            let error = json?["error"] as? [String: Any]
            return .refused(status: status, code: error?["code"] as? String, message: error?["message"] as? String)
        }
    }
}
