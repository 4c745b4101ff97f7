import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// The mutual-TLS super-admin listener (seed 002), driven with curl and openssl as an
/// operator's tools would: only live super-admin certificates of Gatehouse's authority get in.
@Suite("Mutual-TLS admin listener", .serialized)
struct AdminListenerTests {
    @Test func onlyLiveSuperAdminCertificatesOfTheAuthorityGetIn() async throws {
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let scratch = try TestDatabases.temporaryDirectory()
        let environment = ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"]
        let started = try await LiveServer.startHealthy { port, adminPort in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", String(adminPort)], environment: environment,
                           port: port, dataDirectory: data)
        }
        let (server, adminPort) = (started.server, started.adminPort)
        #expect(started.healthy, "\(server.stderr)")

        func call(_ certificate: String?, _ key: String?, extra: [String] = []) throws -> (status: Int32, output: String) {
            var arguments = ["-s", "--max-time", "10", "--cacert", data + "/ca.pem"] + extra
            if let certificate, let key { arguments += ["--cert", certificate, "--key", key] }
            return try LiveServer.shell("curl", arguments + ["https://127.0.0.1:\(adminPort)/healthz"])
        }
        var admitted = (status: Int32(-1), output: "")
        for _ in 0..<50 {  // the listener starts right after bootstrap
            admitted = try call(data + "/superadmin-cert.pem", data + "/superadmin-key.pem")
            if admitted.status == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(admitted.status == 0 && admitted.output.contains("\"listener\":\"admin\""), "\(admitted)")

        // No certificate; a certificate of another authority; TLS below 1.2.
        #expect(try call(nil, nil).status != 0)
        let foreign = try LiveServer.shell("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                                            "-subj", "/CN=foreign", "-keyout", scratch + "/foreign-key.pem", "-out", scratch + "/foreign-cert.pem"])
        #expect(foreign.status == 0)
        #expect(try call(scratch + "/foreign-cert.pem", scratch + "/foreign-key.pem").status != 0)
        // openssl at security level 0 offers TLS 1.1; the listener must refuse it, and take TLS 1.2.
        func handshake(_ version: String) throws -> (status: Int32, output: String) {
            try LiveServer.shell("openssl", ["s_client", "-connect", "127.0.0.1:\(adminPort)", version, "-cipher", "DEFAULT@SECLEVEL=0",
                                  "-cert", data + "/superadmin-cert.pem", "-key", data + "/superadmin-key.pem", "-CAfile", data + "/ca.pem"], input: "")
        }
        let tls12 = try handshake("-tls1_2")
        #expect(tls12.status == 0 && tls12.output.contains("TLSv1.2") && !tls12.output.contains("Cipher is (NONE)"), "\(tls12.output.suffix(400))")
        let tls11 = try handshake("-tls1_1")
        #expect(tls11.status != 0 && tls11.output.contains("Cipher is (NONE)"), "\(tls11.output.suffix(400))")

        // More super-admin certificates come and go with `gatehouse cert`.
        let issued = try LiveServer.run(["cert", "issue-superadmin", "--name", "ops", "--out", scratch], environment: environment)
        #expect(issued.status == 0, "\(issued.error)")
        #expect(try call(scratch + "/ops-cert.pem", scratch + "/ops-key.pem").status == 0)
        let serial = try #require(try LiveServer.run(["cert", "list"], environment: environment).output
            .split(separator: "\n").first { $0.contains("CN=ops") }?.split(separator: " ").first.map(String.init))
        #expect(try LiveServer.run(["cert", "revoke", serial], environment: environment).status == 0)
        #expect(try call(scratch + "/ops-cert.pem", scratch + "/ops-key.pem").status != 0, "a revoked certificate is refused at once")
        #expect(try LiveServer.run(["cert", "revoke", serial], environment: environment).status != 0)

        // An expired certificate of the authority, recorded as super-admin, is refused; a fresh one made the same way gets in.
        let authority = try CertificateAuthority(certificatePEM: String(contentsOfFile: data + "/ca.pem", encoding: .utf8),
                                                 privateKeyPEM: String(contentsOfFile: data + "/ca-key.pem", encoding: .utf8))
        let expired = try authority.issue(commonName: "expired", usage: .client, now: Date().addingTimeInterval(-10 * 86_400), days: 1)
        let fresh = try authority.issue(commonName: "fresh", usage: .client, days: 1)
        try await withDatabase(.sqlite(path: data + "/gatehouse.sqlite"), logger: TestDatabases.logger) { database in
            let store = SQLStore(database: database)
            for (certificate, name) in [(expired, "expired"), (fresh, "fresh")] {
                try await store.recordCertificate(IssuedCertificate(serial: certificate.serialHex, purpose: "superadmin", subject: "CN=\(name)",
                                                                    notAfter: Int64(certificate.certificate.notValidAfter.timeIntervalSince1970),
                                                                    revokedAt: nil, createdAt: 0), audit: AuditIntent(actor: "test"))
            }
        }
        for (certificate, name) in [(expired, "expired"), (fresh, "fresh")] {
            try certificate.certificatePEM.write(toFile: "\(scratch)/\(name)-cert.pem", atomically: true, encoding: .utf8)
            try certificate.privateKeyPEM.write(toFile: "\(scratch)/\(name)-key.pem", atomically: true, encoding: .utf8)
        }
        #expect(try call(scratch + "/expired-cert.pem", scratch + "/expired-key.pem").status != 0)
        #expect(try call(scratch + "/fresh-cert.pem", scratch + "/fresh-key.pem").status == 0)
        // A client certificate of the authority that is not a super-admin one does not get in.
        let device = try authority.issue(commonName: "device", usage: .client, days: 1)
        try device.certificatePEM.write(toFile: scratch + "/device-cert.pem", atomically: true, encoding: .utf8)
        try device.privateKeyPEM.write(toFile: scratch + "/device-key.pem", atomically: true, encoding: .utf8)
        #expect(try call(scratch + "/device-cert.pem", scratch + "/device-key.pem").status != 0)

        #expect(try await server.stop() == 0)
    }
}
