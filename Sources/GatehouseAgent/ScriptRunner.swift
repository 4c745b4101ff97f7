import Foundation

/// How a user's handler script ended.
public struct ScriptOutcome: Sendable, Equatable {
    /// The exit status (nil: killed because it ran past its deadline, or it could not be started).
    public var status: Int32?
    /// Its standard output (at most ``ScriptRunner/outputLimit`` bytes are kept).
    public var stdout: Data
    /// Its standard error, as text (at most 4 KiB kept).
    public var stderr: String
    /// Whether it was killed at its deadline.
    public var timedOut: Bool
    /// Why it could not be started, if it could not.
    public var launchError: String?

    /// `stderr` trimmed, or a description of how the script ended when it printed nothing.
    public var errorText: String {
        let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty { return text }
        if let launchError { return launchError }
        if timedOut { return "the handler did not finish in time" }
        return "the handler exited with status \(status.map(String.init) ?? "?")"
    }
}

/// Runs a handler command with `/bin/sh -c`, writes `input` to its standard input, and collects
/// its output. The command runs in its own process group; at its deadline, or when the calling
/// task is cancelled, the whole group is killed with SIGKILL (so a hanging script and the
/// processes it started do not outlive it).
public enum ScriptRunner {
    /// The most standard output kept (a snapshot image fits).
    public static let outputLimit = 32 * 1024 * 1024
    static let stderrLimit = 4096

    /// Runs `command` to its end (or its deadline); never throws: a failure to start is an outcome.
    public static func run(_ command: String, input: Data, environment extra: [String: String], timeout: Duration) async -> ScriptOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment.merge(extra) { $1 }
        process.environment = environment
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus); exited.continuation.finish() }
        do {
            try process.run()
        } catch {
            return ScriptOutcome(status: nil, stdout: Data(), stderr: "", timedOut: false, launchError: "cannot run /bin/sh: \(error)")
        }
        let pid = process.processIdentifier
        let group = getpgid(pid) == pid ? -pid : pid
        // Readers on their own threads: the pipes are drained while the script runs, whatever it writes.
        let out = drain(stdout.fileHandleForReading, limit: outputLimit)
        let err = drain(stderr.fileHandleForReading, limit: stderrLimit)
        try? stdout.fileHandleForWriting.close()
        try? stderr.fileHandleForWriting.close()
        DispatchQueue.global().async {
            signal(SIGPIPE, SIG_IGN)
            try? stdin.fileHandleForWriting.write(contentsOf: input)
            try? stdin.fileHandleForWriting.close()
        }
        let killer = Task { () -> Bool in
            do { try await Task.sleep(for: timeout) } catch { return false }
            kill(group, SIGKILL)
            return true
        }
        var status: Int32?
        await withTaskCancellationHandler {
            for await code in exited.stream { status = code }
        } onCancel: {
            kill(group, SIGKILL)
        }
        killer.cancel()
        // The script ended; anything it left in its group goes too, so that the pipes close.
        kill(group, SIGKILL)
        let timedOut = await killer.value
        let stdoutData = await out.value
        let stderrData = await err.value
        return ScriptOutcome(status: process.terminationReason == .exit ? status : nil, stdout: stdoutData,
                             stderr: String(decoding: stderrData, as: UTF8.self), timedOut: timedOut, launchError: nil)
    }

    /// Reads `handle` to its end on a dispatch thread, keeping at most `limit` bytes.
    static func drain(_ handle: FileHandle, limit: Int) -> Task<Data, Never> {
        Task.detached {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    var kept = Data()
                    while true {
                        let chunk = handle.availableData
                        if chunk.isEmpty { break }
                        if kept.count < limit { kept.append(chunk.prefix(limit - kept.count)) }
                    }
                    try? handle.close()
                    continuation.resume(returning: kept)
                }
            }
        }
    }
}
