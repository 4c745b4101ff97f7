import ArgumentParser
import Foundation
import GatehouseServer
import Hummingbird
import Logging
import NIOCore
import NIOPosix

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

    @Option(name: .customLong("content-max-bytes"), help: "Largest content blob a vendor may upload, in bytes (env GATEHOUSE_CONTENT_MAX_BYTES; default 536870912).")
    var contentMaxBytes: Int?

    @Option(name: .customLong("media-image-max-bytes"), help: "Largest image a device may upload, in bytes (env GATEHOUSE_MEDIA_IMAGE_MAX_BYTES; default 10485760).")
    var mediaImageMaxBytes: Int?

    @Option(name: .customLong("media-clip-max-bytes"), help: "Largest clip a device may upload, in bytes (env GATEHOUSE_MEDIA_CLIP_MAX_BYTES; default 209715200).")
    var mediaClipMaxBytes: Int?

    @Option(name: .customLong("maintenance-interval"), help: "Seconds between maintenance runs: expired tokens, events, images and clips (env GATEHOUSE_MAINTENANCE_INTERVAL; default 600).")
    var maintenanceInterval: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env GATEHOUSE_LOG_LEVEL; default info).")
    var logLevel: String?

    @Option(name: .customLong("admin-tls-port"), help: "Port of the mutual-TLS super-admin listener, same host (env GATEHOUSE_ADMIN_TLS_PORT; default 9000; 0 picks a free one).")
    var adminTLSPort: Int?

    @Option(name: .customLong("access-token-lifetime"), help: "Partner OAuth access token lifetime in seconds (env GATEHOUSE_ACCESS_TOKEN_LIFETIME; default 43200).")
    var accessTokenLifetime: Int?

    @Option(name: .customLong("on-behalf-token-lifetime"), help: "Lifetime of tokens dealers mint for end users, seconds; 0 = until revoked (env GATEHOUSE_ON_BEHALF_TOKEN_LIFETIME; default 0).")
    var onBehalfTokenLifetime: Int?

    @Option(name: .customLong("token-realm"), help: "The <n> of <uuid>:<n> partner tokens (env GATEHOUSE_TOKEN_REALM; default 1).")
    var tokenRealm: Int?

    @Option(name: .customLong("signin-max-failures"), help: "Failed password grants per user name before a lock (env GATEHOUSE_SIGNIN_MAX_FAILURES; default 5).")
    var signinMaxFailures: Int?

    @Option(name: .customLong("signin-max-failures-per-address"), help: "Failed password grants per client address before a lock (env GATEHOUSE_SIGNIN_MAX_FAILURES_PER_ADDRESS; default 50).")
    var signinMaxFailuresPerAddress: Int?

    @Option(name: .customLong("signin-lockout"), help: "Seconds a sign-in lock lasts, and the window failures are counted in (env GATEHOUSE_SIGNIN_LOCKOUT; default 900).")
    var signinLockout: Int?

    @Option(name: .customLong("onboarding-timestamp-window"), help: "Seconds a signed onboarding request's UTCTimestamp may be off the server clock (env GATEHOUSE_ONBOARDING_TIMESTAMP_WINDOW; default 300).")
    var onboardingTimestampWindow: Int?

    @Option(name: .customLong("registration-code-lifetime"), help: "Seconds a registration code stays good (env GATEHOUSE_REGISTRATION_CODE_LIFETIME; default 3600).")
    var registrationCodeLifetime: Int?

    @Option(name: .customLong("endpoint-certificate-days"), help: "Validity of onboarded endpoints' certificates in days (env GATEHOUSE_ENDPOINT_CERTIFICATE_DAYS; default 365).")
    var endpointCertificateDays: Int?

    @Option(name: .customLong("rest-gateway-port"), help: "Port of the REST gateway's mutual-TLS listener for onboarded endpoints (env GATEHOUSE_REST_GATEWAY_PORT; default 8443; 0 picks a free port).")
    var restGatewayPort: Int?
    @Option(name: .customLong("rest-gateway-url"), help: "Base URL endpoints send REST measures to (env GATEHOUSE_REST_GATEWAY_URL; default https://127.0.0.1:8443).")
    var restGatewayURL: String?

    @Option(name: .customLong("mqtt-host"), help: "MQTT broker host given to onboarded endpoints (env GATEHOUSE_MQTT_HOST; default 127.0.0.1).")
    var mqttHost: String?

    @Option(name: .customLong("mqtt-port"), help: "MQTT broker TLS port given to onboarded endpoints (env GATEHOUSE_MQTT_PORT; default 8883).")
    var mqttPort: Int?

    @Option(name: .customLong("mqtt-broker-dir"), help: "Directory where Gatehouse keeps the MQTT broker's CA file, revocation list and ACL (env GATEHOUSE_MQTT_BROKER_DIR; default none).")
    var mqttBrokerDir: String?

    @Option(name: .customLong("mqtt-reload-command"), help: "Shell command run after the broker files change, e.g. 'pkill -HUP -x mosquitto' (env GATEHOUSE_MQTT_RELOAD_COMMAND).")
    var mqttReloadCommand: String?

    @OptionGroup var storage: StorageOptions

    /// An integer option: the flag, else `GATEHOUSE_<name>`, else nil; checked against `range`.
    func integer(_ flag: Int?, _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text = flag.map(String.init) ?? environment(name) else { return nil }
        let option = "--" + name.lowercased().replacingOccurrences(of: "_", with: "-")
        guard let value = Int(text), range.contains(value) else { throw ValidationError("\(option) must be an integer from \(range.lowerBound) to \(range.upperBound)") }
        return value
    }

    func run() async throws {
        var configuration = try storage.configuration()
        if case .postgres = configuration.database {
            // On PostgreSQL, Swift concurrency runs on NIO's event loops: a task that awaits a
            // statement resumes on the thread that read its answer, instead of a thread switch
            // each way. Token issue + redemption pairs, quick runs side by side: 5-7 context
            // switches per pair instead of 12-17, 765-894 pairs/s instead of 544-715. Not on
            // SQLite, whose statements run on threads of their own: there the refresh grant
            // fell about 10% with it (4,678-5,396/s against 5,106-5,832/s).
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        configuration.host = host ?? environment("HOST") ?? "127.0.0.1"
        configuration.port = try integer(port, "PORT", 0...65535) ?? 8080
        configuration.adminTLSPort = try integer(adminTLSPort, "ADMIN_TLS_PORT", 0...65535) ?? 9000
        configuration.restGatewayPort = try integer(restGatewayPort, "REST_GATEWAY_PORT", 0...65535) ?? 8443
        if let text = publicURL ?? environment("PUBLIC_URL") {
            guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw ValidationError("--public-url must be an http:// or https:// URL")
            }
            configuration.publicURL = text
        }
        if let size = try integer(maxBodySize, "MAX_BODY_SIZE", 1024...(1 << 30)) { configuration.maxBodySize = size }
        if let size = try integer(contentMaxBytes, "CONTENT_MAX_BYTES", 1...(1 << 40)) { configuration.contentMaxBytes = Int64(size) }
        if let size = try integer(mediaImageMaxBytes, "MEDIA_IMAGE_MAX_BYTES", 1...(1 << 40)) { configuration.media.imageMaxBytes = Int64(size) }
        if let size = try integer(mediaClipMaxBytes, "MEDIA_CLIP_MAX_BYTES", 1...(1 << 40)) { configuration.media.clipMaxBytes = Int64(size) }
        if let seconds = try integer(maintenanceInterval, "MAINTENANCE_INTERVAL", 1...86_400) { configuration.maintenanceInterval = .seconds(seconds) }
        if let text = logLevel ?? environment("LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: text) else { throw ValidationError("--log-level: unknown level \(text)") }
            configuration.logLevel = level
        }
        if let value = try integer(accessTokenLifetime, "ACCESS_TOKEN_LIFETIME", 60...31_536_000) { configuration.partnerAuth.accessTokenLifetime = Int64(value) }
        if let value = try integer(onBehalfTokenLifetime, "ON_BEHALF_TOKEN_LIFETIME", 0...315_360_000) { configuration.partnerAuth.onBehalfTokenLifetime = Int64(value) }
        if let value = try integer(tokenRealm, "TOKEN_REALM", 0...999_999_999) { configuration.partnerAuth.tokenRealm = value }
        if let value = try integer(signinMaxFailures, "SIGNIN_MAX_FAILURES", 1...1_000_000) { configuration.partnerAuth.throttle.perUsername = value }
        if let value = try integer(signinMaxFailuresPerAddress, "SIGNIN_MAX_FAILURES_PER_ADDRESS", 1...1_000_000) { configuration.partnerAuth.throttle.perAddress = value }
        if let value = try integer(signinLockout, "SIGNIN_LOCKOUT", 1...86_400 * 30) {
            configuration.partnerAuth.throttle.lockout = Int64(value)
            configuration.partnerAuth.throttle.window = Int64(value)
        }
        if let value = try integer(onboardingTimestampWindow, "ONBOARDING_TIMESTAMP_WINDOW", 10...86_400) { configuration.onboarding.timestampWindow = Int64(value) }
        if let value = try integer(registrationCodeLifetime, "REGISTRATION_CODE_LIFETIME", 60...30 * 86_400) { configuration.onboarding.registrationCodeLifetime = Int64(value) }
        if let value = try integer(endpointCertificateDays, "ENDPOINT_CERTIFICATE_DAYS", 1...3650) { configuration.onboarding.certificateDays = value }
        if let text = restGatewayURL ?? environment("REST_GATEWAY_URL") {
            guard let url = URL(string: text), url.scheme == "https" || url.scheme == "http", url.host != nil else {
                throw ValidationError("--rest-gateway-url must be an http:// or https:// URL")
            }
            configuration.onboarding.restBaseURL = text
        }
        if let text = mqttHost ?? environment("MQTT_HOST") {
            guard !text.isEmpty, !text.contains(where: \.isWhitespace) else { throw ValidationError("--mqtt-host must be a host name or address") }
            configuration.onboarding.mqttHost = text
        }
        if let value = try integer(mqttPort, "MQTT_PORT", 1...65535) { configuration.onboarding.mqttPort = value }
        configuration.mqttBrokerDirectory = mqttBrokerDir ?? environment("MQTT_BROKER_DIR")
        configuration.mqttReloadCommand = mqttReloadCommand ?? environment("MQTT_RELOAD_COMMAND")
        LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        let app = try buildApplication(configuration)
        try await app.runService()
    }
}
