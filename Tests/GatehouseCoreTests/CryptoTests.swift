import Crypto
import Foundation
@testable import GatehouseCore
import SwiftASN1
import Testing
import X509

@Suite("Secrets, password hashes and the certificate authority")
struct CryptoTests {
    @Test func tokensAreRandomPrefixedAndHashed() {
        let tokens = (0..<200).map { _ in Secrets.token(prefix: "gha_") }
        #expect(Set(tokens).count == tokens.count)
        #expect(tokens.allSatisfy { $0.hasPrefix("gha_") && $0.count == 4 + 43 })
        #expect(tokens.allSatisfy { !$0.contains("+") && !$0.contains("/") && !$0.contains("=") })
        let hash = Secrets.hash(tokens[0])
        #expect(hash.count == 64 && hash != tokens[0])
        #expect(Secrets.matches(tokens[0], hash: hash))
        #expect(!Secrets.matches(tokens[1], hash: hash))
        #expect(!Secrets.matches(tokens[0], hash: String(hash.dropLast())))
    }

    @Test func constantTimeComparison() {
        #expect(Secrets.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!Secrets.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!Secrets.constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(Secrets.constantTimeEquals([UInt8](), [UInt8]()))
    }

    @Test func randomStringsUseTheAlphabet() {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let values = (0..<100).map { _ in Secrets.randomString(length: 8, alphabet: alphabet) }
        #expect(values.allSatisfy { $0.count == 8 && $0.allSatisfy(alphabet.contains) })
        #expect(Set(values).count > 95)
    }

    @Test func passwordHashesAreSaltedAndVerify() {
        let hasher = PasswordHasher(rounds: 2_000)
        let first = hasher.hash("correct horse")
        let second = hasher.hash("correct horse")
        #expect(first != second)  // fresh salt each time
        #expect(first.hasPrefix("pbkdf2-sha256$2000$"))
        #expect(hasher.verify("correct horse", against: first))
        #expect(hasher.verify("correct horse", against: second))
        #expect(!hasher.verify("correct horsf", against: first))
        #expect(!hasher.verify("", against: first))
        // A hash made with other rounds still verifies (the rounds travel in the hash).
        #expect(PasswordHasher(rounds: 5_000).verify("correct horse", against: first))
        for malformed in ["", "plain", "pbkdf2-sha256$10$AAAA$BBBB", "md5$1$2$3", "pbkdf2-sha256$2000$!!$??", hasher.dummyHash] {
            #expect(!hasher.verify("correct horse", against: malformed), "\(malformed)")
        }
    }

    @Test func defaultRoundsFollowOWASP() {
        #expect(PasswordHasher().rounds == 600_000)
        #expect(PasswordHasher(rounds: 1).rounds == PasswordHasher.minimumRounds)
    }

    @Test func authorityIssuesClientAndServerCertificates() throws {
        let authority = try CertificateAuthority.generate()
        #expect(authority.certificate.subject == authority.certificate.issuer)
        #expect(try authority.certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(authority.certificate.publicKey.isValidSignature(authority.certificate.signature, for: authority.certificate))

        let client = try authority.issue(commonName: "superadmin", usage: .client, days: 30)
        #expect(client.certificate.issuer == authority.certificate.subject)
        #expect(authority.certificate.publicKey.isValidSignature(client.certificate.signature, for: client.certificate))
        #expect(try client.certificate.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
        #expect(try client.certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(client.certificate.notValidAfter.timeIntervalSinceNow > 29 * 86_400)
        #expect(client.serialHex.count >= 16)

        let server = try authority.issue(commonName: "gatehouse", usage: .server(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"]), days: 30)
        let names = try #require(try server.certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))))

        // Another authority's signature does not verify.
        let stranger = try CertificateAuthority.generate()
        #expect(!stranger.certificate.publicKey.isValidSignature(client.certificate.signature, for: client.certificate))
    }

    @Test func authorityRoundTripsThroughPEM() throws {
        let authority = try CertificateAuthority.generate()
        let loaded = try CertificateAuthority(certificatePEM: try authority.certificatePEM, privateKeyPEM: authority.privateKeyPEM)
        #expect(loaded.certificate == authority.certificate)
        let issued = try loaded.issue(commonName: "x", usage: .client, days: 1)
        #expect(authority.certificate.publicKey.isValidSignature(issued.certificate.signature, for: issued.certificate))
        // A key that does not belong to the certificate is refused.
        let other = try CertificateAuthority.generate()
        #expect(throws: GatehouseError.self) {
            _ = try CertificateAuthority(certificatePEM: try authority.certificatePEM, privateKeyPEM: other.privateKeyPEM)
        }
        #expect(throws: GatehouseError.self) { _ = try CertificateAuthority(certificatePEM: "garbage", privateKeyPEM: "garbage") }
    }
}
