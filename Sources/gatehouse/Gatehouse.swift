import ArgumentParser

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
