/// Exponential backoff with full jitter: the wait before retry `n` (0, 1, 2, …) is drawn
/// uniformly from `0 ... min(cap, base · 2ⁿ)`, so that many agents coming back after an
/// outage spread their calls instead of arriving together.
public struct Backoff: Sendable, Equatable {
    /// The ceiling of the first wait, in milliseconds.
    public var baseMilliseconds: Int64
    /// The largest ceiling, in milliseconds.
    public var capMilliseconds: Int64

    public init(baseMilliseconds: Int64 = 500, capMilliseconds: Int64 = 30_000) {
        self.baseMilliseconds = max(1, baseMilliseconds)
        self.capMilliseconds = max(self.baseMilliseconds, capMilliseconds)
    }

    /// `min(cap, base · 2^attempt)`, without overflow.
    public func ceilingMilliseconds(attempt: Int) -> Int64 {
        let shift = max(0, attempt)
        guard shift < 62, baseMilliseconds <= capMilliseconds >> Int64(shift) else { return capMilliseconds }
        return min(capMilliseconds, baseMilliseconds << Int64(shift))
    }

    /// The wait before retry `attempt`, in milliseconds: uniform in `0 ... ceiling(attempt)`.
    public func delayMilliseconds(attempt: Int, using generator: inout some RandomNumberGenerator) -> Int64 {
        Int64.random(in: 0...ceilingMilliseconds(attempt: attempt), using: &generator)
    }

    /// ``delayMilliseconds(attempt:using:)`` with the system's generator, as a `Duration`.
    public func delay(attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return .milliseconds(delayMilliseconds(attempt: attempt, using: &generator))
    }
}
