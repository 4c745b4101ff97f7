import Foundation
import GatehouseCore
import GatehouseStore
import Logging

/// First start: the platform's certificate authority, a super-admin client certificate and
/// the platform admin token, made once for the whole installation (every node shares them
/// through the database) and written to the data directory of the node that made them.
public enum Bootstrap {
    /// The file names in the data directory.
    public enum FileName {
        public static let authorityCertificate = "ca.pem"
        public static let authorityKey = "ca-key.pem"
        public static let superAdminCertificate = "superadmin-cert.pem"
        public static let superAdminKey = "superadmin-key.pem"
        public static let adminToken = "admin-token"
    }

    /// Validity of the super-admin certificate made at bootstrap.
    static let superAdminDays = 825

    /// Runs bootstrap if this installation has none yet; returns the paths it wrote. The
    /// authority's key is kept in the database sealed with `vault` (an older database's key in
    /// clear is sealed here), and a key that does not open with `vault` stops the start.
    @discardableResult
    public static func run(store: SQLStore, vault: SecretVault, dataDirectory: String, logger: Logger, announce: Bool) async throws -> [String] {
        try SecureFile.makeDirectory(dataDirectory)
        let directory = URL(fileURLWithPath: dataDirectory)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let now = Date()
        let material = try await store.bootstrapOnce(at: Int64(now.timeIntervalSince1970), vault: vault) {
            let authority = try CertificateAuthority.generate(now: now)
            let superAdmin = try authority.issue(commonName: "superadmin", organizationalUnit: "super-admin", usage: .client, now: now, days: superAdminDays)
            return BootstrapMaterial(
                authorityCertificatePEM: try authority.certificatePEM, authorityKeyPEM: authority.privateKeyPEM,
                superAdminCertificatePEM: try superAdmin.certificatePEM, superAdminKeyPEM: superAdmin.privateKeyPEM,
                superAdminSerial: superAdmin.serialHex,
                superAdminNotAfter: Int64(now.timeIntervalSince1970) + Int64(superAdminDays) * 86_400,
                adminToken: Secrets.token(prefix: "gha_"))
        }
        guard let material else {
            // Another node (or an earlier start) bootstrapped: seal a key an older version kept
            // in clear, check that the key opens, and make sure the public CA file is here.
            if try await store.sealAuthorityKeyIfClear(vault: vault) {
                logger.notice("bootstrap: sealed the certificate authority's key in the database with the master key")
            }
            if let authority = try await store.authority(vault: vault),
               !FileManager.default.fileExists(atPath: path(FileName.authorityCertificate)) {
                try SecureFile.write(authority.certificatePEM, to: path(FileName.authorityCertificate), mode: 0o644)
            }
            return []
        }
        let files: [(String, String, mode_t)] = [
            (FileName.authorityCertificate, material.authorityCertificatePEM, 0o644),
            (FileName.authorityKey, material.authorityKeyPEM, 0o600),
            (FileName.superAdminCertificate, material.superAdminCertificatePEM, 0o644),
            (FileName.superAdminKey, material.superAdminKeyPEM, 0o600),
            (FileName.adminToken, material.adminToken + "\n", 0o600),
        ]
        var written: [String] = []
        for (name, contents, mode) in files {
            try SecureFile.write(contents, to: path(name), mode: mode)
            written.append(path(name))
        }
        logger.notice("bootstrap: created the certificate authority, a super-admin certificate and the platform admin token")
        if announce {
            FileHandle.standardOutput.write(Data("""
                Gatehouse bootstrap (shown once):
                  certificate authority:      \(path(FileName.authorityCertificate)) (key: \(path(FileName.authorityKey)), 0600)
                  super-admin certificate:    \(path(FileName.superAdminCertificate))
                  super-admin key:            \(path(FileName.superAdminKey)) (0600)
                  platform admin token:       \(path(FileName.adminToken)) (0600; use as 'Authorization: Bearer <token>' on /v1)

                """.utf8))
        }
        return written
    }
}
