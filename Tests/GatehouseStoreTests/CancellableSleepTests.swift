@testable import GatehouseStore
import Testing

/// The timer that races every PostgreSQL operation: it fires after its duration, and a
/// cancelled one ends at once instead of living on until its deadline.
@Suite("Cancellable sleep")
struct CancellableSleepTests {
    @Test func itReturnsAfterItsDuration() async throws {
        let started = ContinuousClock.now
        try await CancellableSleep.sleep(for: .milliseconds(150))
        #expect(ContinuousClock.now - started >= .milliseconds(150))
    }

    @Test(.timeLimit(.minutes(1))) func aCancelledSleepEndsAtOnceWithCancellationError() async throws {
        let started = ContinuousClock.now
        let sleeper = Task { try await CancellableSleep.sleep(for: .seconds(600)) }
        try await Task.sleep(for: .milliseconds(50))
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func aSleepInAnAlreadyCancelledTaskThrowsAtOnce() async throws {
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await CancellableSleep.sleep(for: .seconds(600))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }
}
