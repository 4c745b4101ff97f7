import Hummingbird
import Logging
import NIOCore

/// The request context of every Gatehouse route.
public struct GatehouseRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// The request id, also sent back as `X-Request-Id` and logged with every line.
    public var requestID: String { id }
}
