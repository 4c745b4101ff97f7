import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import Testing

/// Guessing registration codes: an address that sent too many unknown codes gets 0112 with the
/// number of seconds until the window lets it try again, and not a second less.
@Suite("Signed onboarding: registration-code guessing")
struct OnboardingThrottleTests {
    static func errorCode(_ answer: TestApp.Client.Answer) -> String? { (answer.json["error"] as? [String: Any])?["code"] as? String }

    @Test func tooManyUnknownCodesGet0112WithTheRightWait() async throws {
        let clock = TestClock(1_800_000_030)  // 30 seconds into a minute
        try await TestApp(clock: clock, onboarding: OnboardingSettings(guessesPerAddress: 3, guessWindowMinutes: 2)).run { client in
            let world = try await OnboardingAPITests.world(client, clock: clock)
            for index in 0..<3 {
                let wrong = try await world.signed(.post, "/api/v1.0/registration/onboard/verify", code: "0000000000", body: world.body(id: "urn:guess:\(index)"))
                #expect(wrong.status == .unauthorized && Self.errorCode(wrong) == "0401", "\(wrong.text)")
            }
            // Even the right code is held back now; the failures of this minute leave a
            // two-minute window 90 seconds from now.
            let code = try await world.code()
            let held = try await world.signed(.post, "/api/v1.0/registration/onboard/verify", code: code, body: world.body(id: "urn:guess:held"))
            #expect(held.status == .tooManyRequests && Self.errorCode(held) == "0112", "\(held.text)")
            let message = ((held.json["error"] as? [String: Any])?["message"] as? String) ?? ""
            #expect(message.hasSuffix("try again in 90 seconds"), "\(message)")

            clock.advance(89)
            let stillHeld = try await world.signed(.post, "/api/v1.0/registration/onboard/verify", code: code, body: world.body(id: "urn:guess:still"))
            #expect(stillHeld.status == .tooManyRequests && Self.errorCode(stillHeld) == "0112", "\(stillHeld.text)")
            let stillMessage = ((stillHeld.json["error"] as? [String: Any])?["message"] as? String) ?? ""
            #expect(stillMessage.hasSuffix("try again in 1 seconds"), "\(stillMessage)")
            clock.advance(1)
            let allowed = try await world.signed(.post, "/api/v1.0/registration/onboard/verify", code: code, body: world.body(id: "urn:guess:allowed"))
            #expect(allowed.status == .ok, "\(allowed.text)")
        }
    }
}
