import Foundation
import GatehouseCore
import GatehouseStore
import Hummingbird
import HummingbirdTLS
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import ServiceLifecycle
import X509

/// The mutual-TLS listener of the super-admin API (seed 002), on `--admin-tls-port`.
///
/// Its server certificate is issued by Gatehouse's authority when the listener starts (kept
/// in memory only). A client must present a certificate chain that validates against the
/// authority (RFC 5280: signature, validity period) and whose serial is recorded as a live
/// super-admin certificate: no certificate, another authority's, an expired or a revoked
/// one, or anything below TLS 1.2, fails the handshake.
struct AdminListener: Service {
    let gatehouse: GatehouseApp
    let logger: Logger
    let boundPort: AdminPortBox

    func run() async throws {
        let configuration = gatehouse.configuration
        let store = gatehouse.store
        // Migrations and bootstrap (in the main listener's start-up) make the authority; wait
        // for them without touching the database meanwhile.
        while !gatehouse.started.isOpen { try await Task.sleep(for: .milliseconds(20)) }
        let authority = try await gatehouse.authority.authority()
        let isIP = CertificateAuthority.ipAddressBytes(configuration.host) != nil
        let server = try ServerIdentity(now: Int64(Date().timeIntervalSince1970)) { now in
            try authority.issue(
                commonName: configuration.host, organizationalUnit: "admin-listener",
                usage: .server(dnsNames: ["localhost"] + (isIP ? [] : [configuration.host]), ipAddresses: isIP ? [configuration.host] : ["127.0.0.1"]),
                now: Date(timeIntervalSince1970: TimeInterval(now)), days: 30)
        }
        let logger = self.logger
        let channel = try MutualTLS.channel(authority: authority, server: server, store: store, purpose: "superadmin", logger: logger, listener: "admin listener")
        let router = gatehouse.makeAdminRouter()
        let boundPort = self.boundPort
        let app = Application(
            router: router,
            server: try .tls(.guardedHTTP1(), configuration: channel),
            configuration: .init(address: .hostname(configuration.host, port: configuration.adminTLSPort ?? 9000), serverName: "Gatehouse"),
            onServerRunning: { channel in boundPort.set(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.run()
    }
}

/// The port the admin listener bound (useful with port 0).
public final class AdminPortBox: Sendable {
    private let value = NIOLockedValueBox(0)
    public init() {}
    func set(_ port: Int) { value.withLockedValue { $0 = port } }
    /// 0 until the listener runs.
    public var port: Int { value.withLockedValue { $0 } }
}

/// Opens once start-up (migrations, master-key check, bootstrap) is done.
final class StartupGate: Sendable {
    private let value = NIOLockedValueBox(false)
    func open() { value.withLockedValue { $0 = true } }
    var isOpen: Bool { value.withLockedValue { $0 } }
}
