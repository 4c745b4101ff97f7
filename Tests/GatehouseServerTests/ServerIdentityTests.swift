import Foundation
import GatehouseCore
@testable import GatehouseServer
import Testing

/// The mutual-TLS listeners' server certificate is renewed while they run: a long-running
/// server never presents an expired certificate.
@Suite("Listener server certificates")
struct ServerIdentityTests {
    @Test func theCertificateIsRenewedBeforeItEnds() throws {
        let authority = try CertificateAuthority.generate(commonName: "test authority", now: Date(timeIntervalSince1970: 1_790_000_000))
        let start: Int64 = 1_800_000_000
        let identity = try ServerIdentity(days: 30, renewBefore: 7 * 86_400, now: start) { now in
            try authority.issue(commonName: "127.0.0.1", usage: .server(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"]),
                                now: Date(timeIntervalSince1970: TimeInterval(now)), days: 30)
        }
        let first = identity.identity(now: start)
        #expect(first.notAfter > start + 29 * 86_400 && first.notAfter <= start + 30 * 86_400 + 60)
        // Until a week before its end, the same certificate.
        #expect(identity.identity(now: start + 22 * 86_400).serial == first.serial)
        // Then a new one, valid 30 days from then, kept for the following handshakes.
        let renewed = identity.identity(now: start + 24 * 86_400)
        #expect(renewed.serial != first.serial && renewed.notAfter > start + 53 * 86_400)
        #expect(identity.identity(now: start + 25 * 86_400).serial == renewed.serial)
    }
}
