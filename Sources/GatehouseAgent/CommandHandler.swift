import Foundation

/// How the device answered a command.
public enum CommandOutcome: Sendable, Equatable {
    /// Done; the result as JSON (any JSON value; `null` when there is none).
    case ok(Data)
    /// Not done, and why.
    case failed(String)
}

/// Carries out commands on the device (PTZ, reboot, snapshot, …). Users script it with
/// ``ScriptCommandHandler``; `gatehouse agent simulate` uses ``EchoCommandHandler``.
public protocol CommandHandler: Sendable {
    /// Carries out `command`; `timeout` is the time left until it expires. Never throws.
    func handle(_ command: ChannelCommand, timeout: Duration) async -> CommandOutcome
}

/// `--command-handler CMD`: runs `/bin/sh -c CMD` with the command as JSON on standard input
/// (`{"id","name","params","expires_at"}`) and its name and id in `GATEHOUSE_COMMAND_NAME` and
/// `GATEHOUSE_COMMAND_ID`. Exit 0: standard output is the result (JSON; empty means null).
/// Any other exit: a failure with standard error's text. A handler still running when the
/// command expires is killed, and no answer is sent (the server has marked it timed out).
public struct ScriptCommandHandler: CommandHandler {
    public let command: String

    public init(command: String) {
        self.command = command
    }

    public func handle(_ command: ChannelCommand, timeout: Duration) async -> CommandOutcome {
        let outcome = await ScriptRunner.run(self.command, input: command.json + Data("\n".utf8),
                                             environment: ["GATEHOUSE_COMMAND_NAME": command.name, "GATEHOUSE_COMMAND_ID": command.id], timeout: timeout)
        guard outcome.status == 0 else { return .failed(outcome.errorText) }
        let text = String(decoding: outcome.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return .ok(Data("null".utf8)) }
        guard ChannelFrame.object(Data(text.utf8)) != nil else { return .failed("the command handler exited 0 but its output is not JSON") }
        return .ok(Data(text.utf8))
    }
}

/// Answers every command with `{"command": <name>, "simulated": true}` (for `gatehouse agent simulate`).
public struct EchoCommandHandler: CommandHandler {
    public init() {}
    public func handle(_ command: ChannelCommand, timeout: Duration) async -> CommandOutcome {
        .ok(Data(ChannelFrame.encode(["command": command.name, "simulated": true]).utf8))
    }
}

/// An agent started without a command handler: every command fails.
public struct NoCommandHandler: CommandHandler {
    public init() {}
    public func handle(_ command: ChannelCommand, timeout: Duration) async -> CommandOutcome {
        .failed("this agent has no handler for \(command.name) (start it with --command-handler)")
    }
}
