import Foundation
import GatehouseCore
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import X509

/// The mutual-TLS listener of the REST gateway (seed 004), on `--rest-gateway-port`: the
/// `measures` and `commands` URLs that onboarding hands out.
///
/// Its server certificate is issued by Gatehouse's authority when the listener starts (kept
/// in memory only), for the configured host and the host of `--rest-gateway-url`. A client
/// must present an endpoint certificate issued by the authority that is valid now and not
/// revoked, or the handshake fails; each request then checks that the certificate is the
/// current one of the endpoint its URL names.
struct RestGatewayListener: Service {
    let gatehouse: GatehouseApp
    let logger: Logger

    func run() async throws {
        let configuration = gatehouse.configuration
        let store = gatehouse.store
        while !gatehouse.started.isOpen { try await Task.sleep(for: .milliseconds(20)) }
        let authority = try await gatehouse.authority.authority()
        var names = ["localhost"], addresses = ["127.0.0.1"]
        for host in [configuration.host, URL(string: configuration.onboarding.restBaseURL)?.host].compactMap({ $0 }) {
            if CertificateAuthority.ipAddressBytes(host) != nil { addresses.append(host) } else { names.append(host) }
        }
        let (dnsNames, ipAddresses) = (Array(Set(names)).sorted(), Array(Set(addresses)).sorted())
        let server = try ServerIdentity(now: Int64(Date().timeIntervalSince1970)) { now in
            try authority.issue(commonName: configuration.host, organizationalUnit: "rest-gateway", usage: .server(dnsNames: dnsNames, ipAddresses: ipAddresses),
                                now: Date(timeIntervalSince1970: TimeInterval(now)), days: 30)
        }
        let logger = self.logger
        let channel = try MutualTLS.channel(authority: authority, server: server, store: store, purpose: "endpoint", logger: logger, listener: "rest gateway")
        let boundPort = configuration.restGatewayBoundPort
        let app = Application(
            router: gatehouse.makeGatewayRouter(),
            server: try .tls(gatehouse.deviceHub.gatewayServer(), configuration: channel),
            configuration: .init(address: .hostname(configuration.host, port: configuration.restGatewayPort ?? 8443), serverName: "Gatehouse"),
            onServerRunning: { channel in
                boundPort.set(channel.localAddress?.port ?? 0)
                logger.info("rest gateway listening", metadata: ["port": "\(channel.localAddress?.port ?? 0)"])
            },
            logger: logger)
        try await app.run()
    }
}
