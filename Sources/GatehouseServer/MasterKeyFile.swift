import Foundation
import GatehouseCore

#if canImport(Glibc)
import Glibc
#endif

/// Loads the master key that seals retrievable secrets, creating it (0600) on first start.
public enum MasterKeyFile {
    /// The vault of `path`; a missing file is created with a fresh key, an unreadable or
    /// malformed one stops the start with a clear message.
    static func load(_ path: String) throws -> SecretVault {
        if !FileManager.default.fileExists(atPath: path) {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try SecureFile.makeDirectory(directory)
            try SecureFile.write(SecretVault.generateKeyData().base64EncodedString() + "\n", to: path, mode: 0o600)
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw GatehouseError(.invalidRequest, "cannot read the master key file \(path)")
        }
        do {
            return try SecretVault(keyData: SecretVault.keyData(fromFileText: text))
        } catch {
            throw GatehouseError(.invalidRequest, "\(path): \(error.message)")
        }
    }

    /// The vault of an existing master key file, for commands other than `serve`: they never
    /// make a key, so a missing file is an error that names the file.
    public static func loadExisting(_ path: String) throws -> SecretVault {
        guard FileManager.default.fileExists(atPath: path) else {
            throw GatehouseError(.invalidRequest, "no master key file at \(path): start `gatehouse serve` once, or give the file it uses (--master-key-file)")
        }
        return try load(path)
    }
}
