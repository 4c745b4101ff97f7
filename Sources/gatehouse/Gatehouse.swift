import ArgumentParser

/// The one Gatehouse executable.
@main
struct Gatehouse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "Activation and onboarding server for camera and IoT fleets.",
        subcommands: [Serve.self, Import.self, Export.self, AdminToken.self, Certificates.self, QR.self, Agent.self],
        defaultSubcommand: Serve.self)
}
