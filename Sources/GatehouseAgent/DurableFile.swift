import Foundation

/// A file in a directory replaced atomically and durably: the new contents go to a
/// temporary file in the same directory, which is fsynced, renamed over the file, and the
/// directory is fsynced. After a power cut the file holds either the old or the new
/// contents in full; a torn temporary file may be left beside it, which
/// ``removeTemporaries()`` deletes (the agent calls it on start). Files are written 0600.
public struct DurableFile: Sendable {
    /// The directory the file is in.
    public let directory: String
    /// The file's name in `directory`.
    public let name: String

    public init(directory: String, name: String) {
        self.directory = directory
        self.name = name
    }

    /// The file's full path.
    public var path: String { directory + "/" + name }

    /// Temporary files are named `<name>.tmp-<pid>-<random>`.
    var temporaryPrefix: String { name + ".tmp-" }

    /// The file's contents; nil when there is no file.
    public func read() throws(AgentFileError) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw AgentFileError(operation: "open", path: path, errno: errno)
        }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw AgentFileError(operation: "read", path: path, errno: errno)
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[0..<count])
        }
    }

    /// Replaces the file with `data`: temporary file, fsync, rename, fsync of the directory.
    /// On failure the old file is left as it was and the temporary file is removed.
    public func write(_ data: Data) throws(AgentFileError) {
        let temporary = directory + "/" + temporaryPrefix + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentFileError(operation: "create", path: temporary, errno: errno) }
        var done = false
        defer { if !done { unlink(temporary) } }
        do {
            defer { close(fd) }
            // The mode given to open is masked by the umask; 0600 is what the file must be.
            guard fchmod(fd, 0o600) == 0 else { throw AgentFileError(operation: "chmod", path: temporary, errno: errno) }
            let bytes = [UInt8](data)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw AgentFileError(operation: "write", path: temporary, errno: errno)
                }
                offset += written
            }
            guard fsync(fd) == 0 else { throw AgentFileError(operation: "fsync", path: temporary, errno: errno) }
        }
        guard rename(temporary, path) == 0 else { throw AgentFileError(operation: "rename", path: path, errno: errno) }
        done = true
        try Self.syncDirectory(directory)
    }

    /// Deletes temporary files a write interrupted by a crash or power cut left behind;
    /// answers their names.
    @discardableResult
    public func removeTemporaries() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for name in names where name.hasPrefix(temporaryPrefix) {
            if unlink(directory + "/" + name) == 0 { removed.append(name) }
        }
        return removed.sorted()
    }

    /// Moves the file aside to `<name>.corrupt-<unix time>` (kept for a person to look at); answers the new name.
    public func moveAside() throws(AgentFileError) -> String {
        let aside = name + ".corrupt-\(Int(Date().timeIntervalSince1970))"
        guard rename(path, directory + "/" + aside) == 0 else { throw AgentFileError(operation: "rename", path: path, errno: errno) }
        try Self.syncDirectory(directory)
        return aside
    }

    /// fsyncs a directory, so that a rename or a new file in it survives a power cut.
    static func syncDirectory(_ directory: String) throws(AgentFileError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw AgentFileError(operation: "open", path: directory, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw AgentFileError(operation: "fsync", path: directory, errno: errno) }
    }

    /// Makes `directory` (and its parents) if it does not exist; a new directory is 0700.
    public static func makeDirectory(_ directory: String) throws(AgentFileError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw AgentFileError(operation: "use as a directory", path: directory, errno: ENOTDIR) }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AgentFileError(operation: "create the directory", path: directory, errno: EACCES)
        }
    }
}

/// A file operation of the agent that failed, with the system's reason.
public struct AgentFileError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let path: String
    public let errno: Int32

    public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(errno)))" }
}
