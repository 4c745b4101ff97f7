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

/// Something that activates an agent with the server (``ActivationClient``; tests give fakes).
public protocol ActivationTransport: Sendable {
    /// One activation call: never throws, every failure is an outcome.
    func activate(operatorId: Int64, token: String?, serial: String, version: String) async -> ActivationOutcome
}

/// Gatehouse's activation endpoint, `POST <server>/vsaas/api/v2/agents/activate`, called with
/// a form of `operator_id`, `token` (left out: activation by operator id alone), `serial`
/// and `version`.
public struct ActivationClient: ActivationTransport {
    /// The path of the activation endpoint under the server's URL.
    public static let activatePath = "/vsaas/api/v2/agents/activate"
    let http: HTTPClient
    let endpoint: String
    let timeout: TimeAmount

    /// A client for the server at `serverURL` (`http://host:port`, optionally with a path prefix).
    public init(http: HTTPClient, serverURL: String, timeout: TimeAmount = .seconds(15)) {
        self.http = http
        var base = serverURL
        while base.hasSuffix("/") { base.removeLast() }
        endpoint = base + Self.activatePath
        self.timeout = timeout
    }

    public func activate(operatorId: Int64, token: String?, serial: String, version: String) async -> ActivationOutcome {
        var fields = [("operator_id", String(operatorId))]
        if let token { fields.append(("token", token)) }
        fields += [("serial", serial), ("version", version)]
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded;charset=UTF-8")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(fields)))
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: timeout)
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            return .unavailable(reason: "\(error)")
        }
        return Self.outcome(status: status, body: Data(body.readableBytesView))
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
