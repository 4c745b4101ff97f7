import GatehouseStore
import GatehouseTestSupport
import Testing

/// The device channel's store contract on the embedded default, always.
@Suite("Device channel store contract on SQLite")
struct SQLiteDeviceChannelContractTests {
    @Test func presenceFollowsConnectionsAndNodes() async throws { try await DeviceChannelContract.presenceFollowsConnectionsAndNodes(.sqlite) }
    @Test func settingsVersionsAndReports() async throws { try await DeviceChannelContract.settingsVersionsAndReports(.sqlite) }
    @Test func commandsAreAnsweredOnceOrTimeOut() async throws { try await DeviceChannelContract.commandsAreAnsweredOnceOrTimeOut(.sqlite) }
    @Test func fleetSettingsAreAllOrNothing() async throws { try await DeviceChannelContract.fleetSettingsAreAllOrNothing(.sqlite) }
    @Test func fleetSettingsRaceSingleChanges() async throws { try await DeviceChannelContract.fleetSettingsRaceSingleChanges(.sqlite) }
}

/// The same contract on PostgreSQL, when `GATEHOUSE_TEST_DATABASE_URL` is set (CI sets it).
@Suite("Device channel store contract on PostgreSQL", .enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
struct PostgresDeviceChannelContractTests {
    @Test func presenceFollowsConnectionsAndNodes() async throws { try await DeviceChannelContract.presenceFollowsConnectionsAndNodes(.postgres) }
    @Test func settingsVersionsAndReports() async throws { try await DeviceChannelContract.settingsVersionsAndReports(.postgres) }
    @Test func commandsAreAnsweredOnceOrTimeOut() async throws { try await DeviceChannelContract.commandsAreAnsweredOnceOrTimeOut(.postgres) }
    @Test func fleetSettingsAreAllOrNothing() async throws { try await DeviceChannelContract.fleetSettingsAreAllOrNothing(.postgres) }
    @Test func fleetSettingsRaceSingleChanges() async throws { try await DeviceChannelContract.fleetSettingsRaceSingleChanges(.postgres) }
}
