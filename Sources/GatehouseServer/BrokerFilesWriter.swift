import Foundation
import GatehouseCore
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes ``BrokerFiles`` (CA file, revocation list, ACL) into the MQTT broker's directory.
public enum BrokerFilesWriter {
    /// Writes are one at a time in this process: ``SecureFile/write(_:to:mode:)`` names its
    /// temporary file after the process, so two writes of one file at once would share it.
    private static let lock = NIOLock()

    /// Writes the three files into `directory` (created with mode 0755 if missing, so a broker
    /// running as another user can read it). Each file is written atomically, mode 0644: a
    /// temporary file in the same directory, flushed to disk and renamed over the old one; then
    /// the directory is flushed, so the renames survive a crash. The ACL comes last. Afterwards,
    /// tell the broker to reload (mosquitto: SIGHUP).
    ///
    /// - Returns: the paths written, in order.
    /// - Throws: `GatehouseError` (`internal`) when the directory or a file cannot be written;
    ///   files written before the failure keep their new contents, the others their old.
    @discardableResult
    public static func write(_ files: BrokerFiles, to directory: String) throws(GatehouseError) -> [String] {
        do {
            return try lock.withLock {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
                    guard isDirectory.boolValue else { throw GatehouseError(.invalidRequest, "\(directory) exists and is not a directory") }
                } else {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
                }
                let base = URL(fileURLWithPath: directory)
                var written: [String] = []
                for (name, contents) in files.files {
                    let path = base.appendingPathComponent(name).path
                    try SecureFile.write(contents, to: path, mode: 0o644)
                    written.append(path)
                }
                syncDirectory(directory)
                return written
            }
        } catch let error as GatehouseError {
            throw error
        } catch {
            throw GatehouseError(.internal, "cannot write the broker files to \(directory)")
        }
    }

    /// Flushes a directory's entries (the renames) to disk; best effort.
    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
