import ArgumentParser
import NIOCore
import NIOPosix

/// The one Gatehouse executable.
@main
struct Gatehouse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "Activation and onboarding server for camera and IoT fleets.",
        subcommands: [Serve.self, Import.self, Export.self, AdminToken.self, Certificates.self, QR.self, Agent.self],
        defaultSubcommand: Serve.self)

    /// Runs the command line. `gatehouse agent simulate …` is dispatched here rather than as a
    /// subcommand of `agent`, whose own options (`--serial`, …) are required.
    static func main() async {
        // Swift concurrency runs on NIO's event loops: a request's tasks and its sockets'
        // I/O share threads, instead of a thread switch each time a task awaits I/O. Token
        // issue + redemption pairs on PostgreSQL with it (and group-commit drain loops off the
        // writer thread, statements run on their connection's loop): 5-7 context switches per
        // pair instead of 12-17, and 750-860 pairs/s instead of 540-715.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        var arguments = Array(CommandLine.arguments.dropFirst())
        let simulate = arguments.starts(with: ["agent", "simulate"])
        if simulate { arguments.removeFirst(2) }
        let root: any ParsableCommand.Type = simulate ? AgentSimulate.self : Gatehouse.self
        do {
            var command = try root.parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            root.exit(withError: error)
        }
    }
}
