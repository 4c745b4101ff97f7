import Foundation

/// An exclusive `flock` on `agent.lock` in the agent's state directory, held for the life of
/// the process (the kernel drops it when the process ends, however it ends), so that two
/// agents never share one state directory.
public final class StateDirectoryLock: Sendable {
    /// The lock file's name in the state directory.
    public static let fileName = "agent.lock"
    let descriptor: Int32
    /// The lock file's path.
    public let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Takes the lock of `directory` without waiting; throws ``StateDirectoryLockError/held(directory:holder:)``
    /// when another process (or another open of the file) holds it. Writes this process's id into the file.
    public static func acquire(directory: String) throws -> StateDirectoryLock {
        let path = directory + "/" + fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentFileError(operation: "open", path: path, errno: errno) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            if error == EINTR { continue }
            defer { close(fd) }
            if error == EWOULDBLOCK {
                var buffer = [UInt8](repeating: 0, count: 32)
                let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
                let holder = count > 0 ? Int32(String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) : nil
                throw StateDirectoryLockError.held(directory: directory, holder: holder)
            }
            throw AgentFileError(operation: "lock", path: path, errno: error)
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        return StateDirectoryLock(descriptor: fd, path: path)
    }

    deinit { close(descriptor) }
}

/// Why the state directory could not be locked.
public enum StateDirectoryLockError: Error, CustomStringConvertible, Sendable {
    /// Another agent holds the lock (`holder`: its process id, when it wrote one).
    case held(directory: String, holder: Int32?)

    public var description: String {
        switch self {
        case let .held(directory, holder):
            "another gatehouse agent\(holder.map { " (pid \($0))" } ?? "") is already running on the state directory \(directory); "
                + "one state directory serves one agent"
        }
    }
}
