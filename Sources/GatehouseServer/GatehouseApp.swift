import GatehouseCore
import GatehouseStore
import Hummingbird
import Logging

/// The parts every route handler needs: the database, the core services, the configuration.
struct GatehouseApp: Sendable {
    let configuration: GatehouseConfiguration
    let database: any Database
    let store: SQLStore
    let management: Management
    let partnerAuth: PartnerAuth
    /// The tiered-access surface (seed 002).
    let tiered: TieredAccess
    /// The agent-activation surface (seed 000).
    let activation: AgentActivation
    /// The serial-provisioning surface (seed 003).
    let provisioning: Provisioning
    /// The signed-onboarding surface (seed 004).
    let onboarding: Onboarding
    /// The REST gateway of onboarded endpoints (seed 004).
    let gateway: EndpointGateway
    /// The certificate authority, read once it exists.
    let authority: AuthorityLoader
    /// Keeps the MQTT broker's files current (when a broker directory is configured).
    let brokerFiles: BrokerFilesService?
    /// Seals retrievable secrets (license keys, channel tokens, webhook secrets).
    let vault: SecretVault
    /// Delivers the operators' webhook events (seed 000).
    let webhooks: WebhookDeliveryService
    /// Images, clips and live-video URLs of channels (issue 9 points 4 and 5).
    let media: MediaLibrary
    /// Buffered usage counters of the tiered-access surface.
    let usage: UsageMeter
    /// Opens when start-up is done (the admin listener waits for it).
    let started: StartupGate
    /// This node's device channel: open WebSockets, presence, settings and command delivery (issue 9).
    let deviceHub: DeviceChannelHub

    /// The core services over `database`, configured by `configuration`; `vault` seals
    /// retrievable secrets (a throwaway one when `nil`, for route listings).
    init(configuration: GatehouseConfiguration, database: any Database, vault: SecretVault? = nil) {
        let store = SQLStore(database: database)
        let hasher = PasswordHasher(rounds: configuration.passwordHashRounds)
        self.configuration = configuration
        self.database = database
        self.store = store
        self.management = Management(store: store, hasher: hasher, clock: configuration.clock, sessionLifetime: configuration.sessionLifetime)
        self.partnerAuth = PartnerAuth(store: store, hasher: hasher, clock: configuration.clock, settings: configuration.partnerAuth)
        // A throwaway vault is only for building a router that never serves (the route listing).
        let vault = vault ?? (try? SecretVault(keyData: SecretVault.generateKeyData()))!
        self.tiered = TieredAccess(store: store, vault: vault, clock: configuration.clock, endpoint: configuration.tieredEndpoint)
        self.vault = vault
        self.media = MediaLibrary(store: store, tiered: tiered, limits: configuration.media)
        let started = StartupGate()
        self.started = started
        self.deviceHub = DeviceChannelHub(store: store, clock: configuration.clock, logger: Logger(label: "gatehouse.devices"), ready: { started.isOpen })
        self.webhooks = WebhookDeliveryService(store: store, vault: vault, clock: configuration.clock, logger: Logger(label: "gatehouse.webhooks"),
                                               ready: { started.isOpen })
        self.usage = UsageMeter()
        self.activation = AgentActivation(store: store, management: management, clock: configuration.clock,
                                          defaultWatcherURL: configuration.publicURL ?? "http://\(configuration.host):\(configuration.port)")
        self.provisioning = Provisioning(store: store, management: management, clock: configuration.clock, maxContentBytes: configuration.contentMaxBytes)
        let authority = AuthorityLoader(store: store, vault: vault)
        self.authority = authority
        self.brokerFiles = configuration.mqttBrokerDirectory.map {
            BrokerFilesService(store: store, authority: authority, configuration: configuration, started: started, directory: $0,
                               reloadCommand: configuration.mqttReloadCommand, logger: Logger(label: "gatehouse.mqtt"))
        }
        self.onboarding = Onboarding(store: store, management: management, authority: { try await authority.authority() }, clock: configuration.clock,
                                     settings: configuration.onboarding)
        self.gateway = EndpointGateway(onboarding: onboarding, store: store)
    }

    /// The caller behind `Authorization: Bearer <token>`, or `unauthenticated`.
    func caller(_ request: Request) async throws -> Caller {
        try await management.caller(bearer: Self.bearerToken(request))
    }

    /// The bearer token of a request, or `unauthenticated` when there is none.
    static func bearerToken(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization] else {
            throw GatehouseError(.unauthenticated, "an Authorization: Bearer token is required")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw GatehouseError(.unauthenticated, "the Authorization header must be 'Bearer <token>'")
        }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    /// A page request from `limit` and `cursor`.
    static func page(_ request: Request) throws -> PageRequest {
        try PageRequest.parse(limit: request.query("limit"), cursor: request.query("cursor"))
    }

    /// An optional integer query parameter.
    static func int64(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = request.query(name), !text.isEmpty else { return nil }
        guard let value = Int64(text), value > 0 else {
            throw GatehouseError(.invalidRequest, "\(name) must be a positive integer", field: name)
        }
        return value
    }

    func body<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        try await JSON.decode(type, from: request, limit: configuration.maxBodySize)
    }
}
