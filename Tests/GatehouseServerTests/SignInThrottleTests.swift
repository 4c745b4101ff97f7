import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// Failed password grants are limited per user name and per client address; a locked user
/// gets the answer of a wrong password; the lock lifts by itself.
@Suite("Partner auth: brute force")
struct SignInThrottleTests {
    static let throttle = SignInThrottle(perUsername: 3, perAddress: 8, window: 60, lockout: 120)

    @Test func usernameLocksAndLifts() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock, partnerAuth: PartnerAuthSettings(throttle: Self.throttle)).run { client in
            let f = try await PartnerFixture.make(client)
            let right = "grant_type=password&username=dealer@res.example&password=correct%20horse"
            let wrong = try await f.token("grant_type=password&username=dealer@res.example&password=nope")
            for _ in 0..<2 { _ = try await f.token("grant_type=password&username=dealer@res.example&password=nope") }
            // Locked: even the right password gets exactly the wrong-password answer.
            let locked = try await f.token(right)
            #expect(locked.status == wrong.status)
            #expect(locked.text == wrong.text)
            // Another user is not affected.
            #expect(try await f.token("grant_type=password&username=dealer@dist.example&password=correct%20horse", client: "dpartner").status == .ok)
            clock.advance(121)
            #expect(try await f.token(right).status == .ok)
            // Failures older than the window do not add up.
            _ = try await f.token("grant_type=password&username=dealer@res.example&password=nope")
            _ = try await f.token("grant_type=password&username=dealer@res.example&password=nope")
            clock.advance(61)
            _ = try await f.token("grant_type=password&username=dealer@res.example&password=nope")
            #expect(try await f.token(right).status == .ok)
        }
    }

    @Test func addressLocksAcrossUserNames() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock, partnerAuth: PartnerAuthSettings(throttle: Self.throttle)).run { client in
            let f = try await PartnerFixture.make(client)
            for index in 0..<8 {
                _ = try await f.token("grant_type=password&username=guess\(index)@res.example&password=nope")
            }
            let blocked = try await f.token("grant_type=password&username=dealer@res.example&password=correct%20horse")
            #expect(blocked.status == .badRequest)
            #expect(blocked.json["error"] as? String == "invalid_grant")
            clock.advance(121)
            #expect(try await f.token("grant_type=password&username=dealer@res.example&password=correct%20horse").status == .ok)
        }
    }
}

/// The /v1 sign-in shares the limits of the password grant.
@Suite("Sessions: brute force")
struct SessionThrottleTests {
    @Test func sessionSignInIsLimitedToo() async throws {
        let clock = TestClock()
        try await TestApp(clock: clock, partnerAuth: PartnerAuthSettings(throttle: SignInThrottleTests.throttle)).run { client in
            let account = try await client.createTenant(kind: "account", parent: 1, name: "A")
            _ = try await client.createUser(tenant: account, email: "u@example.com")
            for _ in 0..<3 {
                #expect(try await client.send(.post, "/v1/sessions", token: nil, json: #"{"email":"u@example.com","password":"wrong one"}"#).status == .unauthorized)
            }
            let locked = try await client.send(.post, "/v1/sessions", token: nil, json: #"{"email":"u@example.com","password":"correct horse"}"#)
            #expect(locked.status == .unauthorized)
            // The lock lifts by itself.
            clock.advance(121)
            #expect(try await client.send(.post, "/v1/sessions", token: nil, json: #"{"email":"u@example.com","password":"correct horse"}"#).status == .created)
        }
    }
}
