import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import Synchronization
import Testing

/// An in-process WebSocket server on a free loopback port that plays the server's side of the
/// device channel as a test scripts it: each upgrade request is recorded, and each connection
/// is handed to `serve` with its number (0, 1, …). Frames the agent sends are recorded.
final class StubChannelServer: Sendable {
    struct Upgrade: Sendable {
        var path: String
        var authorization: String?
        var cik: String?
        var agentVersion: String?
    }

    typealias Serve = @Sendable (_ connection: Int, _ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, _ server: StubChannelServer) async throws -> Void

    private let state = Mutex<(upgrades: [Upgrade], frames: [String], connections: Int)>(([], [], 0))
    /// Upgrade requests whose `Authorization` is in here are refused (no upgrade).
    let refused = Mutex<Set<String>>([])

    var upgrades: [Upgrade] { state.withLock { $0.upgrades } }
    /// Connections upgraded so far.
    var connections: Int { state.withLock { $0.connections } }
    /// Every JSON frame the agents sent, in order.
    var frames: [[String: Any]] {
        state.withLock { $0.frames }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    func record(_ text: String) {
        state.withLock { $0.frames.append(text) }
    }

    /// Reads the agent's frames (recording them) until one of `type` arrives; nil if the connection ends first.
    func next(_ type: String, from inbound: inout WebSocketInboundMessageStream.AsyncIterator) async throws -> [String: Any]? {
        while let message = try await inbound.next() {
            guard case let .text(text) = message else { continue }
            record(text)
            if let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any], object["type"] as? String == type { return object }
        }
        return nil
    }

    /// Waits until `condition` holds (false after `timeout`).
    func wait(timeout: Duration = .seconds(30), _ condition: @Sendable (StubChannelServer) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition(self)
    }

    /// Runs the server until `body` (given the server's `http://` URL) returns.
    static func run(serve: @escaping Serve, _ body: @Sendable (StubChannelServer, String) async throws -> Void) async throws {
        let server = StubChannelServer()
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: Router(),
            server: .http1WebSocketUpgrade { head, _, _ in
                let fields = head.headerFields
                let upgrade = Upgrade(path: head.path ?? "", authorization: fields[.authorization], cik: fields[HTTPField.Name("X-Exosite-CIK")!],
                                      agentVersion: fields[HTTPField.Name("X-Gatehouse-Agent-Version")!])
                server.state.withLock { $0.upgrades.append(upgrade) }
                if let authorization = upgrade.authorization, server.refused.withLock({ $0.contains(authorization) }) { return .dontUpgrade }
                let number = server.state.withLock { value in
                    defer { value.connections += 1 }
                    return value.connections
                }
                return .upgrade([:]) { inbound, outbound, _ in try await serve(number, inbound, outbound, server) }
            },
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
            logger: Logger(label: "stub-channel"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var ports = stream.makeAsyncIterator()
            let port = try #require(await ports.next())
            defer { group.cancelAll() }
            try await body(server, "http://127.0.0.1:\(port)")
        }
    }
}

extension WebSocketOutboundWriter {
    /// Sends a JSON object as a text frame.
    func send(_ object: [String: Any]) async throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try await write(.text(String(decoding: data, as: UTF8.self)))
    }
}
