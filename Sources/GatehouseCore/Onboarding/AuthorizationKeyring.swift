import Crypto
import Foundation
import Synchronization

/// The platform's authorization key as stored: the public key in the clear, the private key
/// sealed with the master key (``SecretVault``).
public struct StoredAuthorizationKey: Sendable, Hashable {
    /// The public key, SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    public var publicKeyPEM: String
    /// The private key (PKCS#8 PEM) sealed for ``AuthorizationKeyring/sealContext(publicKeyPEM:)``.
    public var privateKeySealed: String
    /// When it was made, unix seconds.
    public var createdAt: Int64

    /// A stored key from its parts.
    public init(publicKeyPEM: String, privateKeySealed: String, createdAt: Int64) {
        self.publicKeyPEM = publicKeyPEM
        self.privateKeySealed = privateKeySealed
        self.createdAt = createdAt
    }
}

/// The platform's RSA-2048 key that signs the authorization redirect (`signature` over
/// `state` + `token`). Made once on first use and shared by every node of a database: the
/// first node to store one wins and the others use it. The private key is kept sealed with
/// the master key; once read it is kept for the life of the process.
public final class AuthorizationKeyring: Sendable {
    let store: any OnboardingStore
    let vault: SecretVault
    let clock: any GatehouseClock
    private let loaded = Mutex<Loaded?>(nil)

    struct Loaded: Sendable {
        let privateKey: RSAPrivateKey
        let publicKeyPEM: String
    }

    /// A keyring over the store that keeps the key and the vault that seals it.
    public init(store: any OnboardingStore, vault: SecretVault, clock: any GatehouseClock) {
        self.store = store
        self.vault = vault
        self.clock = clock
    }

    /// The private key that signs redirects (made and stored on first use). Secret.
    public func privateKey() async throws -> RSAPrivateKey { try await load().privateKey }

    /// The public key, SPKI PEM, as Gatehouse publishes it for applications to check signatures.
    public func publicKeyPEM() async throws -> String { try await load().publicKeyPEM }

    /// The sealing context of a key's private half: bound to its public key, so a sealed value
    /// moved next to another public key does not open.
    public static func sealContext(publicKeyPEM: String) -> String {
        "authorization-key:" + Secrets.hex(SHA256.hash(data: Array(publicKeyPEM.utf8)))
    }

    func load() async throws -> Loaded {
        if let loaded = loaded.withLock({ $0 }) { return loaded }
        let stored: StoredAuthorizationKey
        if let existing = try await store.authorizationKey() {
            stored = existing
        } else {
            let made: Result<RSAPrivateKey, GatehouseError> = await Offload.run {
                Result { () throws(GatehouseError) in try RSAPrivateKey.generate(bits: 2_048) }
            }
            let key = try made.get()
            let publicKeyPEM = key.publicKey.pemRepresentation
            let sealed = try vault.seal(key.pemRepresentation, context: Self.sealContext(publicKeyPEM: publicKeyPEM))
            // Another node may have stored its key meanwhile: the stored one is answered either way.
            stored = try await store.storeAuthorizationKeyOnce(StoredAuthorizationKey(publicKeyPEM: publicKeyPEM, privateKeySealed: sealed,
                                                                                      createdAt: clock.now()))
        }
        let result = try Self.open(stored, vault: vault)
        loaded.withLock { $0 = result }
        return result
    }

    /// The private key of a stored key, checked against its public key.
    static func open(_ stored: StoredAuthorizationKey, vault: SecretVault) throws(GatehouseError) -> Loaded {
        let pem = try vault.open(stored.privateKeySealed, context: sealContext(publicKeyPEM: stored.publicKeyPEM))
        let key: RSAPrivateKey
        do {
            key = try RSAPrivateKey(pem: pem)
        } catch {
            throw GatehouseError(.internal, "the stored authorization key is not a valid RSA key")
        }
        guard let published = try? RSAPublicKey(pem: stored.publicKeyPEM), published == key.publicKey else {
            throw GatehouseError(.internal, "the stored authorization key's halves do not match")
        }
        return Loaded(privateKey: key, publicKeyPEM: stored.publicKeyPEM)
    }
}
