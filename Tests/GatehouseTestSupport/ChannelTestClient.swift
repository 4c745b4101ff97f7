import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOWebSocket

/// A small device-channel client for tests: connects with the given headers, collects the
/// server's text frames, sends frames on demand and reports the close code.
public final class ChannelTestClient: Sendable {
    private let received = NIOLockedValueBox<[String]>([])
    private let outgoing: AsyncStream<String>.Continuation
    private let outgoingStream: AsyncStream<String>
    private let task = NIOLockedValueBox<Task<Int?, any Error>?>(nil)

    /// Connects to `url` (ws://…) with `headers`; the connection runs until the server closes it or ``disconnect()``.
    public init(url: String, headers: [String: String]) {
        (outgoingStream, outgoing) = AsyncStream.makeStream(of: String.self)
        var fields = HTTPFields()
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        let configuration = WebSocketClientConfiguration(additionalHeaders: fields)
        let received = self.received
        let outgoingStream = self.outgoingStream
        task.withLockedValue {
            $0 = Task {
                let frame = try await WebSocketClient.connect(url: url, configuration: configuration, logger: Logger(label: "channel-test-client")) { inbound, outbound, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                if case .text(let text) = message { received.withLockedValue { $0.append(text) } }
                            }
                        }
                        group.addTask {
                            for await text in outgoingStream {
                                if text == "\u{0}close" {
                                    try await outbound.close(.normalClosure, reason: nil)
                                    return
                                }
                                try await outbound.write(.text(text))
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                }
                return frame.map { Self.code($0.closeCode) }
            }
        }
    }

    private static func code(_ code: WebSocketErrorCode) -> Int {
        switch code {
        case .normalClosure: 1000
        case .goingAway: 1001
        case .protocolError: 1002
        case .unacceptableData: 1003
        case .dataInconsistentWithMessage: 1007
        case .policyViolation: 1008
        case .messageTooLarge: 1009
        case .missingExtension: 1010
        case .unexpectedServerError: 1011
        case .unknown(let value): Int(value)
        }
    }

    /// Every text frame received so far, parsed.
    public var frames: [[String: Any]] {
        received.withLockedValue { $0 }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    /// Sends a text frame.
    public func send(_ text: String) {
        outgoing.yield(text)
    }

    /// Closes the connection from this side.
    public func disconnect() {
        outgoing.yield("\u{0}close")
    }

    /// Waits until a received frame satisfies `match` (or `timeout` passes); answers it.
    public func frame(timeout: Duration = .seconds(10), where match: @Sendable ([String: Any]) -> Bool) async -> [String: Any]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = frames.first(where: match) { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// The close code the server sent, once the connection ended (nil: no close frame, or still open after `timeout`).
    public func closeCode(timeout: Duration = .seconds(10)) async -> Int? {
        guard let task = task.withLockedValue({ $0 }) else { return nil }
        return await withTaskGroup(of: Int??.self) { group in
            group.addTask { .some(try? await task.value ?? nil) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .none
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? nil
        }
    }

    /// Whether the connection has ended (the server closed it or it failed).
    public func isClosed(within timeout: Duration) async -> Bool {
        guard let task = task.withLockedValue({ $0 }) else { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                _ = try? await task.value
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
