import Foundation
@testable import GatehouseCore
import SwiftASN1
import Testing
import X509

@Suite("Certificate revocation lists, checked with openssl")
struct RevocationListTests {
    /// A scratch directory with the authority's certificate as ca.pem.
    struct Scratch {
        let path: String
        init(authority: CertificateAuthority) throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-crl-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try write(authority.certificatePEM, "ca.pem")
        }
        func write(_ text: String, _ name: String) throws {
            try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
        }
        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Runs openssl in `directory` on a thread of its own; answers exit status and combined output.
    static func openssl(_ arguments: [String], in directory: String) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                    process.arguments = ["timeout", "-s", "KILL", "20", "openssl"] + arguments
                    process.currentDirectoryURL = URL(fileURLWithPath: directory)
                    let pipe = Pipe()
                    process.standardOutput = pipe
                    process.standardError = pipe
                    process.standardInput = FileHandle.nullDevice
                    try process.run()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
                })
            }
        }
    }

    /// openssl's way of printing a time: `Nov  3 18:25:41 2026 GMT`.
    static func opensslTime(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        _ = gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%b %e %H:%M:%S %Y GMT", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test func revokedCertificatesAreListedSignedAndRefused() async throws {
        let authority = try CertificateAuthority.generate()
        let issued = try (0..<3).map { try authority.issue(commonName: "endpoint-\($0)", usage: .client, days: 30) }
        let now = Date()
        let thisUpdate = now.addingTimeInterval(-60), nextUpdate = now.addingTimeInterval(7 * 86_400)
        let crl = try authority.revocationListPEM(
            revoked: [(issued[0].serialHex, now.addingTimeInterval(-30)), (issued[2].serialHex, now.addingTimeInterval(-20))],
            number: 42, thisUpdate: thisUpdate, nextUpdate: nextUpdate)
        #expect(crl.hasPrefix("-----BEGIN X509 CRL-----\n") && crl.hasSuffix("-----END X509 CRL-----\n"))

        let scratch = try Scratch(authority: authority)
        defer { scratch.remove() }
        try scratch.write(crl, "crl.pem")
        for (index, certificate) in issued.enumerated() { try scratch.write(certificate.certificatePEM, "cert-\(index).pem") }

        // The authority's signature over the list verifies.
        let verified = try await Self.openssl(["crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-noout", "-verify"], in: scratch.path)
        #expect(verified.status == 0 && verified.output.contains("verify OK"), "\(verified.output)")

        // It names exactly the two revoked serials, the CRL number, the issuer and the update times.
        let text = try await Self.openssl(["crl", "-in", "crl.pem", "-noout", "-text"], in: scratch.path)
        #expect(text.status == 0, "\(text.output)")
        #expect(text.output.contains("Version 2 (0x1)"))
        #expect(text.output.contains("Signature Algorithm: ecdsa-with-SHA256"))
        #expect(text.output.contains("Issuer: O = Gatehouse, CN = Gatehouse Certificate Authority"))
        #expect(text.output.components(separatedBy: "Serial Number:").count - 1 == 2, "\(text.output)")
        #expect(text.output.contains("Serial Number: \(issued[0].serialHex.uppercased())\n"))
        #expect(text.output.contains("Serial Number: \(issued[2].serialHex.uppercased())\n"))
        #expect(!text.output.contains(issued[1].serialHex.uppercased()))
        #expect(text.output.contains("X509v3 CRL Number: \n                42\n"), "\(text.output)")
        #expect(text.output.contains("Last Update: \(Self.opensslTime(thisUpdate))"))
        #expect(text.output.contains("Next Update: \(Self.opensslTime(nextUpdate))"))
        #expect(text.output.contains("Revocation Date: \(Self.opensslTime(now.addingTimeInterval(-30)))"))
        let keyIdentifier = try #require(try authority.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        #expect(text.output.contains("X509v3 Authority Key Identifier:"))
        #expect(text.output.contains(keyIdentifier.map { String(format: "%02X", $0) }.joined(separator: ":")), "\(text.output)")

        // A TLS peer checking the list refuses the revoked certificates and takes the other.
        for index in 0..<3 {
            let answer = try await Self.openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "cert-\(index).pem"],
                                                in: scratch.path)
            if index == 1 {
                #expect(answer.status == 0 && answer.output.contains("cert-1.pem: OK"), "\(answer.output)")
            } else {
                #expect(answer.status != 0 && answer.output.contains("certificate revoked"), "\(answer.output)")
            }
        }
        // The DER form is the PEM's content.
        let der = try authority.revocationList(revoked: [], number: 1, thisUpdate: thisUpdate, nextUpdate: nextUpdate)
        #expect(try PEMDocument(pemString: CertificateAuthority.revocationListPEM(der: der)).derBytes == der)
    }

    @Test func anEmptyListVerifiesAndRevokesNothing() async throws {
        let authority = try CertificateAuthority.generate()
        let certificate = try authority.issue(commonName: "endpoint", usage: .client, days: 30)
        let now = Date()
        let crl = try authority.revocationListPEM(revoked: [], number: 0, thisUpdate: now.addingTimeInterval(-5), nextUpdate: now.addingTimeInterval(3_600))
        let scratch = try Scratch(authority: authority)
        defer { scratch.remove() }
        try scratch.write(crl, "crl.pem")
        try scratch.write(certificate.certificatePEM, "cert.pem")

        let verified = try await Self.openssl(["crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-noout", "-verify"], in: scratch.path)
        #expect(verified.status == 0 && verified.output.contains("verify OK"), "\(verified.output)")
        let text = try await Self.openssl(["crl", "-in", "crl.pem", "-noout", "-text"], in: scratch.path)
        #expect(text.output.contains("No Revoked Certificates."), "\(text.output)")
        #expect(text.output.contains("X509v3 CRL Number: \n                0\n"), "\(text.output)")
        let answer = try await Self.openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "cert.pem"], in: scratch.path)
        #expect(answer.status == 0 && answer.output.contains("cert.pem: OK"), "\(answer.output)")

        // Another authority's list does not verify against this one.
        let stranger = try CertificateAuthority.generate()
        try scratch.write(try stranger.revocationListPEM(revoked: [], number: 0, thisUpdate: now, nextUpdate: now.addingTimeInterval(60)), "foreign.pem")
        let foreign = try await Self.openssl(["crl", "-in", "foreign.pem", "-CAfile", "ca.pem", "-noout", "-verify"], in: scratch.path)
        #expect(!foreign.output.contains("verify OK"), "\(foreign.output)")
    }

    @Test func serialsMatchTheCertificatesWhateverTheirLeadingByte() async throws {
        let authority = try CertificateAuthority.generate()
        // A certificate whose serial has its top bit set: the certificate's INTEGER carries a
        // leading zero byte the stored hex does not have.
        var highBit: CertificateAuthority.Issued?
        for _ in 0..<200 where highBit == nil {
            let candidate = try authority.issue(commonName: "high", usage: .client, days: 1)
            if (candidate.certificate.serialNumber.bytes.first ?? 0) >= 0x80 { highBit = candidate }
        }
        let high = try #require(highBit)
        #expect(high.serialHex.count == 40 && high.serialHex == high.serialHex.lowercased())

        let now = Date()
        let crl = try authority.revocationListPEM(
            revoked: [(high.serialHex, now), ("0a", now), ("00ff01", now), ("0x80", now), ("7F", now), ("abc", now)],
            number: 7, thisUpdate: now.addingTimeInterval(-5), nextUpdate: now.addingTimeInterval(3_600))
        let scratch = try Scratch(authority: authority)
        defer { scratch.remove() }
        try scratch.write(crl, "crl.pem")
        try scratch.write(high.certificatePEM, "high.pem")
        let text = try await Self.openssl(["crl", "-in", "crl.pem", "-noout", "-text"], in: scratch.path)
        for serial in [high.serialHex.uppercased(), "0A", "FF01", "80", "7F", "0ABC"] {
            #expect(text.output.contains("Serial Number: \(serial)\n"), "\(serial) in \(text.output)")
        }
        let answer = try await Self.openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "high.pem"], in: scratch.path)
        #expect(answer.status != 0 && answer.output.contains("certificate revoked"), "\(answer.output)")

        // The serial bytes are the INTEGER's magnitude; DER adds the sign byte.
        #expect(try CertificateAuthority.serialNumberBytes(hex: "00ff01") == [0xFF, 0x01])
        #expect(try CertificateAuthority.serialNumberBytes(hex: "80") == [0x80])
        #expect(try CertificateAuthority.serialNumberBytes(hex: "abc") == [0x0A, 0xBC])
        #expect(try CertificateAuthority.serialNumberBytes(hex: high.serialHex) == high.certificate.serialNumber.bytes)
        var coder = DER.Serializer()
        try coder.serialize(try CertificateAuthority.serialNumberBytes(hex: "80"))
        #expect(coder.serializedBytes == [0x02, 0x02, 0x00, 0x80])
    }

    @Test func storedCertificatesListOnlyTheRevokedOnceAndTimesPast2049AreGeneralized() async throws {
        let authority = try CertificateAuthority.generate()
        let certificates = try (0..<3).map { try authority.issue(commonName: "e\($0)", usage: .client, days: 1) }
        let stored = certificates.enumerated().map { index, certificate in
            IssuedCertificate(serial: certificate.serialHex, purpose: "endpoint", subject: "CN=e\(index)", notAfter: 0,
                              revokedAt: index == 1 ? nil : 1_700_000_000 + Int64(index), createdAt: 0)
        }
        let now = Date()
        // The same serial twice is listed once, with its earliest revocation date.
        let der = try authority.revocationList(of: stored + [stored[0]], number: Int64.max, thisUpdate: now.addingTimeInterval(-5),
                                               nextUpdate: Date(timeIntervalSince1970: 2_556_143_999))  // 2050-12-31T23:59:59Z
        let scratch = try Scratch(authority: authority)
        defer { scratch.remove() }
        try scratch.write(CertificateAuthority.revocationListPEM(der: der), "crl.pem")
        let text = try await Self.openssl(["crl", "-in", "crl.pem", "-noout", "-text"], in: scratch.path)
        #expect(text.output.components(separatedBy: "Serial Number:").count - 1 == 2, "\(text.output)")
        #expect(!text.output.contains(certificates[1].serialHex.uppercased()))
        #expect(text.output.contains("Revocation Date: Nov 14 22:13:20 2023 GMT"), "\(text.output)")
        #expect(text.output.contains("Next Update: Dec 31 23:59:59 2050 GMT"), "\(text.output)")
        #expect(text.output.contains("\(Int64.max)"), "\(text.output)")
        let verified = try await Self.openssl(["crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-noout", "-verify"], in: scratch.path)
        #expect(verified.output.contains("verify OK"), "\(verified.output)")
        // nextUpdate after 2049 is a GeneralizedTime (tag 0x18) in the DER.
        #expect(der.windowsContain([0x18, 0x0F] + Array("20501231235959Z".utf8)))
    }

    @Test func badInputIsRefused() throws {
        let authority = try CertificateAuthority.generate()
        let now = Date()
        for serial in ["", "0x", "xyz", "12 34", "00", "0"] {
            #expect(throws: GatehouseError.self, "\(serial)") {
                _ = try authority.revocationList(revoked: [(serial, now)], number: 1, thisUpdate: now, nextUpdate: now.addingTimeInterval(60))
            }
        }
        #expect(throws: GatehouseError.self) {
            _ = try authority.revocationList(revoked: [], number: -1, thisUpdate: now, nextUpdate: now.addingTimeInterval(60))
        }
        #expect(throws: GatehouseError.self) {
            _ = try authority.revocationList(revoked: [], number: 1, thisUpdate: now, nextUpdate: now)
        }
        #expect(throws: GatehouseError.self) {
            _ = try authority.revocationList(revoked: [], number: 1, thisUpdate: now, nextUpdate: now.addingTimeInterval(-60))
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func windowsContain(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
