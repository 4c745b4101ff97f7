import Hummingbird
import Logging
import NIOCore

/// The request context of every Gatehouse route.
public struct GatehouseRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's address, for per-address limits; `nil` in router tests.
    public let remoteAddress: SocketAddress?
    /// The connection, for what only it knows (the REST gateway's client certificate).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    /// The client address as a string for per-address counters.
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }

    /// The request id, also sent back as `X-Request-Id` and logged with every line.
    public var requestID: String { id }
}
