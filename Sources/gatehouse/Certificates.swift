import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseStore

/// `gatehouse cert …`: super-admin client certificates for the mutual-TLS admin listener.
struct Certificates: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Issue, list and revoke super-admin client certificates.",
        subcommands: [IssueSuperAdmin.self, Revoke.self, List.self])

    /// `gatehouse cert issue-superadmin --name N --out DIR`.
    struct IssueSuperAdmin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue-superadmin", abstract: "Issue a super-admin client certificate; writes <name>-cert.pem and <name>-key.pem (0600).")

        @Option(help: "A name for the certificate holder (its common name).") var name: String
        @Option(help: "Directory to write the certificate and key to.") var out: String
        @Option(help: "Days the certificate is valid (1-825).") var days = 365
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            guard (1...825).contains(days) else { throw ValidationError("--days must be from 1 to 825") }
            let name = try Validation.key(self.name.lowercased(), field: "name")
            let configuration = try storage.configuration()
            let issued = try await withMigratedStore(configuration) { store in
                // The authority's key is sealed with the master key, as the server keeps it.
                let vault = try MasterKeyFile.loadExisting(configuration.resolvedMasterKeyFile)
                try await store.checkMasterKey(vault.checkValue, at: SystemClock().now())
                try await store.sealAuthorityKeyIfClear(vault: vault)
                guard let stored = try await store.authority(vault: vault) else {
                    throw ValidationError("no certificate authority yet: start `gatehouse serve` once to bootstrap")
                }
                let authority = try CertificateAuthority(certificatePEM: stored.certificatePEM, privateKeyPEM: stored.keyPEM)
                let issued = try authority.issue(commonName: name, organizationalUnit: "super-admin", usage: .client, days: days)
                let now = SystemClock().now()
                try await store.recordCertificate(
                    IssuedCertificate(serial: issued.serialHex, purpose: "superadmin", subject: "CN=\(name)", notAfter: now + Int64(days) * 86_400,
                                      revokedAt: nil, createdAt: now),
                    audit: AuditIntent(actor: "cli", detail: "super-admin \(name)"))
                return (try issued.certificatePEM, issued.privateKeyPEM, issued.serialHex)
            }
            try SecureFile.makeDirectory(out)
            let base = URL(fileURLWithPath: out)
            try SecureFile.write(issued.0, to: base.appendingPathComponent("\(name)-cert.pem").path, mode: 0o644)
            try SecureFile.write(issued.1, to: base.appendingPathComponent("\(name)-key.pem").path, mode: 0o600)
            print("issued super-admin certificate \(issued.2) to \(base.appendingPathComponent("\(name)-cert.pem").path) (key 0600 beside it)")
        }
    }

    /// `gatehouse cert revoke SERIAL`.
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a certificate by serial; it is refused at once.")
        @Argument(help: "The serial number in hex, as `gatehouse cert list` shows it.") var serial: String
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let serial = serial.lowercased()
            let configuration = try storage.configuration()
            let revoked = try await withMigratedStore(configuration) { store in
                try await store.revokeCertificate(serial: serial, at: SystemClock().now(), audit: AuditIntent(actor: "cli"))
            }
            guard revoked else { throw ValidationError("no live certificate with serial \(serial)") }
            print("revoked \(serial)")
        }
    }

    /// `gatehouse cert list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the certificates the authority issued.")
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let configuration = try storage.configuration()
            let certificates = try await withMigratedStore(configuration) { store in try await store.issuedCertificates() }
            for certificate in certificates {
                let state = certificate.revokedAt == nil ? "live" : "revoked"
                print("\(certificate.serial)  \(certificate.purpose)  \(certificate.subject)  not-after=\(certificate.notAfter)  \(state)")
            }
        }
    }
}
