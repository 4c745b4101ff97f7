import GatehouseCore
import GatehouseStore
import NIOConcurrencyHelpers

/// Gatehouse's certificate authority, read from the database on first use (after bootstrap
/// has made it), its key opened with the master key, and kept for the life of the process.
final class AuthorityLoader: Sendable {
    let store: SQLStore
    let vault: SecretVault
    private let loaded = NIOLockedValueBox<CertificateAuthority?>(nil)

    init(store: SQLStore, vault: SecretVault) {
        self.store = store
        self.vault = vault
    }

    func authority() async throws -> CertificateAuthority {
        if let authority = loaded.withLockedValue({ $0 }) { return authority }
        guard let stored = try await store.authority(vault: vault) else { throw GatehouseError(.unavailable, "the certificate authority is not ready yet") }
        let authority = try CertificateAuthority(certificatePEM: stored.certificatePEM, privateKeyPEM: stored.keyPEM)
        loaded.withLockedValue { $0 = authority }
        return authority
    }
}
