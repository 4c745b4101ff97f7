import GatehouseStore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// The Hummingbird application with one more step at a graceful stop: before the HTTP server
/// begins to drain, every device channel is closed with 1001 ("going away, reconnect").
/// Without it the WebSocket library would close them with 1000 as the server drains.
struct GatehouseApplication<Inner: ApplicationProtocol>: ApplicationProtocol {
    typealias Responder = Inner.Responder
    let inner: Inner
    let hub: DeviceChannelHub

    var responder: Inner.Responder { get async throws { try await inner.responder } }
    var server: HTTPServerBuilder { inner.server }
    var eventLoopGroup: any EventLoopGroup { inner.eventLoopGroup }
    var configuration: ApplicationConfiguration { inner.configuration }
    var logger: Logger { inner.logger }
    var services: [any Service] { inner.services }
    var processesRunBeforeServerStart: [@Sendable () async throws -> Void] { inner.processesRunBeforeServerStart }
    @Sendable func onServerRunning(_ channel: any Channel) async { await inner.onServerRunning(channel) }

    /// Runs the application; the channel closer is last so that a graceful stop reaches it first.
    func run() async throws {
        let group = ServiceGroup(configuration: .init(services: [inner, DeviceChannelCloser(hub: hub)], logger: inner.logger))
        try await group.run()
    }
}

/// Waits for a graceful stop, then closes this node's device channels with 1001 and waits
/// (a few seconds at most) until they are gone.
struct DeviceChannelCloser: Service {
    let hub: DeviceChannelHub

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return
        }
        hub.goAway()
        let deadline = ContinuousClock.now + .seconds(3)
        while hub.connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
