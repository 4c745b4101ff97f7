import GatehouseCore
import GatehouseStore
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Builds the Gatehouse HTTP application: database service, migrations and bootstrap at
/// start, middleware, and every route. `gatehouse serve` and the tests both call this.
public func buildApplication(_ configuration: GatehouseConfiguration, logger: Logger? = nil) throws -> some ApplicationProtocol {
    var logger = logger ?? Logger(label: "gatehouse")
    logger.logLevel = configuration.logLevel
    _ = MetricsRegistry.shared

    let database = try DatabaseFactory.open(configuration.resolvedDatabase, operationTimeout: configuration.databaseTimeout, logger: logger)
    if case .sqlite = configuration.resolvedDatabase {
        try SecureFile.makeDirectory(configuration.dataDirectory)
    }
    let vault = try MasterKeyFile.load(configuration.resolvedMasterKeyFile)
    let gatehouse = GatehouseApp(configuration: configuration, database: database, vault: vault)
    let store = gatehouse.store

    let router = gatehouse.makeRouter()
    var services: [any Service] = [
        database,
        MaintenanceService(store: store, clock: configuration.clock, interval: configuration.maintenanceInterval, retention: 7 * 86_400, logger: logger,
                           media: gatehouse.media),
        UsageFlushService(meter: gatehouse.usage, store: store, clock: configuration.clock, interval: configuration.usageFlushInterval, logger: logger),
        gatehouse.webhooks,
        gatehouse.deviceHub,
    ]
    if let broker = gatehouse.brokerFiles { services.append(broker) }
    if configuration.adminTLSPort != nil {
        services.append(AdminListener(gatehouse: gatehouse, logger: logger, boundPort: configuration.adminPort))
    }
    if configuration.restGatewayPort != nil {
        services.append(RestGatewayListener(gatehouse: gatehouse, logger: logger))
    }
    var app = Application(
        router: router,
        server: gatehouse.deviceHub.mainServer(),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Gatehouse"),
        services: services,
        logger: logger)
    let startLogger = logger
    app.beforeServerStarts {
        let logger = startLogger
        let applied = try await Migrator(database: database).migrate()
        if !applied.isEmpty { logger.notice("database migrated", metadata: ["versions": "\(applied)", "engine": "\(database.engine.rawValue)"]) }
        try await store.checkMasterKey(vault.checkValue, at: configuration.clock.now())
        try await Bootstrap.run(store: store, vault: vault, dataDirectory: configuration.dataDirectory, logger: logger, announce: configuration.announceBootstrap)
        gatehouse.started.open()
    }
    return GatehouseApplication(inner: app, hub: gatehouse.deviceHub)
}

extension GatehouseApp {
    /// The router with its middleware and every route; the route table feeds 405 answers.
    func makeRouter() -> Router<GatehouseRequestContext> {
        let router = Router(context: GatehouseRequestContext.self)
        let table = RouteTableBox()
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorMiddleware(routes: table))
        addOperationRoutes(to: router)
        addSessionRoutes(to: router)
        addTenantRoutes(to: router)
        addUserRoutes(to: router)
        addClientRoutes(to: router)
        addAuditRoutes(to: router)
        addDeviceRoutes(to: router)
        addOAuthRoutes(to: router)
        addPartnerRoutes(to: router)
        addChannelRoutes(to: router)
        addChannelGroupRoutes(to: router)
        addFrontEndRoutes(to: router)
        addMediaRoutes(to: router)
        addVSaaSRoutes(to: router)
        addAgentActivationRoutes(to: router)
        addActivationQRRoutes(to: router)
        addOperatorRoutes(to: router)
        addPresetRoutes(to: router)
        addWebhookRoutes(to: router)
        addV1VendorRoutes(to: router)
        addProvisioningDeviceRoutes(to: router)
        addOnboardingRoutes(to: router)
        addV1ApplicationRoutes(to: router)
        addAuthorizationRoutes(to: router)
        addV1EndpointRoutes(to: router)
        addProvisioningModelRoutes(to: router)
        addProvisioningContentRoutes(to: router)
        addConsoleRoutes(to: router)
        addDeviceChannelRoutes(to: router)
        table.set(RouteTable(router.routes.map { ($0.method, $0.path.description) }))
        return router
    }
}

/// Holds the route table, filled in once the routes are registered.
final class RouteTableBox: Sendable {
    private let value = NIOLockedValueBox(RouteTable([]))
    func set(_ table: RouteTable) { value.withLockedValue { $0 = table } }
    var table: RouteTable { value.withLockedValue { $0 } }
}

/// The routes Gatehouse serves, for the OpenAPI consistency test.
public func gatehouseRoutes(_ configuration: GatehouseConfiguration) throws -> RouteTable {
    let database = try DatabaseFactory.open(configuration.resolvedDatabase, logger: Logger(label: "routes"))
    let gatehouse = GatehouseApp(configuration: configuration, database: database)
    // The main listener's routes, the admin listener's (super-admin API) and the REST gateway's, all in one document.
    let routes = gatehouse.makeRouter().routes + (gatehouse.makeAdminRouter().routes + gatehouse.makeGatewayRouter().routes).filter { $0.path.description != "/healthz" }
    // The console's HTML pages are not an API; docs/console.md describes them.
    return RouteTable(routes.filter { !$0.path.description.hasPrefix("/console") }.map { ($0.method, $0.path.description) })
}
