import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import Testing

/// Both client-certificate listeners — the super-admin mutual-TLS listener (seed 002) and the
/// REST gateway (seed 004) — refuse, at the handshake, a certificate of a foreign authority,
/// an expired certificate of Gatehouse's own authority, a revoked one, and TLS 1.0 and 1.1;
/// each refusal is shown next to a certificate made the same way that does get in. The
/// foreign and expired certificates are made with openssl, as an attacker or an operator would.
@Suite("TLS: client-certificate listeners", .serialized, .enabled(if: SystemTests.enabled, Comment(rawValue: SystemTests.skipReason)))
struct TLSListenerTests {
    /// A client certificate and its key as files.
    struct Identity {
        var certificate: String
        var key: String
        var curl: [String] { ["--cert", certificate, "--key", key] }
    }

    /// A scratch directory with a tiny `openssl ca` set-up around an authority's certificate and key.
    struct OpenSSLAuthority {
        let directory: String
        let certificate: String
        let key: String

        init(directory: String, certificate: String, key: String) throws {
            self.directory = directory
            self.certificate = certificate
            self.key = key
            try """
                [ca]
                default_ca = local
                [local]
                database = \(directory)/index.txt
                serial = \(directory)/serial
                new_certs_dir = \(directory)
                default_md = sha256
                policy = any
                [any]
                commonName = supplied
                [leaf]
                basicConstraints = critical,CA:FALSE
                keyUsage = critical,digitalSignature
                extendedKeyUsage = clientAuth
                """.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
            try "".write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
            try "4A1B2C3D4E5F6071\n".write(toFile: directory + "/serial", atomically: true, encoding: .utf8)
        }

        /// A new authority made by openssl (self-signed, P-256) in `directory`.
        static func foreign(in directory: String) throws -> OpenSSLAuthority {
            let made = try LiveServer.shell("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                                                        "-subj", "/O=Gatehouse/CN=Gatehouse CA", "-keyout", directory + "/foreign-ca-key.pem",
                                                        "-out", directory + "/foreign-ca.pem"])
            #expect(made.status == 0, "\(made.output)")
            return try OpenSSLAuthority(directory: directory, certificate: directory + "/foreign-ca.pem", key: directory + "/foreign-ca-key.pem")
        }

        /// A client certificate for `name` signed by this authority, valid between the two
        /// openssl dates (`YYYYMMDDHHMMSSZ`); answers the files and the lower-case hex serial.
        func issue(_ name: String, from start: String, to end: String) throws -> (identity: Identity, serial: String) {
            let key = "\(directory)/\(name)-key.pem", request = "\(directory)/\(name).csr", certificate = "\(directory)/\(name)-cert.pem"
            let csr = try LiveServer.shell("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                       "-subj", "/O=Gatehouse/CN=\(name)", "-keyout", key, "-out", request])
            #expect(csr.status == 0, "\(csr.output)")
            let signed = try LiveServer.shell("openssl", ["ca", "-batch", "-config", directory + "/ca.cnf", "-cert", self.certificate, "-keyfile", self.key,
                                                          "-in", request, "-out", certificate, "-startdate", start, "-enddate", end,
                                                          "-extensions", "leaf", "-notext"])
            #expect(signed.status == 0, "\(signed.output)")
            let serial = try LiveServer.shell("openssl", ["x509", "-in", certificate, "-noout", "-serial"]).output
                .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "").lowercased()
            return (Identity(certificate: certificate, key: key), serial)
        }
    }

    /// `openssl` dates relative to now.
    static func date(daysFromNow days: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: Date().addingTimeInterval(TimeInterval(days) * 86_400))
    }

    /// Records certificates of the authority as a listener's (`purpose`), as the server does
    /// when it issues one, so that a refusal can only come from what the test varies.
    static func record(_ certificates: [(serial: String, name: String)], purpose: String, database: String) async throws {
        try await withDatabase(.sqlite(path: database), logger: TestDatabases.logger) { database in
            let store = SQLStore(database: database)
            for (serial, name) in certificates {
                try await store.recordCertificate(IssuedCertificate(serial: serial, purpose: purpose, subject: "CN=\(name)",
                                                                    notAfter: Int64(Date().timeIntervalSince1970) + 86_400, revokedAt: nil,
                                                                    createdAt: Int64(Date().timeIntervalSince1970)),
                                                  audit: AuditIntent(actor: "test"))
            }
        }
    }

    /// One HTTPS call with curl (TLS 1.3 by default, or at most `maximum`): curl's exit status
    /// (non-zero when the handshake fails) and the HTTP status.
    static func curl(port: Int, path: String, ca: String, _ identity: Identity?, maximum: String? = nil) async throws -> (exit: Int32, status: Int, output: String) {
        var arguments = ["-sS", "--max-time", "15", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}"] + (identity?.curl ?? [])
        if let maximum { arguments += ["--tls-max", maximum] }
        let result = try await LiveServer.shellAsync("curl", arguments + ["https://127.0.0.1:\(port)\(path)"])
        return (result.status, Int(result.output.suffix(3)) ?? 0, result.output)
    }

    /// A handshake with `openssl s_client` at exactly one protocol version (`-tls1`, `-tls1_1`,
    /// `-tls1_2`), offering every cipher openssl has (security level 0), with a client certificate.
    static func handshake(port: Int, version: String, ca: String, _ identity: Identity) async throws -> (accepted: Bool, output: String) {
        let result = try await LiveServer.shellAsync("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", version, "-cipher", "DEFAULT@SECLEVEL=0",
                                                                 "-cert", identity.certificate, "-key", identity.key, "-CAfile", ca], input: "")
        // The client really offered that version (it was not refused on our side), and the
        // server either completed the handshake or sent an alert.
        #expect(!result.output.contains("no protocols available"), "\(result.output.suffix(400))")
        return (result.status == 0 && !result.output.contains("Cipher is (NONE)"), result.output)
    }

    /// The four refusals on one listener, each beside an acceptance: `good` gets in; a foreign
    /// authority's certificates (self-signed, and a leaf of a foreign CA named like Gatehouse's)
    /// do not; `expired` (and a certificate of the same authority made the same way but valid,
    /// `fresh`, that does get in); `revoked` (which got in before it was revoked, checked by the
    /// caller); TLS 1.0 and 1.1 do not, TLS 1.2 and 1.3 do.
    static func checkRefusals(port: Int, path: String, ca: String, scratch: String, good: Identity, fresh: Identity, expired: Identity,
                              revoked: Identity) async throws {
        for maximum in [nil, "1.2"] {
            let admitted = try await curl(port: port, path: path, ca: ca, good, maximum: maximum)
            #expect(admitted.exit == 0 && admitted.status == 200, "good certificate, TLS max \(maximum ?? "1.3"): \(admitted)")
            let freshAnswer = try await curl(port: port, path: path, ca: ca, fresh, maximum: maximum)
            #expect(freshAnswer.exit == 0 && freshAnswer.status != 0, "fresh certificate of the authority: \(freshAnswer)")
            #expect(try await curl(port: port, path: path, ca: ca, nil, maximum: maximum).exit != 0, "no certificate")

            let foreignCA = try OpenSSLAuthority.foreign(in: try TestDatabases.temporaryDirectory())
            let foreignLeaf = try foreignCA.issue("foreign-leaf", from: date(daysFromNow: -1), to: date(daysFromNow: 30)).identity
            let selfSigned = Identity(certificate: foreignCA.certificate, key: foreignCA.key)
            for (name, identity) in [("foreign leaf", foreignLeaf), ("foreign self-signed", selfSigned), ("expired", expired), ("revoked", revoked)] {
                let refused = try await curl(port: port, path: path, ca: ca, identity, maximum: maximum)
                #expect(refused.exit != 0, "\(name) certificate, TLS max \(maximum ?? "1.3"): the handshake must fail: \(refused)")
            }
        }
        for version in ["-tls1", "-tls1_1"] {
            let old = try await handshake(port: port, version: version, ca: ca, good)
            #expect(!old.accepted, "\(version) must be refused: \(old.output.suffix(400))")
        }
        let current = try await handshake(port: port, version: "-tls1_2", ca: ca, good)
        #expect(current.accepted && current.output.contains("TLSv1.2"), "TLS 1.2 is taken: \(current.output.suffix(400))")
        let newest = try await handshake(port: port, version: "-tls1_3", ca: ca, good)
        #expect(newest.accepted && newest.output.contains("TLSv1.3"), "TLS 1.3 is taken: \(newest.output.suffix(400))")
    }

    @Test func theSuperAdminListenerRefusesForeignExpiredRevokedAndOldTLS() async throws {
        let data = try TestDatabases.temporaryDirectory() + "/data"
        let scratch = try TestDatabases.temporaryDirectory()
        let environment = ["GATEHOUSE_DATA_DIR": data, "GATEHOUSE_PASSWORD_HASH_ROUNDS": "1000"]
        let started = try await LiveServer.startHealthy { port, adminPort in
            try LiveServer(arguments: ["--port", String(port), "--admin-tls-port", String(adminPort)], environment: environment, port: port, dataDirectory: data)
        }
        let (server, port) = (started.server, started.adminPort)
        defer { Task { _ = try? await server.stop(signal: SIGKILL) } }
        #expect(started.healthy, "\(server.stderr)")
        let ca = data + "/ca.pem"
        let good = Identity(certificate: data + "/superadmin-cert.pem", key: data + "/superadmin-key.pem")
        var ready = false
        for _ in 0..<50 where !ready {  // the listener starts right after bootstrap
            ready = try await Self.curl(port: port, path: "/healthz", ca: ca, good).status == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready)

        // Expired and fresh certificates of Gatehouse's own authority, made by openssl with its key, recorded as super-admin ones.
        let own = try OpenSSLAuthority(directory: scratch, certificate: ca, key: data + "/ca-key.pem")
        let expired = try own.issue("expired-admin", from: Self.date(daysFromNow: -10), to: Self.date(daysFromNow: -9))
        let fresh = try own.issue("fresh-admin", from: Self.date(daysFromNow: -1), to: Self.date(daysFromNow: 1))
        try await Self.record([(expired.serial, "expired-admin"), (fresh.serial, "fresh-admin")], purpose: "superadmin", database: data + "/gatehouse.sqlite")

        // Revoked: a super-admin certificate that got in, then `gatehouse cert revoke`.
        let issued = try LiveServer.run(["cert", "issue-superadmin", "--name", "ops", "--out", scratch], environment: environment)
        #expect(issued.status == 0, "\(issued.error)")
        let revoked = Identity(certificate: scratch + "/ops-cert.pem", key: scratch + "/ops-key.pem")
        #expect(try await Self.curl(port: port, path: "/healthz", ca: ca, revoked).status == 200)
        let serial = try #require(try LiveServer.run(["cert", "list"], environment: environment).output
            .split(separator: "\n").first { $0.contains("CN=ops") }?.split(separator: " ").first.map(String.init))
        #expect(try LiveServer.run(["cert", "revoke", serial], environment: environment).status == 0)

        try await Self.checkRefusals(port: port, path: "/healthz", ca: ca, scratch: scratch, good: good, fresh: fresh.identity,
                                     expired: expired.identity, revoked: revoked)
        #expect(try await server.stop() == 0)
    }

    @Test func theRestGatewayRefusesForeignExpiredRevokedAndOldTLS() async throws {
        let world = try await RestGatewayTests.start()
        let server = world.server
        defer { Task { _ = try? await server.stop(signal: SIGKILL) } }
        let (port, ca, data) = (world.gatewayPort, world.directory + "/ca.pem", server.dataDirectory)

        // Two onboarded endpoints (their keys decrypted for openssl); the second is revoked after it got in once.
        var identities: [(id: String, identity: Identity)] = []
        for name in ["good", "revoked"] {
            let (json, credentials) = try await RestGatewayTests.onboard(world, "urn:tls:\(name)", type: "PEM", file: name)
            let auth = try #require(json["authentication"] as? [String: Any])
            let key = "\(world.directory)/\(name)-plain-key.pem"
            let decrypted = try LiveServer.shell("openssl", ["pkey", "-in", "\(world.directory)/\(name).pem", "-passin",
                                                             "pass:\(try #require(auth["secret"] as? String))", "-out", key])
            #expect(decrypted.status == 0, "\(decrypted.output)")
            identities.append((credentials.id, Identity(certificate: "\(world.directory)/\(name).pem", key: key)))
        }
        let (good, revoked) = (identities[0], identities[1])
        let path = "/api/v1.0/gateway/rest/commands/\(good.id)"
        #expect(try await Self.curl(port: port, path: "/api/v1.0/gateway/rest/commands/\(revoked.id)", ca: ca, revoked.identity).status == 200)
        let revokeBody = #"{"accountId":"\#(world.accountUUID)","endpointIds":["\#(revoked.id)"],"UTCTimestamp":"\#(OnboardingMQTTTests.timestamp())","timeZone":"+01:00"}"#
        let revokedAnswer = try await OnboardingMQTTTests.call(server.port, "DELETE", "/api/v1.0/registration/onboard/revoke", headers: [
            "Content-Type": "application/json", "X-Agrirouter-ApplicationId": world.applicationId,
            "X-Agrirouter-Signature": try RequestSignature.sign(body: Array(revokeBody.utf8), privateKey: try #require(world.key))], body: revokeBody)
        #expect(revokedAnswer.status == 204, "\(revokedAnswer.text)")

        // Expired and fresh endpoint certificates of Gatehouse's own authority, made by openssl with its key.
        let scratch = try TestDatabases.temporaryDirectory()
        let own = try OpenSSLAuthority(directory: scratch, certificate: data + "/ca.pem", key: data + "/ca-key.pem")
        let expired = try own.issue("expired-endpoint", from: Self.date(daysFromNow: -10), to: Self.date(daysFromNow: -9))
        let fresh = try own.issue("fresh-endpoint", from: Self.date(daysFromNow: -1), to: Self.date(daysFromNow: 1))
        try await Self.record([(expired.serial, "expired-endpoint"), (fresh.serial, "fresh-endpoint")], purpose: "endpoint", database: data + "/gatehouse.sqlite")

        try await Self.checkRefusals(port: port, path: path, ca: ca, scratch: scratch, good: good.identity, fresh: fresh.identity,
                                     expired: expired.identity, revoked: revoked.identity)
    }
}
