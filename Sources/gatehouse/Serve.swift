import ArgumentParser
import Foundation
import GatehouseServer
import Hummingbird
import Logging

/// `gatehouse serve`: the HTTP server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the Gatehouse server.")

    @Option(help: "Address to listen on (env GATEHOUSE_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env GATEHOUSE_PORT; default 8080).")
    var port: Int?

    @Option(name: .customLong("public-url"), help: "URL clients reach this server at (env GATEHOUSE_PUBLIC_URL).")
    var publicURL: String?

    @Option(name: .customLong("max-body-size"), help: "Largest request body in bytes (env GATEHOUSE_MAX_BODY_SIZE; default 1048576).")
    var maxBodySize: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env GATEHOUSE_LOG_LEVEL; default info).")
    var logLevel: String?

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        var configuration = try storage.configuration()
        configuration.host = host ?? environment("HOST") ?? "127.0.0.1"
        guard let port = try port ?? environment("PORT").map({ text -> Int in
            guard let value = Int(text) else { throw ValidationError("GATEHOUSE_PORT must be an integer") }
            return value
        }) ?? 8080 as Int?, (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        configuration.port = port
        if let text = publicURL ?? environment("PUBLIC_URL") {
            guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw ValidationError("--public-url must be an http:// or https:// URL")
            }
            configuration.publicURL = text
        }
        if let text = maxBodySize.map(String.init) ?? environment("MAX_BODY_SIZE") {
            guard let size = Int(text), size >= 1024 else { throw ValidationError("--max-body-size must be an integer of at least 1024") }
            configuration.maxBodySize = size
        }
        if let text = logLevel ?? environment("LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: text) else { throw ValidationError("--log-level: unknown level \(text)") }
            configuration.logLevel = level
        }
        LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        let app = try buildApplication(configuration)
        try await app.runService()
    }
}
