import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// The REST gateway's storage rules (seed 004) over the real store, run on both engines.
enum GatewayContract {
    typealias O = OnboardingContract
    static let type = "iso:11783:-10:taskdata:zip"

    static func message(_ type: String = type, _ content: String = #"{"n":1}"#) -> OutgoingMessage {
        OutgoingMessage(messageId: O.uuid(), messageType: type, content: content)
    }

    static func declare(_ f: O.Fixture, _ endpoint: OnboardedEndpoint, _ capabilities: [EndpointCapability]) async throws {
        _ = try await f.store.deliver(from: endpoint, capabilities: capabilities, messages: [], at: f.clock.now())
    }

    /// A message goes once to every other active endpoint of the sender's account that receives
    /// its type: not to the sender, senders only, other types, other accounts or endpoints
    /// without capabilities. Capabilities are replaced as a whole and mark the endpoint; a
    /// fetch hands each message out once, oldest first.
    static func routingFollowsCapabilities(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await O.fixture(database)
            let sender = try await O.onboarded(f, "urn:sender"), receiver = try await O.onboarded(f, "urn:receiver")
            let both = try await O.onboarded(f, "urn:both"), senderOnly = try await O.onboarded(f, "urn:sender-only")
            let otherType = try await O.onboarded(f, "urn:other-type"), silent = try await O.onboarded(f, "urn:silent")
            let foreign = try await O.onboarded(f, "urn:receiver", account: f.otherAccount)
            #expect(sender.capabilitiesAt == nil)
            try await declare(f, sender, [EndpointCapability(messageType: type, direction: .sendReceive)])
            try await declare(f, receiver, [EndpointCapability(messageType: type, direction: .receive)])
            try await declare(f, both, [EndpointCapability(messageType: type, direction: .sendReceive)])
            try await declare(f, senderOnly, [EndpointCapability(messageType: type, direction: .send)])
            try await declare(f, otherType, [EndpointCapability(messageType: "img:jpeg", direction: .receive)])
            try await declare(f, foreign, [EndpointCapability(messageType: type, direction: .receive)])
            #expect(try await f.store.endpoint(deviceAlternateId: sender.alternateIds.device)?.capabilitiesAt == f.clock.now())
            #expect(try await f.store.endpoint(deviceAlternateId: silent.alternateIds.device)?.capabilitiesAt == nil)

            let first = message(type, #"{"n":1}"#), second = message(type, #"[2,"two"]"#), unreceived = message("img:png", "\"x\"")
            f.clock.advance(5)
            #expect(try await f.store.deliver(from: sender, capabilities: nil, messages: [first, second, unreceived], at: f.clock.now()) == [2, 2, 0])
            let taken = try await f.store.takeMessages(recipientEndpointId: receiver.id, limit: 10)
            #expect(taken.map(\.messageId) == [first.messageId, second.messageId])
            #expect(taken.map(\.content) == [#"{"n":1}"#, #"[2,"two"]"#] && taken.allSatisfy { $0.senderId == sender.alternateIds.device && $0.createdAt == f.clock.now() })
            #expect(try await f.store.takeMessages(recipientEndpointId: receiver.id, limit: 10).isEmpty)
            #expect(try await f.store.takeMessages(recipientEndpointId: both.id, limit: 1).map(\.messageId) == [first.messageId])
            #expect(try await f.store.takeMessages(recipientEndpointId: both.id, limit: 1).map(\.messageId) == [second.messageId])
            for endpoint in [sender, senderOnly, otherType, silent, foreign] {
                #expect(try await f.store.takeMessages(recipientEndpointId: endpoint.id, limit: 10).isEmpty)
            }

            // Capabilities are replaced as a whole.
            try await declare(f, receiver, [EndpointCapability(messageType: "img:jpeg", direction: .sendReceive)])
            #expect(try await f.store.capabilities(endpointId: receiver.id) == [EndpointCapability(messageType: "img:jpeg", direction: .sendReceive)])
            #expect(try await f.store.deliver(from: sender, capabilities: nil, messages: [message()], at: f.clock.now()) == [1])
        }
    }

    /// A revoked sender writes nothing; revoking an endpoint drops its capabilities and what
    /// waits for it, and revoking a telemetry platform revokes the virtual CUs it onboarded.
    static func revocationEndsTheGateway(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await O.fixture(database)
            let platform = try await O.onboarded(f, "urn:platform"), receiver = try await O.onboarded(f, "urn:receiver")
            try await declare(f, platform, [EndpointCapability(messageType: type, direction: .send)])
            try await declare(f, receiver, [EndpointCapability(messageType: type, direction: .receive)])
            #expect(try await f.store.deliver(from: platform, capabilities: nil, messages: [message()], at: f.clock.now()) == [1])

            // A virtual CU: no registration code, its platform named.
            var virtual = O.onboarding(f, code: try await O.code(f), externalId: "urn:vcu", ids: O.newIds(), gateway: .rest)
            virtual.registrationCodeId = nil
            virtual.parentEndpointId = platform.id
            let cu = try await f.store.onboard(virtual, audit: O.audit)
            #expect(cu.parentEndpointId == platform.id && cu.status == .active)

            _ = try await f.store.revokeEndpoints(tenantId: f.account.id, applicationId: f.application.id, deviceAlternateIds: [receiver.alternateIds.device],
                                                  at: f.clock.now(), audit: O.audit)
            #expect(try await f.store.capabilities(endpointId: receiver.id).isEmpty)
            #expect(try await f.store.takeMessages(recipientEndpointId: receiver.id, limit: 10).isEmpty)
            let revokedReceiver = try await f.store.endpoint(deviceAlternateId: receiver.alternateIds.device)
            #expect(revokedReceiver?.capabilitiesAt == nil && revokedReceiver?.status == .revoked)
            await #expect(throws: GatehouseError.self) {
                try await f.store.deliver(from: receiver, capabilities: [], messages: [message()], at: f.clock.now())
            }

            let revoked = try await f.store.revokeEndpoints(tenantId: f.account.id, applicationId: f.application.id, deviceAlternateIds: [platform.alternateIds.device],
                                                            at: f.clock.now(), audit: O.audit)
            #expect(Set(revoked.revoked.map(\.id)) == [platform.id, cu.id])
            #expect(try await f.store.endpoint(deviceAlternateId: cu.alternateIds.device)?.status == .revoked)
            let serials = Set(try await f.store.revokedCertificates(now: f.clock.now()).map(\.serial))
            let cuSerial = try #require(cu.certificateSerial), platformSerial = try #require(platform.certificateSerial)
            #expect(serials.contains(cuSerial) && serials.contains(platformSerial))
        }
    }

    /// Fetches of the same endpoint at once hand out every message exactly once.
    static func concurrentFetchesHandOutEachMessageOnce(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try await O.fixture(database)
            let sender = try await O.onboarded(f, "urn:sender"), receiver = try await O.onboarded(f, "urn:receiver")
            try await declare(f, sender, [EndpointCapability(messageType: type, direction: .send)])
            try await declare(f, receiver, [EndpointCapability(messageType: type, direction: .receive)])
            let messages = (0..<40).map { message(type, "\($0)") }
            _ = try await f.store.deliver(from: sender, capabilities: nil, messages: messages, at: f.clock.now())
            let handed = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 { group.addTask { try await f.store.takeMessages(recipientEndpointId: receiver.id, limit: 5).map(\.messageId) } }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            let rest = try await f.store.takeMessages(recipientEndpointId: receiver.id, limit: 100).map(\.messageId)
            #expect((handed + rest).sorted() == messages.map(\.messageId).sorted())


            // Messages nobody fetched are dropped once older than the retention; newer ones stay.
            _ = try await f.store.deliver(from: sender, capabilities: nil, messages: [message()], at: f.clock.now() - 100)
            let kept = message()
            _ = try await f.store.deliver(from: sender, capabilities: nil, messages: [kept], at: f.clock.now())
            #expect(try await f.store.purgeMessages(before: f.clock.now() - 50) == 1)
            #expect(try await f.store.takeMessages(recipientEndpointId: receiver.id, limit: 10).map(\.messageId) == [kept.messageId])
        }
    }
}
