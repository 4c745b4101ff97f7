import GatehouseStore
import GatehouseTestSupport
import Testing

/// The store contract on the embedded default, always.
@Suite("Store contract on SQLite")
struct SQLiteStoreContractTests {
    @Test func migrationsAreIdempotent() async throws { try await StoreContract.migrationsAreIdempotent(.sqlite) }
    @Test func upgradeKeepsData() async throws { try await StoreContract.upgradeKeepsData(.sqlite) }
    @Test func newerSchemaIsRefused() async throws { try await StoreContract.newerSchemaIsRefused(.sqlite) }
    @Test func concurrentNodesMigrateOnce() async throws { try await StoreContract.concurrentNodesMigrateOnce(.sqlite) }
    @Test func tenantTree() async throws { try await StoreContract.tenantTree(.sqlite) }
    @Test func featureSwitches() async throws { try await StoreContract.featureSwitches(.sqlite) }
    @Test func usersAndSessions() async throws { try await StoreContract.usersAndSessions(.sqlite) }
    @Test func clients() async throws { try await StoreContract.clients(.sqlite) }
    @Test func failedWritesLeaveNothing() async throws { try await StoreContract.failedWritesLeaveNothing(.sqlite) }
    @Test func auditIsScoped() async throws { try await StoreContract.auditIsScoped(.sqlite) }
    @Test func bootstrapHappensOnce() async throws { try await StoreContract.bootstrapHappensOnce(.sqlite) }
    @Test func importIsIdempotent() async throws { try await ImportContract.importIsIdempotent(.sqlite) }
    @Test func exportRoundTrips() async throws { try await ImportContract.exportRoundTrips(.sqlite) }
    @Test func badImportFilesWriteNothing() async throws { try await ImportContract.badFilesWriteNothing(.sqlite) }
    @Test func tokensAndThrottle() async throws { try await CredentialContract.tokensAndThrottle(.sqlite) }
    @Test func tieredLimitsHoldUnderConcurrency() async throws { try await TieredContract.limitsHoldUnderConcurrency(.sqlite) }
    @Test func tieredBatchedCreationsPerAccount() async throws { try await TieredContract.batchedCreationsPerAccount(.sqlite) }
    @Test func activationParallelRedemptions() async throws { try await ActivationContract.parallelRedemptionsMakeOneCamera(.sqlite) }
    @Test func activationCachedLookupsFollowChanges() async throws { try await ActivationContract.cachedLookupsFollowChanges(.sqlite) }
    @Test func activationSessionsExpireAndEnd() async throws { try await ActivationContract.sessionsExpireAndEnd(.sqlite) }
    @Test func activationGuessingExpiryUnassignedAndLimits() async throws { try await ActivationContract.guessingExpiryUnassignedAndLimits(.sqlite) }
    @Test func tieredTokensRotateAndAreNotStoredInClear() async throws { try await TieredContract.tokensRotateAndAreNotStoredInClear(.sqlite) }
    @Test func tieredEventsNewestFirst() async throws { try await TieredContract.eventsNewestFirst(.sqlite) }
    @Test func tieredUsageAndMasterKey() async throws { try await TieredContract.usageAndMasterKey(.sqlite) }
    @Test func webhookEnqueueIsPartOfTheTransaction() async throws { try await WebhookContract.enqueueIsPartOfTheTransaction(.sqlite) }
    @Test func webhookEnqueueOnlyForSubscribers() async throws { try await WebhookContract.enqueueOnlyForSubscribers(.sqlite) }
    @Test func webhookConcurrentClaimersNeverShare() async throws { try await WebhookContract.concurrentClaimersNeverShare(.sqlite) }
    @Test func webhookFailedIsRetriedAfterBackoff() async throws { try await WebhookContract.failedIsRetriedAfterBackoff(.sqlite) }
    @Test func webhookGivenUpAfterMaxAttempts() async throws { try await WebhookContract.givenUpAfterMaxAttempts(.sqlite) }
    @Test func webhookDeleteDropsDeliveries() async throws { try await WebhookContract.deleteDropsDeliveries(.sqlite) }
    @Test func webhookSecretIsNotStoredInClear() async throws { try await WebhookContract.secretIsNotStoredInClear(.sqlite) }
    @Test func serialProvisioningSerialsAreAddedAllOrNone() async throws { try await ProvisioningContract.serialsAreAddedAllOrNone(.sqlite) }
    @Test func serialProvisioningSerialsListInOrderAndRemove() async throws { try await ProvisioningContract.serialsListInOrderAndRemove(.sqlite) }
    @Test func serialProvisioningEnableBindsAnOwnerForTheModelWindow() async throws { try await ProvisioningContract.enableBindsAnOwnerForTheModelWindow(.sqlite) }
    @Test func serialProvisioningConcurrentEnablesMakeOneDevice() async throws { try await ProvisioningContract.concurrentEnablesMakeOneDevice(.sqlite) }
    @Test func serialProvisioningActivationIssuesOneCIKPerEnablement() async throws { try await ProvisioningContract.activationIssuesOneCIKPerEnablement(.sqlite) }
    @Test func serialProvisioningActivationWindowExpires() async throws { try await ProvisioningContract.activationWindowExpires(.sqlite) }
    @Test func serialProvisioningCIKIsStoredHashed() async throws { try await ProvisioningContract.cikIsStoredHashed(.sqlite) }
    @Test func serialProvisioningConcurrentActivationsIssueOneCIK() async throws { try await ProvisioningContract.concurrentActivationsIssueOneCIK(.sqlite) }
    @Test func serialProvisioningManySerialsActivateConcurrently() async throws { try await ProvisioningContract.manySerialsActivateConcurrently(.sqlite) }
    @Test func serialProvisioningBatchedActivationsKeepTheirOwnTime() async throws { try await ProvisioningContract.batchedActivationsKeepTheirOwnTime(.sqlite) }
    @Test func serialProvisioningRemovalsDuringActivationDoNotSpoilTheBatch() async throws { try await ProvisioningContract.removalsDuringActivationDoNotSpoilTheBatch(.sqlite) }
    @Test func serialProvisioningSerialLogRecordsTheStory() async throws { try await ProvisioningContract.serialLogRecordsTheStory(.sqlite) }
    @Test func serialProvisioningContentUploadStreamsExactBytes() async throws { try await ProvisioningContract.contentUploadStreamsExactBytes(.sqlite) }
    @Test func serialProvisioningOversizedUploadKeepsThePreviousBlob() async throws { try await ProvisioningContract.oversizedUploadKeepsThePreviousBlob(.sqlite) }
    @Test func serialProvisioningOverlappingUploadsLeaveNoOrphans() async throws { try await ProvisioningContract.overlappingUploadsLeaveNoOrphans(.sqlite) }
    @Test func serialProvisioningProtectedContentFollowsGroups() async throws { try await ProvisioningContract.protectedContentFollowsGroups(.sqlite) }
    @Test func serialProvisioningGroupMembersAreUpserted() async throws { try await ProvisioningContract.groupMembersAreUpserted(.sqlite) }
}

/// The same contract on PostgreSQL, when `GATEHOUSE_TEST_DATABASE_URL` is set (CI sets it).
@Suite("Store contract on PostgreSQL", .enabled(if: TestDatabases.postgresURL != nil, Comment(rawValue: TestDatabases.postgresSkipReason)))
struct PostgresStoreContractTests {
    @Test func migrationsAreIdempotent() async throws { try await StoreContract.migrationsAreIdempotent(.postgres) }
    @Test func upgradeKeepsData() async throws { try await StoreContract.upgradeKeepsData(.postgres) }
    @Test func newerSchemaIsRefused() async throws { try await StoreContract.newerSchemaIsRefused(.postgres) }
    @Test func concurrentNodesMigrateOnce() async throws { try await StoreContract.concurrentNodesMigrateOnce(.postgres) }
    @Test func tenantTree() async throws { try await StoreContract.tenantTree(.postgres) }
    @Test func featureSwitches() async throws { try await StoreContract.featureSwitches(.postgres) }
    @Test func usersAndSessions() async throws { try await StoreContract.usersAndSessions(.postgres) }
    @Test func clients() async throws { try await StoreContract.clients(.postgres) }
    @Test func failedWritesLeaveNothing() async throws { try await StoreContract.failedWritesLeaveNothing(.postgres) }
    @Test func auditIsScoped() async throws { try await StoreContract.auditIsScoped(.postgres) }
    @Test func bootstrapHappensOnce() async throws { try await StoreContract.bootstrapHappensOnce(.postgres) }
    @Test func importIsIdempotent() async throws { try await ImportContract.importIsIdempotent(.postgres) }
    @Test func exportRoundTrips() async throws { try await ImportContract.exportRoundTrips(.postgres) }
    @Test func badImportFilesWriteNothing() async throws { try await ImportContract.badFilesWriteNothing(.postgres) }
    @Test func tokensAndThrottle() async throws { try await CredentialContract.tokensAndThrottle(.postgres) }
    @Test func tieredLimitsHoldUnderConcurrency() async throws { try await TieredContract.limitsHoldUnderConcurrency(.postgres) }
    @Test func tieredBatchedCreationsPerAccount() async throws { try await TieredContract.batchedCreationsPerAccount(.postgres) }
    @Test func activationParallelRedemptions() async throws { try await ActivationContract.parallelRedemptionsMakeOneCamera(.postgres) }
    @Test func activationCachedLookupsFollowChanges() async throws { try await ActivationContract.cachedLookupsFollowChanges(.postgres) }
    @Test func activationSessionsExpireAndEnd() async throws { try await ActivationContract.sessionsExpireAndEnd(.postgres) }
    @Test func activationGuessingExpiryUnassignedAndLimits() async throws { try await ActivationContract.guessingExpiryUnassignedAndLimits(.postgres) }
    @Test func tieredTokensRotateAndAreNotStoredInClear() async throws { try await TieredContract.tokensRotateAndAreNotStoredInClear(.postgres) }
    @Test func tieredEventsNewestFirst() async throws { try await TieredContract.eventsNewestFirst(.postgres) }
    @Test func tieredUsageAndMasterKey() async throws { try await TieredContract.usageAndMasterKey(.postgres) }
    @Test func webhookEnqueueIsPartOfTheTransaction() async throws { try await WebhookContract.enqueueIsPartOfTheTransaction(.postgres) }
    @Test func webhookEnqueueOnlyForSubscribers() async throws { try await WebhookContract.enqueueOnlyForSubscribers(.postgres) }
    @Test func webhookConcurrentClaimersNeverShare() async throws { try await WebhookContract.concurrentClaimersNeverShare(.postgres) }
    @Test func webhookFailedIsRetriedAfterBackoff() async throws { try await WebhookContract.failedIsRetriedAfterBackoff(.postgres) }
    @Test func webhookGivenUpAfterMaxAttempts() async throws { try await WebhookContract.givenUpAfterMaxAttempts(.postgres) }
    @Test func webhookDeleteDropsDeliveries() async throws { try await WebhookContract.deleteDropsDeliveries(.postgres) }
    @Test func webhookSecretIsNotStoredInClear() async throws { try await WebhookContract.secretIsNotStoredInClear(.postgres) }
    @Test func serialProvisioningSerialsAreAddedAllOrNone() async throws { try await ProvisioningContract.serialsAreAddedAllOrNone(.postgres) }
    @Test func serialProvisioningSerialsListInOrderAndRemove() async throws { try await ProvisioningContract.serialsListInOrderAndRemove(.postgres) }
    @Test func serialProvisioningEnableBindsAnOwnerForTheModelWindow() async throws { try await ProvisioningContract.enableBindsAnOwnerForTheModelWindow(.postgres) }
    @Test func serialProvisioningConcurrentEnablesMakeOneDevice() async throws { try await ProvisioningContract.concurrentEnablesMakeOneDevice(.postgres) }
    @Test func serialProvisioningActivationIssuesOneCIKPerEnablement() async throws { try await ProvisioningContract.activationIssuesOneCIKPerEnablement(.postgres) }
    @Test func serialProvisioningActivationWindowExpires() async throws { try await ProvisioningContract.activationWindowExpires(.postgres) }
    @Test func serialProvisioningCIKIsStoredHashed() async throws { try await ProvisioningContract.cikIsStoredHashed(.postgres) }
    @Test func serialProvisioningConcurrentActivationsIssueOneCIK() async throws { try await ProvisioningContract.concurrentActivationsIssueOneCIK(.postgres) }
    @Test func serialProvisioningManySerialsActivateConcurrently() async throws { try await ProvisioningContract.manySerialsActivateConcurrently(.postgres) }
    @Test func serialProvisioningBatchedActivationsKeepTheirOwnTime() async throws { try await ProvisioningContract.batchedActivationsKeepTheirOwnTime(.postgres) }
    @Test func serialProvisioningRemovalsDuringActivationDoNotSpoilTheBatch() async throws { try await ProvisioningContract.removalsDuringActivationDoNotSpoilTheBatch(.postgres) }
    @Test func serialProvisioningSerialLogRecordsTheStory() async throws { try await ProvisioningContract.serialLogRecordsTheStory(.postgres) }
    @Test func serialProvisioningContentUploadStreamsExactBytes() async throws { try await ProvisioningContract.contentUploadStreamsExactBytes(.postgres) }
    @Test func serialProvisioningOversizedUploadKeepsThePreviousBlob() async throws { try await ProvisioningContract.oversizedUploadKeepsThePreviousBlob(.postgres) }
    @Test func serialProvisioningOverlappingUploadsLeaveNoOrphans() async throws { try await ProvisioningContract.overlappingUploadsLeaveNoOrphans(.postgres) }
    @Test func serialProvisioningProtectedContentFollowsGroups() async throws { try await ProvisioningContract.protectedContentFollowsGroups(.postgres) }
    @Test func serialProvisioningGroupMembersAreUpserted() async throws { try await ProvisioningContract.groupMembersAreUpserted(.postgres) }
}
