import Hummingbird
import Logging
import Testing

/// An in-process HTTP server on a free loopback port, for the agent's clients to talk to.
enum StubServer {
    /// Runs `router` until `body` (given the port) returns or throws.
    static func run(_ router: Router<BasicRequestContext>, _ body: @Sendable (Int) async throws -> Void) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "stub"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var ports = stream.makeAsyncIterator()
            let port = try #require(await ports.next())
            defer { group.cancelAll() }
            try await body(port)
        }
    }
}
