import Foundation
import GatehouseTestSupport
import Testing

/// An HTTP client for tests that kill servers and databases: every call is made by curl with
/// a bound on its whole duration, and says whether an answer came, how long it took and
/// with which content type. A call that gets no answer (refused, reset, timed out) has
/// status 0; `timedOut` tells a hang from a refusal.
struct FaultClient: Sendable {
    struct Answer: Sendable {
        let status: Int
        let text: String
        let contentType: String
        /// curl gave up after `maxTime` seconds: the server hung.
        let timedOut: Bool
        let seconds: Double
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
        /// `error.code` of Gatehouse's own error body.
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    }

    /// Seconds any call may take: longer than the server's database timeout (10 s), so a
    /// 503 arrives before it, and short enough to catch a hang.
    var maxTime = 20

    /// One request to 127.0.0.1:`port`.
    func call(_ port: Int, _ method: String, _ path: String, headers: [String] = [], body: String? = nil) async -> Answer {
        var arguments = ["-s", "--max-time", String(maxTime), "--connect-timeout", "3", "-X", method, "-w", "\n%{content_type}\n%{http_code}"]
        for header in headers { arguments += ["-H", header] }
        if let body { arguments += ["--data-binary", body] }
        arguments.append("http://127.0.0.1:\(port)\(path)")
        let started = ContinuousClock.now
        guard let result = try? await LiveServer.shellAsync("curl", arguments) else {
            return Answer(status: 0, text: "curl did not run", contentType: "", timedOut: false, seconds: 0)
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.popLast() ?? "") ?? 0
        let type = String(lines.popLast() ?? "")
        // curl's exit status 28: the operation timed out.
        return Answer(status: result.status == 0 ? status : 0, text: lines.joined(separator: "\n"), contentType: type,
                      timedOut: result.status == 28, seconds: seconds)
    }

    /// A form `POST`.
    func form(_ port: Int, _ path: String, _ body: String, headers: [String] = []) async -> Answer {
        await call(port, "POST", path, headers: headers + ["Content-Type: application/x-www-form-urlencoded"], body: body)
    }

    /// A JSON request.
    func json(_ port: Int, _ method: String, _ path: String, _ body: String, headers: [String] = []) async -> Answer {
        await call(port, method, path, headers: headers + ["Content-Type: application/json"], body: body)
    }
}

/// What load clients saw, gathered from many tasks.
actor FaultLog {
    /// One agent activation as its client saw it: the token it was issued, then the redemption.
    struct Activation: Sendable {
        let token: String
        let serial: String
        let status: Int
        let timedOut: Bool
        let agentId: Int64?
        let agentKey: String?
        let cameraName: String?
        var succeeded: Bool { status == 200 && agentId != nil && agentKey != nil && cameraName != nil }
    }

    private(set) var activations: [Activation] = []
    /// Statuses of calls other than redemptions (token issues, /v1 writes), 0 for no answer.
    private(set) var statuses: [Int] = []
    private(set) var hangs: [String] = []
    private(set) var serverErrors: [String] = []

    func record(_ activation: Activation) { activations.append(activation) }

    /// Notes a call's answer: hangs and 5xx other than 503 are failures of the server.
    func note(_ what: String, _ answer: FaultClient.Answer) {
        statuses.append(answer.status)
        if answer.timedOut { hangs.append("\(what) after \(answer.seconds) s") }
        if answer.status >= 500 && answer.status != 503 { serverErrors.append("\(what): \(answer.status) \(answer.text)") }
    }
}

extension FaultClient {
    /// An organization without a camera limit and a preset of it, made by the operator's session.
    func unlimitedOrganization(_ port: Int, session: String) async throws -> (organization: Int64, preset: Int64) {
        let made = await json(port, "POST", "/vsaas/api/v2/organizations", #"{"title":"Fleet","note":"load"}"#, headers: ["x-vsaas-session: \(session)"])
        let organization = try #require((made.json["id"] as? NSNumber)?.int64Value, "\(made.status) \(made.text)")
        let preset = await json(port, "POST", "/vsaas/api/v2/presets", #"{"organization_id":"\#(organization)","title":"load","settings":{}}"#,
                                headers: ["x-vsaas-session: \(session)"])
        return (organization, try #require((preset.json["id"] as? NSNumber)?.int64Value, "\(preset.status) \(preset.text)"))
    }
}
