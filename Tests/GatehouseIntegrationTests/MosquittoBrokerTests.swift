import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseStore
import GatehouseTestSupport
import Testing

/// A real mosquitto (Debian's package) run with the CA file, revocation list and ACL Gatehouse
/// writes: endpoints authenticate with the certificates Gatehouse's authority issued them and
/// reach only their own topics; a revoked endpoint is refused. Needs mosquitto and
/// mosquitto-clients installed (.ci/run installs them); without them the tests fail and say so.
@Suite("mosquitto with Gatehouse's broker files", .serialized)
struct MosquittoBrokerTests {
    /// Runs `body` with a prepared (not started) broker and always stops it.
    func withBroker(_ authority: CertificateAuthority, _ body: (Mosquitto) async throws -> Void) async throws {
        let broker = try Mosquitto(authority: authority)
        do {
            try await body(broker)
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }

    @Test func endpointsReachOnlyTheirOwnTopicsAndARevokedOneIsRefused() async throws {
        let authority = try CertificateAuthority.generate()
        let endpointId = UUID().uuidString.lowercased(), otherId = UUID().uuidString.lowercased()
        let endpoint = try authority.issue(commonName: endpointId, organizationalUnit: "endpoint", usage: .client, days: 1)
        let service = try authority.issue(commonName: BrokerFiles.defaultServiceIdentity, organizationalUnit: "service", usage: .client, days: 1)
        // Same common name as the endpoint, but another authority.
        let foreign = try CertificateAuthority.generate(commonName: "Foreign Authority").issue(commonName: endpointId, usage: .client, days: 1)
        let topics = BrokerTopics.standard
        let now = Date()
        let firstUpdate = Date(timeIntervalSince1970: (now.timeIntervalSince1970 - 60).rounded(.down))

        try await TestDatabases.withMigrated(.sqlite) { database in
            let store = SQLStore(database: database)
            for (issued, purpose) in [(endpoint, "endpoint"), (service, "service")] {
                try await store.recordCertificate(
                    IssuedCertificate(serial: issued.serialHex, purpose: purpose, subject: issued.certificate.subject.description,
                                      notAfter: Int64(issued.certificate.notValidAfter.timeIntervalSince1970), revokedAt: nil,
                                      createdAt: Int64(now.timeIntervalSince1970)),
                    audit: AuditIntent(actor: "test"))
            }
            try await withBroker(authority) { broker in
                let written = try BrokerFilesWriter.write(
                    BrokerFiles(authority: authority, certificates: try await store.issuedCertificates(), crlNumber: 1,
                                thisUpdate: firstUpdate, nextUpdate: firstUpdate.addingTimeInterval(86_400)),
                    to: broker.brokerDirectory)
                #expect(written.map { URL(fileURLWithPath: $0).lastPathComponent } == ["ca.pem", "crl.pem", "acl"])
                try await broker.start()

                let endpointIdentity = try broker.identity(endpoint, name: "endpoint")
                let serviceIdentity = try broker.identity(service, name: "service")
                let foreignIdentity = try broker.identity(foreign, name: "foreign")

                // The endpoint's measures reach Gatehouse's service identity; its publish to another
                // endpoint's measures topic is refused and never delivered (it was sent first, so it
                // would arrive first).
                let measures = try await broker.subscribe(as: serviceIdentity, clientId: "gatehouse-service", topics: [topics.measuresPrefix + "#"])
                let forged = try await broker.publish(as: endpointIdentity, clientId: endpointId, topic: topics.measures(endpoint: otherId),
                                                      message: "forged")
                #expect(forged.status == 0 && forged.output.contains("Not authorized"), "\(forged.output)")
                let reading = try await broker.publish(as: endpointIdentity, clientId: endpointId, topic: topics.measures(endpoint: endpointId),
                                                       message: "reading 1")
                #expect(reading.status == 0 && !reading.output.contains("Not authorized"), "\(reading.output)")
                let received = try await measures.messages()
                #expect(received.map(\.topic) == ["measures/\(endpointId)"], "\(measures.output)")
                #expect(received.map(\.payload) == ["reading 1"])

                // The endpoint receives the commands for it and no one else's, even when it subscribes
                // to all of them, and cannot write its own commands topic.
                let commands = try await broker.subscribe(as: endpointIdentity, clientId: endpointId, topics: [topics.commandsPrefix + "#"])
                let spoofed = try await broker.publish(as: endpointIdentity, clientId: endpointId + "-publisher",
                                                       topic: topics.commands(endpoint: endpointId), message: "spoofed")
                #expect(spoofed.output.contains("Not authorized"), "\(spoofed.output)")
                let notYours = try await broker.publish(as: serviceIdentity, clientId: "gatehouse-service", topic: topics.commands(endpoint: otherId),
                                                        message: "for the other endpoint")
                #expect(notYours.status == 0 && !notYours.output.contains("Not authorized"), "\(notYours.output)")
                let command = try await broker.publish(as: serviceIdentity, clientId: "gatehouse-service", topic: topics.commands(endpoint: endpointId),
                                                       message: "command 1")
                #expect(command.status == 0 && !command.output.contains("Not authorized"), "\(command.output)")
                let commanded = try await commands.messages()
                #expect(commanded.map(\.topic) == ["commands/\(endpointId)"], "\(commands.output)")
                #expect(commanded.map(\.payload) == ["command 1"])

                // A certificate from another authority is refused in the TLS handshake.
                let stranger = try await broker.connects(as: foreignIdentity, clientId: endpointId)
                #expect(!stranger.connected, "\(stranger.output)")
                #expect(broker.log.contains("certificate verify failed"), "\(broker.log)")

                // Revoke the endpoint in the store, rewrite the list (a later thisUpdate), reload: refused.
                #expect(try await store.revokeCertificate(serial: endpoint.serialHex, at: Int64(now.timeIntervalSince1970), audit: AuditIntent(actor: "test")))
                #expect(try await broker.connects(as: endpointIdentity, clientId: endpointId).connected, "still listed as good until the reload")
                let refusalsBefore = broker.log.components(separatedBy: "certificate verify failed").count
                try BrokerFilesWriter.write(
                    BrokerFiles(authority: authority, certificates: try await store.issuedCertificates(), crlNumber: 2,
                                thisUpdate: firstUpdate.addingTimeInterval(1), nextUpdate: firstUpdate.addingTimeInterval(86_401)),
                    to: broker.brokerDirectory)
                try await broker.reload()
                let revoked = try await broker.connects(as: endpointIdentity, clientId: endpointId)
                #expect(!revoked.connected, "\(revoked.output)")
                #expect(broker.log.components(separatedBy: "certificate verify failed").count > refusalsBefore, "\(broker.log)")
                #expect(try await broker.connects(as: serviceIdentity, clientId: "gatehouse-service").connected, "\(broker.log)")

                // And after a restart on the same port.
                let port = broker.port
                try await broker.restart()
                #expect(broker.port == port)
                #expect(!(try await broker.connects(as: endpointIdentity, clientId: endpointId).connected))
                #expect(try await broker.connects(as: serviceIdentity, clientId: "gatehouse-service").connected, "\(broker.log)")
            }
        }
    }

    @Test func aclAndListenerTexts() throws {
        let acl = try BrokerFiles.accessControlList()
        let rules = acl.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(rules == ["pattern write measures/%u", "pattern read commands/%u", "user gatehouse:service",
                          "topic read measures/#", "topic write commands/#"])
        let custom = try BrokerTopics(measuresPrefix: "farm/up", commandsPrefix: "farm/down/")
        #expect(custom.measures(endpoint: "e") == "farm/up/e" && custom.commands(endpoint: "e") == "farm/down/e")
        let customRules = try BrokerFiles.accessControlList(topics: custom, serviceIdentity: nil).split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(customRules == ["pattern write farm/up/%u", "pattern read farm/down/%u"])
        for (measures, commands) in [("a/+/", "c/"), ("m/", "c/#"), ("$SYS/", "c/"), ("m/", "m/"), ("m/", "m/c/"), ("", "c/"), ("m x/", "c/"), ("m/%u/", "c/")] {
            #expect(throws: GatehouseError.self, "\(measures) \(commands)") { _ = try BrokerTopics(measuresPrefix: measures, commandsPrefix: commands) }
        }
        for identity in ["", "a b", "a/b", "a+", "a#", "%u", String(repeating: "x", count: 65)] {
            #expect(throws: GatehouseError.self, "\(identity)") { _ = try BrokerFiles.accessControlList(serviceIdentity: identity) }
        }

        let listener = try BrokerFiles.mosquittoListener(port: 8883, directory: "/var/lib/gatehouse/broker/", certificateFile: "/etc/b/cert.pem",
                                                         keyFile: "/etc/b/key.pem")
        let settings = listener.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(settings == ["allow_anonymous false", "acl_file /var/lib/gatehouse/broker/acl", "listener 8883 127.0.0.1",
                             "cafile /var/lib/gatehouse/broker/ca.pem", "certfile /etc/b/cert.pem", "keyfile /etc/b/key.pem",
                             "crlfile /var/lib/gatehouse/broker/crl.pem", "require_certificate true", "use_identity_as_username true",
                             "tls_version tlsv1.2"])
        #expect(throws: GatehouseError.self) { _ = try BrokerFiles.mosquittoListener(port: 0, directory: "/d", certificateFile: "/c", keyFile: "/k") }
        #expect(throws: GatehouseError.self) {
            _ = try BrokerFiles.mosquittoListener(port: 1, directory: "/d\nuser root", certificateFile: "/c", keyFile: "/k")
        }
    }

    @Test func theWriterReplacesTheFilesAtomicallyWithMode0644() throws {
        let authority = try CertificateAuthority.generate()
        let scratch = try TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let directory = scratch + "/nested/broker"
        let now = Date()
        for number in 1...3 {
            let files = try BrokerFiles(authority: authority, revoked: [], crlNumber: Int64(number), thisUpdate: now, nextUpdate: now.addingTimeInterval(60))
            try BrokerFilesWriter.write(files, to: directory)
            for (name, contents) in files.files {
                #expect(try String(contentsOfFile: directory + "/" + name, encoding: .utf8) == contents)
                let mode = try FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.posixPermissions] as? Int
                #expect(mode == 0o644, "\(name)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["acl", "ca.pem", "crl.pem"])
        #expect(try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int == 0o755)
        // A file where the directory should be is an error, not a crash.
        #expect(throws: GatehouseError.self) {
            try BrokerFilesWriter.write(BrokerFiles(caPEM: "", revocationListPEM: "", acl: ""), to: directory + "/acl")
        }
    }
}
