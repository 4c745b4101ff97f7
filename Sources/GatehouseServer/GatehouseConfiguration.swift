import Foundation
import GatehouseCore
import GatehouseStore
import Logging

/// Everything `gatehouse serve` can be told: where to listen, where the data lives, limits.
public struct GatehouseConfiguration: Sendable {
    /// Address to bind the HTTP listener to.
    public var host: String
    /// Port of the HTTP listener (0 picks a free one).
    public var port: Int
    /// The URL clients reach Gatehouse at (used in links and issued configuration).
    public var publicURL: String?
    /// Directory for the embedded database and the bootstrap credentials.
    public var dataDirectory: String
    /// PostgreSQL (or an explicit SQLite file); `nil` means SQLite in the data directory.
    public var database: DatabaseConfiguration?
    /// Largest request body accepted, in bytes.
    public var maxBodySize: Int
    /// PBKDF2 rounds for new password hashes.
    public var passwordHashRounds: Int
    /// Lifetime of a /v1 user session, in seconds.
    public var sessionLifetime: Int64
    public var logLevel: Logger.Level
    /// Port of the mutual-TLS super-admin listener (seed 002), on the same host; `nil` turns it off.
    public var adminTLSPort: Int? = 9000
    /// Where the admin listener reports the port it bound.
    public var adminPort = AdminPortBox()
    /// Port of the REST gateway's mutual-TLS listener (seed 004), on the same host; `nil` turns it off.
    public var restGatewayPort: Int? = nil
    /// Where the REST gateway reports the port it bound.
    public var restGatewayBoundPort = AdminPortBox()
    /// Partner auth (seed 001): token lifetimes, the token realm, sign-in limits.
    public var partnerAuth = PartnerAuthSettings()
    /// The clock of every expiry and lock (tests move it).
    public var clock: any GatehouseClock = SystemClock()
    /// How long one database operation may take before the request fails with 503.
    public var databaseTimeout: Duration = .seconds(10)
    /// How long `/readyz` waits for the database to answer before it reports 503.
    public var readinessTimeout: Duration = .seconds(2)
    /// The master key file (base64 of 32 bytes); `nil` is `master.key` in the data directory,
    /// created on first start. Every node of one database must use the same key.
    public var masterKeyFile: String?
    /// How often each node adds its buffered usage counters (API calls, bytes served) to the database.
    public var usageFlushInterval: Duration = .seconds(1)
    /// Whether bootstrap may print the paths of new credentials (off in tests).
    public var announceBootstrap: Bool
    /// The largest content blob (firmware, media) a vendor may upload, in bytes.
    public var contentMaxBytes: Int64 = 512 << 20
    /// The largest image and clip a device may upload, in bytes (`--media-image-max-bytes`, `--media-clip-max-bytes`).
    public var media = MediaLimits()
    /// How often maintenance runs (token clean-up, retention of events, images and clips).
    public var maintenanceInterval: Duration = .seconds(600)
    /// Signed onboarding (seed 004): timestamp window, registration-code lifetime, certificate
    /// validity, and where endpoints connect (REST gateway URL, MQTT broker).
    public var onboarding = OnboardingSettings()
    /// Where Gatehouse keeps an MQTT broker's CA file, revocation list and ACL; `nil`: no broker files.
    public var mqttBrokerDirectory: String?
    /// Run (by `/bin/sh -c`) after the broker files change, e.g. `pkill -HUP -x mosquitto`.
    public var mqttReloadCommand: String?

    /// A configuration with the documented defaults.
    public init(
        host: String = "127.0.0.1", port: Int = 8080, publicURL: String? = nil, dataDirectory: String = "./gatehouse-data",
        database: DatabaseConfiguration? = nil, maxBodySize: Int = 1 << 20, passwordHashRounds: Int = PasswordHasher.defaultRounds,
        sessionLifetime: Int64 = 12 * 3600, logLevel: Logger.Level = .info, announceBootstrap: Bool = true
    ) {
        self.host = host
        self.port = port
        self.publicURL = publicURL
        self.dataDirectory = dataDirectory
        self.database = database
        self.maxBodySize = maxBodySize
        self.passwordHashRounds = passwordHashRounds
        self.sessionLifetime = sessionLifetime
        self.logLevel = logLevel
        self.announceBootstrap = announceBootstrap
    }

    /// The master key file to use.
    public var resolvedMasterKeyFile: String {
        masterKeyFile ?? URL(fileURLWithPath: dataDirectory).appendingPathComponent("master.key").path
    }

    /// Where front ends reach this server, as written into channel tokens: the public URL's
    /// host and port, or the listening host and port.
    public var tieredEndpoint: TieredEndpoint {
        if let publicURL, let url = URL(string: publicURL), let host = url.host {
            let secure = url.scheme == "https"
            let port = url.port ?? (secure ? 443 : 80)
            return TieredEndpoint(host: host, port: secure ? 80 : port, tlsPort: secure ? port : 443)
        }
        return TieredEndpoint(host: host, port: port, tlsPort: 443)
    }

    /// The database to use: the configured one, or `gatehouse.sqlite` in the data directory.
    public var resolvedDatabase: DatabaseConfiguration {
        database ?? .sqlite(path: URL(fileURLWithPath: dataDirectory).appendingPathComponent("gatehouse.sqlite").path)
    }
}
